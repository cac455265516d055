// Pure renderer for prometheus.yml, and the server's command-line flags (retention is a flag, not
// config). Checked in tests with Debian's `promtool check config` (Prometheus 2.42) and by starting
// Debian's prometheus with both; nothing here is newer than 2.42 or gone in 3.x.
import { isIP } from "node:net";
import { PROM_DURATION, durationSeconds, toYaml } from "./alert-rules";
import { SCRAPE_JOBS, type ScrapeJob } from "./observability-catalogue";
import { throwIfProblems } from "../../contract/errors";

export interface ScrapeTarget {
  /** Catalogue job (the `job` label): decides the default metrics path, and which metric names the job may be queried for. */
  readonly job: ScrapeJob;
  /** "host:port" of each instance, e.g. ["postgres-exporter-1:9187"] (no scheme, no path); empty with `dns`. */
  readonly targets: readonly string[];
  /**
   * Find the instances in DNS instead (dns_sd_configs, type A, re-resolved every 30 s), e.g.
   * { names: ["tasks.api"], port: 3000 }: `tasks.<service>` lists every running task of a Swarm
   * service, where the service name itself is one virtual IP. Needs `name` (labels then go through
   * relabel_configs, which dns_sd_configs entries need) and an empty `targets`.
   */
  readonly dns?: { readonly names: readonly string[]; readonly port: number };
  /**
   * A scrape config of its own, `<job>-<name>` (its series still carry job="<job>"), e.g. one per app
   * service, each with its own metrics path. Unique within a job. @default undefined (the entry joins
   * the job's one scrape config)
   */
  readonly name?: string;
  /** @default SCRAPE_JOBS[job].path, e.g. "/metrics/per-object" for rabbitmq */
  readonly metricsPath?: string;
  /** URL query parameters, e.g. { module: ["http_2xx"] }. */
  readonly params?: Readonly<Record<string, readonly string[]>>;
  /**
   * Static labels added to every series of these targets, e.g. { instance_role: "primary" }, or
   * { redis_role: "cache" } on the cache Redis (the Redis alerts skip it; see alert-rules.ts).
   * Several entries may share a job (one per label set); they become one scrape job.
   */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * Something Prometheus scrapes, describing itself: exporters, the edge, Loki and its shipper
 * provide their own entries, and PrometheusServer.addScrapeTarget collects them. Called again when
 * prometheus.yml is rendered at synth, so entries added after registration are scraped too.
 */
export interface IScrapeTarget {
  /** The entries to scrape (catalogue jobs); may be empty (e.g. the edge without a metrics network). */
  scrapeTargets(): readonly ScrapeTarget[];
}

/** True for an IScrapeTarget, false for a plain ScrapeTarget entry. */
export function isScrapeTargetSource(value: IScrapeTarget | ScrapeTarget): value is IScrapeTarget {
  return typeof (value as Partial<IScrapeTarget>).scrapeTargets === "function";
}

export interface PrometheusConfigInput {
  /** Environment name, set as the external label `environment` (e.g. "prod"). */
  readonly environment: string;
  readonly scrapeTargets: readonly ScrapeTarget[];
  /** How often targets are scraped (Prometheus duration). @default "15s" */
  readonly scrapeInterval?: string;
  /** How often rules are evaluated. @default "15s" */
  readonly evaluationInterval?: string;
  /**
   * Rule files (globs allowed), absolute paths inside the Prometheus container (tests pass their
   * temp dir). @default ["/etc/prometheus/rules/*.yml"]
   */
  readonly ruleFiles?: readonly string[];
}

export const PROMETHEUS_DEFAULTS = {
  scrapeInterval: "15s",
  evaluationInterval: "15s",
  ruleFiles: ["/etc/prometheus/rules/*.yml"] as readonly string[],
  /** Prometheus' own default; lowered to the scrape interval when that is shorter (a timeout above the interval is refused). */
  scrapeTimeout: "10s",
} as const;

/**
 * prometheus.yml: global intervals and external labels, rule files, and one scrape job per catalogue
 * job (jobs sorted, static_configs and their targets sorted, label keys sorted), so the same topology
 * always renders the same bytes. There is no `alerting` section: Prometheus evaluates the rules (they
 * show in its UI) but Grafana does the notifying, so no Alertmanager is configured.
 */
export function renderPrometheusConfig(input: PrometheusConfigInput): string {
  checkPrometheusConfig(input);
  const scrapeInterval = input.scrapeInterval ?? PROMETHEUS_DEFAULTS.scrapeInterval;
  const scrapeTimeout =
    durationSeconds(scrapeInterval) < durationSeconds(PROMETHEUS_DEFAULTS.scrapeTimeout)
      ? scrapeInterval
      : PROMETHEUS_DEFAULTS.scrapeTimeout;

  const byJob = new Map<ScrapeJob, ScrapeTarget[]>();
  for (const t of input.scrapeTargets) if (t.name === undefined) byJob.set(t.job, [...(byJob.get(t.job) ?? []), t]);

  const shared = [...byJob.entries()].map(([job, entries]) => {
    const first = entries[0]!;
    const staticConfigs = entries
      .map((e) => ({
        targets: [...e.targets].sort(compare),
        ...(e.labels && Object.keys(e.labels).length > 0 ? { labels: sortedRecord(e.labels) } : {}),
      }))
      .sort((a, b) => compare(JSON.stringify(a), JSON.stringify(b)));
    return {
      job_name: job,
      metrics_path: first.metricsPath ?? SCRAPE_JOBS[job].path,
      ...paramsEntry(first.params),
      static_configs: staticConfigs,
    };
  });
  const scrapeConfigs = [...shared, ...input.scrapeTargets.filter((t) => t.name !== undefined).map(namedScrapeConfig)].sort((a, b) =>
    compare(a.job_name, b.job_name),
  );

  const doc = {
    global: {
      scrape_interval: scrapeInterval,
      scrape_timeout: scrapeTimeout,
      evaluation_interval: input.evaluationInterval ?? PROMETHEUS_DEFAULTS.evaluationInterval,
      external_labels: { environment: input.environment },
    },
    rule_files: [...(input.ruleFiles ?? PROMETHEUS_DEFAULTS.ruleFiles)],
    scrape_configs: scrapeConfigs,
  };
  return `# Generated by constructs/observability/renderers/prometheus.ts: change the input, not this file.\n${toYaml(doc)}`;
}

/**
 * A named entry's own scrape config: `<job>-<name>`, relabelled to job="<job>" and to its labels
 * (relabel_configs, because dns_sd_configs carry no labels of their own).
 */
function namedScrapeConfig(t: ScrapeTarget) {
  return {
    job_name: `${t.job}-${t.name}`,
    metrics_path: t.metricsPath ?? SCRAPE_JOBS[t.job].path,
    ...paramsEntry(t.params),
    ...(t.dns
      ? { dns_sd_configs: [{ names: [...t.dns.names].sort(compare), type: "A", port: t.dns.port, refresh_interval: "30s" }] }
      : { static_configs: [{ targets: [...t.targets].sort(compare) }] }),
    relabel_configs: [
      { target_label: "job", replacement: t.job },
      ...Object.entries(t.labels ?? {})
        .sort(([a], [b]) => compare(a, b))
        .map(([k, v]) => ({ target_label: k, replacement: v })),
    ],
  };
}

export interface PrometheusArgsInput {
  /** Days of samples kept (`--storage.tsdb.retention.time`). */
  readonly retentionDays: number;
  /** @default "/etc/prometheus/prometheus.yml" (the official image's path) */
  readonly configPath?: string;
  /** TSDB directory, a volume. @default "/prometheus" (the official image's path) */
  readonly storagePath?: string;
  /** Optional size cap as well, e.g. "10GB" (whichever limit is hit first wins). */
  readonly retentionSize?: string;
  /** @default "0.0.0.0:9090" (only the monitoring network reaches it; nothing is published) */
  readonly listenAddress?: string;
}

export const PROMETHEUS_ARGS_DEFAULTS = {
  configPath: "/etc/prometheus/prometheus.yml",
  storagePath: "/prometheus",
  listenAddress: "0.0.0.0:9090",
} as const;

/**
 * The server's full command line after the binary (the container `command`; the official image's
 * entrypoint is /bin/prometheus). Deliberately absent: `--web.enable-lifecycle` and
 * `--web.enable-admin-api`, which would let anything on the network POST /-/quit or delete series;
 * reload a changed config with SIGHUP (`docker kill --signal HUP`) instead. No console flags either
 * (removed in Prometheus 3).
 */
export function prometheusArgs(input: PrometheusArgsInput): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(input.retentionDays) || input.retentionDays < 1 || input.retentionDays > 3650) {
    problems.push(`retentionDays ${String(input.retentionDays)} must be a whole number of days in 1..3650, e.g. 15.`);
  }
  for (const key of ["configPath", "storagePath"] as const) {
    const value = input[key];
    if (value !== undefined && !/^\/[^\s]*$/.test(value))
      problems.push(`${key} ${JSON.stringify(value)} must be an absolute path without spaces, e.g. "${PROMETHEUS_ARGS_DEFAULTS[key]}".`);
  }
  if (input.retentionSize !== undefined && !/^\d+(B|KB|MB|GB|TB|PB|EB)$/.test(input.retentionSize)) {
    problems.push(`retentionSize ${JSON.stringify(input.retentionSize)} is not a Prometheus size: write e.g. "512MB" or "10GB".`);
  }
  if (input.listenAddress !== undefined && !/^[^\s:]*:\d{1,5}$/.test(input.listenAddress)) {
    problems.push(`listenAddress ${JSON.stringify(input.listenAddress)} must be "host:port", e.g. "0.0.0.0:9090".`);
  }
  throwIfProblems("Prometheus args", problems);
  return [
    `--config.file=${input.configPath ?? PROMETHEUS_ARGS_DEFAULTS.configPath}`,
    `--storage.tsdb.path=${input.storagePath ?? PROMETHEUS_ARGS_DEFAULTS.storagePath}`,
    `--storage.tsdb.retention.time=${input.retentionDays}d`,
    ...(input.retentionSize !== undefined ? [`--storage.tsdb.retention.size=${input.retentionSize}`] : []),
    `--web.listen-address=${input.listenAddress ?? PROMETHEUS_ARGS_DEFAULTS.listenAddress}`,
  ];
}

// ---------------------------------------------------------------------------------------------

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const HOSTNAME = /^(?=.{1,253}$)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const ENVIRONMENT = /^[a-z][a-z0-9-]*$/;
const SCRAPE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/**
 * What renderPrometheusConfig checks, without rendering: throws the same ValidationError. For
 * checking each added target against the rest, where rendering the whole file (which lists every
 * app service) at every addition would repeat the YAML work each time.
 */
export function checkPrometheusConfig(input: PrometheusConfigInput): void {
  const problems: string[] = [];
  if (!ENVIRONMENT.test(input.environment ?? "")) {
    problems.push(
      `environment ${JSON.stringify(input.environment)} must be lowercase letters, digits and "-", starting with a letter, e.g. "prod".`,
    );
  }
  for (const key of ["scrapeInterval", "evaluationInterval"] as const) {
    const value = input[key];
    if (value !== undefined && !(PROM_DURATION.test(value) && durationSeconds(value) >= 1)) {
      problems.push(
        `${key} ${JSON.stringify(value)} is not a Prometheus duration of at least 1s: write e.g. "15s" or "1m" (no fractions, no spaces).`,
      );
    }
  }
  const ruleFiles = input.ruleFiles ?? PROMETHEUS_DEFAULTS.ruleFiles;
  ruleFiles.forEach((path, i) => {
    if (!/^\/[^\s]*$/.test(path))
      problems.push(
        `ruleFiles[${i}] ${JSON.stringify(path)} must be an absolute path (globs allowed) without spaces, e.g. "/etc/prometheus/rules/*.yml".`,
      );
  });
  if (input.scrapeTargets.length === 0)
    problems.push(`scrapeTargets is empty: list at least the jobs to scrape, e.g. { job: "prometheus", targets: ["localhost:9090"] }.`);

  const firstOfJob = new Map<string, { index: number; metricsPath: string; params: string }>();
  const namedSeen = new Map<string, string>();
  const seenTargets = new Map<string, string>();
  input.scrapeTargets.forEach((t, i) => {
    const at = `scrapeTargets[${i}]`;
    if (!Object.hasOwn(SCRAPE_JOBS, t.job)) {
      problems.push(
        `${at}.job ${JSON.stringify(t.job)} is not a catalogue job: use one of ${Object.keys(SCRAPE_JOBS).join(", ")} (observability-catalogue.ts).`,
      );
      return;
    }
    if (t.dns !== undefined) {
      if (t.targets.length > 0)
        problems.push(`${at}.targets and ${at}.dns are both given: list the instances, or find them in DNS, not both.`);
      if (t.name === undefined)
        problems.push(`${at}.dns needs a name: a DNS-discovered entry gets a scrape config of its own, e.g. name: "api".`);
      if (t.dns.names.length === 0) problems.push(`${at}.dns.names is empty: give the DNS name of the instances, e.g. ["tasks.api"].`);
      t.dns.names.forEach((n, j) => {
        if (!HOSTNAME.test(n))
          problems.push(
            `${at}.dns.names[${j}] ${JSON.stringify(n)} is not a DNS name: use letters, digits, "-" and ".", e.g. "tasks.api".`,
          );
      });
      if (!Number.isInteger(t.dns.port) || t.dns.port < 1 || t.dns.port > 65535)
        problems.push(`${at}.dns.port ${String(t.dns.port)} is not a port: use 1..65535.`);
    } else if (t.targets.length === 0)
      problems.push(`${at}.targets is empty: list "host:port" of each instance, e.g. ["${t.job}:${SCRAPE_JOBS[t.job].port}"].`);
    if (t.name !== undefined) {
      const key = `${t.job}-${t.name}`;
      if (!SCRAPE_NAME.test(t.name))
        problems.push(`${at}.name ${JSON.stringify(t.name)} must be lowercase letters, digits and "-" (at most 40), e.g. "api".`);
      else if (namedSeen.has(key))
        problems.push(
          `${at}.name ${JSON.stringify(t.name)} is already used for job ${t.job} at ${namedSeen.get(key)}: give each entry its own name.`,
        );
      else namedSeen.set(key, at);
    }
    t.targets.forEach((target, j) => {
      const problem = targetError(target);
      if (problem !== undefined) problems.push(`${at}.targets[${j}] ${JSON.stringify(target)} ${problem}`);
      const key = `${t.job} ${target}`;
      const previous = seenTargets.get(key);
      if (previous !== undefined)
        problems.push(
          `${at}.targets[${j}] ${JSON.stringify(target)} is already listed for job ${t.job} at ${previous}: list each instance once.`,
        );
      else seenTargets.set(key, `${at}.targets[${j}]`);
    });
    if (t.metricsPath !== undefined && !/^\/[^\s?#]*$/.test(t.metricsPath)) {
      problems.push(
        `${at}.metricsPath ${JSON.stringify(t.metricsPath)} must start with "/" and hold no spaces, "?" or "#" (query parameters go in params), e.g. "${SCRAPE_JOBS[t.job].path}".`,
      );
    }
    for (const [name, values] of Object.entries(t.params ?? {})) {
      if (name === "" || /\s/.test(name))
        problems.push(`${at}.params has the key ${JSON.stringify(name)}: use a non-empty parameter name without spaces.`);
      if (values.length === 0) problems.push(`${at}.params.${name} is empty: give at least one value, or drop the key.`);
    }
    for (const [name, value] of Object.entries(t.labels ?? {})) {
      if (!LABEL_NAME.test(name) || name.startsWith("__")) {
        problems.push(
          `${at}.labels.${name} is not a label name: use [a-zA-Z_][a-zA-Z0-9_]* without a "__" prefix (reserved), e.g. "instance_role".`,
        );
      } else if (name === "job") {
        problems.push(`${at}.labels.job would override the job name: the job label is the catalogue job; drop it.`);
      }
      if (value === "") problems.push(`${at}.labels.${name} is empty: an empty value removes the label; give a value or drop the key.`);
    }
    // One scrape job per catalogue job: its path and params are shared by every entry of that job
    // (a named entry has a scrape config of its own).
    if (t.name !== undefined) return;
    const metricsPath = t.metricsPath ?? SCRAPE_JOBS[t.job].path;
    const params = JSON.stringify(Object.entries(t.params ?? {}).sort(([a], [b]) => compare(a, b)));
    const first = firstOfJob.get(t.job);
    if (first === undefined) {
      firstOfJob.set(t.job, { index: i, metricsPath, params });
    } else if (first.metricsPath !== metricsPath || first.params !== params) {
      problems.push(
        `${at} (job ${t.job}) differs from scrapeTargets[${first.index}] in metricsPath or params: entries of one job share them; give them the same values.`,
      );
    }
  });
  throwIfProblems("Prometheus config input", problems);
}

function targetError(target: string): string | undefined {
  if (target.includes("://")) return `must not include a scheme: write "host:port", e.g. "postgres-exporter:9187".`;
  if (target.includes("/")) return `must not include a path: put the path in metricsPath.`;
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(target);
  if (match === null) return `is not "host:port": write e.g. "redis-exporter:9121" or "[::1]:9121".`;
  const host = match[1]!;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return `has port ${port}: use 1..65535.`;
  const bare = host.startsWith("[") ? host.slice(1, -1) : host;
  // The name test first: node's first isIP on a non-address compiles its IPv6 pattern (~10 ms).
  if (host.startsWith("[") ? isIP(bare) !== 6 : !HOSTNAME.test(bare) && isIP(bare) === 0) {
    return `has an invalid host ${JSON.stringify(host)}: use a DNS name of letters, digits, "-" and ".", an IPv4 address, or [IPv6].`;
  }
  return undefined;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedRecord(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => compare(a, b)));
}

/** A scrape config's `params`, sorted by name; none when empty (prometheus.yml leaves the key out). */
function paramsEntry(params: ScrapeTarget["params"]): { params?: Record<string, string[]> } {
  if (!params || Object.keys(params).length === 0) return {};
  return {
    params: Object.fromEntries(
      Object.entries(params)
        .sort(([a], [b]) => compare(a, b))
        .map(([k, v]) => [k, [...v]]),
    ),
  };
}
