// API: request rate, errors and log lines from Loki, plus the edge's 5xx as Caddy counts them.
import { dashboard, job, logql, logs, prom, promInstant, stat, timeseries } from "./panels";

const api = logs({ environment: `="$env"`, service: `="api"` });
// `level` is a stream label (the shipper lifts it from the JSON line), so it is filtered in the
// selector: `| json` would rename the parsed copy to level_extracted anyway. Request lines carry
// a numeric `status`; `__error__=""` drops lines that are not JSON or have no numeric status
// (a failed numeric comparison keeps the line and only marks it with __error__).
const requests = `${api} | json | status >= 100 | __error__=""`;
// No handler filter: Caddy 2.6 counts routed requests under the site's subroute, not
// reverse_proxy (seen on a real caddy in caddyfile.test.ts); ratios hold either way.
const edge = job("edge");
export const API_DASHBOARD = dashboard("api", "API", [
  timeseries("API requests per second (from logs)", [logql(`sum(rate(${requests} [5m]))`, "requests/s")], { unit: "reqps" }),
  timeseries("API 5xx responses (from logs, per 5m)", [
    logql(`sum(count_over_time(${api} | json | status >= 500 | __error__="" [5m]))`, "5xx"),
  ]),
  timeseries("API log lines by level (per 5m)", [logql(`sum by (level) (count_over_time(${api} [5m]))`, "{{level}}")]),
  timeseries("API error log lines by component (per 5m)", [
    logql(
      `sum by (component) (count_over_time(${logs({ environment: `="$env"`, service: `="api"`, level: `="error"` })} [5m]))`,
      "{{component}}",
    ),
  ]),
  timeseries(
    "Edge 5xx responses per second (Caddy)",
    [prom(`sum by (code) (rate(caddy_http_request_duration_seconds_count{${edge}, code=~"5.."}[$__rate_interval]))`, "{{code}}")],
    { description: "All hosts behind the edge: Caddy's metrics carry no host label unless per_host metrics are on.", unit: "reqps" },
  ),
  stat(
    "Edge 5xx ratio (Caddy)",
    { w: 12, h: 8 },
    [
      promInstant(
        `sum(rate(caddy_http_request_duration_seconds_count{${edge}, code=~"5.."}[5m])) / (sum(rate(caddy_http_request_duration_seconds_count{${edge}}[5m])) > 0)`,
      ),
    ],
    {
      unit: "percentunit",
      thresholds: [
        [0.01, "orange"],
        [0.05, "red"],
      ],
    },
  ),
  {
    title: "API logs: errors and warnings",
    type: "logs",
    w: 24,
    h: 12,
    queries: [logql(logs({ environment: `="$env"`, service: `="api"`, level: `=~"error|warn"` }))],
  },
]);
