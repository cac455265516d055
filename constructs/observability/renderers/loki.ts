/**
 * Renders loki.yaml for Loki 3.x (the pinned image is 3.5; every key used exists since 3.0, checked
 * against the 3.x sources, up to 3.7) as a single binary (`target: all`) on
 * the local filesystem. Key names were checked against Loki's 3.x sources and docs:
 * pkg/validation/limits.go (limits_config yaml tags), pkg/compactor Config (working_directory,
 * compaction_interval, retention_enabled, retention_delete_delay, retention_delete_worker_count,
 * delete_request_store), cmd/loki/loki-local-config.yaml (common, schema_config, query_range) and
 * docs/sources/operations/storage/retention.md.
 *
 * Retention: the compactor (retention_enabled) deletes chunks older than
 * limits_config.retention_period, in whole days: TSDB retention needs the 24h index period, and
 * the minimum retention is 24h. Deletion happens retention_delete_delay after marking. In Loki 3
 * retention also requires compactor.delete_request_store (Loki refuses to start without it).
 */
import { stringify } from "yaml";
import { SCRAPE_JOBS } from "./observability-catalogue";
import { LOG_PIPELINE_DEFAULTS } from "./log-pipeline";
import { ValidationError } from "../../contract/errors";
import { LOKI_BUDGET, lokiIngestionRateMb, minLokiBudgetMb } from "../volume-budgets";

/** The Loki release line of the pinned image (environments/images.ts). */
export const LOKI_TARGET_VERSION = "3.5";

export interface LokiConfigInput {
  /** Days logs are kept (e.g. dev 3, prod 30); rendered as hours ("72h"). */
  readonly retentionDays: number;
  /** Data directory, on a named volume (chunks, TSDB index, WAL, compactor state). @default "/loki" */
  readonly dataDir?: string;
  /** @default 3100 (SCRAPE_JOBS.loki) */
  readonly httpPort?: number;
  /** @default 9095 */
  readonly grpcPort?: number;
  /** Tenant ingestion rate, MB/s. @default 4, or derived from budgetMb */
  readonly ingestionRateMb?: number;
  /**
   * Size budget of the data volume, MiB. Loki deletes by age only (no size retention), so the
   * budget caps the sustained tenant ingestion rate instead: lokiIngestionRateMb (volume-budgets.ts)
   * keeps `retentionDays` of logs at an assumed 10:1 chunk compression inside 80% of it. Give either
   * this or ingestionRateMb.
   * @default undefined (ingestionRateMb, 4 MB/s)
   */
  readonly budgetMb?: number;
  /** Tenant burst, MB; at least one push request of the shipper (1 MiB batches). @default 8 */
  readonly ingestionBurstMb?: number;
  /** Per-stream rate, MB/s. @default 3 */
  readonly perStreamRateMb?: number;
  /** Per-stream burst, MB. @default 15 */
  readonly perStreamBurstMb?: number;
  /** Longer lines are truncated; keep equal to the LogPipeline's maxLineBytes. @default 262144 */
  readonly maxLineBytes?: number;
  /**
   * Older lines are rejected. Never more than the retention (a line accepted only to be deleted at
   * the next compaction is noise). @default min(168, retentionDays * 24)
   */
  readonly rejectOldSamplesMaxAgeHours?: number;
  /** Series a metric query may return. @default 500 */
  readonly maxQuerySeries?: number;
  /** Log lines a query may return. @default 5000 */
  readonly maxEntriesPerQuery?: number;
  /** Go duration. @default "1m" */
  readonly queryTimeout?: string;
  /** Sub-queries run in parallel; small on a 2-core host. @default 8 */
  readonly maxQueryParallelism?: number;
  /** Embedded results cache of the query frontend, MB. @default 100 */
  readonly resultsCacheMb?: number;
  /**
   * First day of the v13/TSDB schema (YYYY-MM-DD). Must lie before the first write and never change
   * afterwards: a schema change is a new entry with a later date, never an edit of this one.
   * @default "2024-01-01"
   */
  readonly schemaFrom?: string;
}

export const LOKI_DEFAULTS = {
  dataDir: "/loki",
  httpPort: SCRAPE_JOBS.loki.port,
  grpcPort: 9095,
  ingestionRateMb: 4,
  ingestionBurstMb: 8,
  perStreamRateMb: 3,
  perStreamBurstMb: 15,
  maxLineBytes: LOG_PIPELINE_DEFAULTS.maxLineBytes,
  rejectOldSamplesMaxAgeHours: 168,
  maxQuerySeries: 500,
  maxEntriesPerQuery: 5000,
  queryTimeout: "1m",
  maxQueryParallelism: 8,
  resultsCacheMb: 100,
  schemaFrom: "2024-01-01",
} as const;

const GO_DURATION = /^(?:[0-9]+(?:ms|s|m|h))+$/;

/** loki.yaml for one environment. Throws listing every problem of the input. */
export function renderLokiConfig(input: LokiConfigInput): string {
  const d = LOKI_DEFAULTS;
  const dataDir = input.dataDir ?? d.dataDir;
  const httpPort = input.httpPort ?? d.httpPort;
  const grpcPort = input.grpcPort ?? d.grpcPort;
  const retentionHours = input.retentionDays * 24;
  const maxAgeHours = input.rejectOldSamplesMaxAgeHours ?? Math.min(d.rejectOldSamplesMaxAgeHours, retentionHours);
  const budgetRate =
    input.budgetMb !== undefined && Number.isInteger(input.retentionDays) && input.retentionDays >= 1
      ? lokiIngestionRateMb(input.budgetMb, input.retentionDays)
      : undefined;
  const v = {
    ingestionRateMb: input.ingestionRateMb ?? budgetRate ?? d.ingestionRateMb,
    ingestionBurstMb: input.ingestionBurstMb ?? d.ingestionBurstMb,
    perStreamRateMb: input.perStreamRateMb ?? d.perStreamRateMb,
    perStreamBurstMb: input.perStreamBurstMb ?? d.perStreamBurstMb,
    maxLineBytes: input.maxLineBytes ?? d.maxLineBytes,
    maxQuerySeries: input.maxQuerySeries ?? d.maxQuerySeries,
    maxEntriesPerQuery: input.maxEntriesPerQuery ?? d.maxEntriesPerQuery,
    queryTimeout: input.queryTimeout ?? d.queryTimeout,
    maxQueryParallelism: input.maxQueryParallelism ?? d.maxQueryParallelism,
    resultsCacheMb: input.resultsCacheMb ?? d.resultsCacheMb,
    schemaFrom: input.schemaFrom ?? d.schemaFrom,
  };

  const problems: string[] = [];
  if (!Number.isInteger(input.retentionDays) || input.retentionDays < 1 || input.retentionDays > 3650) {
    problems.push(
      `retentionDays ${input.retentionDays} must be a whole number of days from 1 to 3650 (Loki's minimum retention is 24h and TSDB retention works per 24h index table), e.g. 3 for dev or 30 for prod.`,
    );
  }
  if (!/^\/[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/.test(dataDir))
    problems.push(`dataDir ${JSON.stringify(dataDir)} must be an absolute path without a trailing slash, on a volume, e.g. "/loki".`);
  for (const [key, port] of [
    ["httpPort", httpPort],
    ["grpcPort", grpcPort],
  ] as const) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`${key} ${port} must be a TCP port (1-65535).`);
  }
  if (input.budgetMb !== undefined) {
    if (input.ingestionRateMb !== undefined)
      problems.push(
        "budgetMb and ingestionRateMb are both set: give one (budgetMb derives the rate that keeps the retention inside the budget).",
      );
    if (!Number.isInteger(input.budgetMb) || input.budgetMb < 1)
      problems.push(`budgetMb ${input.budgetMb} must be a whole number of MiB, e.g. 20480.`);
    else if (budgetRate !== undefined && budgetRate < LOKI_BUDGET.minRateMb)
      problems.push(
        `budgetMb ${input.budgetMb} keeps ${input.retentionDays} day(s) of logs only at ${budgetRate} MB/s, below the usable ${LOKI_BUDGET.minRateMb} MB/s: raise it to at least ${minLokiBudgetMb(input.retentionDays)} or shorten retentionDays.`,
      );
  }
  if (httpPort === grpcPort)
    problems.push(`httpPort and grpcPort are both ${httpPort}: give each listener its own port (defaults 3100 and 9095).`);
  for (const key of ["ingestionRateMb", "ingestionBurstMb", "perStreamRateMb", "perStreamBurstMb"] as const) {
    if (!Number.isFinite(v[key]) || v[key] <= 0) problems.push(`${key} ${v[key]} must be a positive number of MB.`);
  }
  if (v.ingestionBurstMb < v.ingestionRateMb)
    problems.push(
      `ingestionBurstMb ${v.ingestionBurstMb} is below ingestionRateMb ${v.ingestionRateMb}: raise the burst to at least the rate (and at least one 1 MiB push batch).`,
    );
  if (v.perStreamBurstMb < v.perStreamRateMb)
    problems.push(
      `perStreamBurstMb ${v.perStreamBurstMb} is below perStreamRateMb ${v.perStreamRateMb}: raise the burst to at least the rate.`,
    );
  if (!Number.isInteger(v.maxLineBytes) || v.maxLineBytes < 1024)
    problems.push(
      `maxLineBytes ${v.maxLineBytes} must be a whole number of bytes, at least 1024; keep it equal to the LogPipeline's maxLineBytes (default 262144).`,
    );
  if (!Number.isInteger(maxAgeHours) || maxAgeHours < 1) {
    problems.push(`rejectOldSamplesMaxAgeHours ${maxAgeHours} must be a positive whole number of hours, e.g. 168.`);
  } else if (Number.isInteger(input.retentionDays) && maxAgeHours > retentionHours) {
    problems.push(
      `rejectOldSamplesMaxAgeHours ${maxAgeHours} exceeds the retention (${retentionHours}h): lines that old would be accepted and deleted at the next compaction; use at most ${retentionHours}.`,
    );
  }
  for (const key of ["maxQuerySeries", "maxEntriesPerQuery", "maxQueryParallelism", "resultsCacheMb"] as const) {
    if (!Number.isInteger(v[key]) || v[key] < 1) problems.push(`${key} ${v[key]} must be a positive integer.`);
  }
  if (!GO_DURATION.test(v.queryTimeout))
    problems.push(`queryTimeout ${JSON.stringify(v.queryTimeout)} is not a duration: write e.g. "1m" or "30s".`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v.schemaFrom) || Number.isNaN(Date.parse(`${v.schemaFrom}T00:00:00Z`))) {
    problems.push(
      `schemaFrom ${JSON.stringify(v.schemaFrom)} must be a date YYYY-MM-DD before the first write, e.g. "2024-01-01"; never change it once Loki holds data.`,
    );
  }
  if (problems.length > 0) {
    throw new ValidationError("Loki config input", problems);
  }

  const config = {
    target: "all",
    // Single tenant ("fake"): Loki is reachable only on the internal monitoring network (no published
    // port, not behind the edge proxy), and its writers (Alloy/Promtail) and reader (Grafana) are ours.
    // Multi-tenancy would need X-Scope-OrgID on every client and buys nothing with one tenant.
    auth_enabled: false,
    server: {
      http_listen_port: httpPort,
      grpc_listen_port: grpcPort,
      log_level: "info",
      log_format: "json",
    },
    common: {
      // In-process ring address: in a container with several networks Loki cannot guess which
      // interface to advertise, and a single binary only talks to itself.
      instance_addr: "127.0.0.1",
      path_prefix: dataDir,
      storage: { filesystem: { chunks_directory: `${dataDir}/chunks`, rules_directory: `${dataDir}/rules` } },
      replication_factor: 1,
      ring: { kvstore: { store: "inmemory" } },
    },
    schema_config: {
      configs: [
        { from: v.schemaFrom, store: "tsdb", object_store: "filesystem", schema: "v13", index: { prefix: "index_", period: "24h" } },
      ],
    },
    storage_config: {
      tsdb_shipper: { active_index_directory: `${dataDir}/tsdb-index`, cache_location: `${dataDir}/tsdb-cache` },
    },
    compactor: {
      working_directory: `${dataDir}/compactor`,
      compaction_interval: "10m",
      retention_enabled: true,
      retention_delete_delay: "2h",
      retention_delete_worker_count: 150,
      delete_request_store: "filesystem",
    },
    limits_config: {
      retention_period: `${retentionHours}h`,
      ingestion_rate_mb: v.ingestionRateMb,
      ingestion_burst_size_mb: v.ingestionBurstMb,
      per_stream_rate_limit: `${v.perStreamRateMb}MB`,
      per_stream_rate_limit_burst: `${v.perStreamBurstMb}MB`,
      max_line_size: v.maxLineBytes,
      max_line_size_truncate: true,
      reject_old_samples: true,
      reject_old_samples_max_age: `${maxAgeHours}h`,
      // request_id / trace_id arrive as structured metadata (needs schema v13 + TSDB).
      allow_structured_metadata: true,
      max_query_series: v.maxQuerySeries,
      max_entries_limit_per_query: v.maxEntriesPerQuery,
      max_query_parallelism: v.maxQueryParallelism,
      // Nothing older than the retention exists: queries reaching further back are clamped (not
      // rejected, so Grafana's "last 7 days" still works on a 3-day dev store).
      max_query_lookback: `${retentionHours}h`,
      query_timeout: v.queryTimeout,
    },
    query_range: {
      results_cache: { cache: { embedded_cache: { enabled: true, max_size_mb: v.resultsCacheMb } } },
    },
    analytics: { reporting_enabled: false },
  };

  return (
    [
      `# Generated by constructs/observability/renderers/loki.ts for Loki ${LOKI_TARGET_VERSION}.x: change the input, not this file.`,
      `# Retention ${input.retentionDays} day(s): compactor retention with limits_config.retention_period.`,
      ...(input.budgetMb !== undefined
        ? [
            `# Size budget ${input.budgetMb} MiB: Loki has no size retention, so ingestion_rate_mb is the rate that keeps the retention inside it (${LOKI_BUDGET.assumedCompression}:1 compression assumed).`,
          ]
        : []),
      "",
    ].join("\n") + stringify(config, { lineWidth: 0 })
  );
}
