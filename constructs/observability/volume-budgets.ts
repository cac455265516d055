/**
 * Size budgets of the stateful volumes: the one place that says what a budget means for each
 * store, so the config schema (refusing a budget that cannot work) and the constructs (turning a
 * budget into a server limit) compute the same numbers. Pure functions, no constructs.
 *
 * What can be enforced: Prometheus (a size cap on its blocks), Loki (an ingestion rate that keeps
 * the configured retention inside the budget). What cannot: Docker's local volume driver has no
 * size limit, so every other store is measured (VolumeUsage) and alerted on (alerts/capacity.ts).
 */

/** The budget keys, one per kind of stateful volume (config `budgets.<key>`, MiB). */
export const VOLUME_BUDGET_KEYS = [
  "postgresData",
  "postgresBackups",
  "redisData",
  "rabbitmqData",
  "lokiData",
  "shipperData",
  "prometheusData",
  "grafanaData",
  "edgeData",
  "vpnKeys",
  "redisBackups",
  "rabbitmqBackups",
  "grafanaBackups",
  "edgeBackups",
] as const;
export type VolumeBudgetKey = (typeof VOLUME_BUDGET_KEYS)[number];
export type VolumeBudgets = Readonly<Record<VolumeBudgetKey, number>>;

/** What each key covers, for messages and docs. */
export const VOLUME_BUDGET_HELP: Readonly<Record<VolumeBudgetKey, string>> = {
  postgresData: "each Postgres data volume (the primary and every streaming replica)",
  postgresBackups: "the backups volume (dumps, base backups, the WAL archive)",
  redisData: "each Redis data volume (the master and every replica; AOF + RDB)",
  rabbitmqData: "each RabbitMQ node's data volume",
  lokiData: "Loki's data volume (chunks, TSDB index, WAL, compactor)",
  shipperData: "the log shipper's state volume (Alloy/Promtail positions)",
  prometheusData: "Prometheus' TSDB volume",
  grafanaData: "Grafana's data volume (SQLite, plugins)",
  edgeData: "the edge's Caddy data volume (ACME account, certificates)",
  vpnKeys: "the VPN gateway's key volume (when the VPN is on)",
  redisBackups: "Redis' backups volume (the RDB snapshots kept, when backups.redis is on)",
  rabbitmqBackups: "RabbitMQ's backups volume (the definitions exports kept, when backups.rabbitmq is on)",
  grafanaBackups: "Grafana's backups volume (the gzipped SQLite snapshots kept, when backups.grafana is on)",
  edgeBackups: "the edge's backups volume (the tars of Caddy's data kept, when backups.edge is on)",
};

/** Smallest budget of any volume: below this a budget is a typo, not a decision. */
export const MIN_VOLUME_BUDGET_MB = 16;

/**
 * Share of Prometheus' budget given to `--storage.tsdb.retention.size`. The cap is checked after
 * each compaction and deletes whole persisted blocks only, oldest first (Prometheus' storage docs:
 * the WAL and the memory-mapped head chunks count toward the total but are never deleted by it).
 * So the directory overshoots the cap: by up to a block until the next check, by the new block a
 * compaction writes before its sources go, and by a WAL that grows with the series count. 20% is
 * left for that.
 */
export const PROMETHEUS_RETENTION_SHARE = 0.8;
/** Prometheus needs room for its WAL and a 2h head block before any block exists. */
export const MIN_PROMETHEUS_BUDGET_MB = 512;

/** `--storage.tsdb.retention.size` for a budget: 80% of it, in Prometheus' MB (base 2, i.e. MiB). */
export function prometheusRetentionSize(budgetMb: number): string {
  return `${Math.floor(budgetMb * PROMETHEUS_RETENTION_SHARE)}MB`;
}

/**
 * Loki has no size-based retention (the compactor deletes by age only), so the budget is enforced
 * through the tenant's ingestion rate: `rate × retention ÷ compression ≤ share × budget`. The
 * compression ratio is an assumption, not a measurement (chunks are compressed; repetitive JSON
 * logs compress well): the volume alerts check the real usage.
 */
export const LOKI_BUDGET = {
  /** Share of the budget for chunks; the TSDB index, WAL and compactor's work files take the rest. */
  chunkShare: 0.8,
  /** Assumed raw-to-stored ratio of log chunks. */
  assumedCompression: 10,
  /** Below this sustained rate (MB/s) normal logging is refused: the budget is too small for the retention. */
  minRateMb: 0.02,
  /** Never above Loki's default tenant rate (MB/s). */
  maxRateMb: 4,
} as const;

/** Sustained tenant ingestion rate (MB/s, 3 decimals) that keeps `retentionDays` of logs inside `budgetMb`. */
export function lokiIngestionRateMb(budgetMb: number, retentionDays: number): number {
  const bytesPerSecond = (budgetMb * LOKI_BUDGET.chunkShare * LOKI_BUDGET.assumedCompression) / (retentionDays * 86_400);
  return Math.min(LOKI_BUDGET.maxRateMb, Math.floor(bytesPerSecond * 1000) / 1000);
}

/** Smallest Loki budget (MiB) whose derived rate reaches LOKI_BUDGET.minRateMb for `retentionDays`. */
export function minLokiBudgetMb(retentionDays: number): number {
  return Math.ceil((LOKI_BUDGET.minRateMb * retentionDays * 86_400) / (LOKI_BUDGET.chunkShare * LOKI_BUDGET.assumedCompression));
}

/**
 * Base backups kept by the backup scheduler (PostgresBackup's keepBaseBackups default). A new base
 * backup is written before the oldest is pruned, so keep + 1 exist at the peak.
 */
export const BASE_BACKUPS_KEPT = 2;

/**
 * The least the backups volume needs, computable at synth: keep + 1 base backups of a database that
 * fills its data budget (gzip'd tars, counted uncompressed: the worst case). The daily, weekly and
 * monthly dumps and the WAL archive come on top: they depend on the write rate, which synth cannot
 * know, so they are measured and alerted on instead.
 */
export function minBackupsBudgetMb(postgresDataMb: number, keepBaseBackups: number = BASE_BACKUPS_KEPT): number {
  return postgresDataMb * (keepBaseBackups + 1);
}

/** Problems of a budget set, as [key, message] (also used by the config schema's cross-field rules). */
export function volumeBudgetProblems(
  budgets: Partial<Record<VolumeBudgetKey, unknown>>,
  context: {
    readonly lokiRetentionDays?: unknown;
    /** Whether Loki's and Prometheus' volumes exist (observability profile); an absent one's budget is not checked. @default both */
    readonly created?: { readonly loki?: boolean; readonly prometheus?: boolean };
  },
): [VolumeBudgetKey, string][] {
  const created = { loki: context.created?.loki ?? true, prometheus: context.created?.prometheus ?? true };
  const problems: [VolumeBudgetKey, string][] = [];
  const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isInteger(v) && v > 0 ? v : undefined);
  const data = num(budgets.postgresData);
  const backups = num(budgets.postgresBackups);
  if (data !== undefined && backups !== undefined && backups < minBackupsBudgetMb(data)) {
    problems.push([
      "postgresBackups",
      `${backups} MiB cannot hold ${BASE_BACKUPS_KEPT + 1} base backups of a database that fills budgets.postgresData (${data} MiB): raise it to at least ${minBackupsBudgetMb(data)} (dumps and the WAL archive come on top), or lower budgets.postgresData`,
    ]);
  }
  const prom = num(budgets.prometheusData);
  if (created.prometheus && prom !== undefined && prom < MIN_PROMETHEUS_BUDGET_MB) {
    problems.push([
      "prometheusData",
      `${prom} MiB is too small: Prometheus needs room for its WAL and head block before the first block; use at least ${MIN_PROMETHEUS_BUDGET_MB}`,
    ]);
  }
  const loki = num(budgets.lokiData);
  const days = num(context.lokiRetentionDays);
  if (created.loki && loki !== undefined && days !== undefined && lokiIngestionRateMb(loki, days) < LOKI_BUDGET.minRateMb) {
    problems.push([
      "lokiData",
      `${loki} MiB cannot keep ${days} day(s) of logs at a usable ingestion rate (at least ${LOKI_BUDGET.minRateMb} MB/s): raise it to at least ${minLokiBudgetMb(days)}, or lower observability.loki.retentionDays`,
    ]);
  }
  return problems;
}
