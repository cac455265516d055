import { Container } from "@cdktf/provider-docker/lib/container";
import { Volume } from "@cdktf/provider-docker/lib/volume";

import { describe, expect, it } from "vitest";
import { ServiceVolume } from "../../constructs/kit/service-volume";
import { blockingFindings, evaluatePolicy } from "../../constructs/policy/policy-aspect";
import { PostgresBackup, type PostgresBackupOffsiteProps, type PostgresBackupProps } from "../../constructs/postgres/postgres-backup";
import { PlatformNetwork } from "../../constructs/kit/platform-network";
import { PostgresCluster } from "../../constructs/postgres/postgres-cluster";
import { walArchiveSettings } from "../../constructs/postgres/renderers/backup-scripts";
import { containerNamed, containersOf, synthJson, testOutdir, testStack, uploadOf, type Json } from "../support/test-stack";
import { HARDENED_CONTAINER } from "../support/synth-expectations";
import { synthText } from "../support/synth-text";

const OUT = testOutdir("postgres-backup-test");

const IMAGE = `postgres:17.6-bookworm@sha256:${"f3".repeat(32)}`;

const server = (json: Json) => containersOf(json).find((x) => x.name.endsWith("-postgres"))!;

type OffsiteInput = Omit<PostgresBackupOffsiteProps, "network" | "image"> & { internal?: boolean };

function build(env: "dev" | "prod", overrides: Partial<PostgresBackupProps> = {}, offsiteInput?: OffsiteInput) {
  const stack = testStack(OUT, env);
  const offsite = offsiteInput && {
    ...offsiteInput,
    image: "rclone/rclone:1.71.2",
    network: new PlatformNetwork(stack, "egress", { environment: env, purpose: "egress", internal: offsiteInput.internal ?? false }),
  };
  const pg = new PostgresCluster(stack, "postgres", {
    environment: env,
    image: IMAGE,
    memoryMb: 512,
    protectData: env === "prod",
    settings: walArchiveSettings(),
  });
  const backup = new PostgresBackup(stack, "postgres-backup", {
    environment: env,
    cluster: pg,
    passwordAt: { scope: stack, id: "postgres-backup-password" },
    protectData: env === "prod",
    ...(offsite ? { offsite } : {}),
    ...overrides,
  });
  const { text, json, named } = synthJson(stack);
  const c = named(`${env}-postgres-backup`);
  const seed = named(`${env}-postgres-backup-seed`);
  const offsiteC = containerNamed(json, `${env}-postgres-offsite`);
  const offsiteSeed = containerNamed(json, `${env}-postgres-offsite-seed`);
  return { stack, pg, backup, text, json, c, seed, offsiteC, offsiteSeed };
}

describe("PostgresBackup", () => {
  const { stack, backup, text, json, c, seed } = build("prod");

  it("adds its backup role to the cluster: replication, the role SQL, its password where passwordAt says, delivered to both sides", () => {
    expect(backup.clusterRole.name).toBe("updateio_backup");
    expect(backup.clusterRole.passwordSecret.node.path).toBe("prod/postgres-backup-password");
    const pgSeed = containerNamed(json, "prod-postgres-seed")!;
    const sql = pgSeed.upload.find((u: Json) => u.file === "/docker-entrypoint-initdb.d/20-updateio-backup.sql").content as string;
    expect(sql).toContain("\\set backup_password `cat /run/secrets/postgres_updateio_backup_password`");
    const hba = pgSeed.upload.find((u: Json) => u.file === "/etc/postgresql/pg_hba.conf").content as string;
    expect(hba).toMatch(/^host +replication +updateio_replication,updateio_backup +samenet +scram-sha-256$/m);
    const token = pgSeed.upload.find((u: Json) => u.file === "/run/secrets/postgres_updateio_backup_password").content;
    expect(seed.upload.find((u: Json) => u.file === "/run/secrets/postgres_backup_password").content).toBe(token);
    expect(token).toMatch(/^\$\{random_password\.postgres-backup-password_[0-9A-F]+\.result\}$/);
  });

  it("runs the cluster's image (no second docker_image) after the primary", () => {
    expect(c.image).toBe(server(json).image);
    expect(c.depends_on).toContain(
      `docker_container.${Object.entries(json.resource.docker_container).find(([, v]) => (v as Json).name === "prod-postgres")![0]}`,
    );
  });

  it("runs the scheduler hardened: read-only, postgres user, only the postgres network, no published ports", () => {
    expect(text).toHaveResourceWithProperties(Container, {
      ...HARDENED_CONTAINER,
      name: "prod-postgres-backup",
      user: "postgres",
      memory: 256,
      restart: "unless-stopped",
      entrypoint: ["sh", "/etc/postgres-backup/backup.sh"],
      command: ["loop"],
    });
    expect(c.networks_advanced).toHaveLength(1);
    expect(c.networks_advanced[0].name).toMatch(/docker_network\.postgres_network_.*\.name/);
    expect(c.ports ?? []).toEqual([]);
    expect(c.labels).toContainEqual({ label: "io.updateio.component", value: "job" });
    expect(c.wait).toBeUndefined();
    expect(c.depends_on.some((d: string) => d.includes("docker_container.postgres_server_container"))).toBe(true);
  });

  it("has a healthcheck on the status file and no secret in its environment", () => {
    expect(c.healthcheck.test).toEqual(["CMD", "sh", "/etc/postgres-backup/backup.sh", "health"]);
    expect(c.healthcheck.interval).toBe("5m0s");
    expect(c.healthcheck.start_period).toBe("1h0m0s");
    expect(c.env ?? []).toEqual([]);
    expect(seed.upload.map((u: Json) => u.file).sort()).toEqual([
      "/etc/postgres-backup/backup.sh",
      "/etc/postgres-backup/restore-dump.sh",
      "/etc/postgres-backup/restore-pitr.sh",
      "/run/secrets/backup_signing_key",
      "/run/secrets/postgres_backup_password",
    ]);
    expect(seed.upload.find((u: Json) => u.file.endsWith("postgres_backup_password")).content).toMatch(/^\$\{random_password\./);
  });

  it("signs with a key of its own that only the scheduler holds: not the server, not the off-host copy", () => {
    const keyOf = (j: Json): string => uploadOf(containerNamed(j, "prod-postgres-backup-seed")!, "/run/secrets/backup_signing_key");
    const id = /^\$\{random_password\.([A-Za-z0-9_-]+)\.result\}$/.exec(keyOf(json))![1]!;
    expect(json.resource.random_password[id]).toMatchObject({ length: 64, special: false });
    expect(backup.scripts.backup).toContain(': "${BACKUP_SIGNING_KEY_FILE:=/run/secrets/backup_signing_key}"');
    const withOffsite = build(
      "prod",
      {},
      { endpoint: "https://s3.example.com", bucket: "updateio-backups", accessKeyId: "k", secretAccessKey: "s" },
    );
    expect(withOffsite.offsiteC).toBeDefined();
    const token = keyOf(withOffsite.json);
    const holders = containersOf(withOffsite.json).filter((x) => JSON.stringify(x).includes(token));
    expect(holders.map((x) => x.name)).toEqual(["prod-postgres-backup-seed"]);
  });

  it("writes to the <env>-postgres-backups volume, protected in prod, and exposes it for the primary", () => {
    expect(text).toHaveResourceWithProperties(Volume, { name: "prod-postgres-backups", lifecycle: { prevent_destroy: true } });
    const vol = c.volumes.find((v: Json) => v.container_path === "/var/lib/postgresql");
    expect(vol.read_only).toBe(false);
    expect(backup.primaryMount.containerPath).toBe("/var/lib/postgresql");
    expect(backup.primaryMount.volume).toBe(backup.volume);
    expect(backup.walArchiveSettings).toEqual(walArchiveSettings("/var/lib/postgresql/wal-archive"));
    expect(backup.walArchiveSettings).toMatchObject({ archive_mode: "on", wal_level: "replica", archive_timeout: "300" });
    expect(json.resource.docker_image ? Object.keys(json.resource.docker_image) : []).toHaveLength(1);
  });

  it("renders the schedule and retention defaults into the scheduler", () => {
    expect(backup.scripts.backup).toContain(': "${BACKUP_AT:=02:00}"');
    expect(backup.scripts.backup).toContain(': "${KEEP_DAILY:=7}"');
    expect(backup.scripts.backup).toContain(': "${KEEP_WEEKLY:=4}"');
    expect(backup.scripts.backup).toContain(': "${KEEP_MONTHLY:=6}"');
    expect(backup.scripts.backup).toContain(': "${PGUSER:=updateio_backup}"');
    expect(backup.scripts.backup).toContain(': "${METRICS_DIR:=$BACKUP_ROOT/metrics}"');
    expect(backup.offsite).toBeUndefined();
    expect(backup.role).toBe("updateio_backup");
  });

  it("passes the policy pack for prod", () => {
    const findings = blockingFindings(evaluatePolicy(stack, { environment: "prod" })).filter((f) =>
      f.constructPath.includes("postgres-backup"),
    );
    expect(findings.map((f) => f.message)).toEqual([]);
  });

  it("runs the off-host copy as its own hardened rclone container on the egress network, credentials as secret files", () => {
    const {
      c: c2,
      backup: b2,
      offsiteC,
      offsiteSeed,
    } = build(
      "dev",
      { schedule: { at: "03:30" }, retention: { daily: 3 } },
      {
        endpoint: "https://s3.example.com",
        bucket: "updateio-backups",
        accessKeyId: "${var.k}",
        secretAccessKey: "${var.s}",
      },
    );
    expect(offsiteC).toBeDefined();
    expect(offsiteC!.entrypoint).toEqual(["sh", "/etc/postgres-offsite/offsite.sh"]);
    expect(offsiteC!.command).toEqual(["loop"]);
    expect(offsiteC!.user).toBe("999:999");
    expect(offsiteC!.read_only).toBe(true);
    expect(String(offsiteC!.networks_advanced[0].name)).toMatch(/docker_network\.egress/);
    expect(offsiteC!.volumes.map((v: Json) => v.container_path)).toContain("/var/lib/postgresql");
    expect(offsiteSeed!.upload.map((u: Json) => u.file)).toEqual(
      expect.arrayContaining([
        "/run/secrets/offsite_access_key_id",
        "/run/secrets/offsite_secret_access_key",
        "/etc/postgres-offsite/offsite.sh",
      ]),
    );
    expect(b2.offsiteScript).toContain(': "${OFFSITE_BUCKET:=updateio-backups}"');
    expect(b2.offsiteScript).toContain(': "${OFFSITE_PREFIX:=dev/postgres}"');
    expect(b2.scripts.backup).toContain(': "${BACKUP_AT:=03:30}"');
    expect(b2.scripts.backup).toContain(': "${KEEP_DAILY:=3}"');
    for (const x of [c2, offsiteC!]) expect(JSON.stringify(x.env ?? [])).not.toContain("var.s");
    // The scheduler itself stays on the postgres network only.
    expect(c2.networks_advanced).toHaveLength(1);
  });

  it("rejects invalid props, naming each prop and the fix, all at once", () => {
    let message = "";
    try {
      build("dev", { schedule: { at: "2am" }, retention: { daily: 0, weekly: -1 }, role: "Backup" });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^  - schedule\.at: "2am" must be HH:MM \(24h, UTC\).*\(fix: write it as "HH:MM" in UTC\)$/m);
    expect(message).toMatch(/^  - retention\.daily: 0 must be a whole number from 1 to 366$/m);
    expect(message).toMatch(/^  - retention\.weekly: -1 must be a whole number from 0 to 520$/m);
    expect(message).toMatch(/^  - role: "Backup" must be a lowercase SQL identifier/m);
    expect(() => build("dev", {}, { endpoint: "s3.example.com/path", bucket: "B", accessKeyId: "a", secretAccessKey: "b" })).toThrow(
      /offsite\.endpoint[\s\S]*offsite\.bucket[\s\S]*fix: set it in the environment's postgres\.offsite/,
    );
    expect(() =>
      build("dev", {}, { endpoint: "https://s3.example.com", bucket: "bkt", accessKeyId: "a", secretAccessKey: "b", internal: true }),
    ).toThrow(/offsite\.network: the "egress" network is internal/);
    expect(() => build("dev", { role: "updateio_app" })).toThrow(
      /addRole is invalid:\n {2}- name "updateio_app" is a built-in role .*pick another/,
    );
  });
  it("uses a volume created by the caller (so the cluster can mount it first)", () => {
    const st = testStack(OUT, "test");
    const volume = new ServiceVolume(st, "postgres-backups", { environment: "test", service: "postgres", purpose: "backups" });
    const pg = new PostgresCluster(st, "postgres", { environment: "test", image: IMAGE, memoryMb: 512 });
    const b = new PostgresBackup(st, "postgres-backup", { environment: "test", cluster: pg, volume });
    expect(b.volume).toBe(volume);
    expect(b.primaryMount).toEqual({ volume, containerPath: "/var/lib/postgresql" });
    const json: Json = JSON.parse(synthText(st));
    expect(Object.values(json.resource.docker_volume).filter((v) => (v as Json).name === "test-postgres-backups")).toHaveLength(1);
  });
});
