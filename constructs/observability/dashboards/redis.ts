// Redis: availability, memory against maxmemory, evictions, hit rate and load (redis_exporter).
import { dashboard, job, prom, promInstant, stat, timeseries, upMapping } from "./panels";

const r = job("redis");
const rate = (metric: string) => `sum by (instance) (rate(${metric}{${r}}[$__rate_interval]))`;
export const REDIS_DASHBOARD = dashboard("redis", "Redis", [
  stat("Redis up", { w: 12, h: 4 }, [promInstant(`min by (instance) (redis_up{${r}})`, "{{instance}}")], { mappings: upMapping }),
  stat("Connected clients", { w: 12, h: 4 }, [promInstant(`max by (instance) (redis_connected_clients{${r}})`, "{{instance}}")]),
  timeseries(
    "Memory used vs maxmemory",
    [
      prom(`max by (instance) (redis_memory_used_bytes{${r}})`, "{{instance}} used"),
      prom(`max by (instance) (redis_memory_max_bytes{${r}}) > 0`, "{{instance}} maxmemory"),
    ],
    { description: "The state instance runs noeviction: at maxmemory its writes fail instead of evicting.", unit: "bytes" },
  ),
  timeseries("Evictions", [prom(rate("redis_evicted_keys_total"), "{{instance}}")], { unit: "ops" }),
  timeseries(
    "Hit rate",
    [
      prom(
        `${rate("redis_keyspace_hits_total")} / ((${rate("redis_keyspace_hits_total")} + ${rate("redis_keyspace_misses_total")}) > 0)`,
        "{{instance}}",
      ),
    ],
    { description: "hits / (hits + misses) of key lookups; no value while there are no lookups.", unit: "percentunit", max: 1 },
  ),
  timeseries("Commands per second", [prom(rate("redis_commands_processed_total"), "{{instance}}")], { unit: "ops" }),
]);
