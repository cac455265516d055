// Pure renderers for Grafana (official image grafana/grafana-oss 12.x): container settings as GF_*
// environment variables and provisioning files (data sources, dashboard provider). The dashboards
// themselves are specs in ../dashboards (one file each), rendered here by renderDashboards.
// Grafana is not packaged for Debian, so tests check this output structurally (see docs/architecture.md).
import { stringify } from "yaml";
import { DASHBOARDS, DATASOURCE_TYPES, dashboardJson } from "../dashboards";
import { DATASOURCE_UIDS, SCRAPE_JOBS } from "./observability-catalogue";
import { ValidationError } from "../../contract/errors";

// Defined beside the dashboards that use them; re-exported so this stays the public entry point.
export { DASHBOARD_SCHEMA_VERSION, DASHBOARD_UIDS, DATASOURCE_TYPES } from "../dashboards";

/** Fixed paths inside the Grafana container. */
export const GRAFANA_PATHS = {
  /** The image's own GF_PATHS_PROVISIONING; datasources/ and dashboards/ live below it. */
  provisioning: "/etc/grafana/provisioning",
  /** Where the dashboard JSON files are mounted (read by the file provider below). */
  dashboards: "/etc/grafana/dashboards",
  /** The image's data volume: sqlite database, plugins, sessions. */
  data: "/var/lib/grafana",
} as const;

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
  const { url, adminUser, adminPasswordFile, secretKeyFile, httpPort, logLevel } = checkedEnvInput(input);
  const https = url.protocol === "https:";
  const path = url.pathname.endsWith("/") ? url.pathname : `${url.pathname}/`;
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
    GF_SERVER_DOMAIN: url.hostname,
    GF_SERVER_HTTP_PORT: String(httpPort),
    // Links, redirects and OAuth callbacks are built from root_url, so it must be the public URL.
    // enforce_domain stays off: it would redirect the container healthcheck on 127.0.0.1 too.
    GF_SERVER_ROOT_URL: `${url.protocol}//${url.host}${path}`,
    GF_SERVER_SERVE_FROM_SUB_PATH: String(path !== "/"),
    // "Publish to snapshots.raintank.io" would upload dashboard data to a public service.
    GF_SNAPSHOTS_EXTERNAL_ENABLED: "false",
    // Accounts are created by an admin, never by self sign-up; no extra organizations.
    GF_USERS_ALLOW_ORG_CREATE: "false",
    GF_USERS_ALLOW_SIGN_UP: "false",
  };
  return sortKeys(env);
}

/** grafanaEnv's input with defaults applied; throws with every problem at once. */
function checkedEnvInput(input: GrafanaEnvInput) {
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
  return { url: url!, adminUser, adminPasswordFile, secretKeyFile, httpPort, logLevel };
}

// ---------------------------------------------------------------------------------------------
// Data sources
// ---------------------------------------------------------------------------------------------

export interface GrafanaDatasourcesInput {
  /**
   * Provision the Prometheus data source. false: a logs-only Grafana (observability profile "logs"),
   * where Loki is the default source.
   * @default true
   */
  readonly prometheus?: boolean;
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
  const { prometheusUrl, lokiUrl, scrapeInterval, address, sslmode } = checkedDatasourcesInput(input);
  const withPrometheus = input.prometheus ?? true;
  const prometheus = [
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
  ];
  const file = {
    apiVersion: 1,
    deleteDatasources: [],
    prune: true,
    datasources: [
      ...(withPrometheus ? prometheus : []),
      {
        name: "Loki",
        type: DATASOURCE_TYPES.loki,
        uid: DATASOURCE_UIDS.loki,
        access: "proxy",
        url: lokiUrl,
        isDefault: !withPrometheus,
        editable: false,
        // No derivedFields for trace_id: Grafana's internal links from Loki only target tracing
        // data sources, and none is deployed. Add one here together with Tempo.
        jsonData: { maxLines: 1000 },
      },
      postgresDatasource(input.postgres, address, sslmode),
    ],
  };
  // The first line keeps the file's old path on purpose: changing it would change the uploaded file.
  const header = [
    "# Generated by constructs/observability/renderers/grafana.ts: change the input, not this file.",
    "# Secrets are $__file{} references, expanded by Grafana when it reads this file.",
    sslmode === "disable"
      ? "# PostgreSQL sslmode disable: the connection never leaves the internal Docker network, where Postgres has no TLS certificate."
      : `# PostgreSQL sslmode ${sslmode}.`,
  ];
  return `${header.join("\n")}\n${stringify(file, { lineWidth: 0 })}`;
}

/** renderDatasources' input with defaults applied; throws with every problem at once. */
function checkedDatasourcesInput(input: GrafanaDatasourcesInput) {
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
  return { prometheusUrl, lokiUrl, scrapeInterval, address, sslmode };
}

function postgresDatasource(pg: GrafanaDatasourcesInput["postgres"], address: string, sslmode: string): object {
  return {
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
  };
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
  return `# Generated by constructs/observability/renderers/grafana.ts: change the input, not this file.\n${stringify(file, { lineWidth: 0 })}`;
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

/**
 * The dashboards of ../dashboards (file name → JSON text), provisioned read-only into the UpdateIO
 * folder. Panels are laid out left to right in rows of 24 columns with ids 1..n, so the output is stable.
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
  for (const spec of DASHBOARDS) {
    out[`${spec.uid}.json`] = `${JSON.stringify(dashboardJson(spec, input.environment, timeFrom, refresh), null, 2)}\n`;
  }
  return sortKeys(out);
}

// ---------------------------------------------------------------------------------------------
// Validation helpers
// ---------------------------------------------------------------------------------------------

function fail(what: string, problems: readonly string[]): void {
  if (problems.length > 0) {
    throw new ValidationError(`${what} input`, problems);
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
