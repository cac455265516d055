/**
 * volume-sharing: a container mounts only its own service's volumes, or what it needs of the
 * service it is a backup, replica or reload helper of; anything else takes a suppression on the
 * construct, for its image. Who a container is and whose a volume is are read from their names
 * (`<env>-<service>`, `<env>-<service>-<purpose>`), which the engine keeps unique, checked against
 * their labels, which anyone writes. Each attack below reaches for the fixture's database volume
 * (service "db") from a container that is not the database.
 */
import { Container, type ContainerConfig } from "@cdktf/provider-docker/lib/container";
import { Service } from "@cdktf/provider-docker/lib/service";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import type { TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { describe, expect, it } from "vitest";
import { blockingFindings, evaluatePolicy, suppressPolicy } from "../../constructs/policy/policy-aspect";
import { buildEnvironment, sharedEnvironment } from "../support/stacks";
import { blockingMessages, compliantConfig, expectCaught, fixture, labels, PINNED_IMAGE, type Fixture } from "./fixtures";

const RULE = "volume-sharing";

/** The fixture, whose database `prod-db` mounts its `prod-db-data` volume (both labelled service "db"). */
function labelled(): Fixture {
  const f = fixture("prod");
  new Container(f.stack, "db", compliantConfig(f, "db"));
  return f;
}

/** Another volume of service `service` (labelled as the kit labels volumes), named `prod-<service>-<purpose>` unless `name` is given. */
function volume(f: Fixture, service: string, purpose: string, opts: { name?: string; ephemeral?: boolean } = {}): Volume {
  return new Volume(f.stack, `${service}-${purpose}-volume`, {
    name: opts.name ?? `${f.environment}-${service}-${purpose}`,
    labels: labels(f.environment, "data", { "io.updateio.service": service }).concat(
      opts.ephemeral ? [{ label: "io.updateio.ephemeral", value: "true" }] : [],
    ),
  });
}

type Mounts = Partial<ContainerConfig>;

/**
 * A compliant container labelled service `service` (no service label when undefined) and named
 * `prod-<service>` unless `name` is given, with the given mounts, beside the database.
 */
function intruder(f: Fixture, service: string | undefined, mounts: Mounts, name?: string, id = "intruder"): Container {
  const all = labels(f.environment, "app", service === undefined ? {} : { "io.updateio.service": service }).filter(
    (l) => service !== undefined || l.label !== "io.updateio.service",
  );
  return new Container(f.stack, id, {
    ...compliantConfig(f, id),
    name: name ?? `${f.environment}-${service ?? id}`,
    labels: all,
    volumes: undefined,
    ...mounts,
  });
}

const dataMount = (f: Fixture, readOnly = false): Mounts => ({ volumes: [{ volumeName: f.volume.name, containerPath: "/d", readOnly }] });

describe("volume-sharing: mounts across services", () => {
  it("the database mounting its own volume passes", () => {
    expect(blockingMessages(labelled(), RULE)).toEqual([]);
  });

  it.each([
    ["read-only, by reference", (f: Fixture): Mounts => dataMount(f, true), "read-only"],
    ["read-write, by reference", (f: Fixture): Mounts => dataMount(f), "read-write"],
    [
      "by its literal name (the engine finds the same volume)",
      (): Mounts => ({ volumes: [{ volumeName: "prod-db-data", containerPath: "/d" }] }),
      "read-write",
    ],
    [
      "through a mounts block, by literal name",
      (): Mounts => ({ mounts: [{ type: "volume", source: "prod-db-data", target: "/d", readOnly: true }] }),
      "mounts[0].source",
    ],
  ])("an app container mounting the database's volume %s is caught", (_what, mounts, says) => {
    const f = labelled();
    intruder(f, "status-page", mounts(f));
    expectCaught(f, RULE, says);
    expect(blockingMessages(f, RULE).join("\n")).toContain(
      'container "prod-status-page" (service "status-page") mounts "prod-db-data" of service "db"',
    );
  });

  it.each([
    ["a name that only starts like the owner's", "dbx"],
    ["a helper suffix the kit does not make", "db-evil"],
    ["a replica number 0", "db-replica-0"],
    ["a helper of a helper's name", "db-backup-x"],
    ["the owner's name in capitals", "DB"],
    ["a users job (it reads no volume of its service)", "db-users"],
    ["no service label at all", undefined],
  ])("%s (%s) is caught", (_what, service) => {
    const f = labelled();
    intruder(f, service, dataMount(f, true));
    expectCaught(f, RULE);
  });

  // What each helper may mount of the database's volumes, written out (not read from the rule's table).
  const PURPOSES = ["data", "backups", "settings", "acl", "caddyfile", "admin", "secrets", "config"] as const;
  it.each([
    ["db-backup", { ro: ["data", "backups"], rw: ["backups"] }],
    ["db-restore-drill", { ro: ["backups"], rw: ["backups"] }],
    ["db-pre-migration-dump", { ro: ["backups"], rw: ["backups"] }],
    ["db-replica-1", { ro: ["settings", "acl"], rw: [] }],
    ["db-replica-12", { ro: ["settings", "acl"], rw: [] }],
    ["db-reload", { ro: ["caddyfile", "admin"], rw: ["admin"] }],
    ["db-acl-reload", { ro: ["acl"], rw: [] }],
  ])("the kit's helper %s mounts only what it needs of the database's volumes", (service, allowed) => {
    for (const readOnly of [true, false]) {
      const mayMount = PURPOSES.filter((purpose) => {
        const f = labelled();
        const v = purpose === "data" ? f.volume : volume(f, "db", purpose, { ephemeral: purpose !== "backups" });
        intruder(f, service, { volumes: [{ volumeName: v.name, containerPath: "/d", readOnly }] });
        return blockingMessages(f, RULE).length === 0;
      });
      expect(mayMount, readOnly ? "read-only" : "read-write").toEqual(readOnly ? allowed.ro : allowed.rw);
    }
  });

  it("a replica that never was (db-replica-7) cannot mount the primary's data, read-write or read-only", () => {
    for (const readOnly of [false, true]) {
      const f = labelled();
      intruder(f, "db-replica-7", dataMount(f, readOnly));
      expectCaught(f, RULE, 'container "prod-db-replica-7" (service "db-replica-7") mounts "prod-db-data" of service "db"');
    }
  });

  it("a backup helper that asks for the data read-write is told it may only read it", () => {
    const f = labelled();
    intruder(f, "db-backup", dataMount(f));
    expectCaught(f, RULE, 'as its helper, it may mount "data" only read-only');
  });
});

describe("volume-sharing: names and labels agree", () => {
  it.each([
    ["another name", "prod-db-2"],
    ["the name of another service", "prod-status-page"],
    ["the database's name in capitals", "PROD-db"],
    ["the database's name with a trailing space", "prod-db "],
    ["the database's name in another environment", "test-db"],
    ["the database's name with the engine's leading slash (the engine then calls it prod-db)", "/prod-db"],
    ["a name Terraform computes", '${lower("PROD-DB")}'],
  ])('a container labelled service "db" with %s is caught', (_what, name) => {
    const f = labelled();
    intruder(f, "db", dataMount(f), name);
    expectCaught(f, RULE, "mounts");
    expect(blockingMessages(f, RULE).join("\n")).toMatch(
      /is labelled service "db" but is not named "prod-db"|is not a literal|more than once/,
    );
  });

  it("a second container named like the database (the engine keeps one of them) is caught, on both", () => {
    const f = labelled();
    intruder(f, "db", dataMount(f), "prod-db");
    const messages = blockingMessages(f, RULE);
    expect(messages.filter((m) => m.includes('container "prod-db" is declared more than once'))).toHaveLength(2);
  });

  it("a Swarm service named like the database container is caught too", () => {
    const f = labelled();
    new Service(f.stack, "twin", {
      name: "prod-db",
      labels: labels("prod", "data"),
      taskSpec: { containerSpec: { image: PINNED_IMAGE, mounts: [{ type: "volume", source: "prod-db-data", target: "/d" }] } },
    });
    expectCaught(f, RULE, 'service "prod-db" is declared more than once');
  });

  it("a secrets owner mounts its own service's secrets volume and nothing else of it", () => {
    const ok = labelled();
    const secrets = volume(ok, "db", "secrets", { ephemeral: true });
    intruder(ok, "db", { volumes: [{ volumeName: secrets.name, containerPath: "/run/secrets" }] }, "prod-db-secrets-owner");
    expect(blockingMessages(ok, RULE)).toEqual([]);
    const data = labelled();
    intruder(data, "db", dataMount(data), "prod-db-secrets-owner");
    expectCaught(data, RULE, "a secrets owner may mount only its own service's secrets volume");
  });

  it.each([
    ["no service label", undefined, "prod-db-cache", "has no io.updateio.service label"],
    ["a label that its name does not repeat", "db", "prod-cache-data", 'is labelled service "db" but its name does not say so'],
    ["a name with nothing after the service", "db", "prod-db", "its name does not say so"],
    ["a name with capitals after the service", "db", "prod-db-Cache", "its name does not say so"],
    ["a name Terraform computes", "db", '${lower("PROD-DB-CACHE")}', "has a name that is not a literal"],
  ])("a volume with %s is caught", (_what, service, name, says) => {
    const f = labelled();
    new Volume(f.stack, "odd", {
      name,
      labels: labels("prod", "data", service === undefined ? {} : { "io.updateio.service": service }).filter(
        (l) => service !== undefined || l.label !== "io.updateio.service",
      ),
    });
    expectCaught(f, RULE, says);
  });
});

describe("volume-sharing: seeds", () => {
  it("a seed fills its own service's ephemeral volume", () => {
    const f = labelled();
    const config = volume(f, "db", "config", { ephemeral: true });
    intruder(f, "db", { start: false, restart: "no", volumes: [{ volumeName: config.name, containerPath: "/c" }] }, "prod-db-seed");
    expect(blockingMessages(f, RULE)).toEqual([]);
  });

  it.each([
    ["of another service, into the database's data", "status-page", "prod-status-page-seed"],
    ["of the database itself, into its data (not ephemeral: its uploads would land in the live files)", "db", "prod-db-settings-seed"],
  ])("a seed %s is caught: it never runs, but its uploads are written there", (_what, service, name) => {
    const f = labelled();
    intruder(
      f,
      service,
      {
        start: false,
        restart: "no",
        volumes: [{ volumeName: f.volume.name, containerPath: "/d" }],
        upload: [{ file: "/d/postgresql.auto.conf", content: "archive_command = 'sh /d/x'" }],
      },
      name,
    );
    expectCaught(f, RULE, "a seed writes its uploads into what it mounts");
  });

  it("a seed the engine would restart is judged as what it then is, a container of its name", () => {
    const f = labelled();
    intruder(f, "status-page", { start: false, restart: "always", volumes: [{ volumeName: f.volume.name, containerPath: "/d" }] });
    expectCaught(f, RULE, '(service "status-page") mounts "prod-db-data" of service "db"');
  });
});

describe("volume-sharing: suppressions and declarations", () => {
  it("a suppression covers it only for the image it names", () => {
    const covered = labelled();
    suppressPolicy(intruder(covered, "collector", dataMount(covered, true)), RULE, "reads the sizes of every volume", {
      image: PINNED_IMAGE.split(":")[0],
    });
    expect(blockingMessages(covered, RULE)).toEqual([]);
    const other = labelled();
    suppressPolicy(intruder(other, "collector", dataMount(other, true)), RULE, "reads the sizes of every volume", {
      image: "registry.example/collector",
    });
    expectCaught(other, RULE);
  });

  it("a suppression limited to read-only mounts covers a read-only read, not a write, and never a seed's or a secrets owner's mount", () => {
    const limited = (c: Container) =>
      suppressPolicy(c, RULE, "reads the sizes of every volume", { image: PINNED_IMAGE.split(":")[0], appliesTo: ["read-only"] });
    const reads = labelled();
    limited(intruder(reads, "collector", dataMount(reads, true)));
    expect(blockingMessages(reads, RULE)).toEqual([]);
    const writes = labelled();
    limited(intruder(writes, "collector", dataMount(writes, false)));
    expectCaught(
      writes,
      RULE,
      'read-write (volumes[0].volume_name) (the suppression on prod/intruder covers only image postgres, and only "read-only")',
    );
    // A secrets owner or a seed of another service gives no access to limit to: the whole rule applies.
    const owner = labelled();
    limited(intruder(owner, "collector", dataMount(owner, true), "prod-collector-secrets-owner"));
    expectCaught(owner, RULE, "a secrets owner may mount only its own service's secrets volume");
    const seed = labelled();
    limited(intruder(seed, "collector", { start: false, restart: "no", ...dataMount(seed, true) }, "prod-collector-seed"));
    expectCaught(seed, RULE, "a seed writes its uploads into what it mounts");
  });

  it("a second declaration of the database's volume under another label is caught (the engine hands it the same volume)", () => {
    const f = labelled();
    new Volume(f.stack, "claimed", { name: "prod-db-data", labels: [{ label: "io.updateio.service", value: "status-page" }] });
    intruder(f, "status-page", { volumes: [{ volumeName: "${docker_volume.claimed.name}", containerPath: "/d" }] });
    expectCaught(f, RULE, 'volume "prod-db-data" is declared more than once in this stack');
  });

  it("a volume without a service label is caught on the volume (any container could mount it)", () => {
    const f = labelled();
    const bare = new Volume(f.stack, "bare", { name: "prod-db-cache" });
    intruder(f, "status-page", { volumes: [{ volumeName: bare.name, containerPath: "/d" }] });
    expect(blockingMessages(f, RULE)).toEqual([expect.stringContaining('volume "prod-db-cache" has no io.updateio.service label')]);
  });
});

describe("prod-volume-protected sees a server that writes a volume by its literal name", () => {
  it("an ephemeral-labelled volume a running server writes by name is not exempt", () => {
    const f = fixture("prod");
    const scratch = new Volume(f.stack, "scratch", {
      name: "prod-db-scratch",
      labels: [
        { label: "io.updateio.service", value: "db" },
        { label: "io.updateio.ephemeral", value: "true" },
      ],
    });
    new Container(f.stack, "db", {
      ...compliantConfig(f, "db"),
      volumes: [{ volumeName: "prod-db-scratch", containerPath: "/var/lib/postgresql/data" }],
    });
    expect(scratch.name).toBeDefined();
    expectCaught(f, "prod-volume-protected", "prod-db-scratch");
  });
});

/** A container of service `service` named `prod-<service>` in a real stack, with the given mounts. */
function realIntruder(
  stack: Construct,
  service: string,
  volumes: ContainerConfig["volumes"],
  extra: Partial<ContainerConfig> = {},
): Container {
  return new Container(stack, `intruder-${service}`, {
    name: `prod-${service}`,
    image: PINNED_IMAGE,
    labels: labels("prod", "app", { "io.updateio.service": service }),
    volumes,
    ...extra,
  });
}

/** The blocking volume-sharing messages of a real prod stack. */
function blockingFor(stack: TerraformStack): string[] {
  return blockingFindings(evaluatePolicy(stack, { environment: "prod" }).filter((x) => x.ruleId === RULE)).map((x) => x.message);
}

describe("the real stacks", () => {
  it.each(["dev", "test", "prod"] as const)("%s: only the collectors mount other services' volumes, each with its reason", (name) => {
    const { stack } = sharedEnvironment(name);
    const found = evaluatePolicy(stack, { environment: name }).filter((x) => x.ruleId === RULE);
    expect(found.filter((x) => !x.suppressed)).toEqual([]);
    expect(new Set(found.map((x) => x.constructPath.replace(/^[a-z]+\//, "")))).toEqual(
      name === "dev" ? new Set() : new Set(["exporters/node-exporter/container", "volume-usage/job/container"]),
    );
  });

  it("prod: each intruder is caught for its own mount, and nothing else is (one stack for all)", () => {
    const stack = buildEnvironment("prod");
    const mount = (volumeName: string, readOnly = false) => [{ volumeName, containerPath: "/d", readOnly }];
    // Another service on the edge's admin socket (it could reconfigure the edge).
    realIntruder(stack, "intruder", mount("prod-edge-admin", true));
    // A replica that never was, on the primary's data; a seventh replica of the edge, on its admin socket.
    realIntruder(stack, "postgres-replica-7", mount("prod-postgres-data", true));
    realIntruder(stack, "edge-replica-7", mount("prod-edge-admin"));
    // The edge's reload job's name, on the database's data (also a second prod-edge-reload).
    realIntruder(stack, "edge-reload", mount("prod-postgres-data", true));
    // A seed of the database that uploads into its live data.
    realIntruder(stack, "postgres", mount("prod-postgres-data"), {
      name: "prod-postgres-extra-seed",
      start: false,
      restart: "no",
      upload: [{ file: "/d/postgresql.auto.conf", content: "archive_command = 'sh /d/x'" }],
    });
    const messages = blockingFor(stack).map((m) => m.replace(/ — .*/s, ""));
    expect(messages.sort()).toEqual(
      [
        '[volume-sharing] container "prod-intruder" (service "intruder") mounts "prod-edge-admin" of service "edge" read-only (volumes[0].volume_name)',
        '[volume-sharing] container "prod-postgres-replica-7" (service "postgres-replica-7") mounts "prod-postgres-data" of service "postgres" read-only (volumes[0].volume_name)',
        '[volume-sharing] container "prod-edge-replica-7" (service "edge-replica-7") mounts "prod-edge-admin" of service "edge" read-write (volumes[0].volume_name)',
        '[volume-sharing] container "prod-edge-reload" is declared more than once in this stack (containers and services), so its name says nothing about which one mounts what',
        '[volume-sharing] container "prod-edge-reload" is declared more than once in this stack (containers and services), so its name says nothing about which one mounts what',
        '[volume-sharing] container "prod-edge-reload" (service "edge-reload") mounts "prod-postgres-data" of service "postgres" read-only (volumes[0].volume_name)',
        '[volume-sharing] container "prod-postgres-extra-seed" (service "postgres") mounts "prod-postgres-data" of service "postgres" read-write (volumes[0].volume_name): a seed writes its uploads into what it mounts: it may mount only its own service\'s ephemeral volumes',
      ].sort(),
    );
  });
});
