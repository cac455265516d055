/**
 * volume-sharing: a container mounts only its own service's volumes, or those of the service it is
 * a backup, replica or reload helper of; anything else takes a suppression on the construct, for
 * its image. Each attack below mounts the fixture's database volume (service "db") from a
 * container of another service.
 */
import { Container, type ContainerConfig } from "@cdktf/provider-docker/lib/container";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { describe, expect, it } from "vitest";
import { blockingFindings, evaluatePolicy, suppressPolicy } from "../../constructs/policy/policy-aspect";
import { buildEnvironment, sharedEnvironment } from "../support/stacks";
import { blockingMessages, compliantConfig, expectCaught, fixture, labels, PINNED_IMAGE, type Fixture } from "./fixtures";

const RULE = "volume-sharing";

/** The fixture with its database volume labelled as service "db"'s (as the kit labels every volume). */
function labelled(): Fixture {
  const f = fixture("prod");
  f.volume.addOverride("labels", [
    { label: "io.updateio.project", value: "updateio" },
    { label: "io.updateio.environment", value: "prod" },
    { label: "io.updateio.service", value: "db" },
  ]);
  new Container(f.stack, "db", compliantConfig(f, "db"));
  return f;
}

type Mounts = Partial<ContainerConfig>;

/** A compliant container of service `service` (no service label when undefined) with the given mounts, beside the database. */
function intruder(f: Fixture, service: string | undefined, mounts: Mounts, id = "intruder"): Container {
  const all = labels(f.environment, "app", service === undefined ? {} : { "io.updateio.service": service }).filter(
    (l) => service !== undefined || l.label !== "io.updateio.service",
  );
  return new Container(f.stack, id, { ...compliantConfig(f, id), labels: all, volumes: undefined, ...mounts });
}

describe("volume-sharing: mounts across services", () => {
  it("the database mounting its own volume passes", () => {
    expect(blockingMessages(labelled(), RULE)).toEqual([]);
  });

  it.each([
    [
      "read-only, by reference",
      (f: Fixture): Mounts => ({ volumes: [{ volumeName: f.volume.name, containerPath: "/d", readOnly: true }] }),
      "read-only",
    ],
    ["read-write, by reference", (f: Fixture): Mounts => ({ volumes: [{ volumeName: f.volume.name, containerPath: "/d" }] }), "read-write"],
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
    expect(blockingMessages(f, RULE).join("\n")).toContain('(service "status-page") mounts "prod-db-data" of service "db"');
  });

  it.each([
    ["a name that only starts like the owner's", "dbx"],
    ["a helper suffix the kit does not make", "db-evil"],
    ["a replica number 0", "db-replica-0"],
    ["a helper of a helper's name", "db-backup-x"],
    ["the owner's name in capitals", "DB"],
    ["no service label at all", undefined],
  ])("%s (%s) is caught", (_what, service) => {
    const f = labelled();
    intruder(f, service, { volumes: [{ volumeName: f.volume.name, containerPath: "/d", readOnly: true }] });
    expectCaught(f, RULE);
  });

  it.each([
    "db-backup",
    "db-restore-drill",
    "db-pre-migration-dump",
    "db-replica-1",
    "db-replica-12",
    "db-reload",
    "db-acl-reload",
    "db-users",
  ])("the kit's helper %s may mount it", (service) => {
    const f = labelled();
    intruder(f, service, { volumes: [{ volumeName: f.volume.name, containerPath: "/d" }] });
    expect(blockingMessages(f, RULE)).toEqual([]);
  });

  it("a seed (never started) of another service is not a reader; one the engine would restart is", () => {
    const seed = labelled();
    intruder(seed, "status-page", { start: false, restart: "no", volumes: [{ volumeName: seed.volume.name, containerPath: "/d" }] });
    expect(blockingMessages(seed, RULE)).toEqual([]);
    const restarted = labelled();
    intruder(restarted, "status-page", {
      start: false,
      restart: "always",
      volumes: [{ volumeName: restarted.volume.name, containerPath: "/d" }],
    });
    expectCaught(restarted, RULE);
  });

  it("a suppression covers it only for the image it names", () => {
    const covered = labelled();
    suppressPolicy(
      intruder(covered, "collector", { volumes: [{ volumeName: covered.volume.name, containerPath: "/d", readOnly: true }] }),
      RULE,
      "reads the sizes of every volume",
      {
        image: PINNED_IMAGE.split(":")[0],
      },
    );
    expect(blockingMessages(covered, RULE)).toEqual([]);
    const other = labelled();
    suppressPolicy(
      intruder(other, "collector", { volumes: [{ volumeName: other.volume.name, containerPath: "/d", readOnly: true }] }),
      RULE,
      "reads the sizes of every volume",
      {
        image: "registry.example/collector",
      },
    );
    expectCaught(other, RULE);
  });

  it("a second declaration of the database's volume under another label is caught (the engine hands it the same volume)", () => {
    const f = labelled();
    new Volume(f.stack, "claimed", { name: "prod-db-data", labels: [{ label: "io.updateio.service", value: "status-page" }] });
    intruder(f, "status-page", { volumes: [{ volumeName: "${docker_volume.claimed.name}", containerPath: "/d" }] });
    expectCaught(f, RULE, 'volume "prod-db-data" is declared more than once in this stack');
  });

  it("a volume of this stack without a service label is left to required-labels", () => {
    const f = fixture("prod");
    intruder(f, "status-page", { volumes: [{ volumeName: f.volume.name, containerPath: "/d" }] });
    expect(blockingMessages(f, RULE)).toEqual([]);
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

describe("the real stacks", () => {
  it.each(["dev", "test", "prod"] as const)("%s: only the collectors mount other services' volumes, each with its reason", (name) => {
    const { stack } = sharedEnvironment(name);
    const found = evaluatePolicy(stack, { environment: name }).filter((x) => x.ruleId === RULE);
    expect(found.filter((x) => !x.suppressed)).toEqual([]);
    expect(new Set(found.map((x) => x.constructPath.replace(/^[a-z]+\//, "")))).toEqual(
      name === "dev" ? new Set() : new Set(["exporters/node-exporter/container", "volume-usage/job/container"]),
    );
  });

  it("prod: another service mounting the edge's admin socket volume (it could reconfigure the edge) is caught", () => {
    const stack = buildEnvironment("prod");
    new Container(stack, "intruder", {
      name: "prod-intruder",
      image: PINNED_IMAGE,
      labels: [
        { label: "io.updateio.project", value: "updateio" },
        { label: "io.updateio.environment", value: "prod" },
        { label: "io.updateio.service", value: "api" },
      ],
      volumes: [{ volumeName: "prod-edge-admin", containerPath: "/run/caddy-admin", readOnly: true }],
    });
    const found = blockingFindings(evaluatePolicy(stack, { environment: "prod" }).filter((x) => x.ruleId === RULE));
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toContain('container "prod-intruder" (service "api") mounts "prod-edge-admin" of service "edge" read-only');
  });
});
