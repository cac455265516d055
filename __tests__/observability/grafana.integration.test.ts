import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import {
  DASHBOARD_SCHEMA_VERSION,
  DASHBOARD_UIDS,
  DATASOURCE_TYPES,
  grafanaEnv,
  renderDashboardProvider,
  renderDashboards,
  renderDatasources,
  type GrafanaDatasourcesInput,
} from "../../constructs/observability/renderers/grafana";
import {
  APP_LOG_FIELDS,
  CADVISOR_LABELS,
  DATASOURCE_UIDS,
  LOG_LABELS,
  knownMetricNames,
} from "../../constructs/observability/renderers/observability-catalogue";
import { describeIfBinary } from "../support/binaries";
import { promqlIdentifiers } from "../support/promql";
import { explain, promtool } from "../support/promtool";

// Grafana is not packaged for Debian and cannot be installed here (docs/architecture.md), so everything
// below except the promtool block checks the rendered files against Grafana's documented keys and our
// observability contract; whether Grafana 12 accepts them is proven only by running it.
const NOT_PROVEN = "structural: Grafana 12 itself is not installed here, so its acceptance is not proven";

const dsInput: GrafanaDatasourcesInput = {
  postgres: { database: "updateio", user: "updateio_readonly", passwordFile: "/run/secrets/grafana_postgres_password" },
};

interface Target {
  refId: string;
  datasource: { type: string; uid: string };
  expr?: string;
  rawSql?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  editable: boolean;
  templating: { list: { type: string; name: string; query: string; hide: number }[] };
  panels: Panel[];
}

const dashboards = renderDashboards({ environment: "prod" });
const parsed: Dashboard[] = Object.values(dashboards).map((text) => JSON.parse(text) as Dashboard);
const byUid = new Map(parsed.map((d) => [d.uid, d]));
const allTargets = parsed.flatMap((d) => d.panels.flatMap((p) => p.targets.map((t) => ({ dashboard: d.uid, panel: p.title, target: t }))));
const promExprs = allTargets
  .filter((t) => t.target.datasource.type === DATASOURCE_TYPES.prometheus)
  .map((t) => ({ ...t, expr: t.target.expr! }));
const lokiExprs = allTargets.filter((t) => t.target.datasource.type === DATASOURCE_TYPES.loki).map((t) => ({ ...t, expr: t.target.expr! }));

describe(`grafanaEnv (${NOT_PROVEN})`, () => {
  const env = grafanaEnv({ rootUrl: "https://grafana.example.com" });

  it("turns off anonymous access, self sign-up and organization creation", () => {
    expect(env.GF_AUTH_ANONYMOUS_ENABLED).toBe("false");
    expect(env.GF_USERS_ALLOW_SIGN_UP).toBe("false");
    expect(env.GF_USERS_ALLOW_ORG_CREATE).toBe("false");
  });

  it("gives the admin password and secret key only as __FILE paths under /run/secrets, never as values", () => {
    expect(env.GF_SECURITY_ADMIN_PASSWORD__FILE).toBe("/run/secrets/grafana_admin_password");
    expect(env.GF_SECURITY_SECRET_KEY__FILE).toBe("/run/secrets/grafana_secret_key");
    expect(env).not.toHaveProperty("GF_SECURITY_ADMIN_PASSWORD");
    expect(env).not.toHaveProperty("GF_SECURITY_SECRET_KEY");
    for (const [key, value] of Object.entries(env)) {
      // Anything that names a secret must be a file reference (the image's run.sh reads *__FILE).
      if (/PASSWORD|SECRET|TOKEN|_KEY/.test(key)) {
        expect(key, `${key} carries a secret: only *__FILE is allowed`).toMatch(/__FILE$/);
        expect(value).toMatch(/^\/run\/secrets\/[a-z0-9_]+$/);
      }
    }
  });

  it("is sorted GF_<SECTION>_<KEY> names with string values (deterministic env)", () => {
    const keys = Object.keys(env);
    expect(keys).toEqual([...keys].sort());
    for (const [key, value] of Object.entries(env)) {
      expect(key).toMatch(/^GF_[A-Z0-9_]+$/);
      expect(typeof value).toBe("string");
    }
    expect(grafanaEnv({ rootUrl: "https://grafana.example.com" })).toEqual(env);
  });

  it("serves the public https URL behind the edge with secure cookies, no sub path", () => {
    expect(env.GF_SERVER_ROOT_URL).toBe("https://grafana.example.com/");
    expect(env.GF_SERVER_DOMAIN).toBe("grafana.example.com");
    expect(env.GF_SERVER_SERVE_FROM_SUB_PATH).toBe("false");
    expect(env.GF_SECURITY_COOKIE_SECURE).toBe("true");
  });

  it("turns serve_from_sub_path on for a path, and allows plain http on loopback only (cookie_secure off)", () => {
    const sub = grafanaEnv({ rootUrl: "https://ops.example.com/grafana" });
    expect(sub.GF_SERVER_ROOT_URL).toBe("https://ops.example.com/grafana/");
    expect(sub.GF_SERVER_SERVE_FROM_SUB_PATH).toBe("true");
    const dev = grafanaEnv({ rootUrl: "http://127.0.0.1:3000/" });
    expect(dev.GF_SERVER_ROOT_URL).toBe("http://127.0.0.1:3000/");
    expect(dev.GF_SERVER_DOMAIN).toBe("127.0.0.1");
    expect(dev.GF_SECURITY_COOKIE_SECURE).toBe("false");
  });

  it("keeps data in sqlite on the data volume, provisioning at /etc/grafana/provisioning, JSON console logs", () => {
    expect(env).toMatchObject({
      GF_DATABASE_TYPE: "sqlite3",
      GF_DATABASE_PATH: "grafana.db",
      GF_PATHS_DATA: "/var/lib/grafana",
      GF_PATHS_PROVISIONING: "/etc/grafana/provisioning",
      GF_LOG_MODE: "console",
      GF_LOG_CONSOLE_FORMAT: "json",
    });
  });

  it("calls nothing on the internet: no gravatar, reporting, update checks, plugin preinstall or public snapshots", () => {
    expect(env).toMatchObject({
      GF_SECURITY_DISABLE_GRAVATAR: "true",
      GF_ANALYTICS_REPORTING_ENABLED: "false",
      GF_ANALYTICS_CHECK_FOR_UPDATES: "false",
      GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES: "false",
      GF_PLUGINS_PREINSTALL_DISABLED: "true",
      GF_SNAPSHOTS_EXTERNAL_ENABLED: "false",
    });
  });

  it("reports every bad input at once, each with its key and a fix", () => {
    let message = "";
    try {
      grafanaEnv({
        rootUrl: "http://grafana.example.com/",
        adminUser: "Admin User",
        httpPort: 0,
        adminPasswordFile: "/run/secrets/x",
        secretKeyFile: "/run/secrets/x",
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.match(/\n {2}- /g)).toHaveLength(4);
    expect(message).toMatch(
      /rootUrl .* http on a non-loopback host: serve it through the edge proxy as "https:\/\/grafana\.example\.com\/"/,
    );
    expect(message).toMatch(/adminUser "Admin User" must be/);
    expect(message).toMatch(/httpPort 0 is not a port/);
    expect(message).toMatch(/adminPasswordFile and secretKeyFile are both/);
    expect(() => grafanaEnv({ rootUrl: "https://x.example.com/", adminPasswordFile: "/run/secrets/a}b" })).toThrow(
      /adminPasswordFile "\/run\/secrets\/a\}b" .*\(no "\.\.", spaces, "\$" or braces\)/,
    );
    expect(() => grafanaEnv({ rootUrl: "not a url" })).toThrow(/rootUrl "not a url" is not a URL/);
  });
});

describe(`renderDatasources (${NOT_PROVEN})`, () => {
  const text = renderDatasources(dsInput);
  const file = parse(text) as {
    apiVersion: number;
    deleteDatasources: unknown[];
    datasources: {
      name: string;
      type: string;
      uid: string;
      url: string;
      user?: string;
      isDefault: boolean;
      editable: boolean;
      jsonData: Record<string, unknown>;
      secureJsonData?: Record<string, string>;
    }[];
  };
  const byUidDs = new Map(file.datasources.map((d) => [d.uid, d]));

  it("is apiVersion 1 YAML with no deletions and the three catalogue uids, none editable in the UI", () => {
    expect(file.apiVersion).toBe(1);
    expect(file.deleteDatasources).toEqual([]);
    expect([...byUidDs.keys()].sort()).toEqual(Object.values(DATASOURCE_UIDS).sort());
    expect(file.datasources.every((d) => d.editable === false)).toBe(true);
    expect(file.datasources.filter((d) => d.isDefault).map((d) => d.uid)).toEqual([DATASOURCE_UIDS.prometheus]);
  });

  it("points Prometheus and Loki at their service names", () => {
    expect(byUidDs.get(DATASOURCE_UIDS.prometheus)).toMatchObject({
      type: "prometheus",
      url: "http://prometheus:9090",
      jsonData: { timeInterval: "15s" },
    });
    expect(byUidDs.get(DATASOURCE_UIDS.loki)).toMatchObject({ type: "loki", url: "http://loki:3100" });
  });

  it("configures PostgreSQL as grafana-postgresql-datasource with the read-only role and jsonData.database/sslmode/postgresVersion", () => {
    const pg = byUidDs.get(DATASOURCE_UIDS.postgres)!;
    expect(pg).toMatchObject({
      type: "grafana-postgresql-datasource",
      url: "postgres:5432",
      user: "updateio_readonly",
      jsonData: { database: "updateio", sslmode: "disable", postgresVersion: 1000 },
    });
    expect(text).toMatch(/# PostgreSQL sslmode disable: the connection never leaves the internal Docker network/);
  });

  it("holds no secret: the only secure field is a $__file{} reference, and no other value uses $ (provisioning expands it)", () => {
    for (const ds of file.datasources) {
      for (const [key, value] of Object.entries(ds.secureJsonData ?? {})) {
        expect(`${ds.uid}.${key}=${value}`).toMatch(/^postgres-readonly\.password=\$__file\{\/run\/secrets\/grafana_postgres_password\}$/);
      }
    }
    expect(byUidDs.get(DATASOURCE_UIDS.postgres)!.secureJsonData).toEqual({ password: "$__file{/run/secrets/grafana_postgres_password}" });
    const dollars = text.split("\n").filter((line) => !line.startsWith("#") && line.includes("$"));
    expect(dollars).toEqual(["      password: $__file{/run/secrets/grafana_postgres_password}"]);
  });

  it("reports every bad input at once, each with its key and a fix", () => {
    let message = "";
    try {
      renderDatasources({
        prometheusUrl: "ftp://prometheus",
        lokiUrl: "http://user:pw@loki:3100",
        scrapeInterval: "15",
        postgres: { address: "postgres", database: "Up-Date", user: "ro", passwordFile: "relative/file", sslmode: "prefer" as never },
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.match(/\n {2}- /g)).toHaveLength(7);
    for (const key of [
      "prometheusUrl",
      "lokiUrl",
      "scrapeInterval",
      "postgres.address",
      "postgres.database",
      "postgres.passwordFile",
      "postgres.sslmode",
    ]) {
      expect(message).toContain(`  - ${key} `);
    }
  });
});

describe(`renderDashboardProvider (${NOT_PROVEN})`, () => {
  it("is one read-only file provider for /etc/grafana/dashboards in the UpdateIO folder", () => {
    const file = parse(renderDashboardProvider()) as { apiVersion: number; providers: Record<string, unknown>[] };
    expect(file.apiVersion).toBe(1);
    expect(file.providers).toHaveLength(1);
    expect(file.providers[0]).toMatchObject({
      type: "file",
      folder: "UpdateIO",
      disableDeletion: true,
      allowUiUpdates: false,
      options: { path: "/etc/grafana/dashboards" },
    });
  });

  it("rejects a relative path and an odd folder name together", () => {
    expect(() => renderDashboardProvider({ path: "dashboards", folder: "" })).toThrow(
      /is invalid:\n {2}- [^\n]*path "dashboards"[^\n]*\n {2}- [^\n]*folder ""[^\n]*$/,
    );
  });
});

describe(`renderDashboards (${NOT_PROVEN})`, () => {
  it("renders five JSON files with the fixed, unique uids, Grafana 12's schemaVersion and no UI editing", () => {
    expect(Object.keys(dashboards)).toEqual(
      Object.values(DASHBOARD_UIDS)
        .map((uid) => `${uid}.json`)
        .sort(),
    );
    expect(new Set(parsed.map((d) => d.uid)).size).toBe(5);
    for (const d of parsed) {
      expect(d.schemaVersion).toBe(DASHBOARD_SCHEMA_VERSION);
      expect(d.schemaVersion).toBe(41);
      expect(d.editable).toBe(false);
      expect(d).not.toHaveProperty("id");
    }
  });

  it("gives every dashboard a hidden constant env variable holding the environment", () => {
    for (const d of parsed) {
      expect(d.templating.list).toEqual([expect.objectContaining({ type: "constant", name: "env", query: "prod", hide: 2 })]);
    }
    expect(JSON.parse(renderDashboards({ environment: "test" })["updateio-api.json"]!).templating.list[0].query).toBe("test");
  });

  it("has the panels the issue asks for on each dashboard (by title)", () => {
    const required: Record<string, string[]> = {
      [DASHBOARD_UIDS.platform]: ["CPU by container (cores)", "Memory working set vs limit", "Container restarts (1h)"],
      [DASHBOARD_UIDS.postgres]: [
        "Connections vs max_connections",
        "Replication lag",
        "Commits and rollbacks",
        "Database size",
        "Last successful backup age",
        "Last backup run result",
        "Sessions by state (pg_stat_activity)",
      ],
      [DASHBOARD_UIDS.redis]: ["Memory used vs maxmemory", "Evictions", "Hit rate", "Connected clients"],
      [DASHBOARD_UIDS.rabbitmq]: [
        "Ready messages per queue",
        "Unacknowledged messages per queue",
        "Consumers per queue",
        "Publish rate per queue",
      ],
      [DASHBOARD_UIDS.api]: [
        "API requests per second (from logs)",
        "API 5xx responses (from logs, per 5m)",
        "API log lines by level (per 5m)",
        "Edge 5xx responses per second (Caddy)",
        "API logs: errors and warnings",
      ],
    };
    for (const [uid, titles] of Object.entries(required)) {
      const have = byUid.get(uid)!.panels.map((p) => p.title);
      for (const title of titles) expect(have, `${uid} lacks "${title}"`).toContain(title);
    }
    // Panel kinds the issue names: a Postgres table, a logs panel, backup stats.
    expect(byUid.get(DASHBOARD_UIDS.postgres)!.panels.find((p) => p.title.startsWith("Sessions"))).toMatchObject({
      type: "table",
      datasource: { uid: DATASOURCE_UIDS.postgres },
    });
    expect(byUid.get(DASHBOARD_UIDS.api)!.panels.find((p) => p.type === "logs")).toMatchObject({
      datasource: { uid: DATASOURCE_UIDS.loki },
    });
  });

  it("uses unique panel ids and refIds, and non-overlapping gridPos inside 24 columns", () => {
    for (const d of parsed) {
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size, d.uid).toBe(ids.length);
      for (const p of d.panels) {
        expect(
          p.gridPos.x >= 0 && p.gridPos.y >= 0 && p.gridPos.w > 0 && p.gridPos.h > 0 && p.gridPos.x + p.gridPos.w <= 24,
          `${d.uid} ${p.title}`,
        ).toBe(true);
        const refIds = p.targets.map((t) => t.refId);
        expect(new Set(refIds).size).toBe(refIds.length);
        expect(p.targets.length).toBeGreaterThan(0);
      }
      for (let i = 0; i < d.panels.length; i++) {
        for (let j = i + 1; j < d.panels.length; j++) {
          const a = d.panels[i]!.gridPos;
          const b = d.panels[j]!.gridPos;
          const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
          expect(overlap, `${d.uid}: "${d.panels[i]!.title}" overlaps "${d.panels[j]!.title}"`).toBe(false);
        }
      }
    }
  });

  it("references only data sources that datasources.yaml provisions, by { type, uid }", () => {
    const provisioned = new Map(
      (parse(renderDatasources(dsInput)) as { datasources: { uid: string; type: string }[] }).datasources.map((d) => [d.uid, d.type]),
    );
    const refs = parsed.flatMap((d) => d.panels.flatMap((p) => [p.datasource, ...p.targets.map((t) => t.datasource)]));
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      expect(Object.keys(ref).sort()).toEqual(["type", "uid"]);
      expect(provisioned.get(ref.uid), `unknown data source uid ${ref.uid}`).toBe(ref.type);
    }
    // The panel's data source is the one its queries use.
    for (const d of parsed) for (const p of d.panels) for (const t of p.targets) expect(t.datasource).toEqual(p.datasource);
  });

  it("uses only metric names from the observability catalogue in every PromQL expression", () => {
    const known = knownMetricNames();
    expect(promExprs.length).toBeGreaterThan(20);
    for (const { dashboard, panel, expr } of promExprs) {
      const { metrics, functions } = promqlIdentifiers(expr);
      expect(metrics.length, `${dashboard} "${panel}": no metric found in ${expr}`).toBeGreaterThan(0);
      for (const name of metrics) expect(known.has(name), `${dashboard} "${panel}": unknown metric ${name} in ${expr}`).toBe(true);
      for (const fn of functions) expect(PROMQL_FUNCTIONS.has(fn), `${dashboard} "${panel}": unknown function ${fn}`).toBe(true);
    }
  });

  it("filters every cAdvisor query by the environment label, and uses only catalogue scrape jobs", () => {
    for (const { expr } of promExprs.filter((e) => /\bcontainer_/.test(e.expr))) {
      const selectors = [...expr.matchAll(/\bcontainer_[a-z_]+\{([^}]*)\}/g)];
      expect(selectors.length).toBeGreaterThan(0);
      for (const s of selectors) expect(s[1]).toContain(`${CADVISOR_LABELS.environment}="$env"`);
    }
    for (const { expr } of promExprs) {
      for (const m of expr.matchAll(/\bjob="([^"]+)"/g))
        expect(["postgres", "redis", "rabbitmq", "node", "edge", "cadvisor", "prometheus"]).toContain(m[1]);
    }
  });

  it("selects Loki streams only by LOG_LABELS and filters `| json` fields only by APP_LOG_FIELDS", () => {
    expect(lokiExprs.length).toBeGreaterThanOrEqual(5);
    for (const { dashboard, panel, expr } of lokiExprs) {
      const problems = logqlProblems(expr);
      expect(problems, `${dashboard} "${panel}": ${expr}`).toEqual([]);
      expect(expr, "every API stream selector pins the environment").toMatch(/\{environment="\$env", service="api"/);
    }
  });

  it("checks are not vacuous: the extractors reject an unknown metric, label and field", () => {
    expect(promqlIdentifiers('sum by (name) (rate(made_up_total{job="x", le="0.5"}[5m])) / on (name) up offset 5m').metrics).toEqual([
      "made_up_total",
      "up",
    ]);
    expect(promqlIdentifiers("histogram_quantile(0.9, rate(x_bucket[5m]))").functions).toEqual(["histogram_quantile", "rate"]);
    expect(logqlProblems('{environment="$env", pod="x"} | json | statuscode >= 500')).toEqual([
      'stream label "pod" is not in LOG_LABELS',
      'json field filter "statuscode" is not in APP_LOG_FIELDS',
    ]);
    expect(logqlProblems('sum by (user) (count_over_time({service="api"} [5m]))')).toEqual([
      'grouping label "user" is neither a LOG_LABEL nor a parsed APP_LOG_FIELD',
    ]);
  });

  it("reports bad input at once", () => {
    expect(() => renderDashboards({ environment: "Prod env", timeFrom: "yesterday", refresh: "1s" })).toThrow(
      /is invalid:\n {2}- environment "Prod env"[^\n]*\n {2}- timeFrom "yesterday"[^\n]*\n {2}- refresh "1s"[^\n]*$/,
    );
  });
});

// Prometheus' own parser (promtool, Debian's) on every dashboard expression, Grafana's variables
// replaced by what Grafana substitutes ($__rate_interval is a duration, $env the environment).
describeIfBinary("promtool", "the dashboards' PromQL parsed by promtool", () => {
  it("parses every Prometheus expression of the five dashboards", () => {
    const dir = mkdtempSync(join(tmpdir(), "updateio-grafana-promql-"));
    try {
      const rules = promExprs.map(({ expr }, i) => ({
        record: `grafana_dashboard_check_${i}`,
        expr: expr.replaceAll("$__rate_interval", "1m").replaceAll("$env", "prod"),
      }));
      const file = join(dir, "dashboards.rules.yml");
      writeFileSync(file, stringify({ groups: [{ name: "grafana-dashboards", rules }] }));
      const result = promtool(["check", "rules", file]);
      expect(result.status, explain(result)).toBe(0);
      expect(result.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// The Postgres queries of the dashboards and alert rules run on a real PostgreSQL as Grafana's own
// role, taken from the synthesized dev stack: __tests__/postgres/postgres-grafana.integration.test.ts.

// ---------------------------------------------------------------------------------------------
// Conservative query checkers (test-only): strings, label matchers, ranges and grouping lists are
// removed first, so what is left of an identifier is either a function call or a metric name.
// ---------------------------------------------------------------------------------------------

const PROMQL_FUNCTIONS = new Set([
  "sum",
  "min",
  "max",
  "avg",
  "count",
  "stddev",
  "stdvar",
  "topk",
  "bottomk",
  "quantile",
  "count_values",
  "group",
  "rate",
  "irate",
  "increase",
  "delta",
  "idelta",
  "deriv",
  "changes",
  "resets",
  "time",
  "vector",
  "scalar",
  "abs",
  "clamp_min",
  "clamp_max",
  "histogram_quantile",
  "label_replace",
  "absent",
  "absent_over_time",
  "max_over_time",
  "min_over_time",
  "avg_over_time",
  "sum_over_time",
  "count_over_time",
  "last_over_time",
  "timestamp",
  "sort",
  "sort_desc",
  "round",
  "ceil",
  "floor",
]);

const LABEL_SET = new Set<string>(LOG_LABELS);
const FIELD_SET = new Set<string>(Object.values(APP_LOG_FIELDS));

function logqlProblems(expr: string): string[] {
  const problems: string[] = [];
  // Stream selectors: every matcher is label op "value", and nothing else is inside the braces.
  for (const sel of expr.matchAll(/\{([^}]*)\}/g)) {
    const body = sel[1]!;
    const matchers = [...body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"/g)];
    if (body.replace(/([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"/g, "").replace(/[\s,]/g, "") !== "")
      problems.push(`unparsed selector {${body}}`);
    if (matchers.length === 0) problems.push("empty stream selector");
    for (const m of matchers) if (!LABEL_SET.has(m[1]!)) problems.push(`stream label "${m[1]}" is not in LOG_LABELS`);
  }
  const pipeline = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\{[^}]*\}/g, "{}");
  const jsonAt = pipeline.search(/\|\s*json\b/);
  for (const f of pipeline.matchAll(/\|\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|=~|!~|>|<|=)/g)) {
    const name = f[1]!;
    if (name === "__error__") continue;
    const afterJson = jsonAt >= 0 && f.index! > jsonAt;
    if (afterJson && !FIELD_SET.has(name)) problems.push(`json field filter "${name}" is not in APP_LOG_FIELDS`);
    if (!afterJson && !LABEL_SET.has(name)) problems.push(`label filter "${name}" is not in LOG_LABELS`);
  }
  for (const g of pipeline.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const label of g[1]!
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)) {
      if (!LABEL_SET.has(label) && !(jsonAt >= 0 && FIELD_SET.has(label)))
        problems.push(`grouping label "${label}" is neither a LOG_LABEL nor a parsed APP_LOG_FIELD`);
    }
  }
  return problems;
}
