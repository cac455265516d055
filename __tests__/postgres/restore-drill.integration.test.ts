import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { renderPrometheusRules, toYaml, type AlertRule } from "../../constructs/observability/renderers/alert-rules";
import { RESTORE_DRILL_SCRIPT } from "../../constructs/postgres/postgres-restore-drill";
import { renderBackupRoleSql, renderBackupScript } from "../../constructs/postgres/renderers/backup-scripts";
import { renderPostgresInitSql } from "../../constructs/postgres/renderers/postgres";
import { renderRestoreDrillRoleSql } from "../../constructs/postgres/renderers/restore-drill-role";
import { restoreDrillAlerts } from "../../constructs/observability/alerts/restore-drill";
import { describeIf, requireBinary } from "../support/binaries";
import { freePort } from "../support/helpers";
import { explain, promtool } from "../support/promtool";
import { ArchivingPostgres, type ScriptResult } from "../support/postgres-backup-env";
import { BACKUP_SCRIPT_INPUT } from "../support/postgres-inputs";
import { BACKUP, CLUSTER, postgresRequirement } from "../support/postgres-server";

// Runs the drill script exactly as shipped (constructs/postgres/assets/restore-drill.sh) against a
// real PostgreSQL, on dumps written by the project's own backup script; only paths, host and port
// are rewritten through the environment variables the scripts read their defaults from.
const DB = CLUSTER.database;
const OWNER = CLUSTER.owner.user;
const APP = CLUSTER.app.user;
const BACKUP_ROLE = BACKUP.user;
const DRILL_ROLE = "updateio_restore_drill";
const passwords = {
  owner: CLUSTER.owner.password,
  app: CLUSTER.app.password,
  backup: BACKUP.password,
  drill: "DrillPw0123456789abcdefABCDEF012",
};
const backupInput = BACKUP_SCRIPT_INPUT;
const INTERVAL = 86_400;
const RULES = restoreDrillAlerts({ intervalSeconds: INTERVAL, containerName: "test-postgres-restore-drill" });
const stampNow = () =>
  new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");

describeIf([postgresRequirement(), requireBinary("sh")], "restore drill on a real PostgreSQL", () => {
  let server: ArchivingPostgres;
  let backupRoot: string;
  let backupEnv: Record<string, string>;
  let drillEnv: Record<string, string>;
  let drillScript: string;
  let backupScript: string;
  let goodDump: string;
  /** Metrics files of a passing and of a failing (corrupt dump) drill, for the promtool test. */
  const captured: { passed?: string; failed?: string } = {};
  const timings: string[] = [];

  beforeAll(async () => {
    server = new ArchivingPostgres(await freePort(), {});
    server.start();
    backupRoot = server.mkdir("backups");
    const secret = (name: string, value: string) => server.writeFile(name, value);
    const files = {
      owner: secret("owner_password", passwords.owner),
      app: secret("app_password", passwords.app),
      backup: secret("backup_password", passwords.backup),
      drill: secret("drill_password", passwords.drill),
    };
    const sql = [
      server.writeFile(
        "10-roles.sql",
        renderPostgresInitSql({ database: DB, ownerRole: OWNER, appRole: APP, ownerPasswordFile: files.owner, appPasswordFile: files.app }),
      ),
      server.writeFile("20-backup-role.sql", renderBackupRoleSql({ role: BACKUP_ROLE, database: DB, passwordFile: files.backup })),
      server.writeFile("21-drill-role.sql", renderRestoreDrillRoleSql({ role: DRILL_ROLE, database: DB, passwordFile: files.drill })),
    ];
    server.runSqlFiles(...sql);
    backupScript = server.writeFile("backup.sh", renderBackupScript(backupInput));
    drillScript = server.writeFile("restore-drill.sh", RESTORE_DRILL_SCRIPT);
    backupEnv = { BACKUP_ROOT: backupRoot, PGHOST: "127.0.0.1", PGPORT: String(server.port), BACKUP_PASSWORD_FILE: files.backup };
    // The drill container's view: TCP to the live server as the drill role; its scratch server in the temp dir.
    drillEnv = {
      BACKUP_ROOT: backupRoot,
      LIVE_HOST: "127.0.0.1",
      LIVE_PORT: String(server.port),
      LIVE_USER: DRILL_ROLE,
      LIVE_PASSWORD_FILE: files.drill,
      DRILL_DATABASE: DB,
      DRILL_SCRATCH_DIR: join(server.dir, "scratch", "restore-drill"),
      DRILL_SOCKET_DIR: join(server.dir, "drill-sock"),
      DRILL_INTERVAL_SECONDS: String(INTERVAL),
    };
    server.mkdir("scratch");

    // Test data: the app's usual shape, a second schema, a quoted name, row-level security, and
    // 100 000 rows for a measurable drill time.
    const owner = { user: OWNER, password: passwords.owner, database: DB };
    server.psql("CREATE TABLE item (id serial PRIMARY KEY, name text NOT NULL)", owner);
    server.psql("INSERT INTO item (name) SELECT 'item ' || g FROM generate_series(1, 1000) g", owner);
    server.psql("CREATE TABLE customer (id serial PRIMARY KEY, email text UNIQUE NOT NULL)", owner);
    server.psql("INSERT INTO customer (email) SELECT 'c' || g || '@example.com' FROM generate_series(1, 50) g", owner);
    server.psql("ALTER TABLE customer ENABLE ROW LEVEL SECURITY", owner);
    server.psql(
      "CREATE TABLE event (id bigserial PRIMARY KEY, item_id int REFERENCES item(id), at timestamptz NOT NULL DEFAULT now(), payload jsonb)",
      owner,
    );
    server.psql(
      "INSERT INTO event (item_id, payload) SELECT 1 + g % 1000, jsonb_build_object('n', g, 'text', repeat('x', 100)) FROM generate_series(1, 100000) g",
      owner,
    );
    server.psql("CREATE INDEX event_item ON event (item_id)", owner);
    server.psql('CREATE TABLE "Odd Name" (v int)', owner);
    server.psql('INSERT INTO "Odd Name" SELECT generate_series(1, 3)', owner);
    server.psql("CREATE SCHEMA billing AUTHORIZATION updateio_owner", owner);
    server.psql("CREATE TABLE billing.invoice (id int PRIMARY KEY, total numeric)", owner);
    server.psql("INSERT INTO billing.invoice SELECT g, g * 1.5 FROM generate_series(1, 200) g", owner);

    const dump = server.sh(backupScript, ["dump"], backupEnv);
    expect(dump.status, dump.stderr).toBe(0);
    const name = readdirSync(join(backupRoot, "dumps")).find((f) => /^updateio-\d{8}T\d{6}Z\.dump$/.test(f))!;
    goodDump = join(backupRoot, "dumps", name);
  }, 120_000);
  afterAll(() => server?.stop());

  const drill = (env: Record<string, string> = {}): ScriptResult => server.sh(drillScript, ["--now"], { ...drillEnv, ...env });
  const metrics = () => readFileSync(join(backupRoot, "metrics", "postgres_restore_drill.prom"), "utf8");
  const metric = (name: string) => Number(new RegExp(`^updateio_restore_drill_${name} (\\S+)$`, "m").exec(metrics())![1]);
  const owner = () => ({ user: OWNER, password: passwords.owner, database: DB });
  /** A dumps directory holding only `content` under a current dump name. */
  const dumpsWith = (dir: string, content: Buffer | null, name = `${DB}-${stampNow()}.dump`) => {
    const path = server.mkdir(dir);
    if (content !== null) writeFileSync(join(path, name), content);
    return path;
  };
  const expectFailed = (r: ScriptResult, reason: RegExp) => {
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(reason);
    expect(r.stderr).toMatch(/drill FAILED/);
    expect(metric("success")).toBe(0);
    expect(readFileSync(join(backupRoot, "restore-drill-status"), "utf8")).toMatch(/^last_result=error$/m);
    expect(existsSync(drillEnv.DRILL_SCRATCH_DIR!)).toBe(false);
  };

  it("passes on a good dump: success 1, every table compared, metrics for the textfile collector, scratch removed", () => {
    const before = Math.floor(Date.now() / 1000);
    const r = drill();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/5 tables restored and within 5% \/ 10 rows/);
    expect(metric("success")).toBe(1);
    expect(metric("tables_checked")).toBe(5);
    expect(metric("tables_failed")).toBe(0);
    expect(metric("last_run_timestamp_seconds")).toBeGreaterThanOrEqual(before);
    expect(metric("last_success_timestamp_seconds")).toBe(metric("last_run_timestamp_seconds"));
    expect(metric("interval_seconds")).toBe(INTERVAL);
    expect(Math.abs(metric("dump_timestamp_seconds") - before)).toBeLessThan(300);
    expect(metric("duration_seconds")).toBeGreaterThan(0);
    timings.push(`good dump (${statSync(goodDump).size} bytes, 5 tables, 101 253 rows): ${metric("duration_seconds")}s`);
    // node-exporter runs as nobody: world-readable metrics; the scratch server and its files are gone.
    expect(statSync(join(backupRoot, "metrics", "postgres_restore_drill.prom")).mode & 0o777).toBe(0o644);
    expect(existsSync(drillEnv.DRILL_SCRATCH_DIR!)).toBe(false);
    expect(existsSync(drillEnv.DRILL_SOCKET_DIR!)).toBe(false);
    const check = promtool(["check", "metrics"], metrics());
    if (check.error === undefined) expect(check.status, explain(check)).toBe(0);
    expect(server.sh(drillScript, ["health"], drillEnv).status).toBe(0);
    // The live database was only read: no scratch database there.
    expect(server.psql("SELECT count(*) FROM pg_database WHERE datname = 'restore_drill'").trim()).toBe("0");
    captured.passed = metrics();
  }, 60_000);

  it("fails on a truncated dump (success 0, pg_restore names the damage), keeping the last success", () => {
    const lastSuccess = metric("last_success_timestamp_seconds");
    const bytes = readFileSync(goodDump);
    const r = drill({ DUMPS_DIR: dumpsWith("dumps-truncated", bytes.subarray(0, Math.floor(bytes.length / 2))) });
    expectFailed(r, /truncated or corrupt/);
    expect(metric("last_success_timestamp_seconds")).toBe(lastSuccess);
    expect(server.sh(drillScript, ["health"], drillEnv).stdout).toMatch(/unhealthy: last drill failed: .*truncated or corrupt/);
    captured.failed = metrics();
  }, 60_000);

  it("fails on a dump with flipped bytes in its data", () => {
    const bytes = Buffer.from(readFileSync(goodDump));
    // Flip a run of bytes in the middle (compressed table data) and near the end.
    for (const at of [Math.floor(bytes.length / 2), bytes.length - 200]) for (let i = 0; i < 64; i++) bytes[at + i] = bytes[at + i]! ^ 0xff;
    expectFailed(drill({ DUMPS_DIR: dumpsWith("dumps-flipped", bytes) }), /pg_restore of .* failed|unreadable/);
  }, 60_000);

  it("fails on a dump whose header is mangled", () => {
    const bytes = Buffer.from(readFileSync(goodDump));
    for (let i = 0; i < 16; i++) bytes[i] = 0;
    expectFailed(drill({ DUMPS_DIR: dumpsWith("dumps-header", bytes) }), /unreadable \(pg_restore --list failed\)/);
  }, 60_000);

  it("fails when there is no dump, or only a stale one", () => {
    expectFailed(drill({ DUMPS_DIR: dumpsWith("dumps-empty", null) }), /no dump of updateio in/);
    const stale = dumpsWith("dumps-stale", readFileSync(goodDump), `${DB}-20200101T020000Z.dump`);
    expectFailed(drill({ DUMPS_DIR: stale }), /is \d+s old, more than 172800s/);
  }, 60_000);

  it("passes within the tolerance and fails outside it (count), unless the table is ignored", () => {
    // 1000 rows dumped; 1030 live is 3%: within 5%.
    server.psql("INSERT INTO item (name) SELECT 'late ' || g FROM generate_series(1, 30) g", owner());
    expect(drill().status).toBe(0);
    // 1130 live: 13% and 130 rows off.
    server.psql("INSERT INTO item (name) SELECT 'later ' || g FROM generate_series(1, 100) g", owner());
    const r = drill();
    expectFailed(r, /error: COUNT public\.item: live 1130 rows, restored 1000/);
    expect(r.stderr).toMatch(/1 of 5 tables differ/);
    expect(metric("tables_failed")).toBe(1);
    expect(metric("tables_checked")).toBe(5);
    // A wider tolerance, or leaving the table out, passes.
    expect(drill({ DRILL_TOLERANCE_PERCENT: "15" }).status).toBe(0);
    expect(drill({ DRILL_IGNORE_TABLES: "public.item" }).status).toBe(0);
    expect(metric("tables_checked")).toBe(4);
    // 10 rows is the floor for small tables: customer 50 -> 58 is 16% but only 8 rows.
    server.psql("DELETE FROM item WHERE name LIKE 'late%'", owner());
    server.psql("INSERT INTO customer (email) SELECT 'n' || g || '@example.com' FROM generate_series(1, 8) g", owner());
    expect(drill().status).toBe(0);
    server.psql("DELETE FROM customer WHERE email LIKE 'n%'", owner());
  }, 120_000);

  it("fails when the dump lacks a table of the live database, or has one the live database dropped", () => {
    server.psql("CREATE TABLE audit_log (id int)", owner());
    expectFailed(drill(), /error: MISSING public\.audit_log: live 0 rows, restored -/);
    server.psql("DROP TABLE audit_log", owner());
    server.psql("ALTER TABLE billing.invoice RENAME TO invoice_old", owner());
    const r = drill();
    expectFailed(r, /error: EXTRA billing\.invoice: live - rows, restored 200/);
    expect(r.stderr).toMatch(/MISSING billing\.invoice_old/);
    server.psql("ALTER TABLE billing.invoice_old RENAME TO invoice", owner());
    expect(drill().status).toBe(0);
  }, 120_000);

  it("refuses settings outside the allow-list before touching anything (exit 2)", () => {
    const invalid: Record<string, string>[] = [
      { DRILL_TOLERANCE_PERCENT: "5; rm -rf /" },
      { DRILL_DATABASE: "x'; DROP" },
      { DRILL_IGNORE_TABLES: "public.item;" },
    ];
    for (const env of invalid) {
      const r = drill(env);
      expect(r.status, JSON.stringify(env)).toBe(2);
      expect(r.stderr).toMatch(/invalid settings/);
    }
  });

  it("promtool: RestoreDrillFailed fires on the failed drill's metric values, RestoreDrillNotRun at 1.5 x the interval or when absent", () => {
    const promtoolBinary = requireBinary("promtool");
    if (!promtoolBinary.available) {
      if (process.env.CI === "true") throw new Error(promtoolBinary.reason);
      console.warn(`[skipped] promtool part: ${promtoolBinary.reason}`);
      return;
    }
    const value = (text: string, name: string) => new RegExp(`^updateio_restore_drill_${name} (\\S+)$`, "m").exec(text)![1]!;
    const failedSuccess = value(captured.failed!, "success");
    const passedSuccess = value(captured.passed!, "success");
    expect([passedSuccess, failedSuccess]).toEqual(["1", "0"]);
    const dir = server.mkdir("promtool");
    const rulesFile = join(dir, "rules.yml");
    writeFileSync(rulesFile, renderPrometheusRules(RULES));
    const node = { instance: "node-exporter:9100", job: "node" };
    const series = (name: string, values: string) => ({
      series: `updateio_restore_drill_${name}{instance="${node.instance}",job="${node.job}"}`,
      values,
    });
    const alert = (rule: AlertRule, labels: Record<string, string>) => ({
      exp_labels: { ...labels, ...rule.labels, severity: rule.severity },
      exp_annotations: { summary: rule.summary, description: rule.description },
    });
    // Quiet at `before`, firing with `labels` at `after`: the hold time and threshold between them.
    const quietThenFiring = (rule: AlertRule, before: string, after: string, labels: Record<string, string>) => [
      { eval_time: before, alertname: rule.name, exp_alerts: [] },
      { eval_time: after, alertname: rule.name, exp_alerts: [alert(rule, labels)] },
    ];
    const [failed, notRun] = RULES as [AlertRule, AlertRule];
    const tests = [
      {
        name: "RestoreDrillFailed: the drill's own values, passing then failing",
        interval: "1m",
        input_series: [series("success", `${passedSuccess}x10 ${failedSuccess}x20`)],
        alert_rule_test: quietThenFiring(failed, "5m", "15m", node),
      },
      {
        // A drill passed at t=0 and none since: quiet until 36 h (1.5 x 24 h), firing after.
        name: "RestoreDrillNotRun: no passing drill for 1.5 x the interval",
        interval: "1m",
        input_series: [series("last_success_timestamp_seconds", "0x2220")],
        alert_rule_test: quietThenFiring(notRun, "35h50m", "36h10m", node),
      },
      {
        name: "RestoreDrillNotRun: daily passing drills stay quiet",
        interval: "1m",
        // The last success moves forward every 24 h (1440 samples of 1 m).
        input_series: [series("last_success_timestamp_seconds", "0x1439 86400x1439 172800x60")],
        alert_rule_test: [{ eval_time: "49h", alertname: notRun.name, exp_alerts: [] }],
      },
      {
        name: "RestoreDrillNotRun: no drill metrics at all (2 h grace for a fresh deployment)",
        interval: "1m",
        input_series: [{ series: `up{instance="${node.instance}",job="${node.job}"}`, values: "1x150" }],
        alert_rule_test: quietThenFiring(notRun, "1h50m", "2h10m", {}),
      },
    ];
    const testFile = join(dir, "tests.yml");
    writeFileSync(testFile, toYaml({ rule_files: [rulesFile], evaluation_interval: "1m", tests }));
    const check = promtool(["check", "rules", rulesFile]);
    expect(check.status, explain(check)).toBe(0);
    const r = promtool(["test", "rules", testFile]);
    expect(r.status, explain(r)).toBe(0);
    // The harness can fail: expecting RestoreDrillFailed on the passing values must be reported.
    const wrong = { ...tests[0]!, input_series: [series("success", `${passedSuccess}x30`)] };
    writeFileSync(testFile, toYaml({ rule_files: [rulesFile], evaluation_interval: "1m", tests: [wrong] }));
    expect(promtool(["test", "rules", testFile]).status).not.toBe(0);
    console.log(`restore drill timings: ${timings.join("; ")}`);
  }, 60_000);
});
