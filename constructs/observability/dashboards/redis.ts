// Redis: availability, memory against maxmemory, evictions, hit rate and load (redis_exporter).
import { DASHBOARD_UIDS, job, prom, promInstant, upMapping, type DashboardSpec } from "./panels";

const r = job("redis");
const rate = (metric: string) => `sum by (instance) (rate(${metric}{${r}}[$__rate_interval]))`;
export const REDIS_DASHBOARD: DashboardSpec = {
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
