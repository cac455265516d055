// Platform overview: scrape health and per-container CPU, memory and restarts (cAdvisor).
import { CADVISOR_LABELS } from "../renderers/observability-catalogue";
import { DASHBOARD_UIDS, containers, prom, promInstant, type DashboardSpec } from "./panels";

export const PLATFORM_DASHBOARD: DashboardSpec = {
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
