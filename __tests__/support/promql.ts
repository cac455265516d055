import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderPrometheusRules, type AlertRule } from "../../constructs/observability/renderers/alert-rules";
import { prometheusArgs, renderPrometheusConfig, type ScrapeTarget } from "../../constructs/observability/renderers/prometheus";

/**
 * PromQL identifiers, extracted conservatively for "does this query name a real metric" checks:
 * strings, label matchers, ranges and label lists are removed; every remaining identifier
 * followed by "(" is a function, every other one that is not a keyword is a metric name.
 */

const PROMQL_KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "inf",
  "nan",
]);

/** Metric and function names of a PromQL expression, each sorted and without repeats. */
export function promqlIdentifiers(expr: string): { metrics: string[]; functions: string[] } {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  // Numbers and duration literals ("5m" after offset) are one token each, never a name.
  const tokens = stripped.match(/[a-zA-Z_:][a-zA-Z0-9_:]*|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[a-zA-Z]*|\S/g) ?? [];
  const metrics = new Set<string>();
  const functions = new Set<string>();
  tokens.forEach((token, i) => {
    if (!/^[a-zA-Z_:]/.test(token) || PROMQL_KEYWORDS.has(token.toLowerCase())) return;
    (tokens[i + 1] === "(" ? functions : metrics).add(token);
  });
  return { metrics: [...metrics].sort(), functions: [...functions].sort() };
}

/** One instant-query result of Prometheus' HTTP API. */
export type PromSample = { metric: Record<string, string>; value: [number, string] };

/** An instant query against a running Prometheus at `base` (http://host:port); throws unless it succeeded. */
export async function promQuery(base: string, promql: string): Promise<PromSample[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data: { result: PromSample[] } };
  if (body.status !== "success") throw new Error(`query ${promql} failed: ${JSON.stringify(body)}`);
  return body.data.result;
}

/** An alert as Prometheus' /api/v1/alerts lists it. */
export type PromAlert = { labels: Record<string, string>; state: string };

/** The pending and firing alerts of a running Prometheus at `base`. */
export async function promAlerts(base: string): Promise<PromAlert[]> {
  return ((await (await fetch(`${base}/api/v1/alerts`)).json()) as { data: { alerts: PromAlert[] } }).data.alerts;
}

/**
 * Writes `rules` to <dir>/rules/updateio.yml and a prometheus.yml that loads them, scraping and
 * evaluating every second so a test waits seconds, not minutes; returns the config's path.
 */
export function writeFastPrometheusConfig(dir: string, rules: readonly AlertRule[], scrapeTargets: readonly ScrapeTarget[]): string {
  const rulesDir = join(dir, "rules");
  mkdirSync(rulesDir);
  writeFileSync(join(rulesDir, "updateio.yml"), renderPrometheusRules(rules));
  const configPath = join(dir, "prometheus.yml");
  writeFileSync(
    configPath,
    renderPrometheusConfig({
      environment: "test",
      scrapeInterval: "1s",
      evaluationInterval: "1s",
      ruleFiles: [join(rulesDir, "*.yml")],
      scrapeTargets,
    }),
  );
  return configPath;
}

/** Polls `check` every 250 ms (an error counts as "not yet") until it is true; throws after `seconds`. */
export async function pollUntil(what: string, check: () => Promise<boolean>, seconds = 30): Promise<void> {
  for (let i = 0; i < seconds * 4; i++) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${seconds}s waiting for ${what}`);
}

/** Starts Debian's prometheus with the rendered flags on 127.0.0.1:`port` and waits until /-/ready answers. */
export async function startPrometheus(o: {
  configPath: string;
  storagePath: string;
  port: number;
  retentionDays: number;
}): Promise<ChildProcess> {
  const child = spawn(
    "prometheus",
    prometheusArgs({
      retentionDays: o.retentionDays,
      configPath: o.configPath,
      storagePath: o.storagePath,
      listenAddress: `127.0.0.1:${o.port}`,
    }),
    { stdio: "ignore" },
  );
  await pollUntil("prometheus /-/ready", async () => (await fetch(`http://127.0.0.1:${o.port}/-/ready`)).ok);
  return child;
}

/** SIGTERM, then waits for the exit (nothing when it has already exited). */
export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}
