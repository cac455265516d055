import { readFileSync } from "node:fs";

/** What the service connects to, read from the environment the stack gives it (README: "The service contract"). */
export interface Config {
  readonly service: string;
  readonly environment: string;
  readonly port: number;
  readonly logLevel: LogLevel;
  /** Every `*_FILE` setting, read: name without `_FILE` → the file's content. */
  readonly files: Readonly<Record<string, string>>;
  readonly postgres?: { readonly url: string; readonly poolSize: number };
  readonly redis?: RedisConfig;
  readonly amqp?: { readonly url: string };
  /** Signs session tokens (SESSION_SECRET_FILE); sessions are off without it. */
  readonly sessionSecret?: string;
}

export type RedisConfig =
  | { readonly kind: "url"; readonly url: string }
  | {
      readonly kind: "sentinel";
      readonly sentinels: readonly { readonly host: string; readonly port: number }[];
      readonly masterName: string;
      readonly sentinelUser: string;
      readonly sentinelPassword: string;
      readonly user: string;
      readonly password: string;
    };

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n- ${problems.join("\n- ")}`);
  }
}

const HOST = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

/** Reads and checks the whole configuration; throws one ConfigError naming every bad or missing variable. */
export function loadConfig(env: NodeJS.ProcessEnv, read: (path: string) => string = (p) => readFileSync(p, "utf8")): Config {
  const problems: string[] = [];
  const files: Record<string, string> = {};
  for (const [name, path] of Object.entries(env)) {
    if (!name.endsWith("_FILE") || path === undefined) continue;
    const setting = name.slice(0, -"_FILE".length);
    if (env[setting] !== undefined) problems.push(`${setting} and ${name} are both set: secrets come as files only, unset ${setting}`);
    if (!path.startsWith("/")) {
      problems.push(`${name}: "${path}" must be an absolute path`);
      continue;
    }
    try {
      // Files end with at most one newline (docker_secret, `echo` into a file); keep the value itself intact.
      const value = read(path).replace(/\r?\n$/, "");
      if (value === "") problems.push(`${name}: ${path} is empty`);
      else files[setting] = value;
    } catch (e) {
      problems.push(`${name}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  const required = (name: string): string => {
    const v = env[name];
    if (v === undefined || v === "") {
      problems.push(`${name} is not set`);
      return "";
    }
    return v;
  };
  const fileSetting = (name: string): string => {
    if (env[`${name}_FILE`] === undefined)
      problems.push(`${name}_FILE is not set (needed with the other ${name.split("_")[0]}_* settings)`);
    return files[name] ?? "";
  };

  const service = required("SERVICE_NAME");
  if (service !== "" && !/^[a-z][a-z0-9-]{0,40}$/.test(service))
    problems.push(`SERVICE_NAME: "${service}" must be lowercase letters, digits and dashes`);
  const portText = required("PORT");
  const port = Number(portText);
  if (portText !== "" && (!/^\d+$/.test(portText) || port < 1 || port > 65535))
    problems.push(`PORT: "${portText}" must be a port number from 1 to 65535`);
  const logLevel = (env.LOG_LEVEL ?? "info") as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL: "${env.LOG_LEVEL}" must be one of ${LOG_LEVELS.join(", ")}`);
  if (env.LOG_FORMAT !== undefined && env.LOG_FORMAT !== "json")
    problems.push(`LOG_FORMAT: "${env.LOG_FORMAT}" is not supported; this service logs json`);

  let postgres: Config["postgres"];
  if (env.DATABASE_URL_FILE !== undefined) {
    const url = fileSetting("DATABASE_URL");
    postgres = url === "" ? undefined : parseDatabaseUrl(url, problems);
  }

  let redis: RedisConfig | undefined;
  if (env.REDIS_SENTINELS !== undefined) {
    const sentinels = env.REDIS_SENTINELS.split(",").map((entry) => {
      const m = /^([^:]+):(\d{1,5})$/.exec(entry.trim());
      if (!m || !HOST.test(m[1]!) || Number(m[2]) < 1 || Number(m[2]) > 65535) {
        problems.push(`REDIS_SENTINELS: "${entry}" must be host:port (a comma-separated list)`);
        return { host: "", port: 0 };
      }
      return { host: m[1]!, port: Number(m[2]) };
    });
    redis = {
      kind: "sentinel",
      sentinels,
      masterName: required("REDIS_SENTINEL_MASTER"),
      sentinelUser: required("REDIS_SENTINEL_USER"),
      sentinelPassword: fileSetting("REDIS_SENTINEL_PASSWORD"),
      user: required("REDIS_USER"),
      password: fileSetting("REDIS_PASSWORD"),
    };
  } else if (env.REDIS_URL_FILE !== undefined) {
    const url = fileSetting("REDIS_URL");
    if (url !== "" && !/^rediss?:\/\//.test(url)) problems.push("REDIS_URL_FILE: the file must hold a redis:// or rediss:// URL");
    redis = { kind: "url", url };
  }

  let amqp: Config["amqp"];
  if (env.AMQP_URL_FILE !== undefined) {
    const url = fileSetting("AMQP_URL");
    if (url !== "" && !/^amqps?:\/\//.test(url)) problems.push("AMQP_URL_FILE: the file must hold an amqp:// or amqps:// URL");
    amqp = { url };
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    service,
    environment: env.DEPLOY_ENVIRONMENT ?? "unknown",
    port,
    logLevel,
    files,
    postgres,
    redis,
    amqp,
    sessionSecret: files.SESSION_SECRET,
  };
}

/**
 * The stack writes Prisma's URL: `schema`, `pgbouncer` and `connection_limit` are Prisma's
 * parameters, not libpq's. `connection_limit` sizes our pool; the others are dropped (pg uses no
 * named prepared statements unless asked, so transaction pooling is safe).
 */
function parseDatabaseUrl(url: string, problems: string[]): { url: string; poolSize: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    problems.push("DATABASE_URL_FILE: the file does not hold a valid URL");
    return { url, poolSize: 0 };
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:")
    problems.push(`DATABASE_URL_FILE: protocol "${parsed.protocol}" must be postgres: or postgresql:`);
  const schema = parsed.searchParams.get("schema") ?? "public";
  if (schema !== "public") problems.push(`DATABASE_URL_FILE: schema "${schema}" is not supported (public only)`);
  const limit = Number(parsed.searchParams.get("connection_limit") ?? "10");
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    problems.push("DATABASE_URL_FILE: connection_limit must be a whole number from 1 to 100");
  for (const key of ["schema", "pgbouncer", "connection_limit"]) parsed.searchParams.delete(key);
  return { url: parsed.toString(), poolSize: limit };
}
