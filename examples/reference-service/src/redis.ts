import { Redis } from "ioredis";
import type { RedisConfig } from "./config";

/**
 * With Sentinels, the master is whatever they name: ioredis asks them, checks the answer with ROLE
 * and asks again after a failover. REDIS_HOST is never used then (it does not follow a failover).
 */
export function createRedis(config: RedisConfig): Redis {
  const common = { maxRetriesPerRequest: 3, connectTimeout: 5_000, lazyConnect: true };
  if (config.kind === "url") return new Redis(config.url, common);
  return new Redis({
    ...common,
    sentinels: config.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: config.masterName,
    role: "master",
    sentinelUsername: config.sentinelUser,
    sentinelPassword: config.sentinelPassword,
    username: config.user,
    password: config.password,
  });
}

export const SESSION_TTL_SECONDS = 3600;
export const RATE_WINDOW_SECONDS = 60;
