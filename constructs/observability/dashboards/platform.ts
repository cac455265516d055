// Platform overview: scrape health and per-container CPU, memory and restarts (cAdvisor).
import { CADVISOR_LABELS } from "../renderers/observability-catalogue";
import { containers, dashboard, prom, promInstant, stat, timeseries } from "./panels";

export const PLATFORM_DASHBOARD = dashboard("platform", "Platform overview", [
  stat("Scrape targets down", { w: 6, h: 4 }, [promInstant("count(up == 0) or vector(0)")], {
    description: "Prometheus targets whose last scrape failed (exporters, cAdvisor, the edge...).",
    thresholds: [[1, "red"]],
  }),
  stat("Running containers by service", { w: 18, h: 4 }, [
    promInstant(`count by (${CADVISOR_LABELS.service}) (container_last_seen{${containers}})`, `{{${CADVISOR_LABELS.service}}}`),
  ]),
  timeseries(
    "CPU by container (cores)",
    [prom(`sum by (name) (rate(container_cpu_usage_seconds_total{${containers}}[$__rate_interval]))`, "{{name}}")],
    { unit: "short" },
  ),
  timeseries(
    "Memory working set vs limit",
    [
      prom(`sum by (name) (container_memory_working_set_bytes{${containers}})`, "{{name}}"),
      prom(`max by (name) (container_spec_memory_limit_bytes{${containers}}) > 0`, "{{name}} limit"),
    ],
    {
      description: "Working set is what the kernel counts against the limit; a container without a limit has no limit line.",
      unit: "bytes",
    },
  ),
  stat(
    "Memory used of limit",
    { w: 12, h: 6 },
    [
      promInstant(
        `max by (name) (container_memory_working_set_bytes{${containers}}) / (max by (name) (container_spec_memory_limit_bytes{${containers}}) > 0)`,
        "{{name}}",
      ),
    ],
    {
      unit: "percentunit",
      min: 0,
      max: 1,
      thresholds: [
        [0.8, "orange"],
        [0.9, "red"],
      ],
    },
  ),
  stat(
    "Container restarts (1h)",
    { w: 12, h: 6 },
    [promInstant(`sum by (name) (changes(container_start_time_seconds{${containers}}[1h]))`, "{{name}}")],
    {
      description: "Restarts in place (restart policy, OOM kill). A replaced container (deploy) starts a new series and is not counted.",
      thresholds: [
        [1, "orange"],
        [3, "red"],
      ],
    },
  ),
]);
