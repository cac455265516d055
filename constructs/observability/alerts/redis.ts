// Redis: availability, and memory/evictions of the instances that must not lose keys (redis_exporter).
import { pct, type CatalogueContext } from "./context";
import type { AlertRule } from "./types";

/**
 * Label the Redis cache instance's scrape target must carry as `{ redis_role: "cache" }`. The cache
 * role (allkeys-lru) fills up to maxmemory and evicts by design, so the memory and eviction alerts
 * exclude it; every other instance (the noeviction "state" one holding sessions and rate limits, or
 * a target without the label) is watched.
 */
export const REDIS_ROLE_LABEL = "redis_role";

export function redisAlerts({ o }: CatalogueContext): AlertRule[] {
  return [
    {
      name: "RedisDown",
      group: "redis",
      expr: "redis_up == 0",
      for: "1m",
      severity: "critical",
      labels: { service: "redis" },
      summary: "Redis {{ $labels.instance }} is down",
      description:
        "redis_exporter on {{ $labels.instance }} cannot reach its Redis (redis_up is 0): sessions, rate limits and locks are unavailable.",
    },
    {
      name: "RedisMemoryNearLimit",
      group: "redis",
      expr: `redis_memory_used_bytes{${REDIS_ROLE_LABEL}!="cache"} / (redis_memory_max_bytes{${REDIS_ROLE_LABEL}!="cache"} > 0) > ${o.redisMemoryRatio}`,
      for: "5m",
      severity: "critical",
      labels: { service: "redis" },
      summary: "Redis {{ $labels.instance }} is close to maxmemory",
      description: `Redis {{ $labels.instance }} uses more than ${pct(o.redisMemoryRatio)} of its maxmemory. It is a noeviction instance (sessions, rate limits): when full it refuses writes, so logins and rate-limited requests start failing. Raise its memory or find the key growth.`,
    },
    {
      name: "RedisEvictingKeys",
      group: "redis",
      expr: `rate(redis_evicted_keys_total{${REDIS_ROLE_LABEL}!="cache"}[5m]) > 0`,
      for: "0s",
      severity: "critical",
      labels: { service: "redis" },
      summary: "Redis {{ $labels.instance }} is evicting keys",
      description:
        "Redis {{ $labels.instance }} evicted keys in the last 5 minutes. It holds sessions and rate-limit windows and is meant to run with maxmemory-policy noeviction, so any eviction means users were logged out or limits reset: check its maxmemory-policy and memory.",
    },
  ];
}
