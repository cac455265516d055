import { loadConfig } from "./config";
import { createLogger } from "./log";
import { createPool, MIGRATIONS } from "./postgres";

/** `npm run migrate`: what the migration job runs, as the schema owner (its DATABASE_URL_FILE). */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const log = createLogger(config.service, config.logLevel);
  if (!config.postgres) throw new Error("DATABASE_URL_FILE is not set: the migration needs the schema owner's database URL");
  const pool = createPool(config.postgres.url, 1);
  try {
    for (const sql of MIGRATIONS) await pool.query(sql);
    log.info("migrations applied", { count: MIGRATIONS.length });
  } finally {
    await pool.end();
  }
}

main().catch((e: Error) => {
  process.stdout.write(
    `${JSON.stringify({ time: new Date().toISOString(), level: "error", msg: "migration failed", error: e.message })}\n`,
  );
  process.exit(1);
});
