/**
 * The Redis, RabbitMQ, Grafana and edge backups as wired into the environment stacks: each job with
 * its volume, budget, schedule, secrets and networks, node-exporter reading its metrics, its alerts,
 * and the off-host copy sharing Postgres' settings.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { escapeTemplateText } from "../../constructs/kit/container-runtime";
import { REDIS_BACKUP_ACL } from "../../constructs/redis/renderers/redis-backup";
import { loadEnvironmentConfig } from "../../environments/load";
import { sharedEnvironment, synthEnvironment, uploadedFile, type TerraformJson } from "../support/stacks";

/** RedisCache's ACL file, in its live config volume. */
const REDIS_ACL_FILE = "/usr/local/etc/redis-acl/users.acl";

type Json = Record<string, any>;
const OUT = mkdtempSync(join(tmpdir(), "store-backups-env-"));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

const containers = (json: TerraformJson): Json[] => Object.values(json.resource.docker_container ?? {});
const containerNamed = (json: TerraformJson, name: string): Json | undefined => containers(json).find((c) => c.name === name);
const networkByRef = (json: TerraformJson, ref: string): Json => {
  const id = /^\$\{docker_network\.([^.]+)\.name\}$/.exec(ref)?.[1];
  const net = id ? json.resource.docker_network?.[id] : undefined;
  if (!net) throw new Error(`no network behind ${ref}`);
  return net;
};
const networksOf = (json: TerraformJson, c: Json): Json[] => (c.networks_advanced as Json[]).map((n) => networkByRef(json, n.name));
const volumeName = (json: TerraformJson, ref: string): string => {
  const id = /^\$\{docker_volume\.([^.]+)\.name\}$/.exec(ref)?.[1];
  return id ? json.resource.docker_volume[id].name : ref;
};
const mounts = (json: TerraformJson, c: Json): Record<string, { volume: string; readOnly: boolean }> =>
  Object.fromEntries(
    (c.volumes as Json[])
      .filter((v) => v.volume_name)
      .map((v) => [v.container_path, { volume: volumeName(json, v.volume_name), readOnly: v.read_only === true }]),
  );

// Per store: the backups volume's mount in the job, the network it joins, its budget key, secrets.
const STORES = {
  redis: { root: "/data", network: "redis", budget: "redisBackups", secrets: ["redis_backup_password"], every: 60, keep: 48 },
  rabbitmq: { root: "/var/lib/rabbitmq", network: "rabbitmq", budget: "rabbitmqBackups", secrets: ["erlang_cookie"], every: 360, keep: 28 },
  grafana: { root: "/var/tmp", network: "backups", budget: "grafanaBackups", secrets: [], every: 1440, keep: 14 },
  edge: { root: "/backups", network: "backups", budget: "edgeBackups", secrets: [], every: 1440, keep: 14 },
} as const;
// Every store's job also holds its own snapshot signing key.
const SIGNING_KEY = "backup_signing_key";
type Store = keyof typeof STORES;
const STORE_NAMES = Object.keys(STORES) as Store[];

describe.each(["test", "prod"] as const)("%s: store backups", (env) => {
  const s = () => sharedEnvironment(env);
  const json = () => s().json;
  const backupOf = (store: Store) => {
    const st = s().stack;
    return { redis: st.data.redisBackup, rabbitmq: st.data.rabbitmqBackup, grafana: st.observability.grafanaBackup, edge: st.edge.backup }[
      store
    ]!.backup;
  };

  it.each(STORE_NAMES)("%s: a job on its own backups volume, on one internal network, no off-host copy by default", (store) => {
    const job = containerNamed(json(), `${env}-${store}-backup`);
    expect(job, `${env}-${store}-backup`).toBeDefined();
    expect(mounts(json(), job!)[STORES[store].root]).toEqual({ volume: `${env}-${store}-backups`, readOnly: false });
    const nets = networksOf(json(), job!);
    expect(nets.map((n) => [n.name, n.internal])).toEqual([[`${env}-${STORES[store].network}`, true]]);
    expect(containerNamed(json(), `${env}-${store}-offsite`)).toBeUndefined();
    // prod keeps the backups volume from destroy, like every other data volume.
    const volume = Object.values(json().resource.docker_volume as Json).find((v) => v.name === `${env}-${store}-backups`)!;
    expect(volume.lifecycle?.prevent_destroy ?? false).toBe(env === "prod");
  });

  it.each(STORE_NAMES)("%s: the store's schedule and retention, rendered into its scheduler", (store) => {
    const backup = backupOf(store);
    expect(backup.intervalSeconds).toBe(STORES[store].every * 60);
    expect(backup.keep).toBe(STORES[store].keep);
    // Uploads carry the script escaped for Terraform's template syntax.
    expect(uploadedFile(json(), `/etc/${store}-backup/backup.sh`)).toBe(escapeTemplateText(backup.script));
  });

  it.each(STORE_NAMES)("%s: secrets are generated values delivered as files, and nothing else is", (store) => {
    const seed = containerNamed(json(), `${env}-${store}-backup-seed`)!;
    const secretUploads = (seed.upload as Json[]).filter((u) => String(u.file).startsWith("/run/secrets/"));
    expect(secretUploads.map((u) => u.file.replace("/run/secrets/", "")).sort()).toEqual([...STORES[store].secrets, SIGNING_KEY].sort());
    for (const u of secretUploads) expect(u.content).toMatch(/^\$\{random_password\.[^.]+\.result\}$/);
    for (const e of (containerNamed(json(), `${env}-${store}-backup`)!.env ?? []) as string[])
      expect(e).not.toMatch(/random_password|PASSWORD=|COOKIE=/);
  });

  it("Redis: the backup user is in the ACL file of every data node, with its own generated password", () => {
    const acl = uploadedFile(json(), REDIS_ACL_FILE)!;
    const line = acl.split("\n").find((l) => l.startsWith("user backup "));
    expect(line).toMatch(/^user backup on #\$\{sha256\(random_password\.redis_backup-password_[0-9A-F]{8}\.result\)\} /);
    expect(line!.endsWith(` ${REDIS_BACKUP_ACL}`)).toBe(true);
    // One file, in the volume every data node mounts.
    const nodes = containers(json()).filter((c) => /-redis(-replica-\d+)?$/.test(c.name));
    expect(nodes.length).toBe(2);
    for (const node of nodes) expect((node.volumes as Json[]).map((v) => v.container_path)).toContain("/usr/local/etc/redis-acl");
    const job = containerNamed(json(), `${env}-redis-backup-seed`)!;
    const password = (job.upload as Json[]).find((u) => u.file === "/run/secrets/redis_backup_password")!.content as string;
    expect(acl).toContain(`#\${sha256(${password.slice(2, -1)})} `);
  });

  it("Grafana and the edge: their data volume read-only, a pinned image, started after their server", () => {
    const grafana = containerNamed(json(), `${env}-grafana-backup`)!;
    expect(mounts(json(), grafana)["/grafana-data"]).toEqual({ volume: `${env}-grafana-data`, readOnly: true });
    const edge = containerNamed(json(), `${env}-edge-backup`)!;
    expect(mounts(json(), edge)["/caddy-data"]).toEqual({ volume: `${env}-edge-data`, readOnly: true });
    const images = Object.values(json().resource.docker_image as Json).map((i) => i.name as string);
    expect(images).toContain(loadEnvironmentConfig(env).backups.grafana.image);
    expect(images.filter((i) => i.startsWith("python:"))).toEqual([expect.stringMatching(/@sha256:[0-9a-f]{64}$/)]);
    const key = (name: string) => Object.entries(json().resource.docker_container as Json).find(([, c]) => (c as Json).name === name)![0];
    expect(grafana.depends_on).toContain(`docker_container.${key(`${env}-grafana`)}`);
    expect(edge.depends_on).toContain(`docker_container.${key(`${env}-edge`)}`);
  });

  it("node-exporter reads every store's metrics directory from its backups volume, read-only", () => {
    const ne = containerNamed(json(), `${env}-node-exporter`)!;
    const m = mounts(json(), ne);
    const dirs = (ne.command as string[]).filter((a) => a.startsWith("--collector.textfile.directory=")).map((a) => a.split("=")[1]);
    // Then volume-usage's own volume, and the list of the stack's services (ContainerMissing's), from its own live config.
    expect(dirs).toEqual(["/backups/metrics", ...STORE_NAMES.map((st) => `/backups-${st}/metrics`), "/volume-usage", "/expected-services"]);
    for (const st of STORE_NAMES) expect(m[`/backups-${st}`]).toEqual({ volume: `${env}-${st}-backups`, readOnly: true });
    expect(m["/volume-usage"]).toEqual({ volume: `${env}-volume-usage-metrics`, readOnly: true });
    // The scheduler writes its textfile under metrics/ of the volume node-exporter mounts.
    for (const st of STORE_NAMES) expect(backupOf(st).metricsFile).toBe(`metrics/${st}_backup.prom`);
  });

  it("every backups volume is measured against its budget", () => {
    const config = loadEnvironmentConfig(env);
    const list = uploadedFile(json(), "/etc/volume-usage/volumes.txt")!.trim().split("\n");
    for (const st of STORE_NAMES) {
      const line = list.find((l) => l.startsWith(`${env}-${st}-backups `));
      expect(line, st).toBe(
        `${env}-${st}-backups ${st}-backup ${config.budgets[STORES[st].budget] * 1024 * 1024} /volumes/${env}-${st}-backups`,
      );
    }
  });

  it("BackupTooOld and BackupStatusMissing watch each store on its own schedule, Postgres on its own", () => {
    const rules = uploadedFile(json(), "/etc/updateio-prometheus-rules/updateio.yml") ?? "";
    expect(rules).not.toBe("");
    const expr = (name: string) => {
      const at = rules.indexOf(`alert: ${name}\n`);
      return /expr: (.*)\n/.exec(rules.slice(at))![1]!;
    };
    const hours = { redis: 3, rabbitmq: 8, grafana: 26, edge: 26 };
    expect(expr("BackupTooOld")).toContain(`time() - updateio_backup_last_success_timestamp_seconds{store=""} > ${26 * 3600}`);
    for (const st of STORE_NAMES) {
      expect(expr("BackupTooOld")).toContain(`updateio_backup_last_success_timestamp_seconds{store="${st}"} > ${hours[st] * 3600}`);
      expect(expr("BackupStatusMissing")).toContain(`absent(updateio_backup_last_success_timestamp_seconds{store="${st}"})`);
    }
  });
});

describe("dev: store backups are off", () => {
  it("has no store backup job, volume, user or textfile directory", () => {
    const { json } = sharedEnvironment("dev");
    for (const st of STORE_NAMES) {
      expect(containerNamed(json, `dev-${st}-backup`)).toBeUndefined();
      expect(Object.values(json.resource.docker_volume as Json).map((v) => v.name)).not.toContain(`dev-${st}-backups`);
    }
    expect(uploadedFile(json, REDIS_ACL_FILE)).not.toContain("user backup");
    // node-exporter runs with observability.profile "full" only (dev's default is "logs").
    const ne = containerNamed(sharedEnvironment("dev", { UPDATEIO_DEV_OBSERVABILITY: "full" }).json, "dev-node-exporter")!;
    expect((ne.command as string[]).filter((a) => a.startsWith("--collector.textfile.directory="))).toEqual([
      "--collector.textfile.directory=/backups/metrics",
      "--collector.textfile.directory=/volume-usage",
      "--collector.textfile.directory=/expected-services",
    ]);
  });
});

describe("prod with an off-host bucket: every store copies off the host with Postgres' settings", () => {
  const vars = {
    UPDATEIO_PROD_BACKUP_OFFSITE_ENDPOINT: "https://s3.eu-central-1.amazonaws.com",
    UPDATEIO_PROD_BACKUP_OFFSITE_BUCKET: "updateio-prod-backups",
  };
  let synthesized: ReturnType<typeof synthEnvironment> | undefined;
  const prod = () => (synthesized ??= synthEnvironment("prod", vars, OUT));

  it.each(["postgres", ...STORE_NAMES])("%s: an rclone copy on its own egress network, same bucket and keys", (store) => {
    const { json } = prod();
    const copy = containerNamed(json, `prod-${store}-offsite`)!;
    expect(copy, store).toBeDefined();
    expect(networksOf(json, copy).map((n) => [n.name, n.internal])).toEqual([[`prod-egress-${store}-offsite`, false]]);
    const seed = containerNamed(json, `prod-${store}-offsite-seed`)!;
    const uploads = seed.upload as Json[];
    expect(uploads.find((u) => u.file === "/run/secrets/offsite_access_key_id")!.content).toBe("${var.offsite_access_key_id}");
    expect(uploads.find((u) => u.file === "/run/secrets/offsite_secret_access_key")!.content).toBe("${var.offsite_secret_access_key}");
    const script = uploads.find((u) => u.file.endsWith("offsite.sh"))!.content as string;
    expect(script).toContain("updateio-prod-backups");
    expect(script).toContain("s3.eu-central-1.amazonaws.com");
    if (store !== "postgres") expect(script).toContain(`prod/${store}`);
  });

  it("declares the key variables once", () => {
    const variables = Object.keys(prod().json.variable ?? {});
    expect(variables.filter((v) => v.startsWith("offsite_")).sort()).toEqual(["offsite_access_key_id", "offsite_secret_access_key"]);
  });
});
