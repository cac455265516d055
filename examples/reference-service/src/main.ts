import { Broker } from "./amqp";
import { ConfigError, loadConfig } from "./config";
import { createLogger } from "./log";
import { createMetrics } from "./metrics";
import { createPool } from "./postgres";
import { createRedis } from "./redis";
import { createHttpServer } from "./server";
import { messagingOf } from "./topology";

/** Docker and Swarm send SIGTERM, then SIGKILL after 30 s: leave well before. */
const SHUTDOWN_MS = 20_000;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    const problems = e instanceof ConfigError ? e.problems : [(e as Error).message];
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: "error", msg: "invalid configuration", problems })}\n`);
    process.exit(2);
  }
  const log = createLogger(config.service, config.logLevel);
  const metrics = createMetrics(config.service);
  const pool = config.postgres ? createPool(config.postgres.url, config.postgres.poolSize) : undefined;
  pool?.on("error", (e) => log.warn("postgres client error", { error: e.message }));
  const redis = config.redis ? createRedis(config.redis) : undefined;
  redis?.on("error", (e: Error) => log.warn("redis error", { error: e.message }));
  redis?.on("+node", () => log.debug("redis node added"));
  redis?.connect().catch((e: Error) => log.warn("redis not reachable yet", { error: e.message }));
  const broker = config.amqp ? await Broker.start(config.amqp.url, messagingOf(config.service), log) : undefined;

  const server = createHttpServer(config, { pool, redis, broker }, metrics, log);
  server.listen(config.port, () =>
    log.info("listening", {
      port: config.port,
      environment: config.environment,
      settingsFromFiles: Object.keys(config.files).sort(),
      postgres: Boolean(pool),
      redis: config.redis?.kind ?? null,
      rabbitmq: Boolean(broker),
    }),
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("stopping", { signal });
    setTimeout(() => {
      log.error("shutdown took too long; exiting");
      process.exit(1);
    }, SHUTDOWN_MS).unref();
    server.close();
    server.closeIdleConnections();
    Promise.allSettled([pool?.end(), redis?.quit(), broker?.close()]).then(() => {
      log.info("stopped");
      process.exit(0);
    });
  };
  // As PID 1 in a container Node gets no default handlers: without these, SIGTERM is ignored.
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

void main();
