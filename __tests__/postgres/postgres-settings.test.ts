/**
 * The settings table, its validation and the rendered settings file; the reload role, check and job
 * renderers. What PostgreSQL itself does with them: __tests__/postgres/postgres-reload.integration.test.ts.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, loadEnvironmentConfig, validateEnvironmentConfig } from "../../environments/load";
import { postgresClusterSettings } from "../../constructs/postgres/renderers/postgres";
import {
  RELOAD_SQL,
  renderReloadCheckSql,
  renderReloadJobScript,
  renderReloadRoleSql,
} from "../../constructs/postgres/renderers/postgres-reload";
import {
  isReloadable,
  normalizePostgresSetting,
  POSTGRES_SETTINGS,
  postgresSettingsProblems,
  renderPostgresSettingsFile,
  splitPostgresSettings,
} from "../../constructs/postgres/renderers/postgres-settings";
import { walArchiveSettings } from "../../constructs/postgres/renderers/backup-scripts";
import { errorOf, validationOf } from "../support/helpers";
import { RELOAD_JOB_INPUT } from "../support/postgres-inputs";
import { expectPasswordFileRole } from "../support/role-sql";

const setting = (name: string, value: string | number | boolean) => {
  const r = normalizePostgresSetting(name, value);
  return "setting" in r ? r.setting : `PROBLEM ${r.problem}`;
};

describe("POSTGRES_SETTINGS", () => {
  it("knows every setting the cluster computes, and the WAL archive's", () => {
    const computed = {
      ...postgresClusterSettings({ memoryMb: 2048, hbaFile: "/etc/postgresql/pg_hba.conf", replicas: 1 }),
      ...walArchiveSettings(),
    };
    for (const name of Object.keys(computed)) expect(POSTGRES_SETTINGS[name], name).toBeDefined();
    expect(() => splitPostgresSettings(computed)).not.toThrow();
  });

  it("calls sighup, superuser, user and (superuser-)backend settings reloadable, postmaster ones not", () => {
    expect(
      ["work_mem", "statement_timeout", "log_min_duration_statement", "autovacuum_naptime", "log_connections", "archive_command"].every(
        isReloadable,
      ),
    ).toBe(true);
    expect(["shared_buffers", "max_connections", "wal_level", "archive_mode", "hba_file"].some(isReloadable)).toBe(false);
    expect(isReloadable("no_such_setting")).toBe(false);
  });
});

describe("normalizePostgresSetting: the value as pg_settings.setting will show it, or why the server would refuse it", () => {
  it.each([
    ["work_mem", "8MB", "8192"],
    ["work_mem", 4096, "4096"],
    ["work_mem", "1GB", "1048576"],
    ["shared_buffers", "128MB", "16384"],
    ["effective_cache_size", "384MB", "49152"],
    ["statement_timeout", "30s", "30000"],
    ["statement_timeout", "2min", "120000"],
    ["archive_timeout", "5min", "300"],
    ["log_min_duration_statement", -1, "-1"],
    ["max_slot_wal_keep_size", "4GB", "4096"],
    ["checkpoint_completion_target", 0.9, "0.9"],
    ["autovacuum_vacuum_cost_delay", "2ms", "2"],
    ["log_connections", false, "off"],
    ["autovacuum", "TRUE", "on"],
    ["wal_level", "Replica", "replica"],
    ["default_transaction_isolation", "read committed", "read committed"],
    ["log_line_prefix", "%m [%p] ", "%m [%p] "],
    ["shared_preload_libraries", "pg_stat_statements,auto_explain", "pg_stat_statements,auto_explain"],
    ["shared_preload_libraries", "", ""],
  ])("%s = %j → %s", (name, value, expected) => {
    expect(setting(name, value)).toBe(expected);
  });

  it.each([
    ["work_mem", "8 MB", /not a whole number for work_mem/],
    ["work_mem", "8XB", /takes the units B, kB, MB, GB, TB/],
    ["work_mem", "1000B", /not a whole number of kB/],
    ["work_mem", "32kB", /out of range for work_mem: 64 to 2147483647 kB/],
    ["statement_timeout", "1.5s", /not a whole number/],
    ["max_connections", "10MB", /takes no unit/],
    ["checkpoint_completion_target", "1.5", /out of range/],
    ["autovacuum", "maybe", /not a boolean for autovacuum; use on or off/],
    ["wal_level", "archive", /use one of minimal, replica, logical/],
    ["log_line_prefix", "a\nb", /newline/],
    ["log_line_prefix", "a\tb", /control character/],
    ["log_line_prefix", "${var.x}", /Terraform reads as a template/],
    ["archive_command", "%{ if true }", /Terraform reads as a template/],
    ["shared_preload_libraries", "pg_stat_statements; rm", /not an accepted value/],
    // A library the server cannot load (or any code in the library folder) stops it at start.
    [
      "shared_preload_libraries",
      "pg_stat_statements,timescaledb",
      /names "timescaledb", which is not a library this project preloads \(allowed: auth_delay, auto_explain/,
    ],
    ["shared_preload_libraries", "plpgsql", /names "plpgsql", which is not a library/],
    ["shared_preload_libraries", "sepgsql", /names "sepgsql", which is not a library/],
    ["shared_preload_libraries", "auto_explain,auto_explain", /names "auto_explain" twice; name each library once/],
    ["shared_preload_libraries", "pg_stat_statements,", /not an accepted value/],
    ["log_destination", "eventlog", /not an accepted value/],
    [
      "no_such_setting",
      "1",
      /not a PostgreSQL setting this project knows; check the spelling against pg_settings, or add it with its context to POSTGRES_SETTINGS in constructs\/postgres\/renderers\/postgres-settings\.ts/,
    ],
  ])("%s = %j is refused", (name, value, message) => {
    expect(setting(name, value)).toMatch(message);
  });
});

describe("postgresSettingsProblems", () => {
  it("names the key of every bad setting at once, and refuses the ones the cluster manages", () => {
    expect(postgresSettingsProblems({ work_mem: "8MB", work_mme: "8MB", port: 6543, log_line_prefix: "x\ny" }, "settings.")).toEqual([
      expect.stringMatching(/^settings\.work_mme: "work_mme" is not a PostgreSQL setting/),
      "settings.port: is set by PostgresCluster (paths, port, listen address, replication wiring); remove it",
      expect.stringMatching(/^settings\.log_line_prefix: the value of log_line_prefix contains a newline/),
    ]);
  });

  it("is what the environment schema reports, under postgres.settings.<name>", () => {
    const dev = structuredClone(loadEnvironmentConfig("dev", {})) as any;
    dev.postgres.settings = { work_mme: "8MB", statement_timeout: "soon" };
    let error: unknown;
    try {
      validateEnvironmentConfig(dev, "dev");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toContainEqual(
      expect.stringMatching(/^postgres\.settings\.work_mme: "work_mme" is not a PostgreSQL setting this project knows/),
    );
    expect(problems).toContainEqual(
      expect.stringMatching(
        /^postgres\.settings\.statement_timeout: "soon" is not a whole number for statement_timeout, optionally with a unit/,
      ),
    );
    dev.postgres.settings = { work_mem: "16MB", max_wal_senders: 12 };
    expect(validateEnvironmentConfig(dev, "dev").postgres.settings).toEqual({ work_mem: "16MB", max_wal_senders: 12 });
  });
});

describe("splitPostgresSettings and renderPostgresSettingsFile", () => {
  const split = splitPostgresSettings({
    work_mem: "8MB",
    shared_buffers: "128MB",
    log_line_prefix: "it's \\ %m ",
    statement_timeout: "30s",
    wal_level: "replica",
  });

  it("puts restart-only settings in restart and the others in reload, sorted", () => {
    expect(split).toEqual({
      restart: { shared_buffers: "128MB", wal_level: "replica" },
      reload: { log_line_prefix: "it's \\ %m ", statement_timeout: "30s", work_mem: "8MB" },
    });
    expect(() => splitPostgresSettings({ work_mme: "8MB", work_mem: "x" })).toThrow(
      /work_mme: "work_mme" is not a PostgreSQL setting[\s\S]*work_mem: "x" is not a whole number/,
    );
  });

  it("reads initdb's file first, then ours; quotes every value, doubling quotes and backslashes", () => {
    const file = renderPostgresSettingsFile({ ...split, includeFile: "/var/lib/postgresql/data/postgresql.conf" });
    expect(file).toBe(
      [
        "# Generated by the UpdateIO infrastructure (PostgresCluster). Do not edit: the next apply overwrites it.",
        "include_if_exists '/var/lib/postgresql/data/postgresql.conf'",
        "",
        "# Reloadable: a change is applied by SELECT pg_reload_conf() (the postgres-reload job), no restart.",
        "log_line_prefix = 'it''s \\\\ %m '",
        "statement_timeout = '30s'",
        "work_mem = '8MB'",
        "",
        "# Restart-only: also server arguments (-c), which override this file; a change replaces the container.",
        "shared_buffers = '128MB'",
        "wal_level = 'replica'",
        "",
      ].join("\n"),
    );
  });

  it("refuses a setting in the wrong half, an unknown one, a bad value or an odd include path", () => {
    expect(
      errorOf(() =>
        renderPostgresSettingsFile({ restart: { work_mem: "8MB" }, reload: { shared_buffers: "1GB" }, includeFile: "/d/postgresql.conf" }),
      ),
    ).toMatch(/shared_buffers needs a restart and belongs in restart[\s\S]*work_mem is reloadable and belongs in reload/);
    expect(() =>
      renderPostgresSettingsFile({ restart: {}, reload: { log_line_prefix: "a\nb" }, includeFile: "/d/postgresql.conf" }),
    ).toThrow(/newline/);
    expect(() => renderPostgresSettingsFile({ restart: {}, reload: {}, includeFile: "/d/it's.conf" })).toThrow(/includeFile/);
  });
});

describe("renderReloadRoleSql", () => {
  const sql = renderReloadRoleSql({ role: "updateio_reload", database: "updateio", passwordFile: "/run/secrets/postgres_reload_password" });

  it("creates a login role whose one privilege is EXECUTE on pg_reload_conf(), reading its password from the file", () => {
    expectPasswordFileRole(sql, {
      role: "updateio_reload",
      variable: "reload_password",
      passwordFile: "/run/secrets/postgres_reload_password",
      connectionLimit: 2,
    });
    expect(sql).toContain("GRANT EXECUTE ON FUNCTION pg_reload_conf() TO updateio_reload;\n");
    expect(sql).toContain("GRANT CONNECT ON DATABASE updateio TO updateio_reload;\n");
    expect(sql.match(/^GRANT .*$/gm)).toEqual([
      "GRANT CONNECT ON DATABASE updateio TO updateio_reload;",
      "GRANT EXECUTE ON FUNCTION pg_reload_conf() TO updateio_reload;",
    ]);
    // pg_proc is per database: the EXECUTE grant is made in the database the job logs into.
    expect(sql.indexOf("\\connect updateio\n")).toBeGreaterThan(-1);
    expect(sql.indexOf("\\connect updateio\n")).toBeLessThan(sql.indexOf("GRANT EXECUTE"));
    expect(sql).not.toMatch(/SUPERUSER|REPLICATION|pg_monitor|pg_read_all|ALTER SYSTEM/);
  });

  it("refuses identifiers and paths that would need quoting, all at once", () => {
    expect(validationOf(() => renderReloadRoleSql({ role: "Reload;", database: "up-dateio", passwordFile: "rel/file" }))).toEqual({
      subject: "renderReloadRoleSql input",
      problems: [
        'role "Reload;" must be a lowercase SQL identifier',
        'database "up-dateio" must be a lowercase SQL identifier',
        'passwordFile "rel/file" must be an absolute path of letters, digits, _ . / -',
      ],
    });
  });
});

describe("renderReloadCheckSql and renderReloadJobScript", () => {
  it("checks every unmanaged setting of the file by its normalized value (reals numerically), and pending_restart", () => {
    const sql = renderReloadCheckSql({
      work_mem: "8MB",
      checkpoint_completion_target: "0.9",
      hba_file: "/etc/postgresql/pg_hba.conf",
      log_line_prefix: "it's %m ",
    });
    expect(sql).toContain(
      "  ('checkpoint_completion_target', '0.9', true),\n  ('log_line_prefix', 'it''s %m ', false),\n  ('work_mem', '8192', false)\n",
    );
    expect(sql).not.toContain("hba_file");
    expect(sql).toContain("WHEN s.name IS NULL OR s.pending_restart THEN true");
    expect(() => renderReloadCheckSql({ hba_file: "/x" })).toThrow(/no settings to check/);
    // Tied to the whole file by its hash: any change to the file changes the job's own uploads.
    const a = renderReloadCheckSql({ work_mem: "8MB" }, "work_mem = '8MB'\n");
    expect(a).toMatch(/^-- For the settings file with sha256 [0-9a-f]{64}\.$/m);
    expect(renderReloadCheckSql({ work_mem: "8MB" }, "# another comment\nwork_mem = '8MB'\n")).not.toBe(a);
  });

  const input = RELOAD_JOB_INPUT;

  it("reloads every server, then waits for each to show the file's values; the password only through a 0600 passfile", () => {
    const script = renderReloadJobScript(input);
    expect(script).toContain(
      "umask 077\nprintf '*:*:*:%s:%s\\n' updateio_reload \"$(cat /run/secrets/postgres_reload_password)\" > /tmp/reload.pgpass\n",
    );
    expect(script).toContain(`-h "$host" -c '${RELOAD_SQL}'`);
    expect(script.match(/for host in postgres postgres-replica-1; do/g)).toHaveLength(2);
    expect(script).toContain('[ "$tries" -lt 30 ]');
    expect(script).toContain(
      "docker exec -u postgres prod-postgres psql -v ON_ERROR_STOP=1 -d postgres -f /docker-entrypoint-initdb.d/15-updateio-reload-role.sql",
    );
    expect(script).not.toMatch(/\$\{|%\{/);
  });

  it("refuses odd names, hosts, paths and ports", () => {
    expect(() => renderReloadJobScript({ ...input, hosts: [] })).toThrow(/hosts is empty/);
    expect(() => renderReloadJobScript({ ...input, hosts: ["postgres; rm -rf /"] })).toThrow(/host "postgres; rm -rf \/"/);
    expect(validationOf(() => renderReloadJobScript({ ...input, port: 0, role: "Reload" })).problems).toEqual([
      'role "Reload" must be a lowercase SQL identifier',
      "port 0 must be a TCP port",
    ]);
    expect(() => renderReloadJobScript({ ...input, checkFile: "check.sql" })).toThrow(/checkFile "check.sql"/);
  });
});
