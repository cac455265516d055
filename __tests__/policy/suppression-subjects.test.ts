/**
 * Suppressions limited to subjects (`appliesTo`, cdk-nag's granular suppressions): cAdvisor's
 * no-host-paths suppression covers the three host paths its reason names, node-exporter's
 * no-docker-socket suppression covers host / only, and the volume-sharing suppressions of the two
 * collectors that read every volume (volume-usage, node-exporter) cover read-only mounts only.
 * Each attack adds one more bind or mount to the real container of the real prod stack; before
 * the limit, the image-limited suppression covered it.
 * The attacks on one container share one stack: each bind is its own finding, judged on its own.
 */
import { TerraformResource } from "cdktf";
import { describe, expect, it } from "vitest";
import { evaluatePolicy, suppressionsOf, type Finding } from "../../constructs/policy/policy-aspect";
import { buildEnvironment } from "../support/stacks";

type Bind = { host_path: string; container_path: string; read_only: boolean };

/** Findings of the real prod stack with `extra` binds added to the container at `path` (as an escape-hatch override would add them). */
function withBinds(path: string, extra: readonly string[]): Finding[] {
  const stack = buildEnvironment("prod");
  const container = stack.node.findAll().find((c) => c.node.path === `prod/${path}`);
  if (!container || !TerraformResource.isTerraformResource(container)) throw new Error(`no resource at prod/${path}`);
  // cdktf merges an overriding list into the synthesized one: these binds come after the container's own.
  const binds: Bind[] = extra.map((host, i) => ({ host_path: host, container_path: `/extra-${i}`, read_only: true }));
  container.addOverride("volumes", binds);
  return evaluatePolicy(stack, { environment: "prod" });
}

type Mount = { volume_name: string; container_path: string; read_only: boolean | string };

/** Findings of the real prod stack with `extra` volume mounts added to the container at `path`. */
function withMounts(path: string, extra: readonly { volume: string; readOnly: boolean | string }[]): Finding[] {
  const stack = buildEnvironment("prod");
  const container = stack.node.findAll().find((c) => c.node.path === `prod/${path}`);
  if (!container || !TerraformResource.isTerraformResource(container)) throw new Error(`no resource at prod/${path}`);
  const mounts: Mount[] = extra.map((m, i) => ({ volume_name: m.volume, container_path: `/extra-${i}`, read_only: m.readOnly }));
  container.addOverride("volumes", mounts);
  return evaluatePolicy(stack, { environment: "prod" });
}

/** Computed once, on first use (a real prod stack takes a few hundred milliseconds). */
function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

const blocking = (found: Finding[], rule: string, path: string) =>
  found.filter((f) => f.ruleId === rule && !f.suppressed && f.severity === "error" && f.constructPath === `prod/${path}`);
const suppressed = (found: Finding[], rule: string, path: string) =>
  found.filter((f) => f.ruleId === rule && f.suppressed && f.constructPath === `prod/${path}`);
/** The one message among `found` that names the bind of `host`. */
const about = (found: Finding[], host: string) => {
  const hits = found.filter((f) => f.message.includes(`"${host}"`));
  expect(hits, host).toHaveLength(1);
  return hits[0]!.message;
};

const CADVISOR = "exporters/cadvisor/container";
const NODE_EXPORTER = "exporters/node-exporter/container";

const asBuilt = once(() => {
  const stack = buildEnvironment("prod");
  return { suppressions: suppressionsOf(stack), found: evaluatePolicy(stack, { environment: "prod" }) };
});

describe("cAdvisor's no-host-paths suppression covers /proc, /sys and /var/lib/docker/image only", () => {
  const ATTACKS = [
    ["/etc (the host's accounts and keys)", "/etc", "/etc"],
    ["/proc/1/root (the host's / through procfs)", "/proc/1/root", "/proc/1/root"],
    ["/sys/../etc (normalized: /etc)", "/sys/../etc", "/etc"],
    ["/var/lib/docker (every volume, not only the layer database)", "/var/lib/docker", "/var/lib/docker"],
    ["/root/.ssh", "/root/.ssh", "/root/.ssh"],
  ] as const;
  // The same paths as its own, written another way: still covered.
  const SAME = ["/proc/", "//sys"];
  const attacked = once(() => withBinds(CADVISOR, [...ATTACKS.map(([, host]) => host), "/", ...SAME]));

  it("is recorded with those three paths, and covers exactly its three binds as built", () => {
    const s = asBuilt().suppressions.find((x) => x.ruleId === "no-host-paths" && x.constructPath === `prod/exporters/cadvisor`);
    expect(s?.appliesTo).toEqual(["/proc", "/var/lib/docker/image", "/sys"]);
    expect(suppressed(asBuilt().found, "no-host-paths", CADVISOR)).toHaveLength(3);
    expect(blocking(asBuilt().found, "no-host-paths", CADVISOR)).toEqual([]);
  });

  it.each(ATTACKS)("a further read-only bind of %s is caught", (_what, host, normalized) => {
    const message = about(blocking(attacked(), "no-host-paths", CADVISOR), host);
    expect(message).toContain(`(${normalized}, read-only)`);
    expect(message).toContain('covers only image gcr.io/cadvisor/cadvisor, and only "/proc", "/var/lib/docker/image", "/sys"');
  });

  it("each further bind is one finding of its own, and the three binds it was built with stay covered", () => {
    expect(blocking(attacked(), "no-host-paths", CADVISOR)).toHaveLength(ATTACKS.length);
    expect(suppressed(attacked(), "no-host-paths", CADVISOR).map((f) => f.message.match(/binds "([^"]+)"/)?.[1])).toEqual([
      "/proc",
      "/var/lib/docker/image",
      "/sys",
      ...SAME,
    ]);
  });

  it("a further bind of / is caught by no-docker-socket (it holds the socket), which cAdvisor has no suppression of", () => {
    expect(blocking(attacked(), "no-docker-socket", CADVISOR).map((f) => f.message)).toEqual([expect.stringContaining('mounts "/" (/)')]);
  });
});

describe("node-exporter's no-docker-socket suppression covers host / only", () => {
  const ATTACKS = [
    ["the socket itself", "/var/run/docker.sock"],
    ["/var/run, which holds it", "/var/run"],
    ["/run, which holds it", "/run"],
  ] as const;
  const attacked = once(() =>
    withBinds(
      NODE_EXPORTER,
      ATTACKS.map(([, host]) => host),
    ),
  );

  it("covers its bind of / as built", () => {
    expect(suppressed(asBuilt().found, "no-docker-socket", NODE_EXPORTER)).toHaveLength(1);
    expect(blocking(asBuilt().found, "no-docker-socket", NODE_EXPORTER)).toEqual([]);
  });

  it.each(ATTACKS)("a further read-only bind of %s is caught", (_what, host) => {
    expect(about(blocking(attacked(), "no-docker-socket", NODE_EXPORTER), host)).toContain('and only "/"');
  });

  it("each further bind is one finding of its own, and its bind of / stays covered", () => {
    expect(blocking(attacked(), "no-docker-socket", NODE_EXPORTER)).toHaveLength(ATTACKS.length);
    expect(suppressed(attacked(), "no-docker-socket", NODE_EXPORTER)).toHaveLength(1);
  });
});

describe("the volume-sharing suppressions of volume-usage and node-exporter cover read-only mounts only", () => {
  const VOLUME_USAGE = "volume-usage/job/container";
  const VOLUME_USAGE_SEED = "volume-usage/job/seed";
  // Read-write: each could plant a backup a restore loads, or corrupt a store's files.
  const WRITES = [
    ["Postgres' data", "prod-postgres-data", false],
    ["Postgres' backups (a planted dump)", "prod-postgres-backups", false],
    ["the edge's certificates", "prod-edge-data", false],
    ["Redis' backups with read_only from a variable (unknown at synth: judged read-write)", "prod-redis-backups", "${var.read_only}"],
  ] as const;
  // Read-only reads of other volumes stay what the reason says.
  const READS = [{ volume: "prod-grafana-data", readOnly: true }];
  const usage = once(() => withMounts(VOLUME_USAGE, [...WRITES.map(([, volume, readOnly]) => ({ volume, readOnly })), ...READS]));
  const exporter = once(() =>
    withMounts(NODE_EXPORTER, [
      { volume: "prod-postgres-backups", readOnly: false },
      { volume: "prod-redis-data", readOnly: true },
    ]),
  );
  const mountOf = (found: Finding[], volume: string) => found.filter((f) => f.message.includes(`mounts "${volume}"`));

  it("are recorded limited to read-only, and cover every mount as built (which are all read-only)", () => {
    for (const construct of ["volume-usage/job", "exporters/node-exporter"]) {
      const s = asBuilt().suppressions.find((x) => x.ruleId === "volume-sharing" && x.constructPath === `prod/${construct}`);
      expect(s?.appliesTo, construct).toEqual(["read-only"]);
    }
    expect(blocking(asBuilt().found, "volume-sharing", VOLUME_USAGE)).toEqual([]);
    expect(blocking(asBuilt().found, "volume-sharing", NODE_EXPORTER)).toEqual([]);
    // Every store volume but the job's own (Postgres, replicas, Redis, RabbitMQ, Loki, Prometheus, Grafana, the edge, the backups).
    expect(suppressed(asBuilt().found, "volume-sharing", VOLUME_USAGE).length).toBeGreaterThanOrEqual(15);
    expect(suppressed(asBuilt().found, "volume-sharing", VOLUME_USAGE).every((f) => f.message.includes(" read-only ("))).toBe(true);
    expect(suppressed(asBuilt().found, "volume-sharing", NODE_EXPORTER).map((f) => /mounts "([^"]+)"/.exec(f.message)?.[1])).toEqual([
      "prod-postgres-backups",
      "prod-redis-backups",
      "prod-rabbitmq-backups",
      "prod-grafana-backups",
      "prod-edge-backups",
      "prod-volume-usage-metrics",
    ]);
  });

  it.each(WRITES)("volume-usage mounting %s read-write is caught", (_what, volume) => {
    const hits = mountOf(blocking(usage(), "volume-sharing", VOLUME_USAGE), volume);
    expect(hits).toHaveLength(1);
    expect(hits[0]!.message).toContain(`"${volume}" of service`);
    expect(hits[0]!.message).toContain("read-write (volumes[");
    expect(hits[0]!.message).toContain('covers only image postgres, and only "read-only"');
  });

  it("a further read-only mount is covered, as the reason says; the writes are one finding each", () => {
    expect(blocking(usage(), "volume-sharing", VOLUME_USAGE)).toHaveLength(WRITES.length);
    expect(mountOf(suppressed(usage(), "volume-sharing", VOLUME_USAGE), "prod-grafana-data")).toHaveLength(2);
  });

  it("node-exporter mounting a backups volume read-write is caught, a further read-only mount is covered", () => {
    const hits = blocking(exporter(), "volume-sharing", NODE_EXPORTER);
    expect(hits.map((f) => /mounts "([^"]+)"/.exec(f.message)?.[1])).toEqual(["prod-postgres-backups"]);
    expect(hits[0]!.message).toContain('covers only image prom/node-exporter, and only "read-only"');
    expect(mountOf(suppressed(exporter(), "volume-sharing", NODE_EXPORTER), "prod-redis-data")).toHaveLength(1);
  });

  it("a seed below the suppressed construct mounting another service's volume is caught even read-only (its uploads land there)", () => {
    const found = withMounts(VOLUME_USAGE_SEED, [{ volume: "prod-postgres-data", readOnly: true }]);
    const hits = mountOf(blocking(found, "volume-sharing", VOLUME_USAGE_SEED), "prod-postgres-data");
    expect(hits).toHaveLength(1);
    expect(hits[0]!.message).toContain("a seed writes its uploads into what it mounts");
  });
});
