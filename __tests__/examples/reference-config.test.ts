import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../examples/reference-service/src/config";

const files: Record<string, string> = {
  "/run/secrets/database_url":
    "postgresql://updateio_app:pw@postgres-pooler:6432/updateio?schema=public&pgbouncer=true&connection_limit=20\n",
  "/run/secrets/redis_password": "redispw",
  "/run/secrets/redis_sentinel_password": "sentpw",
  "/run/secrets/empty": "",
};
const read = (p: string) => {
  if (files[p] === undefined) throw Object.assign(new Error("missing"), { code: "ENOENT" });
  return files[p]!;
};
const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env, read);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error("expected a ConfigError");
};

describe("reference service: loadConfig", () => {
  it("needs only PORT and SERVICE_NAME (a service without backing services)", () => {
    expect(loadConfig({ PORT: "3004", SERVICE_NAME: "mini-app" }, read)).toMatchObject({
      port: 3004,
      service: "mini-app",
      logLevel: "info",
    });
  });

  it("turns Prisma's DATABASE_URL into a pg URL and a pool size", () => {
    const c = loadConfig({ PORT: "3000", SERVICE_NAME: "api", DATABASE_URL_FILE: "/run/secrets/database_url" }, read);
    expect(c.postgres).toEqual({ url: "postgresql://updateio_app:pw@postgres-pooler:6432/updateio", poolSize: 20 });
  });

  it("prefers the Sentinels over REDIS_URL_FILE and reads both passwords from files", () => {
    const c = loadConfig(
      {
        PORT: "3000",
        SERVICE_NAME: "api",
        REDIS_SENTINELS: "redis-sentinel-1:26379,redis-sentinel-2:26379",
        REDIS_SENTINEL_MASTER: "redis",
        REDIS_SENTINEL_USER: "updateio",
        REDIS_SENTINEL_PASSWORD_FILE: "/run/secrets/redis_sentinel_password",
        REDIS_USER: "api",
        REDIS_PASSWORD_FILE: "/run/secrets/redis_password",
        REDIS_URL_FILE: "/run/secrets/redis_password",
      },
      read,
    );
    expect(c.redis).toEqual({
      kind: "sentinel",
      sentinels: [
        { host: "redis-sentinel-1", port: 26379 },
        { host: "redis-sentinel-2", port: 26379 },
      ],
      masterName: "redis",
      sentinelUser: "updateio",
      sentinelPassword: "sentpw",
      user: "api",
      password: "redispw",
    });
  });

  it("names every missing or bad variable at once", () => {
    expect(
      problems({
        PORT: "http",
        SERVICE_NAME: "API",
        LOG_LEVEL: "loud",
        AMQP_URL_FILE: "/run/secrets/amqp_url",
        ENCRYPTION_KEY_FILE: "/run/secrets/empty",
        SESSION_SECRET: "inline",
        SESSION_SECRET_FILE: "relative/path",
        REDIS_SENTINELS: "redis-sentinel-1",
      }),
    ).toEqual([
      "AMQP_URL_FILE: cannot read /run/secrets/amqp_url (ENOENT)",
      "ENCRYPTION_KEY_FILE: /run/secrets/empty is empty",
      "SESSION_SECRET and SESSION_SECRET_FILE are both set: secrets come as files only, unset SESSION_SECRET",
      'SESSION_SECRET_FILE: "relative/path" must be an absolute path',
      'SERVICE_NAME: "API" must be lowercase letters, digits and dashes',
      'PORT: "http" must be a port number from 1 to 65535',
      'LOG_LEVEL: "loud" must be one of debug, info, warn, error',
      'REDIS_SENTINELS: "redis-sentinel-1" must be host:port (a comma-separated list)',
      "REDIS_SENTINEL_MASTER is not set",
      "REDIS_SENTINEL_USER is not set",
      "REDIS_SENTINEL_PASSWORD_FILE is not set (needed with the other REDIS_* settings)",
      "REDIS_USER is not set",
      "REDIS_PASSWORD_FILE is not set (needed with the other REDIS_* settings)",
    ]);
  });
});
