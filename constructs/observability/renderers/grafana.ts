// Pure renderers for Grafana (official image grafana/grafana-oss 12.x): container settings as GF_*
// environment variables, provisioning files (data sources, dashboard provider) and the dashboards.
// Grafana is not packaged for Debian, so tests check this output structurally (see docs/architecture.md).
import { stringify } from "yaml";
import { CADVISOR_LABELS, DATASOURCE_UIDS, LOG_LABELS, SCRAPE_JOBS, type LogLabel, type ScrapeJob } from "./observability-catalogue";
import { GRAFANA_PG_STATS } from "../../postgres/renderers/postgres-grafana";

/** Fixed paths inside the Grafana container. */
export const GRAFANA_PATHS = {
  /** The image's own GF_PATHS_PROVISIONING; datasources/ and dashboards/ live below it. */
  provisioning: "/etc/grafana/provisioning",
  /** Where the dashboard JSON files are mounted (read by the file provider below). */
  dashboards: "/etc/grafana/dashboards",
  /** The image's data volume: sqlite database, plugins, sessions. */
  data: "/var/lib/grafana",
} as const;

/** Data source plugin ids. PostgreSQL's core plugin is "grafana-postgresql-datasource" ("postgres" is only an alias). */
export const DATASOURCE_TYPES = {
  prometheus: "prometheus",
  loki: "loki",
  postgres: "grafana-postgresql-datasource",
} as const;

/** Dashboard uids: stable, so links (alert runbooks, bookmarks) survive re-provisioning. */
export const DASHBOARD_UIDS = {
  platform: "updateio-platform",
  postgres: "updateio-postgres",
  redis: "updateio-redis",
  rabbitmq: "updateio-rabbitmq",
  api: "updateio-api",
} as const;

/**
 * Dashboard JSON schema version written into every dashboard. 41 is the latest version of Grafana
 * 12.0 (the v41 migration landed in February 2025); 12.1+ (latest 42) migrate it forward on load,
 * while a newer number would be ahead of what 12.0 knows.
 */
export const DASHBOARD_SCHEMA_VERSION = 41;

// ---------------------------------------------------------------------------------------------
// Container settings
// ---------------------------------------------------------------------------------------------

export interface GrafanaEnvInput {
  /**
   * The URL browsers use, e.g. "https://grafana.example.com/" behind the edge proxy or
   * "http://127.0.0.1:3000/" in dev. A path ("https://ops.example.com/grafana/") turns on
   * serve_from_sub_path: the proxy must then pass the prefix through, not strip it. Plain http
   * is accepted only for loopback hosts, because the session cookie would travel in clear.
   */
  readonly rootUrl: string;
  /** @default "admin" */
  readonly adminUser?: string;
  /** Secret file with the initial admin password. @default "/run/secrets/grafana_admin_password" */
  readonly adminPasswordFile?: string;
  /** Secret file with the generated secret_key (encrypts stored data source secrets). @default "/run/secrets/grafana_secret_key" */
  readonly secretKeyFile?: string;
  /** Port Grafana listens on inside the container. @default 3000 */
  readonly httpPort?: number;
  /** @default "info" */
  readonly logLevel?: "debug" | "info" | "warn" | "error";
}

export const GRAFANA_ENV_DEFAULTS = {
  adminUser: "admin",
  adminPasswordFile: "/run/secrets/grafana_admin_password",
  secretKeyFile: "/run/secrets/grafana_secret_key",
  httpPort: 3000,
  logLevel: "info",
} as const;

/**
 * GF_<SECTION>_<KEY> settings for the container (Grafana applies an env override only to keys its
 * defaults.ini declares; every key below is declared there). Keys are returned sorted.
 *
 * Secrets: the official image's run.sh turns every GF_*__FILE variable into the variable without
 * the suffix, read from that file (and refuses to start when both are set), so no secret is ever
 * an environment value here. Note that Grafana uses the admin password only when it creates the
 * admin user on an empty database: rotating the file later changes nothing; reset it with
 * `grafana cli admin reset-admin-password`. The secret_key encrypts the data keys that protect
 * stored secrets: keep it stable (a new key makes existing encrypted values unreadable).
 */
export function grafanaEnv(input: GrafanaEnvInput): Record<string, string> {
  const problems: string[] = [];
  const url = checkRootUrl(problems, input.rootUrl);
  const adminUser = input.adminUser ?? GRAFANA_ENV_DEFAULTS.adminUser;
  if (!/^[a-z][a-z0-9_.-]{0,63}$/.test(adminUser)) {
    problems.push(
      `adminUser ${JSON.stringify(adminUser)} must be 1-64 lowercase letters, digits, "_", "." or "-", starting with a letter, e.g. "admin".`,
    );
  }
  const adminPasswordFile = input.adminPasswordFile ?? GRAFANA_ENV_DEFAULTS.adminPasswordFile;
  const secretKeyFile = input.secretKeyFile ?? GRAFANA_ENV_DEFAULTS.secretKeyFile;
  checkSecretPath(problems, "adminPasswordFile", adminPasswordFile);
  checkSecretPath(problems, "secretKeyFile", secretKeyFile);
  if (adminPasswordFile === secretKeyFile) {
    problems.push(`adminPasswordFile and secretKeyFile are both ${JSON.stringify(secretKeyFile)}: give each secret its own file.`);
  }
  const httpPort = input.httpPort ?? GRAFANA_ENV_DEFAULTS.httpPort;
  checkPort(problems, "httpPort", httpPort);
  const logLevel = input.logLevel ?? GRAFANA_ENV_DEFAULTS.logLevel;
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    problems.push(`logLevel ${JSON.stringify(logLevel)} must be "debug", "info", "warn" or "error".`);
  }
  fail("Grafana settings", problems);

  const https = url!.protocol === "https:";
  const path = url!.pathname.endsWith("/") ? url!.pathname : `${url!.pathname}/`;
  const env: Record<string, string> = {
    // Usage reports, update checks, feedback links and the news feed all call grafana.com: nothing
    // here should depend on (or leak to) the internet.
    GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES: "false",
    GF_ANALYTICS_CHECK_FOR_UPDATES: "false",
    GF_ANALYTICS_FEEDBACK_LINKS_ENABLED: "false",
    GF_ANALYTICS_REPORTING_ENABLED: "false",
    // Every viewer logs in; dashboards show internal topology and logs.
    GF_AUTH_ANONYMOUS_ENABLED: "false",
    // sqlite on the data volume (paths.data): one Grafana replica, nothing to run beside it.
    // The path is relative to paths.data, as in defaults.ini.
    GF_DATABASE_PATH: "grafana.db",
    GF_DATABASE_TYPE: "sqlite3",
    // Console only, as JSON: the log shipper parses it like every other container's output.
    GF_LOG_CONSOLE_FORMAT: "json",
    GF_LOG_LEVEL: logLevel,
    GF_LOG_MODE: "console",
    GF_NEWS_NEWS_FEED_ENABLED: "false",
    GF_PATHS_DATA: GRAFANA_PATHS.data,
    GF_PATHS_PROVISIONING: GRAFANA_PATHS.provisioning,
    // Grafana 11.5+ installs a list of app plugins from grafana.com at every start unless told
    // not to: that is an egress dependency at boot and unpinned code. The data sources used here
    // (prometheus, loki, grafana-postgresql-datasource) are core plugins in 12.x. Before moving to
    // 13.x, check the image still bundles them: 13's default preinstall list names them too.
    GF_PLUGINS_PREINSTALL_DISABLED: "true",
    GF_SECURITY_ADMIN_PASSWORD__FILE: adminPasswordFile,
    GF_SECURITY_ADMIN_USER: adminUser,
    // Secure cookies whenever browsers reach Grafana over https (the edge terminates TLS).
    GF_SECURITY_COOKIE_SECURE: String(https),
    // Gravatar would send a hash of every user's email to a third party.
    GF_SECURITY_DISABLE_GRAVATAR: "true",
    GF_SECURITY_SECRET_KEY__FILE: secretKeyFile,
    GF_SERVER_DOMAIN: url!.hostname,
    GF_SERVER_HTTP_PORT: String(httpPort),
    // Links, redirects and OAuth callbacks are built from root_url, so it must be the public URL.
    // enforce_domain stays off: it would redirect the container healthcheck on 127.0.0.1 too.
    GF_SERVER_ROOT_URL: `${url!.protocol}//${url!.host}${path}`,
    GF_SERVER_SERVE_FROM_SUB_PATH: String(path !== "/"),
    // "Publish to snapshots.raintank.io" would upload dashboard data to a public service.
    GF_SNAPSHOTS_EXTERNAL_ENABLED: "false",
    // Accounts are created by an admin, never by self sign-up; no extra organizations.
    GF_USERS_ALLOW_ORG_CREATE: "false",
    GF_USERS_ALLOW_SIGN_UP: "false",
  };
  return sortKeys(env);
}

// ---------------------------------------------------------------------------------------------
// Data sources
// ---------------------------------------------------------------------------------------------

export interface GrafanaDatasourcesInput {
  /** @default "http://prometheus:9090" */
  readonly prometheusUrl?: string;
  /** @default "http://loki:3100" */
  readonly lokiUrl?: string;
  /** Prometheus' scrape interval: the smallest step Grafana asks for. @default "15s" */
  readonly scrapeInterval?: string;
  readonly postgres: {
    /** host:port on the internal network. @default "postgres:5432" */
    readonly address?: string;
    /** Database the queries run in, e.g. "updateio". */
    readonly database: string;
    /**
     * Grafana's own role (renderGrafanaRoleSql): it runs whatever SQL a dashboard editor types, so
     * it can read only what the dashboards read (GRAFANA_PG_STATS), in a database of its own.
     */
    readonly user: string;
    /**
     * Secret file with the role's password, e.g. "/run/secrets/grafana_postgres_password". Grafana
     * reads it through `$__file{}` at provisioning time and then runs the content through
     * environment expansion, so the password must not contain "$" (GeneratedSecret is letters and
     * digits only).
     */
    readonly passwordFile: string;
    /**
     * libpq sslmode. "disable" by default: the connection stays on the internal Docker network,
     * where Postgres serves no TLS certificate; use "verify-full" once it does.
     * @default "disable"
     */
    readonly sslmode?: "disable" | "require" | "verify-ca" | "verify-full";
  };
}

export const GRAFANA_DATASOURCE_DEFAULTS = {
  prometheusUrl: `http://prometheus:${SCRAPE_JOBS.prometheus.port}`,
  lokiUrl: `http://loki:${SCRAPE_JOBS.loki.port}`,
  scrapeInterval: "15s",
  postgresAddress: "postgres:5432",
  sslmode: "disable",
} as const;

/**
 * provisioning/datasources/datasources.yaml. Not editable in the UI (the file is the truth), and
 * `prune` removes a provisioned source that disappears from the file (Grafana 11.1+). The Postgres
 * password is a `$__file{...}` reference: Grafana's provisioning expands it when it reads the file
 * (pkg/services/provisioning/values, the same expanders as grafana.ini), so no secret is in here.
 */
export function renderDatasources(input: GrafanaDatasourcesInput): string {
  const problems: string[] = [];
  const prometheusUrl = input.prometheusUrl ?? GRAFANA_DATASOURCE_DEFAULTS.prometheusUrl;
  const lokiUrl = input.lokiUrl ?? GRAFANA_DATASOURCE_DEFAULTS.lokiUrl;
  const scrapeInterval = input.scrapeInterval ?? GRAFANA_DATASOURCE_DEFAULTS.scrapeInterval;
  const pg = input.postgres;
  const address = pg.address ?? GRAFANA_DATASOURCE_DEFAULTS.postgresAddress;
  const sslmode = pg.sslmode ?? GRAFANA_DATASOURCE_DEFAULTS.sslmode;
  checkServiceUrl(problems, "prometheusUrl", prometheusUrl, "http://prometheus:9090");
  checkServiceUrl(problems, "lokiUrl", lokiUrl, "http://loki:3100");
  if (!/^[1-9]\d*(s|m)$/.test(scrapeInterval)) {
    problems.push(`scrapeInterval ${JSON.stringify(scrapeInterval)} must be whole seconds or minutes, e.g. "15s" or "1m".`);
  }
  const hostPort = /^([a-z0-9]([a-z0-9.-]*[a-z0-9])?):(\d{1,5})$/.exec(address);
  if (!hostPort || Number(hostPort[3]) < 1 || Number(hostPort[3]) > 65535) {
    problems.push(
      `postgres.address ${JSON.stringify(address)} must be "host:port" (lowercase DNS name, port 1..65535), e.g. "postgres:5432".`,
    );
  }
  for (const [key, value] of [
    ["postgres.database", pg.database],
    ["postgres.user", pg.user],
  ] as const) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) {
      problems.push(
        `${key} ${JSON.stringify(value)} must be a plain lowercase Postgres identifier (letters, digits, "_"; at most 63), e.g. "updateio".`,
      );
    }
  }
  checkSecretPath(problems, "postgres.passwordFile", pg.passwordFile);
  if (!["disable", "require", "verify-ca", "verify-full"].includes(sslmode)) {
    problems.push(`postgres.sslmode ${JSON.stringify(sslmode)} must be "disable", "require", "verify-ca" or "verify-full".`);
  }
  fail("Grafana data sources", problems);

  const file = {
    apiVersion: 1,
    deleteDatasources: [],
    prune: true,
    datasources: [
      {
        name: "Prometheus",
        type: DATASOURCE_TYPES.prometheus,
        uid: DATASOURCE_UIDS.prometheus,
        access: "proxy",
        url: prometheusUrl,
        isDefault: true,
        editable: false,
        jsonData: { httpMethod: "POST", timeInterval: scrapeInterval },
      },
      {
        name: "Loki",
        type: DATASOURCE_TYPES.loki,
        uid: DATASOURCE_UIDS.loki,
        access: "proxy",
        url: lokiUrl,
        isDefault: false,
        editable: false,
        // No derivedFields for trace_id: Grafana's internal links from Loki only target tracing
        // data sources, and none is deployed. Add one here together with Tempo.
        jsonData: { maxLines: 1000 },
      },
      {
        // Name and uid predate Grafana's own role. They stay: provisioning looks the existing source
        // up by name, so a rename risks a second insert under the same uid.
        name: "PostgreSQL (read-only)",
        type: DATASOURCE_TYPES.postgres,
        uid: DATASOURCE_UIDS.postgres,
        access: "proxy",
        url: address,
        user: pg.user,
        isDefault: false,
        editable: false,
        jsonData: {
          database: pg.database,
          sslmode,
          // 1000 = "10+" in the provisioning docs; it only selects query-builder functions.
          postgresVersion: 1000,
          timescaledb: false,
          // Dashboards need a few connections; keep Grafana from taking max_connections' share.
          maxOpenConns: 5,
          maxIdleConns: 2,
          maxIdleConnsAuto: false,
          connMaxLifetime: 14400,
        },
        secureJsonData: { password: `$__file{${pg.passwordFile}}` },
      },
    ],
  };
  const header = [
    "# Generated by constructs/renderers/grafana.ts: change the input, not this file.",
    "# Secrets are $__file{} references, expanded by Grafana when it reads this file.",
    sslmode === "disable"
      ? "# PostgreSQL sslmode disable: the connection never leaves the internal Docker network, where Postgres has no TLS certificate."
      : `# PostgreSQL sslmode ${sslmode}.`,
  ];
  return `${header.join("\n")}\n${stringify(file, { lineWidth: 0 })}`;
}

// ---------------------------------------------------------------------------------------------
// Dashboard provider
// ---------------------------------------------------------------------------------------------

export interface GrafanaDashboardProviderInput {
  /** @default "/etc/grafana/dashboards" */
  readonly path?: string;
  /** @default "UpdateIO" */
  readonly folder?: string;
}

/**
 * provisioning/dashboards/dashboards.yaml: one file provider. Dashboards are code: the UI cannot
 * save over them (allowUiUpdates false) nor delete them (disableDeletion true); change the
 * renderer instead.
 */
export function renderDashboardProvider(input: GrafanaDashboardProviderInput = {}): string {
  const path = input.path ?? GRAFANA_PATHS.dashboards;
  const folder = input.folder ?? "UpdateIO";
  const problems: string[] = [];
  if (!/^\/[A-Za-z0-9._/-]*$/.test(path) || path.includes("..")) {
    problems.push(`path ${JSON.stringify(path)} must be an absolute path without ".." or spaces, e.g. "/etc/grafana/dashboards".`);
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$/.test(folder)) {
    problems.push(`folder ${JSON.stringify(folder)} must be 1-40 letters, digits, spaces, ".", "_" or "-", e.g. "UpdateIO".`);
  }
  fail("Grafana dashboard provider", problems);
  const file = {
    apiVersion: 1,
    providers: [
      {
        name: "updateio",
        orgId: 1,
        folder,
        folderUid: "updateio",
        type: "file",
        disableDeletion: true,
        allowUiUpdates: false,
        updateIntervalSeconds: 60,
        options: { path, foldersFromFilesStructure: false },
      },
    ],
  };
  return `# Generated by constructs/renderers/grafana.ts: change the input, not this file.\n${stringify(file, { lineWidth: 0 })}`;
}

// ---------------------------------------------------------------------------------------------
// Dashboards
// ---------------------------------------------------------------------------------------------

export interface GrafanaDashboardsInput {
  /**
   * The environment the dashboards show: the value of the io.updateio.environment container
   * label (cAdvisor) and of Loki's `environment` label, e.g. "prod". Exporter metrics need no
   * filter: each environment has its own Prometheus.
   */
  readonly environment: string;
  /** Default time range. @default "now-6h" */
  readonly timeFrom?: string;
  /** Auto-refresh. @default "1m" */
  readonly refresh?: string;
}

type DatasourceRef = { readonly type: string; readonly uid: string };
const PROMETHEUS: DatasourceRef = { type: DATASOURCE_TYPES.prometheus, uid: DATASOURCE_UIDS.prometheus };
const LOKI: DatasourceRef = { type: DATASOURCE_TYPES.loki, uid: DATASOURCE_UIDS.loki };
const POSTGRES: DatasourceRef = { type: DATASOURCE_TYPES.postgres, uid: DATASOURCE_UIDS.postgres };

type Query =
  | { readonly ds: "prometheus"; readonly expr: string; readonly legend?: string; readonly instant?: boolean }
  | { readonly ds: "loki"; readonly expr: string; readonly legend?: string }
  | { readonly ds: "postgres"; readonly sql: string };

const prom = (expr: string, legend?: string): Query => ({ ds: "prometheus", expr, legend });
const promInstant = (expr: string, legend?: string): Query => ({ ds: "prometheus", expr, legend, instant: true });
const logql = (expr: string, legend?: string): Query => ({ ds: "loki", expr, legend });
const sql = (text: string): Query => ({ ds: "postgres", sql: text });

interface PanelSpec {
  readonly title: string;
  readonly type: "timeseries" | "stat" | "table" | "logs";
  readonly w: number;
  readonly h: number;
  readonly queries: readonly Query[];
  readonly description?: string;
  readonly unit?: string;
  readonly min?: number;
  readonly max?: number;
  /** Ascending thresholds after the green base, e.g. [[0.8, "orange"], [0.9, "red"]]. */
  readonly thresholds?: readonly (readonly [number, string])[];
  /** Value → [text, colour] mappings for stat panels (e.g. 1 → "ok"). */
  readonly mappings?: Readonly<Record<string, readonly [string, string]>>;
}

interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly tags: readonly string[];
  readonly panels: readonly PanelSpec[];
}

/**
 * Five dashboards (file name → JSON text), provisioned read-only into the UpdateIO folder. Panels
 * are laid out left to right in rows of 24 columns with ids 1..n, so the output is stable.
 */
export function renderDashboards(input: GrafanaDashboardsInput): Record<string, string> {
  const problems: string[] = [];
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(input.environment)) {
    problems.push(`environment ${JSON.stringify(input.environment)} must be a lowercase name (letters, digits, "-"), e.g. "prod".`);
  }
  const timeFrom = input.timeFrom ?? "now-6h";
  if (!/^now-[1-9]\d*[mhdw]$/.test(timeFrom)) {
    problems.push(`timeFrom ${JSON.stringify(timeFrom)} must look like "now-6h" (minutes, hours, days or weeks).`);
  }
  const refresh = input.refresh ?? "1m";
  if (!/^[1-9]\d*[smh]$/.test(refresh) || (refresh.endsWith("s") && Number(refresh.slice(0, -1)) < 5)) {
    problems.push(`refresh ${JSON.stringify(refresh)} must be 5s or longer, e.g. "1m" (Grafana's min_refresh_interval is 5s).`);
  }
  fail("Grafana dashboards", problems);

  const out: Record<string, string> = {};
  for (const spec of [platformDashboard(), postgresDashboard(), redisDashboard(), rabbitmqDashboard(), apiDashboard()]) {
    out[`${spec.uid}.json`] = `${JSON.stringify(dashboardJson(spec, input.environment, timeFrom, refresh), null, 2)}\n`;
  }
  return sortKeys(out);
}

// Selector helpers: one place that knows the label names.
const job = (name: ScrapeJob) => `job="${name}"`;
const containers = `${CADVISOR_LABELS.environment}="$env", name!=""`;
const logs = (labels: Partial<Record<LogLabel, string>>) =>
  `{${LOG_LABELS.filter((l) => labels[l] !== undefined)
    .map((l) => `${l}${labels[l]}`)
    .join(", ")}}`;
const upMapping = { "0": ["down", "red"], "1": ["up", "green"] } as const;

function platformDashboard(): DashboardSpec {
  return {
    uid: DASHBOARD_UIDS.platform,
    title: "UpdateIO / Platform overview",
    tags: ["updateio", "platform"],
    panels: [
      {
        title: "Scrape targets down",
        type: "stat",
        w: 6,
        h: 4,
        description: "Prometheus targets whose last scrape failed (exporters, cAdvisor, the edge...).",
        queries: [promInstant("count(up == 0) or vector(0)")],
        thresholds: [[1, "red"]],
      },
      {
        title: "Running containers by service",
        type: "stat",
        w: 18,
        h: 4,
        queries: [
          promInstant(`count by (${CADVISOR_LABELS.service}) (container_last_seen{${containers}})`, `{{${CADVISOR_LABELS.service}}}`),
        ],
      },
      {
        title: "CPU by container (cores)",
        type: "timeseries",
        w: 12,
        h: 8,
        queries: [prom(`sum by (name) (rate(container_cpu_usage_seconds_total{${containers}}[$__rate_interval]))`, "{{name}}")],
        unit: "short",
        min: 0,
      },
      {
        title: "Memory working set vs limit",
        type: "timeseries",
        w: 12,
        h: 8,
        description: "Working set is what the kernel counts against the limit; a container without a limit has no limit line.",
        queries: [
          prom(`sum by (name) (container_memory_working_set_bytes{${containers}})`, "{{name}}"),
          prom(`max by (name) (container_spec_memory_limit_bytes{${containers}}) > 0`, "{{name}} limit"),
        ],
        unit: "bytes",
        min: 0,
      },
      {
        title: "Memory used of limit",
        type: "stat",
        w: 12,
        h: 6,
        queries: [
          promInstant(
            `max by (name) (container_memory_working_set_bytes{${containers}}) / (max by (name) (container_spec_memory_limit_bytes{${containers}}) > 0)`,
            "{{name}}",
          ),
        ],
        unit: "percentunit",
        min: 0,
        max: 1,
        thresholds: [
          [0.8, "orange"],
          [0.9, "red"],
        ],
      },
      {
        title: "Container restarts (1h)",
        type: "stat",
        w: 12,
        h: 6,
        description: "Restarts in place (restart policy, OOM kill). A replaced container (deploy) starts a new series and is not counted.",
        queries: [promInstant(`sum by (name) (changes(container_start_time_seconds{${containers}}[1h]))`, "{{name}}")],
        thresholds: [
          [1, "orange"],
          [3, "red"],
        ],
      },
    ],
  };
}

function postgresDashboard(): DashboardSpec {
  const pg = job("postgres");
  const dbs = `${pg}, datname!~"template.*"`;
  return {
    uid: DASHBOARD_UIDS.postgres,
    title: "UpdateIO / PostgreSQL",
    tags: ["updateio", "postgres"],
    panels: [
      {
        title: "Postgres up",
        type: "stat",
        w: 6,
        h: 4,
        queries: [promInstant(`min by (instance) (pg_up{${pg}})`, "{{instance}}")],
        mappings: upMapping,
      },
      {
        title: "Last successful backup age",
        type: "stat",
        w: 6,
        h: 4,
        description: "Seconds since the last backup run that succeeded (textfile metrics of the backup scheduler).",
        queries: [promInstant(`time() - max(updateio_backup_last_success_timestamp_seconds{${job("node")}})`)],
        unit: "s",
        thresholds: [
          [26 * 3600, "orange"],
          [50 * 3600, "red"],
        ],
      },
      {
        title: "Last backup run result",
        type: "stat",
        w: 6,
        h: 4,
        queries: [promInstant(`max(updateio_backup_last_run_success{${job("node")}})`)],
        mappings: { "0": ["failed", "red"], "1": ["succeeded", "green"] },
      },
      {
        title: "Last off-site copy result",
        type: "stat",
        w: 6,
        h: 4,
        queries: [promInstant(`max(updateio_backup_offsite_success{${job("node")}})`)],
        mappings: { "0": ["failed", "red"], "1": ["succeeded", "green"] },
      },
      {
        title: "Connections vs max_connections",
        type: "timeseries",
        w: 12,
        h: 8,
        queries: [
          prom(`sum by (instance) (pg_stat_database_numbackends{${pg}})`, "{{instance}} connections"),
          prom(`max by (instance) (pg_settings_max_connections{${pg}})`, "{{instance}} max_connections"),
        ],
        min: 0,
      },
      {
        title: "Replication lag",
        type: "timeseries",
        w: 12,
        h: 8,
        description: "Time since the last transaction a replica replayed; on an idle primary this grows although nothing is missing.",
        queries: [
          prom(
            `max by (instance) (pg_replication_lag_seconds{${pg}}) and on (instance) (pg_replication_is_replica{${pg}} == 1)`,
            "{{instance}}",
          ),
        ],
        unit: "s",
        min: 0,
      },
      {
        title: "Commits and rollbacks",
        type: "timeseries",
        w: 12,
        h: 8,
        queries: [
          prom(`sum by (datname) (rate(pg_stat_database_xact_commit{${dbs}}[$__rate_interval]))`, "{{datname}} commits"),
          prom(`sum by (datname) (rate(pg_stat_database_xact_rollback{${dbs}}[$__rate_interval]))`, "{{datname}} rollbacks"),
        ],
        unit: "ops",
        min: 0,
      },
      {
        title: "Database size",
        type: "timeseries",
        w: 12,
        h: 8,
        queries: [prom(`max by (datname) (pg_database_size_bytes{${dbs}})`, "{{datname}}")],
        unit: "bytes",
        min: 0,
      },
      {
        title: "Sessions by state (pg_stat_activity)",
        type: "table",
        w: 24,
        h: 8,
        description: `Client sessions of every role, read live through ${GRAFANA_PG_STATS.sessionStates}(): states only, never query text.`,
        queries: [
          sql(
            [
              "SELECT datname AS database, usename AS role, coalesce(state, 'unknown') AS state, count(*) AS sessions",
              // Grafana's role has no pg_read_all_stats (it would show every query's text); this
              // function returns the states of every session and nothing else (renderGrafanaRoleSql).
              `FROM ${GRAFANA_PG_STATS.sessionStates}()`,
              "WHERE datname IS NOT NULL AND backend_type = 'client backend'",
              "GROUP BY 1, 2, 3",
              "ORDER BY sessions DESC, database, role, state",
            ].join("\n"),
          ),
        ],
      },
    ],
  };
}

function redisDashboard(): DashboardSpec {
  const r = job("redis");
  const rate = (metric: string) => `sum by (instance) (rate(${metric}{${r}}[$__rate_interval]))`;
  return {
    uid: DASHBOARD_UIDS.redis,
    title: "UpdateIO / Redis",
    tags: ["updateio", "redis"],
    panels: [
      {
        title: "Redis up",
        type: "stat",
        w: 12,
        h: 4,
        queries: [promInstant(`min by (instance) (redis_up{${r}})`, "{{instance}}")],
        mappings: upMapping,
      },
      {
        title: "Connected clients",
        type: "stat",
        w: 12,
        h: 4,
        queries: [promInstant(`max by (instance) (redis_connected_clients{${r}})`, "{{instance}}")],
      },
      {
        title: "Memory used vs maxmemory",
        type: "timeseries",
        w: 12,
        h: 8,
        description: "The state instance runs noeviction: at maxmemory its writes fail instead of evicting.",
        queries: [
          prom(`max by (instance) (redis_memory_used_bytes{${r}})`, "{{instance}} used"),
          prom(`max by (instance) (redis_memory_max_bytes{${r}}) > 0`, "{{instance}} maxmemory"),
        ],
        unit: "bytes",
        min: 0,
      },
      {
        title: "Evictions",
        type: "timeseries",
        w: 12,
        h: 8,
        queries: [prom(rate("redis_evicted_keys_total"), "{{instance}}")],
        unit: "ops",
        min: 0,
      },
      {
        title: "Hit rate",
        type: "timeseries",
        w: 12,
        h: 8,
        description: "hits / (hits + misses) of key lookups; no value while there are no lookups.",
        queries: [
          prom(
            `${rate("redis_keyspace_hits_total")} / ((${rate("redis_keyspace_hits_total")} + ${rate("redis_keyspace_misses_total")}) > 0)`,
            "{{instance}}",
          ),
        ],
        unit: "percentunit",
        min: 0,
        max: 1,
      },
      {
        title: "Commands per second",
        type: "timeseries",
        w: 12,
        h: 8,
        queries: [prom(rate("redis_commands_processed_total"), "{{instance}}")],
        unit: "ops",
        min: 0,
      },
    ],
  };
}

function rabbitmqDashboard(): DashboardSpec {
  const q = job("rabbitmq");
  return {
    uid: DASHBOARD_UIDS.rabbitmq,
    title: "UpdateIO / RabbitMQ",
    tags: ["updateio", "rabbitmq"],
    panels: [
      {
        title: "Queues without consumers",
        type: "stat",
        w: 8,
        h: 4,
        queries: [promInstant(`count(sum by (queue) (rabbitmq_queue_consumers{${q}}) == 0) or vector(0)`)],
        thresholds: [[1, "orange"]],
      },
      {
        title: "Memory alarm",
        type: "stat",
        w: 8,
        h: 4,
        description: "While a memory or disk alarm is on, RabbitMQ blocks every publishing connection.",
        queries: [promInstant(`max(rabbitmq_alarms_memory_used_watermark{${q}})`)],
        mappings: { "0": ["ok", "green"], "1": ["ALARM", "red"] },
      },
      {
        title: "Disk alarm",
        type: "stat",
        w: 8,
        h: 4,
        queries: [promInstant(`max(rabbitmq_alarms_free_disk_space_watermark{${q}})`)],
        mappings: { "0": ["ok", "green"], "1": ["ALARM", "red"] },
      },
      {
        title: "Ready messages per queue",
        type: "timeseries",
        w: 12,
        h: 8,
        queries: [prom(`sum by (queue) (rabbitmq_queue_messages_ready{${q}})`, "{{queue}}")],
        min: 0,
      },
      {
        title: "Unacknowledged messages per queue",
        type: "timeseries",
        w: 12,
        h: 8,
        queries: [prom(`sum by (queue) (rabbitmq_queue_messages_unacked{${q}})`, "{{queue}}")],
        min: 0,
      },
      {
        title: "Consumers per queue",
        type: "timeseries",
        w: 12,
        h: 8,
        queries: [prom(`sum by (queue) (rabbitmq_queue_consumers{${q}})`, "{{queue}}")],
        min: 0,
      },
      {
        title: "Publish rate per queue",
        type: "timeseries",
        w: 12,
        h: 8,
        queries: [prom(`sum by (queue) (rate(rabbitmq_queue_messages_published_total{${q}}[$__rate_interval]))`, "{{queue}}")],
        unit: "ops",
        min: 0,
      },
    ],
  };
}

function apiDashboard(): DashboardSpec {
  const api = logs({ environment: `="$env"`, service: `="api"` });
  // `level` is a stream label (the shipper lifts it from the JSON line), so it is filtered in the
  // selector: `| json` would rename the parsed copy to level_extracted anyway. Request lines carry
  // a numeric `status`; `__error__=""` drops lines that are not JSON or have no numeric status
  // (a failed numeric comparison keeps the line and only marks it with __error__).
  const requests = `${api} | json | status >= 100 | __error__=""`;
  // No handler filter: Caddy 2.6 counts routed requests under the site's subroute, not
  // reverse_proxy (seen on a real caddy in caddyfile.test.ts); ratios hold either way.
  const edge = job("edge");
  return {
    uid: DASHBOARD_UIDS.api,
    title: "UpdateIO / API",
    tags: ["updateio", "api"],
    panels: [
      {
        title: "API requests per second (from logs)",
        type: "timeseries",
        w: 12,
        h: 8,
        queries: [logql(`sum(rate(${requests} [5m]))`, "requests/s")],
        unit: "reqps",
        min: 0,
      },
      {
        title: "API 5xx responses (from logs, per 5m)",
        type: "timeseries",
        w: 12,
        h: 8,
        queries: [logql(`sum(count_over_time(${api} | json | status >= 500 | __error__="" [5m]))`, "5xx")],
        min: 0,
      },
      {
        title: "API log lines by level (per 5m)",
        type: "timeseries",
        w: 12,
        h: 8,
        queries: [logql(`sum by (level) (count_over_time(${api} [5m]))`, "{{level}}")],
        min: 0,
      },
      {
        title: "API error log lines by component (per 5m)",
        type: "timeseries",
        w: 12,
        h: 8,
        queries: [
          logql(
            `sum by (component) (count_over_time(${logs({ environment: `="$env"`, service: `="api"`, level: `="error"` })} [5m]))`,
            "{{component}}",
          ),
        ],
        min: 0,
      },
      {
        title: "Edge 5xx responses per second (Caddy)",
        type: "timeseries",
        w: 12,
        h: 8,
        description: "All hosts behind the edge: Caddy's metrics carry no host label unless per_host metrics are on.",
        queries: [
          prom(`sum by (code) (rate(caddy_http_request_duration_seconds_count{${edge}, code=~"5.."}[$__rate_interval]))`, "{{code}}"),
        ],
        unit: "reqps",
        min: 0,
      },
      {
        title: "Edge 5xx ratio (Caddy)",
        type: "stat",
        w: 12,
        h: 8,
        queries: [
          promInstant(
            `sum(rate(caddy_http_request_duration_seconds_count{${edge}, code=~"5.."}[5m])) / (sum(rate(caddy_http_request_duration_seconds_count{${edge}}[5m])) > 0)`,
          ),
        ],
        unit: "percentunit",
        thresholds: [
          [0.01, "orange"],
          [0.05, "red"],
        ],
      },
      {
        title: "API logs: errors and warnings",
        type: "logs",
        w: 24,
        h: 12,
        queries: [logql(logs({ environment: `="$env"`, service: `="api"`, level: `=~"error|warn"` }))],
      },
    ],
  };
}

function dashboardJson(spec: DashboardSpec, environment: string, timeFrom: string, refresh: string): object {
  return {
    uid: spec.uid,
    title: spec.title,
    tags: [...spec.tags],
    editable: false,
    graphTooltip: 1,
    schemaVersion: DASHBOARD_SCHEMA_VERSION,
    version: 1,
    time: { from: timeFrom, to: "now" },
    timezone: "browser",
    refresh,
    annotations: { list: [] },
    links: [],
    templating: {
      list: [
        {
          // A constant, hidden: one Grafana per environment, so the value is fixed at synth time.
          type: "constant",
          name: "env",
          label: "Environment",
          query: environment,
          current: { text: environment, value: environment },
          hide: 2,
          skipUrlSync: true,
        },
      ],
    },
    panels: layout(spec.panels).map(({ panel, x, y }, i) => panelJson(panel, i + 1, x, y)),
  };
}

/** Left to right, wrapping at 24 columns; a row is as tall as its tallest panel. */
function layout(panels: readonly PanelSpec[]): { panel: PanelSpec; x: number; y: number }[] {
  const placed: { panel: PanelSpec; x: number; y: number }[] = [];
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const panel of panels) {
    if (panel.w < 1 || panel.w > 24) throw new Error(`panel "${panel.title}" width ${panel.w} must be 1..24`);
    if (x + panel.w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    placed.push({ panel, x, y });
    x += panel.w;
    rowHeight = Math.max(rowHeight, panel.h);
  }
  return placed;
}

function panelJson(p: PanelSpec, id: number, x: number, y: number): object {
  const refs = { prometheus: PROMETHEUS, loki: LOKI, postgres: POSTGRES } as const;
  const kinds = new Set(p.queries.map((q) => q.ds));
  if (kinds.size !== 1) throw new Error(`panel "${p.title}" mixes data sources; use one per panel`);
  const datasource = refs[p.queries[0]!.ds];
  const defaults: Record<string, unknown> = {};
  if (p.unit !== undefined) defaults.unit = p.unit;
  if (p.min !== undefined) defaults.min = p.min;
  if (p.max !== undefined) defaults.max = p.max;
  if (p.type !== "logs") {
    defaults.thresholds = {
      mode: "absolute",
      steps: [{ color: "green", value: null }, ...(p.thresholds ?? []).map(([value, color]) => ({ color, value }))],
    };
  }
  if (p.mappings !== undefined) {
    defaults.mappings = [
      {
        type: "value",
        options: Object.fromEntries(Object.entries(p.mappings).map(([value, [text, color]], index) => [value, { text, color, index }])),
      },
    ];
  }
  return {
    id,
    type: p.type,
    title: p.title,
    ...(p.description !== undefined ? { description: p.description } : {}),
    datasource,
    gridPos: { h: p.h, w: p.w, x, y },
    targets: p.queries.map((q, i) => targetJson(q, String.fromCharCode(65 + i), refs[q.ds])),
    fieldConfig: { defaults, overrides: [] },
    options: panelOptions(p.type),
  };
}

function targetJson(q: Query, refId: string, datasource: DatasourceRef): object {
  switch (q.ds) {
    case "prometheus":
      return {
        refId,
        datasource,
        editorMode: "code",
        expr: q.expr,
        legendFormat: q.legend ?? "__auto",
        range: q.instant !== true,
        instant: q.instant === true,
      };
    case "loki":
      return { refId, datasource, editorMode: "code", expr: q.expr, legendFormat: q.legend ?? "", queryType: "range" };
    case "postgres":
      return { refId, datasource, editorMode: "code", format: "table", rawQuery: true, rawSql: q.sql };
  }
}

function panelOptions(type: PanelSpec["type"]): object {
  switch (type) {
    case "timeseries":
      return { legend: { displayMode: "list", placement: "bottom", showLegend: true }, tooltip: { mode: "multi", sort: "desc" } };
    case "stat":
      return {
        colorMode: "value",
        graphMode: "none",
        justifyMode: "auto",
        orientation: "auto",
        reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
        textMode: "auto",
      };
    case "table":
      return { cellHeight: "sm", showHeader: true };
    case "logs":
      return {
        dedupStrategy: "none",
        enableLogDetails: true,
        prettifyLogMessage: false,
        showCommonLabels: false,
        showLabels: false,
        showTime: true,
        sortOrder: "Descending",
        wrapLogMessage: true,
      };
  }
}

// ---------------------------------------------------------------------------------------------
// Validation helpers
// ---------------------------------------------------------------------------------------------

function fail(what: string, problems: readonly string[]): void {
  if (problems.length > 0) {
    throw new Error(
      `Invalid ${what} input (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
}

function checkPort(problems: string[], key: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    problems.push(`${key} ${String(port)} is not a port: use an integer in 1..65535.`);
}

/** An absolute file path that `$__file{}` and the image's `__FILE` loop can both read unchanged. */
function checkSecretPath(problems: string[], key: string, path: string): void {
  if (!/^\/[A-Za-z0-9._/-]+$/.test(path) || path.includes("..") || path.endsWith("/")) {
    problems.push(
      `${key} ${JSON.stringify(path)} must be an absolute file path of letters, digits, ".", "_", "-" and "/" (no "..", spaces, "$" or braces), e.g. "/run/secrets/grafana_admin_password".`,
    );
  }
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]|[a-z0-9.-]+\.localhost)$/;

function checkRootUrl(problems: string[], value: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`rootUrl ${JSON.stringify(value)} is not a URL: write e.g. "https://grafana.example.com/" or "http://127.0.0.1:3000/".`);
    return undefined;
  }
  const before = problems.length;
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    problems.push(`rootUrl ${JSON.stringify(value)} must use https (or http on a loopback host).`);
  } else if (url.protocol === "http:" && !LOOPBACK.test(url.hostname)) {
    problems.push(
      `rootUrl ${JSON.stringify(value)} uses http on a non-loopback host: serve it through the edge proxy as "https://${url.host}${url.pathname}" so session cookies stay encrypted.`,
    );
  }
  if (url.username !== "" || url.password !== "") problems.push(`rootUrl must not contain credentials: remove "user:password@".`);
  if (url.search !== "" || url.hash !== "")
    problems.push(`rootUrl ${JSON.stringify(value)} must not have a query or fragment: give the base URL only.`);
  if (!/^\/([a-z0-9._-]+\/?)*$/.test(url.pathname)) {
    problems.push(`rootUrl path ${JSON.stringify(url.pathname)} must be "/" or lowercase segments such as "/grafana/".`);
  }
  return problems.length === before ? url : undefined;
}

function checkServiceUrl(problems: string[], key: string, value: string, example: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (
    url === undefined ||
    (url.protocol !== "http:" && url.protocol !== "https:") ||
    url.username !== "" ||
    url.password !== "" ||
    url.search !== "" ||
    url.hash !== ""
  ) {
    problems.push(`${key} ${JSON.stringify(value)} must be an http(s) URL without credentials, query or fragment, e.g. "${example}".`);
  }
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
