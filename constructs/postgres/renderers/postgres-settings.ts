import { throwIfProblems, ValidationError } from "../../contract/errors";

/**
 * Which PostgreSQL settings the platform accepts, whether each needs a restart, and the rendered
 * settings file. Pure: no constructs, no I/O.
 *
 * A setting's context (pg_settings.context) decides how a change reaches a running server:
 * "postmaster" only at server start; "sighup", "superuser", "user" on SIGHUP (pg_reload_conf());
 * "backend" and "superuser-backend" on SIGHUP too, for sessions that start afterwards. PostgresCluster
 * passes the restart-only settings as server arguments (a change replaces the container, honestly)
 * and every setting in a file the server reads as config_file, which a reload applies in place.
 * Server arguments (-c) override the file, so a reloadable setting must never be one.
 */

export type PostgresContext = "postmaster" | "sighup" | "superuser" | "user" | "backend" | "superuser-backend";
type Unit = "B" | "kB" | "8kB" | "MB" | "ms" | "s" | "min";

export interface PostgresSettingSpec {
  readonly context: PostgresContext;
  /** pg_settings.vartype. */
  readonly type: "bool" | "integer" | "real" | "enum" | "string";
  /** pg_settings.unit: the unit of a number written without one, and of pg_settings.setting. */
  readonly unit?: Unit;
  /** pg_settings.min_val / max_val, in `unit`. */
  readonly min?: number;
  readonly max?: number;
  /** pg_settings.enumvals. */
  readonly values?: readonly string[];
  /** Allow-list for a string value, on top of the rules every string obeys. */
  readonly pattern?: RegExp;
  /** The server's own grammar for a string value: why it would refuse `value` and the fix, or undefined. */
  readonly grammar?: (value: string) => string | undefined;
  /** Set by PostgresCluster itself (paths, port, replication wiring): refused in user settings. */
  readonly managed?: true;
  /** pg_settings hides it from roles without pg_read_all_settings: the reload job cannot check it. */
  readonly hidden?: true;
}

/**
 * The libraries shared_preload_libraries may name: the contrib modules the image ships that are
 * made to be preloaded. A name the server cannot find stops it at start, so the primary would not
 * come back after a restart; a library is code run inside every server process.
 */
export const PRELOADABLE_LIBRARIES = ["auth_delay", "auto_explain", "passwordcheck", "pg_prewarm", "pg_stat_statements"] as const;

function preloadLibrariesProblem(value: string): string | undefined {
  const names = value === "" ? [] : value.split(",");
  const unknown = names.filter((n) => !(PRELOADABLE_LIBRARIES as readonly string[]).includes(n));
  if (unknown.length > 0)
    return `names ${unknown.map((n) => `"${n}"`).join(", ")}, which is not a library this project preloads (allowed: ${PRELOADABLE_LIBRARIES.join(", ")}); a library the server cannot load stops it at start`;
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) return `names "${twice}" twice; name each library once`;
  return undefined;
}

/**
 * The settings this project knows, with pg_settings' own context, type, unit, range and values.
 * __tests__/postgres/postgres-reload.integration.test.ts compares every entry with a real server (Debian's
 * PostgreSQL 15; the image runs 17, where these entries are the same). To allow another setting,
 * add it here from `SELECT name, context, vartype, unit, min_val, max_val, enumvals FROM pg_settings`.
 */
export const POSTGRES_SETTINGS: Readonly<Record<string, PostgresSettingSpec>> = {
  archive_command: { context: "sighup", type: "string" },
  archive_mode: { context: "postmaster", type: "enum", values: ["always", "on", "off"] },
  archive_timeout: { context: "sighup", type: "integer", unit: "s", min: 0, max: 1073741823 },
  authentication_timeout: { context: "sighup", type: "integer", unit: "s", min: 1, max: 600 },
  autovacuum: { context: "sighup", type: "bool" },
  autovacuum_analyze_scale_factor: { context: "sighup", type: "real", min: 0, max: 100 },
  autovacuum_analyze_threshold: { context: "sighup", type: "integer", min: 0, max: 2147483647 },
  autovacuum_freeze_max_age: { context: "postmaster", type: "integer", min: 100000, max: 2000000000 },
  autovacuum_max_workers: { context: "postmaster", type: "integer", min: 1, max: 262143 },
  autovacuum_naptime: { context: "sighup", type: "integer", unit: "s", min: 1, max: 2147483 },
  autovacuum_vacuum_cost_delay: { context: "sighup", type: "real", unit: "ms", min: -1, max: 100 },
  autovacuum_vacuum_cost_limit: { context: "sighup", type: "integer", min: -1, max: 10000 },
  autovacuum_vacuum_insert_scale_factor: { context: "sighup", type: "real", min: 0, max: 100 },
  autovacuum_vacuum_insert_threshold: { context: "sighup", type: "integer", min: -1, max: 2147483647 },
  autovacuum_vacuum_scale_factor: { context: "sighup", type: "real", min: 0, max: 100 },
  autovacuum_vacuum_threshold: { context: "sighup", type: "integer", min: 0, max: 2147483647 },
  autovacuum_work_mem: { context: "sighup", type: "integer", unit: "kB", min: -1, max: 2147483647 },
  bgwriter_delay: { context: "sighup", type: "integer", unit: "ms", min: 10, max: 10000 },
  bgwriter_lru_maxpages: { context: "sighup", type: "integer", min: 0, max: 1073741823 },
  bgwriter_lru_multiplier: { context: "sighup", type: "real", min: 0, max: 10 },
  checkpoint_completion_target: { context: "sighup", type: "real", min: 0, max: 1 },
  checkpoint_timeout: { context: "sighup", type: "integer", unit: "s", min: 30, max: 86400 },
  checkpoint_warning: { context: "sighup", type: "integer", unit: "s", min: 0, max: 2147483647 },
  client_connection_check_interval: { context: "user", type: "integer", unit: "ms", min: 0, max: 2147483647 },
  compute_query_id: { context: "superuser", type: "enum", values: ["auto", "regress", "on", "off"] },
  config_file: { context: "postmaster", type: "string", managed: true },
  data_directory: { context: "postmaster", type: "string", managed: true },
  deadlock_timeout: { context: "superuser", type: "integer", unit: "ms", min: 1, max: 2147483647 },
  default_statistics_target: { context: "user", type: "integer", min: 1, max: 10000 },
  default_transaction_isolation: {
    context: "user",
    type: "enum",
    values: ["serializable", "repeatable read", "read committed", "read uncommitted"],
  },
  effective_cache_size: { context: "user", type: "integer", unit: "8kB", min: 1, max: 2147483647 },
  effective_io_concurrency: { context: "user", type: "integer", min: 0, max: 1000 },
  hash_mem_multiplier: { context: "user", type: "real", min: 1, max: 1000 },
  hba_file: { context: "postmaster", type: "string", managed: true },
  hot_standby: { context: "postmaster", type: "bool", managed: true },
  hot_standby_feedback: { context: "sighup", type: "bool" },
  huge_pages: { context: "postmaster", type: "enum", values: ["off", "on", "try"] },
  idle_in_transaction_session_timeout: { context: "user", type: "integer", unit: "ms", min: 0, max: 2147483647 },
  idle_session_timeout: { context: "user", type: "integer", unit: "ms", min: 0, max: 2147483647 },
  jit: { context: "user", type: "bool" },
  listen_addresses: { context: "postmaster", type: "string", managed: true },
  lock_timeout: { context: "user", type: "integer", unit: "ms", min: 0, max: 2147483647 },
  log_autovacuum_min_duration: { context: "sighup", type: "integer", unit: "ms", min: -1, max: 2147483647 },
  log_checkpoints: { context: "sighup", type: "bool" },
  log_connections: { context: "superuser-backend", type: "bool" },
  log_destination: { context: "sighup", type: "string", pattern: /^(stderr|csvlog|jsonlog|syslog)(,(stderr|csvlog|jsonlog|syslog))*$/ },
  log_disconnections: { context: "superuser-backend", type: "bool" },
  log_duration: { context: "superuser", type: "bool" },
  log_line_prefix: { context: "sighup", type: "string" },
  log_lock_waits: { context: "superuser", type: "bool" },
  log_min_duration_statement: { context: "superuser", type: "integer", unit: "ms", min: -1, max: 2147483647 },
  log_min_error_statement: {
    context: "superuser",
    type: "enum",
    values: ["debug5", "debug4", "debug3", "debug2", "debug1", "info", "notice", "warning", "error", "log", "fatal", "panic"],
  },
  log_min_messages: {
    context: "superuser",
    type: "enum",
    values: ["debug5", "debug4", "debug3", "debug2", "debug1", "info", "notice", "warning", "error", "log", "fatal", "panic"],
  },
  log_statement: { context: "superuser", type: "enum", values: ["none", "ddl", "mod", "all"] },
  log_temp_files: { context: "superuser", type: "integer", unit: "kB", min: -1, max: 2147483647 },
  maintenance_work_mem: { context: "user", type: "integer", unit: "kB", min: 1024, max: 2147483647 },
  max_connections: { context: "postmaster", type: "integer", min: 1, max: 262143 },
  max_files_per_process: { context: "postmaster", type: "integer", min: 64, max: 2147483647 },
  max_locks_per_transaction: { context: "postmaster", type: "integer", min: 10, max: 2147483647 },
  max_parallel_maintenance_workers: { context: "user", type: "integer", min: 0, max: 1024 },
  max_parallel_workers: { context: "user", type: "integer", min: 0, max: 1024 },
  max_parallel_workers_per_gather: { context: "user", type: "integer", min: 0, max: 1024 },
  max_prepared_transactions: { context: "postmaster", type: "integer", min: 0, max: 262143 },
  max_replication_slots: { context: "postmaster", type: "integer", min: 0, max: 262143 },
  max_slot_wal_keep_size: { context: "sighup", type: "integer", unit: "MB", min: -1, max: 2147483647 },
  max_standby_archive_delay: { context: "sighup", type: "integer", unit: "ms", min: -1, max: 2147483647 },
  max_standby_streaming_delay: { context: "sighup", type: "integer", unit: "ms", min: -1, max: 2147483647 },
  max_wal_senders: { context: "postmaster", type: "integer", min: 0, max: 262143 },
  max_wal_size: { context: "sighup", type: "integer", unit: "MB", min: 2, max: 2147483647 },
  max_worker_processes: { context: "postmaster", type: "integer", min: 0, max: 262143 },
  min_wal_size: { context: "sighup", type: "integer", unit: "MB", min: 2, max: 2147483647 },
  password_encryption: { context: "user", type: "enum", values: ["md5", "scram-sha-256"] },
  port: { context: "postmaster", type: "integer", min: 1, max: 65535, managed: true },
  primary_conninfo: { context: "sighup", type: "string", managed: true },
  primary_slot_name: { context: "sighup", type: "string", managed: true },
  random_page_cost: { context: "user", type: "real", min: 0, max: Number.MAX_VALUE },
  seq_page_cost: { context: "user", type: "real", min: 0, max: Number.MAX_VALUE },
  shared_buffers: { context: "postmaster", type: "integer", unit: "8kB", min: 16, max: 1073741823 },
  shared_preload_libraries: {
    context: "postmaster",
    type: "string",
    hidden: true,
    pattern: /^([a-z][a-z0-9_]*(,[a-z][a-z0-9_]*)*)?$/,
    grammar: preloadLibrariesProblem,
  },
  statement_timeout: { context: "user", type: "integer", unit: "ms", min: 0, max: 2147483647 },
  superuser_reserved_connections: { context: "postmaster", type: "integer", min: 0, max: 262143 },
  synchronous_commit: { context: "user", type: "enum", values: ["local", "remote_write", "remote_apply", "on", "off"] },
  synchronous_standby_names: {
    context: "sighup",
    type: "string",
    pattern: /^[A-Za-z0-9_ ,()*]*$/,
    grammar: (v) => {
      const problem = synchronousStandbyNamesProblem(v);
      return (
        problem &&
        `${problem}; write standby names separated by commas (a, b), FIRST n (a, b) or ANY n (a, b) with n at most the names listed, or *`
      );
    },
  },
  tcp_keepalives_count: { context: "user", type: "integer", min: 0, max: 2147483647 },
  tcp_keepalives_idle: { context: "user", type: "integer", unit: "s", min: 0, max: 2147483647 },
  tcp_keepalives_interval: { context: "user", type: "integer", unit: "s", min: 0, max: 2147483647 },
  temp_buffers: { context: "user", type: "integer", unit: "8kB", min: 100, max: 1073741823 },
  temp_file_limit: { context: "superuser", type: "integer", unit: "kB", min: -1, max: 2147483647 },
  track_activity_query_size: { context: "postmaster", type: "integer", unit: "B", min: 100, max: 1048576 },
  track_functions: { context: "superuser", type: "enum", values: ["none", "pl", "all"] },
  track_io_timing: { context: "superuser", type: "bool" },
  unix_socket_directories: { context: "postmaster", type: "string", managed: true },
  wal_buffers: { context: "postmaster", type: "integer", unit: "8kB", min: -1, max: 262143 },
  wal_compression: { context: "superuser", type: "enum", values: ["pglz", "lz4", "zstd", "on", "off"] },
  wal_keep_size: { context: "sighup", type: "integer", unit: "MB", min: 0, max: 2147483647 },
  wal_level: { context: "postmaster", type: "enum", values: ["minimal", "replica", "logical"] },
  wal_log_hints: { context: "postmaster", type: "bool" },
  wal_receiver_status_interval: { context: "sighup", type: "integer", unit: "s", min: 0, max: 2147483 },
  wal_receiver_timeout: { context: "sighup", type: "integer", unit: "ms", min: 0, max: 2147483647 },
  wal_sender_timeout: { context: "user", type: "integer", unit: "ms", min: 0, max: 2147483647 },
  wal_writer_delay: { context: "sighup", type: "integer", unit: "ms", min: 1, max: 10000 },
  work_mem: { context: "user", type: "integer", unit: "kB", min: 64, max: 2147483647 },
};

/**
 * Why PostgreSQL's synchronous_standby_names parser (src/backend/replication/syncrep_gram.y) would
 * refuse `value`, or undefined. A server whose settings file holds a refused value does not start
 * ("invalid value for parameter"), and a reload keeps the old value. Its grammar: a list of names
 * (identifiers, numbers or *), or [FIRST|ANY] n (list) with n >= 1; FIRST and ANY are key words,
 * never names. A number of synchronous standbys above the names listed (none being *) can never be
 * met: every commit would wait forever.
 */
export function synchronousStandbyNamesProblem(value: string): string | undefined {
  const parsed = parseSynchronousStandbyNames(value);
  if ("problem" in parsed) return parsed.problem;
  if (parsed.explicit && parsed.count > parsed.names.length && !parsed.names.includes("*"))
    return `asks for ${parsed.count} synchronous standbys among ${parsed.names.length} name(s): every commit would wait forever`;
  return undefined;
}

/**
 * synchronous_standby_names read as PostgreSQL reads it: how many standbys each commit waits for
 * (`count`; a plain list waits for its first name that is connected, so 1) among which `names`;
 * `explicit` when written as FIRST/ANY n (...). An empty value waits for none.
 */
export function parseSynchronousStandbyNames(
  value: string,
): { readonly count: number; readonly names: readonly string[]; readonly explicit: boolean } | { readonly problem: string } {
  if (value === "") return { count: 0, names: [], explicit: false };
  const refused = (why: string) => ({
    problem: `${why}, which PostgreSQL refuses (a server started with it exits, a reload keeps the old value)`,
  });
  const tokens = value.match(/[A-Za-z_][A-Za-z0-9_]*|\d+|[*,()]|\S/g) ?? [];
  if (tokens.some((t) => !/^(?:[A-Za-z_][A-Za-z0-9_]*|\d+|[*,()])$/.test(t))) return refused("holds a character outside its grammar");
  const keyword = (t: string | undefined) => t !== undefined && /^(first|any)$/i.test(t);
  let i = 0;
  let count: number | undefined;
  if (keyword(tokens[0]) || (/^\d+$/.test(tokens[0]!) && tokens[1] === "(")) {
    if (keyword(tokens[0])) i++;
    if (!/^\d+$/.test(tokens[i] ?? "")) return refused(`expects a number after ${tokens[0]!.toUpperCase()}`);
    count = Number(tokens[i]);
    if (count < 1) return refused("asks for 0 synchronous standbys; PostgreSQL wants at least 1");
    if (tokens[i + 1] !== "(") return refused(`expects "(" after the number ${tokens[i]}`);
    i += 2;
  }
  const names: string[] = [];
  for (;;) {
    const t = tokens[i];
    if (t === undefined || keyword(t) || !/^(?:[A-Za-z_][A-Za-z0-9_]*|\d+|\*)$/.test(t))
      return refused(t === undefined ? "ends where a standby name belongs" : `has "${t}" where a standby name belongs`);
    names.push(t);
    i++;
    if (tokens[i] !== ",") break;
    i++;
  }
  if (count !== undefined) {
    if (tokens[i] !== ")") return refused(tokens[i] === undefined ? 'lacks the closing ")"' : `has "${tokens[i]}" where ")" belongs`);
    i++;
  }
  if (i < tokens.length) return refused(`has "${tokens[i]}" after the end of the list`);
  return { count: count ?? 1, names, explicit: count !== undefined };
}

/** The spec of a setting name, own keys only: "constructor" or "__proto__" is no setting (they would find Object's members). */
export function postgresSettingSpec(name: string): PostgresSettingSpec | undefined {
  return Object.hasOwn(POSTGRES_SETTINGS, name) ? POSTGRES_SETTINGS[name] : undefined;
}

/** Contexts whose settings a reload applies (backend ones to new sessions). */
const RELOADABLE: ReadonlySet<PostgresContext> = new Set(["sighup", "superuser", "user", "backend", "superuser-backend"]);

export function isReloadable(name: string): boolean {
  const spec = postgresSettingSpec(name);
  return spec !== undefined && RELOADABLE.has(spec.context);
}

const MEMORY_BYTES: Readonly<Record<string, number>> = { B: 1, kB: 1024, "8kB": 8192, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const TIME_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
/** What a value may be written in: units of the same kind as the setting's own. */
function unitsFor(unit: Unit): Readonly<Record<string, number>> {
  return unit in TIME_MS ? TIME_MS : MEMORY_BYTES;
}
const WRITABLE_UNITS = (unit: Unit) => Object.keys(unitsFor(unit)).filter((u) => u !== "8kB");

type Value = string | number | boolean;

/** C1 controls, the line and paragraph separators, bidi and zero-width format characters (the config check's free-text rule). */
const INVISIBLE = /[\u0080-\u009f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;

/**
 * The value as pg_settings.setting shows it once the server runs with it (booleans on/off, enums
 * lowercase, numbers in the setting's unit), or the reason the server would refuse it. Stricter
 * than PostgreSQL: whole numbers with a unit and no space, no value that would need rounding,
 * and strings without control characters or Terraform template markers.
 */
export function normalizePostgresSetting(name: string, value: Value): { setting: string } | { problem: string } {
  const spec = postgresSettingSpec(name);
  if (!spec)
    return {
      problem: `"${name}" is not a PostgreSQL setting this project knows; check the spelling against pg_settings, or add it with its context to POSTGRES_SETTINGS in constructs/postgres/renderers/postgres-settings.ts`,
    };
  const text = String(value);
  switch (spec.type) {
    case "bool": {
      const v = text.toLowerCase();
      if (["on", "true", "yes", "1"].includes(v)) return { setting: "on" };
      if (["off", "false", "no", "0"].includes(v)) return { setting: "off" };
      return { problem: `"${text}" is not a boolean for ${name}; use on or off` };
    }
    case "enum": {
      const v = text.toLowerCase();
      if (spec.values!.includes(v)) return { setting: v };
      return { problem: `"${text}" is not a value of ${name}; use one of ${spec.values!.join(", ")}` };
    }
    case "integer":
    case "real": {
      const m = (spec.type === "integer" ? /^(-?\d{1,15})([A-Za-z]*)$/ : /^(-?\d{1,15}(?:\.\d{1,15})?)([A-Za-z]*)$/).exec(text);
      const example = spec.unit
        ? `, optionally with a unit (${WRITABLE_UNITS(spec.unit).join(", ")}), e.g. "${spec.unit === "8kB" || spec.unit === "kB" || spec.unit === "MB" || spec.unit === "B" ? "64MB" : "30s"}"`
        : "";
      if (!m) return { problem: `"${text}" is not ${spec.type === "integer" ? "a whole number" : "a number"} for ${name}${example}` };
      let n = Number(m[1]);
      const suffix = m[2]!;
      if (suffix !== "") {
        const table = spec.unit ? unitsFor(spec.unit) : undefined;
        if (!spec.unit || !table || !Object.hasOwn(table, suffix) || suffix === "8kB") {
          return {
            problem: `"${text}": ${name} ${spec.unit ? `takes the units ${WRITABLE_UNITS(spec.unit).join(", ")}` : "takes no unit"}`,
          };
        }
        n = (n * table[suffix]!) / table[spec.unit]!;
        if (spec.type === "integer" && !Number.isInteger(n))
          return { problem: `"${text}" is not a whole number of ${spec.unit} for ${name}; write it in ${spec.unit} or a larger unit` };
      }
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        return { problem: `"${text}" is out of range for ${name}: ${spec.min} to ${spec.max}${spec.unit ? ` ${spec.unit}` : ""}` };
      }
      return { setting: String(n) };
    }
    case "string": {
      // eslint-disable-next-line no-control-regex
      if (/[\u0000-\u001f\u007f]/.test(text))
        return { problem: `the value of ${name} contains a newline or another control character; write it on one line` };
      if (INVISIBLE.test(text))
        return {
          problem: `the value of ${name} contains a line separator or an invisible bidi/zero-width character (U+${INVISIBLE.exec(text)![0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}), which makes what the server writes read differently from what it is; write it with visible characters only`,
        };
      if (/[$%]\{/.test(text))
        return { problem: `the value of ${name} contains "\${" or "%{", which Terraform reads as a template; remove it` };
      if (text.length > 1024) return { problem: `the value of ${name} is longer than 1024 characters` };
      if (spec.pattern && !spec.pattern.test(text))
        return { problem: `"${text}" is not an accepted value of ${name} (allowed: ${spec.pattern.source})` };
      const refused = spec.grammar?.(text);
      if (refused !== undefined) return { problem: `"${text}" ${refused}` };
      return { setting: text };
    }
  }
}

/**
 * Problems with settings a user wrote (environment config, PostgresCluster props), one line per
 * setting, each led by `${keyPrefix}${name}` and saying how to fix it. Managed settings are refused.
 */
export function postgresSettingsProblems(settings: Readonly<Record<string, Value>>, keyPrefix: string): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(settings)) {
    const spec = postgresSettingSpec(name);
    if (spec?.managed) {
      problems.push(`${keyPrefix}${name}: is set by PostgresCluster (paths, port, listen address, replication wiring); remove it`);
      continue;
    }
    const result = normalizePostgresSetting(name, value);
    if ("problem" in result) problems.push(`${keyPrefix}${name}: ${result.problem}`);
  }
  return problems;
}

export interface SplitSettings {
  /** Context postmaster: server arguments; a change needs a restart (the container is replaced). */
  readonly restart: Record<string, string>;
  /** Applied by pg_reload_conf(): the settings file only. */
  readonly reload: Record<string, string>;
}

/** Splits settings by context; throws on an unknown name or a value the server would refuse. */
export function splitPostgresSettings(settings: Readonly<Record<string, string>>): SplitSettings {
  const problems = Object.entries(settings).flatMap(([name, value]) => {
    const r = normalizePostgresSetting(name, value);
    return "problem" in r ? [`${name}: ${r.problem}`] : [];
  });
  throwIfProblems("Postgres settings", problems);
  const restart: Record<string, string> = {};
  const reload: Record<string, string> = {};
  for (const name of Object.keys(settings).sort()) (isReloadable(name) ? reload : restart)[name] = settings[name]!;
  return { restart, reload };
}

export interface PostgresSettingsFileInput extends SplitSettings {
  /**
   * The data directory's postgresql.conf (initdb's: locale, time zone, text search config), read
   * first so those stay as they are; ours come after and win.
   */
  readonly includeFile: string;
}

/** A postgresql.conf string literal: quotes doubled, backslashes doubled (the file parser reads escapes). */
function confQuote(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/**
 * The file PostgreSQL reads as config_file. The restart-only settings are repeated under the
 * reloadable ones: they are also server arguments (which win), but on every reload PostgreSQL
 * flags a restart-only setting whose file value differs from the running one as pending_restart
 * (and logs that the file "contains errors") even when an argument overrides it, and initdb's
 * file sets shared_buffers and max_connections. Repeating our values keeps both quiet.
 */
export function renderPostgresSettingsFile(input: PostgresSettingsFileInput): string {
  if (!/^\/[A-Za-z0-9_./-]+$/.test(input.includeFile))
    throw new ValidationError("renderPostgresSettingsFile input", [
      `includeFile "${input.includeFile}" must be an absolute path of letters, digits, _ . / -`,
    ]);
  const wrong = [
    ...Object.keys(input.reload)
      .filter((n) => !isReloadable(n))
      .map((n) => `${n} needs a restart and belongs in restart`),
    ...Object.keys(input.restart)
      .filter((n) => isReloadable(n) || !postgresSettingSpec(n))
      .map((n) => `${n} ${postgresSettingSpec(n) ? "is reloadable and belongs in reload" : "is unknown"}`),
    ...Object.entries({ ...input.reload, ...input.restart }).flatMap(([n, v]) => {
      const r = normalizePostgresSetting(n, v);
      return "problem" in r ? [`${n}: ${r.problem}`] : [];
    }),
  ];
  throwIfProblems("renderPostgresSettingsFile input", wrong);
  const lines = (settings: Record<string, string>) =>
    Object.keys(settings)
      .sort()
      .map((n) => `${n} = ${confQuote(settings[n]!)}`);
  return [
    "# Generated by the UpdateIO infrastructure (PostgresCluster). Do not edit: the next apply overwrites it.",
    `include_if_exists ${confQuote(input.includeFile)}`,
    "",
    "# Reloadable: a change is applied by SELECT pg_reload_conf() (the postgres-reload job), no restart.",
    ...lines(input.reload),
    "",
    "# Restart-only: also server arguments (-c), which override this file; a change replaces the container.",
    ...lines(input.restart),
    "",
  ].join("\n");
}

/** Expected pg_settings.setting of every setting in `settings` that the server shows to any role. */
export function expectedPostgresSettings(settings: Readonly<Record<string, string>>): { name: string; setting: string; real: boolean }[] {
  return Object.keys(settings)
    .filter((n) => !postgresSettingSpec(n)?.managed && !postgresSettingSpec(n)?.hidden)
    .sort()
    .map((name) => {
      const r = normalizePostgresSetting(name, settings[name]!);
      if ("problem" in r) throw new ValidationError("expectedPostgresSettings input", [`${name}: ${r.problem}`]);
      return { name, setting: r.setting, real: postgresSettingSpec(name)!.type === "real" };
    });
}
