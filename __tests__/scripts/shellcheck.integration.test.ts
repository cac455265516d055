// Every shell script of the project is a file under constructs/**/assets/ (see constructs/kit/assets.ts).
// shellcheck runs on each file as written and on each as rendered with sample values, and any finding
// fails: a finding is fixed, or disabled in the file with a `# shellcheck disable=SCxxxx # reason` line.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assetPlaceholders, fillAsset } from "../../constructs/kit/assets";
import { renderBackupScript, renderRestoreDumpScript, renderRestorePitrScript } from "../../constructs/postgres/renderers/backup-scripts";
import { renderReplicaBootstrapScript } from "../../constructs/postgres/renderers/postgres";
import { renderOffsiteScript } from "../../constructs/postgres/renderers/postgres-offsite";
import { renderPreMigrationDumpScript } from "../../constructs/postgres/renderers/pre-migration-dump";
import { RESTORE_DRILL_SCRIPT } from "../../constructs/postgres/postgres-restore-drill";
import { renderReloadJobScript } from "../../constructs/postgres/renderers/postgres-reload";
import { renderCookieEntrypoint } from "../../constructs/rabbitmq/renderers/rabbitmq";
import { renderVpnEntrypoint } from "../../constructs/vpn/renderers/wireguard";
import { renderOffsiteCopyScript, renderScheduledBackupScript } from "../../constructs/kit/scheduled-backup-script";
import { renderAclReloadScript } from "../../constructs/redis/renderers/redis";
import { renderRedisBackupHooks, renderRedisRestoreScript } from "../../constructs/redis/renderers/redis-backup";
import { renderRabbitBackupHooks, renderRabbitRestoreScript } from "../../constructs/rabbitmq/renderers/rabbitmq-backup";
import { renderRabbitUsersScript } from "../../constructs/rabbitmq/renderers/rabbitmq-users";
import { renderGrafanaBackupHooks, renderGrafanaRestoreScript } from "../../constructs/observability/renderers/grafana-backup";
import { renderEdgeBackupHooks, renderEdgeRestoreScript } from "../../constructs/edge/renderers/edge-backup";
import { renderEdgeReloadScript } from "../../constructs/edge/renderers/edge-reload";
import { describeIf, requireBinary } from "../support/binaries";
import { ACL_RELOAD_INPUT } from "../support/redis-inputs";
import { BACKUP_SCRIPT_INPUT, PRE_MIGRATION_DUMP_INPUT, RELOAD_JOB_INPUT, REPLICA_BOOTSTRAP_INPUT } from "../support/postgres-inputs";
import { RABBIT_USERS_SCRIPT_INPUT } from "../support/rabbitmq-node";

const ROOT = join(__dirname, "..", "..");
/** The glob constructs/**\/assets/*.sh, as a pattern on repository-relative paths. */
const ASSET_PATH = /^constructs\/(?:[^/]+\/)*assets\/[^/]+\.sh$/;

function shellAssets(): string[] {
  return readdirSync(join(ROOT, "constructs"), { recursive: true, encoding: "utf8" })
    .map((p) => `constructs/${p.split(sep).join("/")}`)
    .filter((p) => ASSET_PATH.test(p))
    .sort();
}

/**
 * The codes an asset disables. The renderer drops directive lines (the uploaded text stays as it was), so
 * the rendered text is checked with those codes excluded throughout; the file itself is checked with
 * each directive in its place.
 */
function disabledCodes(asset: string): string[] {
  return [...asset.matchAll(/^[ \t]*# shellcheck disable=([A-Z0-9,]+)/gm)].flatMap((m) => m[1]!.split(","));
}

interface Sample {
  readonly asset: string;
  readonly name: string;
  readonly render: () => string;
}

const backupInput = BACKUP_SCRIPT_INPUT;
const offsiteInput = {
  endpoint: "https://s3.eu-central-1.amazonaws.com",
  bucket: "updateio-backups",
  prefix: "prod/postgres",
  accessKeyIdFile: "/run/secrets/offsite_access_key_id",
  secretAccessKeyFile: "/run/secrets/offsite_secret_access_key",
};
const reloadInput = RELOAD_JOB_INPUT;
// A quote in a setting: the exec line must quote it.
const replicaInput = { ...REPLICA_BOOTSTRAP_INPUT, settings: { ...REPLICA_BOOTSTRAP_INPUT.settings, log_line_prefix: "it's %m " } };

/** Each script that has placeholders, rendered as the stacks do (and in the variants that change its text). */
const rabbitInput = { nodes: ["rabbit@rabbitmq-1", "rabbit@rabbitmq-2"], cookieFile: "/run/secrets/erlang_cookie", backupRoot: "/backups" };
/** RabbitBroker's users job, as a 3-node cluster renders it. */
const rabbitUsersInput = {
  ...RABBIT_USERS_SCRIPT_INPUT,
  nodes: ["rabbit@rabbitmq-1", "rabbit@rabbitmq-2", "rabbit@rabbitmq-3"],
  vhost: "updateio-prod",
};
/** A store's hooks inside the scheduler script, as ScheduledBackup renders them. */
const scheduled = (store: string, suffix: string, hooks: string) =>
  renderScheduledBackupScript({ store, suffix, backupRoot: "/backups", hooks, schedule: { everyMinutes: 60, at: "00:05" }, keep: 48 });
/** Each scheduled-backup store: its hooks inlined into the scheduler, and its restore script. */
const STORE_SAMPLES: readonly Sample[] = [
  {
    asset: "constructs/kit/assets/scheduled-backup.sh",
    name: "redis hooks",
    render: () =>
      scheduled(
        "redis",
        ".rdb",
        renderRedisBackupHooks({ hosts: ["redis-2", "redis-1"], port: 6379, user: "backup", passwordFile: "/run/secrets/p" }),
      ),
  },
  {
    asset: "constructs/redis/assets/backup-hooks.sh",
    name: "inside the scheduler",
    render: () =>
      scheduled("redis", ".rdb", renderRedisBackupHooks({ hosts: ["redis"], port: 6379, user: "backup", passwordFile: "/run/secrets/p" })),
  },
  { asset: "constructs/redis/assets/restore.sh", name: "default", render: () => renderRedisRestoreScript("/backups") },
  {
    asset: "constructs/rabbitmq/assets/definitions-backup-hooks.sh",
    name: "inside the scheduler",
    render: () => scheduled("rabbitmq", ".json", renderRabbitBackupHooks(rabbitInput)),
  },
  { asset: "constructs/rabbitmq/assets/restore-definitions.sh", name: "default", render: () => renderRabbitRestoreScript(rabbitInput) },
  {
    asset: "constructs/observability/assets/grafana-backup-hooks.sh",
    name: "inside the scheduler",
    render: () => scheduled("grafana", ".db.gz", renderGrafanaBackupHooks("/var/lib/grafana/grafana.db")),
  },
  { asset: "constructs/observability/assets/grafana-restore.sh", name: "default", render: () => renderGrafanaRestoreScript("/backups") },
  {
    asset: "constructs/edge/assets/caddy-backup-hooks.sh",
    name: "inside the scheduler",
    render: () => scheduled("edge", ".tar.gz", renderEdgeBackupHooks("/data/caddy")),
  },
  { asset: "constructs/edge/assets/caddy-restore.sh", name: "default", render: () => renderEdgeRestoreScript("/backups") },
  {
    asset: "constructs/kit/assets/offsite-copy.sh",
    name: "default",
    render: () =>
      renderOffsiteCopyScript({
        store: "redis",
        backupRoot: "/backups",
        endpoint: "https://s3.example.com",
        bucket: "updateio-backups",
        prefix: "prod/redis",
        accessKeyIdFile: "/run/secrets/k",
        secretAccessKeyFile: "/run/secrets/s",
      }),
  },
];

const SAMPLES: readonly Sample[] = [
  ...STORE_SAMPLES,
  { asset: "constructs/postgres/assets/backup.sh", name: "daily schedule", render: () => renderBackupScript(backupInput) },
  { asset: "constructs/kit/assets/restore-args.sh", name: "inside Redis's restore.sh", render: () => renderRedisRestoreScript("/backups") },
  {
    asset: "constructs/kit/assets/latest-snapshot.sh",
    name: "inside RabbitMQ's restore.sh (one store name)",
    render: () => renderRabbitRestoreScript(rabbitInput),
  },
  {
    asset: "constructs/kit/assets/scheduler-loop.sh",
    name: "inside the scheduler",
    render: () =>
      scheduled("redis", ".rdb", renderRedisBackupHooks({ hosts: ["redis"], port: 6379, user: "backup", passwordFile: "/run/secrets/p" })),
  },
  {
    asset: "constructs/postgres/assets/backup.sh",
    name: "no weekly or monthly tier",
    render: () => renderBackupScript({ ...backupInput, retention: { daily: 1, weekly: 0, monthly: 0 }, retrySeconds: 60 }),
  },
  {
    asset: "constructs/postgres/assets/restore-dump.sh",
    name: "default",
    render: () =>
      renderRestoreDumpScript({
        database: "updateio",
        ownerRole: "updateio_owner",
        appRole: "updateio_app",
        backupRole: "updateio_backup",
      }),
  },
  { asset: "constructs/postgres/assets/restore-pitr.sh", name: "default", render: () => renderRestorePitrScript() },
  {
    asset: "constructs/postgres/assets/pre-migration-dump.sh",
    name: "prod (budget checked)",
    render: () => renderPreMigrationDumpScript(PRE_MIGRATION_DUMP_INPUT),
  },
  { asset: "constructs/postgres/assets/restore-drill.sh", name: "as synthesized", render: () => RESTORE_DRILL_SCRIPT },
  {
    asset: "constructs/redis/assets/acl-reload.sh",
    name: "master and a replica",
    render: () => renderAclReloadScript(ACL_RELOAD_INPUT),
  },
  { asset: "constructs/postgres/assets/offsite-dirs.sh", name: "defaults", render: () => renderOffsiteScript(offsiteInput) },
  {
    asset: "constructs/postgres/assets/offsite-dirs.sh",
    name: "every option",
    render: () =>
      renderOffsiteScript({
        ...offsiteInput,
        endpoint: "http://minio:9000/",
        region: "eu-1",
        provider: "Minio",
        intervalSeconds: 60,
        stateDir: "/state",
      }),
  },
  {
    asset: "constructs/postgres/assets/postgres-reload.sh",
    name: "primary and a replica",
    render: () => renderReloadJobScript(reloadInput),
  },
  {
    asset: "constructs/postgres/assets/postgres-reload.sh",
    name: "primary only",
    render: () => renderReloadJobScript({ ...reloadInput, hosts: ["postgres"], waitSeconds: 5 }),
  },
  { asset: "constructs/postgres/assets/replica-bootstrap.sh", name: "replica", render: () => renderReplicaBootstrapScript(replicaInput) },
  {
    asset: "constructs/postgres/assets/replica-bootstrap.sh",
    name: "replica with a settings file",
    render: () => renderReplicaBootstrapScript({ ...replicaInput, configFile: "/etc/postgresql/postgresql.conf" }),
  },
  { asset: "constructs/rabbitmq/assets/sync-users.sh", name: "three nodes", render: () => renderRabbitUsersScript(rabbitUsersInput) },
  {
    asset: "constructs/rabbitmq/assets/sync-users.sh",
    name: "one node",
    render: () => renderRabbitUsersScript({ ...rabbitUsersInput, nodes: ["rabbit@rabbitmq"], vhost: "updateio-dev" }),
  },
  {
    asset: "constructs/rabbitmq/assets/install-cookie.sh",
    name: "inside the users job",
    render: () => renderRabbitUsersScript(rabbitUsersInput),
  },
  {
    asset: "constructs/rabbitmq/assets/install-cookie.sh",
    name: "inside the backup hooks, inside the scheduler",
    render: () => scheduled("rabbitmq", ".json", renderRabbitBackupHooks(rabbitInput)),
  },
  {
    asset: "constructs/edge/assets/caddy-reload.sh",
    name: "as EdgeProxy renders it",
    render: () =>
      renderEdgeReloadScript({
        liveFile: "/etc/caddy/Caddyfile",
        expectedFile: "/etc/edge-reload/Caddyfile",
        adminSocket: "/run/caddy-admin/admin.sock",
        waitSeconds: 60,
      }),
  },
  {
    asset: "constructs/kit/assets/job-log.sh",
    name: "inside the Redis ACL reload job",
    render: () => renderAclReloadScript(ACL_RELOAD_INPUT),
  },
  {
    asset: "constructs/kit/assets/job-log.sh",
    name: "inside the RabbitMQ users job",
    render: () => renderRabbitUsersScript(rabbitUsersInput),
  },
  {
    asset: "constructs/rabbitmq/assets/cookie-entrypoint.sh",
    name: "default",
    render: () => renderCookieEntrypoint("/run/secrets/erlang_cookie"),
  },
  {
    asset: "constructs/vpn/assets/entrypoint.sh",
    name: "generated key",
    render: () =>
      renderVpnEntrypoint({
        configPath: "/etc/vpn-gateway/wg0.conf",
        keyMode: "generated",
        privateKeyFile: "/var/lib/wireguard/private.key",
        containerName: "prod-vpn",
      }),
  },
  {
    asset: "constructs/vpn/assets/entrypoint.sh",
    name: "supplied key with its public key",
    render: () =>
      renderVpnEntrypoint({
        configPath: "/etc/vpn-gateway/wg0.conf",
        keyMode: "supplied",
        privateKeyFile: "/run/secrets/wg_private_key",
        expectedPublicKey: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=",
        containerName: "dev-vpn",
        iptables: "iptables-legacy",
      }),
  },
];

describe("fillAsset", () => {
  const asset = "#!/bin/sh\n# shellcheck disable=SC2086 # split on purpose\necho @@A@@ @@B@@\n  # shellcheck shell=sh\necho @@A@@\n";

  it("fills every placeholder, drops the directive lines and never re-reads a value", () => {
    expect(fillAsset(asset, { A: "x", B: "@@A@@ $1" }, "t")).toBe("#!/bin/sh\necho x @@A@@ $1\necho x\n");
    expect(assetPlaceholders(asset)).toEqual(["A", "B"]);
  });

  it("refuses a missing value, an unknown value, a stray @@ and a non-number", () => {
    expect(() => fillAsset(asset, { A: "x" }, "t")).toThrow(/^t asset is invalid:\n {2}- no value for @@B@@$/);
    expect(() => fillAsset(asset, { A: "x", B: "y", C: "z" }, "t")).toThrow(/placeholders it does not have: C/);
    expect(() => fillAsset("echo @@a@@\n", {}, "t")).toThrow(/stray "@@"/);
    expect(() => fillAsset(asset, { A: "x", B: Number.NaN }, "t")).toThrow(/B is NaN/);
  });
});

describeIf(requireBinary("shellcheck"), "shellcheck on every script", () => {
  const dir = mkdtempSync(join(tmpdir(), "updateio-shellcheck-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** shellcheck's findings (gcc format, one a line); empty when it has none. Scripts are POSIX sh, some without a shebang. */
  function shellcheck(file: string, exclude: readonly string[] = []): string {
    const args = ["--shell=sh", "--format=gcc", ...(exclude.length > 0 ? [`--exclude=${exclude.join(",")}`] : []), file];
    const r = spawnSync("shellcheck", args, { encoding: "utf8" });
    if (r.error) throw r.error;
    // 0: clean, 1: findings; anything else is shellcheck failing (bad options, unreadable file).
    if (r.status !== 0 && r.status !== 1) throw new Error(`shellcheck exited ${r.status}: ${r.stderr}`);
    return `${r.stdout}${r.stderr}`.trim();
  }

  let count = 0;
  function writeScript(name: string, text: string): string {
    const file = join(dir, `${++count}-${name.replace(/[^a-z0-9]+/gi, "-")}.sh`);
    writeFileSync(file, text);
    return file;
  }

  const assets = shellAssets();

  it("finds the scripts (the glob is not silently empty)", () => {
    expect(assets).toEqual(expect.arrayContaining(SAMPLES.map((s) => s.asset)));
  });

  it.each(assets)("%s has no finding", (asset) => {
    expect(shellcheck(join(ROOT, asset))).toBe("");
  });

  it("renders every script that has placeholders in at least one sample", () => {
    const withPlaceholders = assets.filter((a) => assetPlaceholders(readFileSync(join(ROOT, a), "utf8")).length > 0);
    expect(withPlaceholders.filter((a) => !SAMPLES.some((s) => s.asset === a))).toEqual([]);
  });

  it.each(SAMPLES.map((s) => [s.asset, s.name, s] as const))("%s rendered (%s) has no finding", (asset, name, sample) => {
    const exclude = disabledCodes(readFileSync(join(ROOT, asset), "utf8"));
    expect(shellcheck(writeScript(name, sample.render()), exclude)).toBe("");
  });

  it("reports a deliberately bad snippet (so a clean result means something)", () => {
    const bad = writeScript("bad", '#!/bin/sh\nfor f in $(ls /tmp/*.txt); do rm $f; done\n[ $1 == x ] && echo "$undefined"\n');
    const findings = shellcheck(bad);
    for (const code of ["SC2045", "SC2086", "SC3014"]) expect(findings).toContain(code);
    // Excluding one code leaves the others: the rendered checks exclude only what their asset disables.
    expect(shellcheck(bad, ["SC2086"])).not.toContain("SC2086");
    expect(shellcheck(bad, ["SC2086"])).toContain("SC2045");
    // No shebang: --shell=sh still checks it (the reload and replica scripts have none).
    expect(shellcheck(writeScript("bad-no-shebang", "rm -rf $dir/*\n"))).toMatch(/SC2115|SC2086/);
  });
});
