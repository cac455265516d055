import { Lazy } from "cdktf";
import { Construct } from "constructs";
import { escapeTemplateText } from "../kit/container-runtime";
import { HardenedService } from "../kit/hardened-service";
import { ServiceImage } from "../kit/service-image";
import type { NetworkAttachment } from "../kit/service-spec";
import { ServiceVolume } from "../kit/service-volume";
import { alertRules, renderPrometheusRules, type AlertRule, type AlertRulesInput } from "./renderers/alert-rules";
import { SCRAPE_JOBS } from "./renderers/observability-catalogue";
import {
  checkPrometheusConfig,
  isScrapeTargetSource,
  prometheusArgs,
  renderPrometheusConfig,
  type IScrapeTarget,
  type PrometheusConfigInput,
  type ScrapeTarget,
} from "./renderers/prometheus";
import { problemsOf, ValidationError } from "../contract/errors";
import { MIN_PROMETHEUS_BUDGET_MB, prometheusRetentionSize } from "./volume-budgets";

export interface PrometheusServerProps {
  readonly environment: string;
  /**
   * The official Prometheus image, pinned (e.g. PINNED_IMAGES.prometheus, prom/prometheus:v3.5.0).
   * What this construct relies on in it: ENTRYPOINT /bin/prometheus (the container command is the
   * flag list only), the unprivileged user nobody (65534), /prometheus owned by nobody, and
   * busybox's wget for the healthcheck.
   */
  readonly image: string;
  /**
   * What to scrape: a shortcut for calling addScrapeTarget with each (constructs that describe
   * themselves, such as LokiStack, MetricsExporters or EdgeProxy, or plain entries), checked
   * together with the other props. Prometheus' own target (job "prometheus", "prometheus:9090") is
   * added unless it is listed already.
   * @default [] (register targets later with addScrapeTarget)
   */
  readonly scrapeTargets?: readonly (IScrapeTarget | ScrapeTarget)[];
  /** Days of samples kept (`--storage.tsdb.retention.time`). @default 15 */
  readonly retentionDays?: number;
  /**
   * Size cap as well, e.g. "10GB" (`--storage.tsdb.retention.size`); whichever limit is hit first wins.
   * @default undefined (time-based retention only)
   */
  readonly retentionSize?: string;
  /**
   * Size budget of the TSDB volume in MiB: sets `--storage.tsdb.retention.size` to 80% of it
   * (prometheusRetentionSize: the cap deletes whole blocks only, while the WAL, the head chunks and
   * a compaction's new block come on top). Give either this or retentionSize, not both.
   * @default undefined (no size cap unless retentionSize is set)
   */
  readonly budgetMb?: number;
  /**
   * Thresholds of the alert catalogue (passed to alertRules). Its `environment` defaults to this
   * server's environment, so stacks sharing a Docker host don't alert on each other's containers.
   * @default {} (the catalogue's defaults, environment = props.environment)
   */
  readonly alerts?: AlertRulesInput;
  /**
   * Networks to join: the monitoring network (Grafana queries Prometheus there, exporters are
   * scraped there) plus any network whose targets it scrapes directly, e.g. RabbitMQ's (its
   * metrics plugin listens on the broker itself). Prometheus answers to "prometheus" on each.
   */
  readonly networks: readonly NetworkAttachment[];
  /** Hard memory limit (MiB): the head block of recent samples lives in memory. @default 1024 */
  readonly memoryMb?: number;
  /** @default 512 */
  readonly cpuShares?: number;
  /** Protect the TSDB volume from destroy (prod). @default false */
  readonly protectData?: boolean;
}

/** Inside the container; chosen so nothing the image ships is hidden (see PrometheusServer). */
export const PROMETHEUS_CONFIG_DIR = "/etc/updateio-prometheus";
export const PROMETHEUS_RULES_DIR = "/etc/updateio-prometheus-rules";
export const PROMETHEUS_CONFIG_FILE = "prometheus.yml";
export const PROMETHEUS_RULES_FILE = "updateio.yml";
/** The image's TSDB directory (its VOLUME, owned by nobody). */
export const PROMETHEUS_DATA_DIR = "/prometheus";
const PORT = SCRAPE_JOBS.prometheus.port;
const HOST = "prometheus";

/**
 * Prometheus (official image): scrapes the platform's targets and evaluates the alert catalogue
 * (the rules show in its UI; Grafana, which evaluates the same catalogue, does the notifying). Not
 * published anywhere: Grafana and operators reach it through the monitoring network.
 *
 * Files: prometheus.yml and the rule file are rendered at synth time and mounted read-only, each
 * in a directory of its own (a config dir is mounted over the whole directory). Not /etc/prometheus:
 * that directory belongs to the image (its example prometheus.yml, and in 2.x images the console
 * symlinks), and a rules mount nested inside a read-only config mount would need its mount point
 * created inside that read-only volume. The flags point at the dedicated directories instead.
 */
export class PrometheusServer extends Construct {
  /** DNS name on every network it joins. */
  readonly host = HOST;
  readonly port = PORT;
  /** Base URL for clients on the monitoring network (Grafana's data source). */
  readonly url = `http://${HOST}:${PORT}`;
  /** The rule file exactly as uploaded. */
  readonly rulesText: string;
  /** The alert catalogue; pass it to GrafanaServer so both evaluate the same rules. */
  readonly rules: readonly AlertRule[];
  /** The container command (flags after the image's /bin/prometheus). */
  readonly args: readonly string[];
  readonly configPath = `${PROMETHEUS_CONFIG_DIR}/${PROMETHEUS_CONFIG_FILE}`;
  readonly rulesPath = `${PROMETHEUS_RULES_DIR}/${PROMETHEUS_RULES_FILE}`;
  readonly dataVolume: ServiceVolume;
  readonly service: HardenedService;
  private readonly environment: string;
  private readonly sources: (IScrapeTarget | ScrapeTarget)[] = [];

  constructor(scope: Construct, id: string, props: PrometheusServerProps) {
    super(scope, id);
    const retentionDays = props.retentionDays ?? 15;
    const memoryMb = props.memoryMb ?? 1024;
    this.environment = props.environment;
    this.sources.push(...(props.scrapeTargets ?? []).map(stored));

    // Every problem at once: the renderers' own checks (re-keyed to this construct's props) and ours.
    const problems: string[] = [];
    const rules = collect(
      problems,
      {},
      () => alertRules({ ...props.alerts, environment: props.alerts?.environment ?? props.environment }),
      "alerts.",
    );
    if (props.budgetMb !== undefined && props.retentionSize !== undefined)
      problems.push("budgetMb: is set together with retentionSize (fix: give one; budgetMb derives the size cap from the volume's budget)");
    if (props.budgetMb !== undefined && (!Number.isInteger(props.budgetMb) || props.budgetMb < MIN_PROMETHEUS_BUDGET_MB))
      problems.push(
        `budgetMb: ${props.budgetMb} must be a whole number of MiB ≥ ${MIN_PROMETHEUS_BUDGET_MB} (fix: the WAL and head block need room before the first block; raise budgets.prometheusData)`,
      );
    const retentionSize = props.budgetMb !== undefined ? prometheusRetentionSize(props.budgetMb) : props.retentionSize;
    const args = collect(problems, {}, () =>
      prometheusArgs({
        retentionDays,
        retentionSize,
        configPath: `${PROMETHEUS_CONFIG_DIR}/${PROMETHEUS_CONFIG_FILE}`,
        storagePath: PROMETHEUS_DATA_DIR,
      }),
    );
    // The props' targets are checked now, with the rest; later ones by addScrapeTarget.
    const checked = collect(problems, {}, () => this.check(this.sources));
    if (props.image.trim() === "") problems.push("image: is empty (fix: pass the pinned Prometheus image, PINNED_IMAGES.prometheus)");
    if (!Number.isInteger(memoryMb) || memoryMb < 256)
      problems.push(
        `memoryMb: ${memoryMb} must be a whole number of MiB ≥ 256 (fix: the head block of recent samples lives in memory; 1024 is a good start)`,
      );
    if (props.networks.length === 0)
      problems.push("networks: is empty (fix: attach the monitoring network, and the network of any target scraped directly)");
    if (problems.length > 0 || rules === undefined || args === undefined || checked === undefined) {
      throw new ValidationError(`PrometheusServer ${this.node.path}`, problems);
    }
    this.rules = rules;
    this.args = args;
    this.rulesText = renderPrometheusRules(rules);
    // prometheus.yml is rendered at synth: cdktf 0.21's Lazy.stringValue calls its producer whenever
    // the stack is resolved (prepareStack, the policy aspect's render, the final toTerraform; nothing
    // is cached), so the upload holds every target registered before synth, whatever the order the
    // constructs were built in. The kit escapes "${" and "%{" in plain file contents but leaves a
    // token alone, and cdktf inserts a produced string verbatim, so the producer escapes.
    const config = Lazy.stringValue({ produce: () => escapeTemplateText(this.renderAtSynth()) });

    // The image declares VOLUME /prometheus, owned by nobody: an empty named volume mounted there
    // is filled from the image on first use, ownership included (copy-up), so nobody can write it
    // without a chown step or a root init container.
    this.dataVolume = new ServiceVolume(this, "data", {
      environment: props.environment,
      service: HOST,
      purpose: "data",
      protect: props.protectData ?? false,
    });
    this.service = new HardenedService(this, "server", {
      environment: props.environment,
      service: HOST,
      component: "observability",
      role: "metrics",
      image: new ServiceImage(this, "image", { ref: props.image }),
      // The image's own unprivileged user (nobody:nobody in its busybox base).
      user: "65534:65534",
      memoryMb,
      cpuShares: props.cpuShares,
      // The image's ENTRYPOINT is /bin/prometheus: this replaces its CMD (the default flags).
      command: [...args],
      configDirs: [
        { path: PROMETHEUS_CONFIG_DIR, files: [{ name: PROMETHEUS_CONFIG_FILE, content: config }] },
        { path: PROMETHEUS_RULES_DIR, files: [{ name: PROMETHEUS_RULES_FILE, content: this.rulesText }] },
      ],
      volumes: [{ volume: this.dataVolume, containerPath: PROMETHEUS_DATA_DIR }],
      networks: props.networks,
      healthcheck: {
        // busybox wget; /-/healthy answers as soon as the web handler runs (also while the WAL replays).
        test: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${PORT}/-/healthy`],
        interval: "30s",
        timeout: "5s",
        retries: 3,
        startPeriod: "30s",
      },
    });
  }

  /**
   * Scrapes `source`: a construct describing its own targets (IScrapeTarget: exporters, the edge,
   * Loki ...; asked again at synth, so what it adds later is scraped too) or one plain entry.
   * Checked in the call together with everything registered before (unknown job, bad "host:port", an
   * instance listed twice ...); throws naming the entry, the field and the fix. Returns the entries
   * it contributes now. Order does not matter: jobs and targets are sorted in prometheus.yml.
   */
  addScrapeTarget(source: IScrapeTarget | ScrapeTarget): readonly ScrapeTarget[] {
    const kept = stored(source);
    const problems: string[] = [];
    collect(problems, {}, () => this.check([...this.sources, kept]));
    if (problems.length > 0) {
      const what = isScrapeTargetSource(source) ? sourceName(source) : `job ${JSON.stringify(source.job)}`;
      throw new ValidationError(
        `PrometheusServer ${this.node.path}: addScrapeTarget ${what} (indexes count every entry registered, in order)`,
        problems,
      );
    }
    this.sources.push(kept);
    return entriesOf(kept);
  }

  /** The scrape entries registered so far, including the self-scrape (what prometheus.yml renders). */
  get scrapeTargets(): readonly ScrapeTarget[] {
    return withSelf(this.sources.flatMap(entriesOf));
  }

  /** prometheus.yml of the targets registered so far: what synth uploads, once every target is in. */
  get configText(): string {
    return this.render(this.sources);
  }

  private render(sources: readonly (IScrapeTarget | ScrapeTarget)[]): string {
    return renderPrometheusConfig(this.configInput(sources));
  }

  /** True, or throws what render would: a whole prometheus.yml per added target is not needed to check it. */
  private check(sources: readonly (IScrapeTarget | ScrapeTarget)[]): true {
    checkPrometheusConfig(this.configInput(sources));
    return true;
  }

  private configInput(sources: readonly (IScrapeTarget | ScrapeTarget)[]): PrometheusConfigInput {
    return {
      environment: this.environment,
      scrapeTargets: withSelf(sources.flatMap(entriesOf)),
      ruleFiles: [`${PROMETHEUS_RULES_DIR}/*.yml`],
    };
  }

  /** A source may have changed after it was checked: say which construct failed, not just the renderer. */
  private renderAtSynth(): string {
    try {
      return this.configText;
    } catch (e) {
      throw new ValidationError(`PrometheusServer ${this.node.path}: prometheus.yml at synth`, problemsOf(e));
    }
  }
}

/**
 * Runs a renderer and turns its ValidationError's "<key> <message>" problems into
 * "<prefix><key>: <message>" (keys renamed through `rename` first); returns undefined when it threw.
 */
export function collect<T>(problems: string[], rename: Readonly<Record<string, string>>, render: () => T, prefix = ""): T | undefined {
  try {
    return render();
  } catch (e) {
    if (!(e instanceof ValidationError)) {
      problems.push(...problemsOf(e));
      return undefined;
    }
    for (const text of e.problems) {
      const space = text.indexOf(" ");
      const key = space === -1 ? text : text.slice(0, space);
      const rest = space === -1 ? "" : text.slice(space + 1);
      problems.push(`${prefix}${rename[key] ?? key}: ${rest}`);
    }
    return undefined;
  }
}

const SELF: ScrapeTarget = { job: "prometheus", targets: [`${HOST}:${PORT}`] };

/** A plain entry is copied (the caller changing it later changes nothing); a construct is kept, and asked again at synth. */
function stored(source: IScrapeTarget | ScrapeTarget): IScrapeTarget | ScrapeTarget {
  if (isScrapeTargetSource(source)) return source;
  return {
    ...source,
    targets: [...source.targets],
    ...(source.params ? { params: Object.fromEntries(Object.entries(source.params).map(([k, v]) => [k, [...v]])) } : {}),
    ...(source.labels ? { labels: { ...source.labels } } : {}),
  };
}

function entriesOf(source: IScrapeTarget | ScrapeTarget): readonly ScrapeTarget[] {
  return isScrapeTargetSource(source) ? source.scrapeTargets() : [source];
}

/** The entries plus Prometheus' own target, unless one of them lists it already. */
function withSelf(entries: readonly ScrapeTarget[]): readonly ScrapeTarget[] {
  const listed = entries.some((t) => t.job === SELF.job && t.targets.includes(SELF.targets[0]!));
  return listed ? entries : [...entries, SELF];
}

function sourceName(source: IScrapeTarget): string {
  return source instanceof Construct ? source.node.path : source.constructor.name;
}
