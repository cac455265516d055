import { Container } from "@cdktf/provider-docker/lib/container";
import { TerraformResource, TerraformStack, Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { PlatformNetwork } from "../../constructs/kit/platform-network";
import { ServiceVolume } from "../../constructs/kit/service-volume";
import {
  CADVISOR_DISABLED_METRICS,
  MetricsExporters,
  renderRedisPasswordMap,
  type MetricsExportersProps,
} from "../../constructs/observability/metrics-exporters";
import { blockingFindings, evaluatePolicy, suppressionsOf } from "../../constructs/policy/policy-aspect";
import { exposesDockerSocket } from "../../constructs/policy/rules";
import { PostgresCluster } from "../../constructs/postgres/postgres-cluster";
import { RedisCache } from "../../constructs/redis/redis-cache";
import { CADVISOR_LABELS, METRICS, SCRAPE_JOBS } from "../../constructs/observability/renderers/observability-catalogue";
import { renderPrometheusConfig } from "../../constructs/observability/renderers/prometheus";
import { MONITOR_ACL } from "../../constructs/redis/renderers/redis";
import { synthJson, testOutdir, testStack } from "../support/test-stack";

const OUT = testOutdir("metrics-exporters-test");

const digest = (byte: string) => `@sha256:${byte.repeat(32)}`;
/** Local references (same tags as environments/images.ts), so an image bump does not churn the snapshot. */
const IMAGES = {
  postgres: `postgres:17.6-bookworm${digest("f3")}`,
  redis: `redis:7.4.6-alpine${digest("3b")}`,
  postgresExporter: `quay.io/prometheuscommunity/postgres-exporter:v0.20.1${digest("ac")}`,
  redisExporter: `oliver006/redis_exporter:v1.84.0${digest("7e")}`,
  cadvisor: `gcr.io/cadvisor/cadvisor:v0.55.1${digest("3d")}`,
  nodeExporter: `prom/node-exporter:v1.10.2${digest("3a")}`,
};
type Json = Record<string, any>;
type Env = "dev" | "prod";

/** A stack as an environment wires it: a cluster with a replica, Redis with a replica and monitoring on. */
function build(env: Env = "dev", overrides: (parts: Parts) => Partial<MetricsExportersProps> = () => ({})) {
  const stack = testStack(OUT, env);
  const monitoring = new PlatformNetwork(stack, "monitoring", { environment: env, purpose: "monitoring" });
  const dockerApi = new PlatformNetwork(stack, "docker-api", { environment: env, purpose: "docker-api" });
  const pg = new PostgresCluster(stack, "postgres", {
    environment: env,
    image: IMAGES.postgres,
    memoryMb: 512,
    replicas: 1,
    protectData: env === "prod",
  });
  const redis = new RedisCache(stack, "redis", {
    environment: env,
    image: IMAGES.redis,
    memoryMb: 128,
    replicas: 1,
    monitoring: true,
    protectData: env === "prod",
  });
  const backups = new ServiceVolume(stack, "backups", {
    environment: env,
    service: "postgres-backup",
    purpose: "backups",
    protect: env === "prod",
  });
  const parts: Parts = { stack, monitoring, dockerApi, pg, redis, backups };
  const props: MetricsExportersProps = {
    environment: env,
    monitoringNetwork: monitoring,
    postgres: { cluster: pg, passwordAt: { scope: stack, id: "postgres-monitor-password" }, image: IMAGES.postgresExporter },
    redis: {
      network: redis.network,
      hosts: redis.nodeHosts.map((host, i) => ({ host, instanceRole: i === 0 ? ("primary" as const) : ("replica" as const) })),
      port: redis.port,
      user: redis.monitorUser!,
      password: redis.monitorPassword!,
      image: IMAGES.redisExporter,
      secretsOwnerImage: redis.service.spec.image,
    },
    cadvisor: { image: IMAGES.cadvisor, dockerHost: "tcp://docker-socket-proxy:2375", dockerApiNetwork: dockerApi },
    node: { image: IMAGES.nodeExporter, backupsVolume: backups },
    ...overrides(parts),
  };
  const exporters = new MetricsExporters(stack, "exporters", props);
  const { text, json, containers, named: byName, key, upload } = synthJson(stack);
  const netRef = (name: string) => `\${docker_network.${key("docker_network", name)}.name}`;
  const volKey = (name: string) => key("docker_volume", name);
  return { ...parts, exporters, text, json, containers, byName, netRef, volKey, upload };
}
interface Parts {
  stack: TerraformStack;
  monitoring: PlatformNetwork;
  dockerApi: PlatformNetwork;
  pg: PostgresCluster;
  redis: RedisCache;
  backups: ServiceVolume;
}

const EXPORTERS = [
  "postgres-exporter",
  "postgres-exporter-replica-1",
  "redis-exporter",
  "redis-exporter-replica-1",
  "cadvisor",
  "node-exporter",
];
const envOf = (c: Json): Record<string, string> =>
  Object.fromEntries((c.env as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));

describe("MetricsExporters", () => {
  const b = build();

  it("declares its own containers, images and volumes only: one exporter per node, cAdvisor, node-exporter", () => {
    const ids = new Set(
      b.exporters.node
        .findAll()
        .filter(TerraformResource.isTerraformResource)
        .map((r) => r.friendlyUniqueId),
    );
    const own: Json = {};
    for (const [type, byName] of Object.entries(b.json.resource as Json)) {
      for (const [name, resource] of Object.entries(byName as Json)) if (ids.has(name)) (own[type] ??= {})[name] = resource;
    }
    expect(Object.keys(own).sort()).toEqual(["docker_container", "docker_image", "docker_volume"]);
    const started = (Object.values(own.docker_container) as Json[]).filter((c) => c.start !== false && !c.name.endsWith("-secrets-owner"));
    expect(started.map((c) => c.name).sort()).toEqual(
      ["cadvisor", "node-exporter", "postgres-exporter", "postgres-exporter-replica-1", "redis-exporter", "redis-exporter-replica-1"].map(
        (n) => `dev-${n}`,
      ),
    );
    expect(Object.keys(own.docker_image)).toHaveLength(4);
  });

  it("adds its monitoring role to the cluster (pg_monitor, its own password where passwordAt says), even though the cluster was built first", () => {
    const role = b.exporters.postgresRole!;
    expect(role.name).toBe("updateio_monitor");
    expect(role.passwordSecret.node.path).toBe("dev/postgres-monitor-password");
    const sql = b.upload("dev-postgres-seed", "/docker-entrypoint-initdb.d/20-updateio-monitor.sql");
    expect(sql).toContain("GRANT pg_monitor TO updateio_monitor;");
    const hba = b.upload("dev-postgres-seed", "/etc/postgresql/pg_hba.conf");
    expect(hba).toMatch(/^host +updateio +[a-z_,]*updateio_monitor +samenet +scram-sha-256$/m);
    expect(b.upload("dev-postgres-exporter-seed", "/run/secrets/postgres_monitor_password")).toBe(
      b.upload("dev-postgres-seed", "/run/secrets/postgres_updateio_monitor_password"),
    );
  });

  it("builds one exporter per Postgres and Redis node, cAdvisor and node-exporter, with typed attributes", () => {
    expect(b.exporters.services.map((s) => s.spec.service)).toEqual(EXPORTERS);
    expect(b.exporters.postgresExporters.map((s) => s.spec.service)).toEqual(["postgres-exporter", "postgres-exporter-replica-1"]);
    expect(b.exporters.redisExporters.map((s) => s.spec.service)).toEqual(["redis-exporter", "redis-exporter-replica-1"]);
    expect(b.exporters.cadvisor?.spec.service).toBe("cadvisor");
    expect(b.exporters.nodeExporter?.spec.service).toBe("node-exporter");
    for (const s of EXPORTERS)
      expect(b.byName(`dev-${s}`).labels).toContainEqual({ label: "io.updateio.component", value: "observability" });
  });

  it("hardens every exporter: read-only rootfs, ALL capabilities dropped, no-new-privileges, not privileged, limits, log rotation", () => {
    for (const s of EXPORTERS) {
      expect(b.text).toHaveResourceWithProperties(Container, {
        name: `dev-${s}`,
        read_only: true,
        privileged: false,
        capabilities: { drop: ["ALL"] },
        security_opts: ["no-new-privileges:true"],
        cpu_shares: 256,
        restart: "unless-stopped",
        log_driver: "json-file",
        log_opts: { "max-size": "10m", "max-file": "3" },
      });
      const c = b.byName(`dev-${s}`);
      expect(c.capabilities.add, s).toBeUndefined();
      expect(c.memory, s).toBe(c.memory_swap);
      expect(c.ports ?? [], s).toEqual([]);
      for (const key of ["network_mode", "pid_mode", "ipc_mode", "userns_mode", "cgroupns_mode"])
        expect(c[key], `${s} ${key}`).toBeUndefined();
    }
    expect(b.byName("dev-postgres-exporter").memory).toBe(64);
    expect(b.byName("dev-redis-exporter").memory).toBe(48);
    expect(b.byName("dev-cadvisor").memory).toBe(192);
    expect(b.byName("dev-node-exporter").memory).toBe(48);
  });

  it("runs each exporter as its image's unprivileged user; only cAdvisor as root", () => {
    expect(b.byName("dev-postgres-exporter").user).toBe("65534:65534");
    expect(b.byName("dev-redis-exporter").user).toBe("59000:59000");
    expect(b.byName("dev-node-exporter").user).toBe("65534:65534");
    expect(b.byName("dev-cadvisor").user).toBe("0:0");
  });

  it("attaches each exporter to its data network and the monitoring network, cAdvisor to the Docker API network, node-exporter to monitoring only", () => {
    const nets = (s: string) => (b.byName(`dev-${s}`).networks_advanced as Json[]).map((n) => n.name).sort();
    const monitoring = b.netRef("dev-monitoring");
    expect(nets("postgres-exporter")).toEqual([b.netRef("dev-postgres"), monitoring].sort());
    expect(nets("postgres-exporter-replica-1")).toEqual([b.netRef("dev-postgres"), monitoring].sort());
    expect(nets("redis-exporter")).toEqual([b.netRef("dev-redis"), monitoring].sort());
    expect(nets("redis-exporter-replica-1")).toEqual([b.netRef("dev-redis"), monitoring].sort());
    expect(nets("cadvisor")).toEqual([b.netRef("dev-docker-api"), monitoring].sort());
    expect(nets("node-exporter")).toEqual([monitoring]);
    for (const key of ["dev-monitoring", "dev-docker-api", "dev-postgres", "dev-redis"]) {
      expect(b.json.resource.docker_network[b.netRef(key).split(".")[1]!].internal, key).toBe(true);
    }
  });

  it("points each Postgres exporter at its own node, with the password only in a secret file (DATA_SOURCE_PASS_FILE)", () => {
    expect(envOf(b.byName("dev-postgres-exporter"))).toEqual({
      DATA_SOURCE_PASS_FILE: "/run/secrets/postgres_monitor_password",
      DATA_SOURCE_URI: "postgres:5432/updateio?sslmode=disable",
      DATA_SOURCE_USER: "updateio_monitor",
      PG_EXPORTER_WEB_LISTEN_ADDRESS: ":9187",
    });
    expect(envOf(b.byName("dev-postgres-exporter-replica-1")).DATA_SOURCE_URI).toBe("postgres-replica-1:5432/updateio?sslmode=disable");
    expect(b.upload("dev-postgres-exporter-seed", "/run/secrets/postgres_monitor_password")).toMatch(
      /^\$\{random_password\.[^}]+\.result\}$/,
    );
  });

  it("points each Redis exporter at its own node as the monitor user, CONFIG off, the password map in a secret file", () => {
    expect(envOf(b.byName("dev-redis-exporter"))).toEqual({
      REDIS_ADDR: "redis://redis:6379",
      REDIS_EXPORTER_CONFIG_COMMAND: "-",
      REDIS_EXPORTER_WEB_LISTEN_ADDRESS: "0.0.0.0:9121",
      REDIS_PASSWORD_FILE: "/run/secrets/redis_password_map",
      REDIS_USER: "monitor",
    });
    expect(envOf(b.byName("dev-redis-exporter-replica-1")).REDIS_ADDR).toBe("redis://redis-replica-1:6379");
    // The JSON map redis_exporter looks the password up in, keyed by exactly REDIS_ADDR.
    const map = b.upload("dev-redis-exporter-replica-1-seed", "/run/secrets/redis_password_map");
    expect(map).toMatch(/^\{"redis:\/\/redis-replica-1:6379":"\$\{random_password\.[^}]+\.result\}"\}\n$/);
    expect(JSON.parse(renderRedisPasswordMap("redis://redis:6379", "Pw0123"))).toEqual({ "redis://redis:6379": "Pw0123" });
  });

  it("puts no secret in any environment variable (only *_FILE paths)", () => {
    for (const s of EXPORTERS) {
      for (const entry of b.byName(`dev-${s}`).env as string[]) {
        expect(entry, s).not.toMatch(/random_password|TfToken/);
        expect(entry.split("=")[0], s).not.toMatch(/PASS(WORD)?$|SECRET|TOKEN/);
      }
    }
  });

  it("adds the monitor user to the Redis data nodes' ACL file, and exposes the node hosts", () => {
    expect(b.redis.nodeHosts).toEqual(["redis", "redis-replica-1"]);
    expect(b.redis.monitorUser).toBe("monitor");
    const acl = b.upload("dev-redis-acl-seed", "/usr/local/etc/redis-acl/users.acl");
    const line = acl.split("\n").find((l) => l.startsWith("user monitor "));
    expect(line).toMatch(/^user monitor on #\$\{sha256\(random_password\.[^}]+\.result\)\} /);
    expect(line!.endsWith(` ${MONITOR_ACL}`)).toBe(true);
    expect(line).not.toMatch(/~|\+@|\+config|\+get\b|\+slowlog\|get|\+client\|list/);
    const plain = new RedisCache(new TerraformStack(Testing.app({ outdir: OUT }), "dev"), "redis", {
      environment: "dev",
      image: IMAGES.redis,
      memoryMb: 128,
    });
    expect(plain.monitorUser).toBeUndefined();
    expect(plain.monitorPassword).toBeUndefined();
    expect(plain.nodeHosts).toEqual(["redis"]);
  });

  it("runs cAdvisor against the socket proxy with read-only binds that never include the socket, cheap metrics, our labels", () => {
    const c = b.byName("dev-cadvisor");
    expect(c.command).toEqual([
      "--docker=tcp://docker-socket-proxy:2375",
      "--docker_only=true",
      "--port=8080",
      "--housekeeping_interval=30s",
      `--disable_metrics=${CADVISOR_DISABLED_METRICS.join(",")}`,
      "--store_container_labels=false",
      "--whitelisted_container_labels=io.updateio.environment,io.updateio.service,io.updateio.component,restartcount",
    ]);
    expect(CADVISOR_DISABLED_METRICS).toEqual(expect.arrayContaining(["disk", "diskIO", "percpu", "process", "tcp", "udp"]));
    expect(CADVISOR_DISABLED_METRICS).not.toEqual(expect.arrayContaining(["cpu"]));
    expect(CADVISOR_DISABLED_METRICS).not.toEqual(expect.arrayContaining(["memory"]));
    // cAdvisor exposes the three labels as container_label_io_updateio_<label> (CADVISOR_LABELS).
    expect(Object.values(CADVISOR_LABELS)).toEqual([
      "container_label_io_updateio_environment",
      "container_label_io_updateio_service",
      "container_label_io_updateio_component",
    ]);
    const binds = (c.volumes as Json[]).filter((v) => v.host_path !== undefined);
    expect(binds).toEqual([
      { host_path: "/proc", container_path: "/rootfs/proc", read_only: true },
      { host_path: "/var/lib/docker/image", container_path: "/rootfs/var/lib/docker/image", read_only: true },
      { host_path: "/sys", container_path: "/sys", read_only: true },
    ]);
    for (const v of binds) expect(exposesDockerSocket(v.host_path), v.host_path).toBe(false);
    expect(c.healthcheck.test).toEqual(["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]);
  });

  it("runs node-exporter on the host's root, read-only, with the textfile collector on the backups volume", () => {
    const c = b.byName("dev-node-exporter");
    expect(c.command).toEqual([
      "--path.rootfs=/host",
      "--path.procfs=/host/proc",
      "--path.sysfs=/host/sys",
      "--web.listen-address=:9100",
      "--collector.disable-defaults",
      "--collector.filesystem",
      "--collector.filesystem.mount-points-exclude=^/(dev|proc|run|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)",
      expect.stringMatching(/^--collector\.filesystem\.fs-types-exclude=\^\(.*\|overlay\|.*\|tmpfs\|.*\)\$$/),
      "--collector.cpu",
      "--collector.meminfo",
      "--collector.loadavg",
      "--collector.textfile",
      "--collector.textfile.directory=/backups/metrics",
    ]);
    expect(c.volumes).toEqual([
      { volume_name: `\${docker_volume.${b.volKey("dev-postgres-backup-backups")}.name}`, container_path: "/backups", read_only: true },
      { host_path: "/", container_path: "/host", read_only: true },
    ]);
    expect(c.healthcheck.test).toEqual(["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9100/metrics"]);
    expect(c.env).toEqual([]);
  });

  it("health-checks with wget where the image has it; the scratch-based redis_exporter relaxes the healthcheck", () => {
    expect(b.byName("dev-postgres-exporter").healthcheck).toMatchObject({
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9187/metrics"],
      interval: "30s",
      timeout: "10s",
      start_period: "30s",
    });
    expect(b.byName("dev-postgres-exporter").wait).toBe(true);
    expect(b.byName("dev-redis-exporter").healthcheck).toBeUndefined();
    expect(b.byName("dev-redis-exporter").wait).toBeUndefined();
  });

  it("records every weakened default as a suppression with its written reason, and nothing else", () => {
    const all = suppressionsOf(b.exporters).map((s) => [s.constructPath.replace("dev/exporters/", ""), s.ruleId]);
    // Seed containers (never started) need none: read-only-rootfs exempts them by itself.
    expect(all.filter(([path]) => path!.endsWith("/seed"))).toEqual([]);
    // And the one-shot job that hands each exporter's secret file to its user (root with CHOWN only).
    expect(all.filter(([path]) => path!.endsWith("/secrets-owner"))).toEqual(
      ["postgres-exporter", "postgres-exporter-replica-1", "redis-exporter", "redis-exporter-replica-1"].flatMap((s) =>
        ["non-root", "restart-policy", "healthcheck"].map((rule) => [`${s}/secrets-owner`, rule]),
      ),
    );
    expect(all.filter(([path]) => !path!.endsWith("/seed") && !path!.endsWith("/secrets-owner"))).toEqual([
      ["redis-exporter", "healthcheck"],
      ["redis-exporter-replica-1", "healthcheck"],
      ["cadvisor", "non-root"],
      ["cadvisor", "no-host-paths"],
      ["node-exporter", "no-docker-socket"],
      ["node-exporter", "volume-sharing"],
    ]);
    const reason = (service: string, rule: string) =>
      suppressionsOf(b.exporters).find((s) => s.constructPath.endsWith(`/${service}`) && s.ruleId === rule)!.reason;
    expect(reason("redis-exporter", "healthcheck")).toMatch(/FROM scratch.*up\{job="redis"\}/);
    expect(reason("cadvisor", "non-root")).toMatch(
      /\/var\/lib\/docker\/image, root-only.*capability dropped.*no volumes.*no Docker socket/,
    );
    expect(reason("node-exporter", "no-docker-socket")).toMatch(/statfs every host mount point.*nobody.*refuses its connect/);
    expect(reason("node-exporter", "volume-sharing")).toMatch(/textfile collector reads the metrics files.*read-only/);
  });

  it("gives Prometheus one target per exporter: postgres and redis labelled by instance_role, cadvisor, node", () => {
    expect(b.exporters.scrapeTargets()).toEqual([
      { job: "postgres", targets: ["postgres-exporter:9187"], labels: { instance_role: "primary" } },
      { job: "postgres", targets: ["postgres-exporter-replica-1:9187"], labels: { instance_role: "replica" } },
      { job: "redis", targets: ["redis-exporter:9121"], labels: { instance_role: "primary" } },
      { job: "redis", targets: ["redis-exporter-replica-1:9121"], labels: { instance_role: "replica" } },
      { job: "cadvisor", targets: ["cadvisor:8080"] },
      { job: "node", targets: ["node-exporter:9100"] },
    ]);
    for (const t of b.exporters.scrapeTargets())
      for (const target of t.targets) expect(Number(target.split(":")[1])).toBe(SCRAPE_JOBS[t.job].port);
    // The renderer takes them as they are.
    const yaml = renderPrometheusConfig({ environment: "dev", scrapeTargets: b.exporters.scrapeTargets() });
    expect(yaml).toContain("postgres-exporter-replica-1:9187");
    expect(yaml).toContain("instance_role: replica");
    // Returned copies: a caller cannot change the construct's targets.
    (b.exporters.scrapeTargets()[0]!.targets as string[]).push("x:1");
    expect(b.exporters.scrapeTargets()[0]!.targets).toEqual(["postgres-exporter:9187"]);
    expect(METRICS.postgres).toContain("pg_replication_is_replica");
  });

  it("builds only what is asked for", () => {
    const only = build("dev", () => ({ postgres: undefined, redis: undefined, cadvisor: undefined }));
    expect(only.exporters.services.map((s) => s.spec.service)).toEqual(["node-exporter"]);
    expect(only.exporters.scrapeTargets()).toEqual([{ job: "node", targets: ["node-exporter:9100"] }]);
    const noBackups = build("dev", () => ({
      redis: undefined,
      postgres: undefined,
      cadvisor: undefined,
      node: { image: IMAGES.nodeExporter },
    }));
    const c = noBackups.byName("dev-node-exporter");
    expect(c.command.filter((a: string) => a.startsWith("--collector.textfile"))).toEqual([]);
    expect(c.volumes).toEqual([{ host_path: "/", container_path: "/host", read_only: true }]);
  });
});

describe("MetricsExporters in prod", () => {
  const b = build("prod");

  it("has zero blocking policy findings in the whole stack, and exactly the written suppressions on the exporters", () => {
    const findings = evaluatePolicy(b.stack, { environment: "prod" });
    expect(blockingFindings(findings).map((f) => f.message)).toEqual([]);
    const suppressed = findings.filter((f) => f.suppressed && f.constructPath.startsWith("prod/exporters/"));
    expect(suppressed.map((f) => `${f.constructPath.replace("prod/exporters/", "")} ${f.ruleId}`).sort()).toEqual([
      // /proc, /sys and /var/lib/docker/image: one finding per bind, all three suppressed.
      "cadvisor/container no-host-paths",
      "cadvisor/container no-host-paths",
      "cadvisor/container no-host-paths",
      "cadvisor/container non-root",
      "node-exporter/container no-docker-socket",
      // The store's backups volume, read-only, for the metrics files written there.
      "node-exporter/container volume-sharing",
      ...["postgres-exporter-replica-1", "postgres-exporter"].flatMap((s) =>
        ["healthcheck", "non-root", "restart-policy"].map((r) => `${s}/secrets-owner ${r}`),
      ),
      "redis-exporter-replica-1/container healthcheck",
      ...["healthcheck", "non-root", "restart-policy"].map((r) => `redis-exporter-replica-1/secrets-owner ${r}`),
      "redis-exporter/container healthcheck",
      ...["healthcheck", "non-root", "restart-policy"].map((r) => `redis-exporter/secrets-owner ${r}`),
    ]);
    for (const f of suppressed) expect(f.suppressed!.reason.length).toBeGreaterThan(60);
  });

  it("pins every exporter image by digest", () => {
    for (const s of EXPORTERS) {
      const c = b.byName(`prod-${s}`);
      const imageKey = (c.image as string).split(".")[1]!;
      expect(b.json.resource.docker_image[imageKey].name, s).toMatch(/@sha256:[0-9a-f]{64}$/);
    }
  });
});

describe("MetricsExporters validation", () => {
  const invalid = (overrides: (p: Parts) => Partial<MetricsExportersProps>) => () => build("dev", overrides);

  it("reports every problem at once, each with the prop and the fix", () => {
    let message = "";
    try {
      build("dev", (p) => {
        const open = new PlatformNetwork(p.stack, "open", { environment: "dev", purpose: "open", internal: false });
        return {
          monitoringNetwork: open,
          postgres: { cluster: p.pg, role: "postgres", image: "" },
          redis: {
            network: p.redis.network,
            hosts: [],
            user: "default",
            password: "",
            image: IMAGES.redisExporter,
            secretsOwnerImage: p.redis.service.spec.image,
          },
          cadvisor: {
            image: IMAGES.cadvisor,
            dockerHost: "unix:///var/run/docker.sock",
            dockerApiNetwork: new PlatformNetwork(p.stack, "api-open", { environment: "dev", purpose: "api-open", internal: false }),
          },
          memoryMb: { cadvisor: 8, grafana: 64 } as never,
          cpuShares: 1,
        };
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^MetricsExporters dev\/exporters is invalid:\n/);
    for (const expected of [
      /monitoringNetwork: "open" is not internal; .*internal: true/,
      /postgres\.role: "postgres" is the superuser; leave role out for a monitoring role with pg_monitor only/,
      /postgres\.image: is empty; pass the pinned image reference/,
      /redis\.hosts: is empty; list every node/,
      /redis\.user: "default" is switched off/,
      /redis\.password: is empty; pass the generated secret's token/,
      /cadvisor\.dockerHost: "unix:\/\/\/var\/run\/docker\.sock" must be tcp:\/\/<socket-proxy>:<port>.*policy forbids/,
      /cadvisor\.dockerApiNetwork: "api-open" is not internal/,
      /memoryMb\.cadvisor: 8 must be a whole number of MiB ≥ 16/,
      /memoryMb\.grafana: is not an exporter/,
      /cpuShares: 1 must be a whole number ≥ 2/,
    ]) {
      expect(message).toMatch(expected);
    }
  });

  it("refuses a monitoring role the cluster cannot add, naming the field", () => {
    expect(invalid(() => ({}))).not.toThrow();
    expect(invalid((p) => ({ postgres: { cluster: p.pg, role: "Monitor", image: IMAGES.postgresExporter } }))).toThrow(
      /postgres\.role: "Monitor" must be a lowercase SQL identifier, e\.g\. "updateio_monitor" \(or leave it out\)/,
    );
    expect(invalid((p) => ({ postgres: { cluster: p.pg, role: "updateio_app", image: IMAGES.postgresExporter } }))).toThrow(
      /addRole is invalid:\n {2}- name "updateio_app" is a built-in role/,
    );
  });

  it("refuses an empty set of exporters, and the socket proxy on the monitoring network", () => {
    expect(invalid(() => ({ postgres: undefined, redis: undefined, cadvisor: undefined, node: undefined }))).toThrow(
      /postgres\/redis\/cadvisor\/node: none is set; set at least one exporter/,
    );
    expect(
      invalid((p) => ({
        cadvisor: { image: IMAGES.cadvisor, dockerHost: "tcp://docker-socket-proxy:2375", dockerApiNetwork: p.monitoring },
      })),
    ).toThrow(/cadvisor\.dockerApiNetwork: is the monitoring network; keep the socket proxy on its own network/);
  });

  it("refuses a RedisCache monitoring flag that is not a boolean", () => {
    const stack = new TerraformStack(Testing.app({ outdir: OUT }), "dev");
    expect(
      () => new RedisCache(stack, "redis", { environment: "dev", image: IMAGES.redis, memoryMb: 128, monitoring: "yes" as never }),
    ).toThrow(/monitoring: "yes" must be true or false/);
  });
});
