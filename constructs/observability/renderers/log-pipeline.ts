/**
 * One typed description of log shipping, rendered by both shippers (docs/architecture.md "Logs": Alloy is the
 * default, Promtail stays a supported choice). alloy.ts and promtail.ts translate this object and
 * add nothing of their own, so the two cannot drift: same discovery filter, same labels, same
 * multiline rule, same drop rules, same limits.
 *
 * Regular expressions here run in Go's RE2 inside the shippers and in JavaScript in our tests, so
 * they are kept to the subset both engines read the same way (see portableRegexProblem).
 */
import { APP_LOG_FIELDS, LOG_LABELS, type LogLabel } from "./observability-catalogue";
import { LABELS, PROJECT } from "../../kit/secure-defaults";
import { ValidationError } from "../../contract/errors";

/** Docker meta labels set by Prometheus' Docker discovery (used by discovery.docker and docker_sd_configs). */
export const DOCKER_META = {
  containerId: "__meta_docker_container_id",
  containerName: "__meta_docker_container_name",
  /** Set per stream by the log readers (Alloy loki.source.docker, Promtail's docker target), not by discovery. */
  logStream: "__meta_docker_container_log_stream",
} as const;

/** `__meta_docker_container_label_<name>`: discovery sanitizes every character outside [a-zA-Z0-9_] to "_". */
export function dockerLabelMeta(dockerLabel: string): string {
  return `__meta_docker_container_label_${dockerLabel.replace(/[^a-zA-Z0-9_]/g, "_")}`;
}

/** A filter passed to the Docker API's container list (e.g. name "label", values ["k=v"]; several label values must all match). */
export interface DockerFilter {
  readonly name: string;
  readonly values: readonly string[];
}

/**
 * One Prometheus-style relabel rule. Regexes are anchored at both ends by the shippers, as in
 * Prometheus. The same rules run on discovered targets (filtering) and again on every stream
 * (where the stream meta label exists); they are written so that running them twice is harmless.
 */
export interface RelabelRule {
  readonly action: "replace" | "keep" | "drop";
  readonly sourceLabels: readonly string[];
  /** @default "(.*)" */
  readonly regex?: string;
  /** Required for "replace". */
  readonly targetLabel?: string;
  /** @default "$1" */
  readonly replacement?: string;
}

/**
 * Joins a stack trace into the entry it belongs to. A new entry starts at every line matching
 * `firstLine`; every other line continues the previous entry (that is all Alloy's and Promtail's
 * multiline stages know: they have no separate continuation pattern).
 */
export interface MultilineRule {
  /** RE2/JS regex for the first line of an entry. */
  readonly firstLine: string;
  /** Lines per entry before a new one is forced (both shippers default to 128). */
  readonly maxLines: number;
  /** Go duration: a lone entry is sent after this long without a next line. */
  readonly maxWaitTime: string;
}

/** JSON parsing of the UpdateIO services' lines (APP_LOG_FIELDS). */
export interface JsonParsing {
  /** Extracted name -> JMESPath expression (only names, dots and `||`: our tests evaluate them). */
  readonly expressions: Readonly<Record<string, string>>;
  /** Extracted values lower-cased before use (so "INFO" and "info" are one stream). */
  readonly lowercase: readonly string[];
  /** Extracted values promoted to stream labels (few values only). */
  readonly labels: readonly LogLabel[];
  /** Extracted values attached as Loki structured metadata (high cardinality: never labels). */
  readonly structuredMetadata: readonly string[];
}

/**
 * Drops an entry when `expression` (RE2/JS, unanchored) matches either the line (no `source`) or
 * the extracted `source` values joined by `separator` (missing ones are skipped, as in both shippers).
 */
export interface DropRule {
  /** Reported as drop_counter_reason, so the drop counters say which rule fired. */
  readonly name: string;
  readonly expression: string;
  readonly source?: readonly string[];
  /** @default ";" */
  readonly separator?: string;
}

/** Per-label token bucket: one runaway container cannot starve the others or trip Loki's tenant limit. */
export interface RateLimit {
  readonly linesPerSecond: number;
  readonly burstLines: number;
  /** Stream label limited independently (its values are few: one per container). */
  readonly byLabel: LogLabel;
}

export interface LogPipeline {
  /** Environment whose containers this shipper reads ("dev", "test", "prod"). */
  readonly environment: string;
  /** Loki push URL, e.g. http://loki:3100/loki/api/v1/push. */
  readonly lokiUrl: string;
  /** Docker API through the read-only socket proxy, e.g. tcp://docker-socket-proxy:2375. Never unix://. */
  readonly dockerHost: string;
  /** Go duration between container list refreshes. */
  readonly refreshInterval: string;
  /** Asked of the Docker API, so other containers are never even listed. */
  readonly dockerFilters: readonly DockerFilter[];
  /** Filtering (keep/drop) and the mapping from Docker metadata to LOG_LABELS. */
  readonly relabelRules: readonly RelabelRule[];
  readonly multiline: MultilineRule;
  readonly json: JsonParsing;
  readonly dropRules: readonly DropRule[];
  readonly rateLimit: RateLimit;
  /** Entries longer than this are truncated (not dropped) by the shipper; Loki gets the same limit. */
  readonly maxLineBytes: number;
}

export interface LogPipelineInput {
  readonly environment: string;
  readonly lokiUrl: string;
  readonly dockerHost: string;
  /** @default "15s" */
  readonly refreshInterval?: string;
  /** @default 262144 (256 KiB, Loki's own default max_line_size) */
  readonly maxLineBytes?: number;
  /** @default 200 lines/s per container */
  readonly linesPerSecond?: number;
  /** @default 2000 lines per container */
  readonly burstLines?: number;
}

export const LOG_PIPELINE_DEFAULTS = {
  refreshInterval: "15s",
  maxLineBytes: 262_144,
  linesPerSecond: 200,
  burstLines: 2000,
  multilineMaxLines: 128,
  multilineMaxWait: "3s",
} as const;

/**
 * First line = any line that does not start with a space or a tab. So a JSON line (`{...}`), a
 * timestamped line, `Error: boom` or `/app/dist/server.js:42` each start an entry, while indented
 * lines continue it: Node/Java frames (`    at f (file.js:1:2)`, `\tat com.x.Y`), Python frames
 * (`  File "x.py", line 3`) and the caret lines Node prints. Chosen over "starts with { or a
 * timestamp" because our containers also run Redis, RabbitMQ and Postgres, whose lines start with
 * neither and would otherwise be glued into 128-line blocks. Written `[^ \t]`, not `\S`: RE2's \S
 * is ASCII-only and JavaScript's is Unicode, and this class reads the same in both.
 */
export const MULTILINE_FIRST_LINE = "^[^ \\t]";

/** Extracted names used by the pipeline (JSON fields of APP_LOG_FIELDS plus the HTTP path for drop rules). */
export const EXTRACTED = {
  level: "level",
  requestId: "request_id",
  traceId: "trace_id",
  status: "status",
  httpPath: "http_path",
} as const;

const HEALTH_PATHS = "(?:health|healthz|livez|readyz)";

/**
 * Health-check and scrape noise, dropped only when the request succeeded (2xx/3xx), so a failing
 * probe (5xx, timeouts logged as errors) still reaches Loki. Two shapes each:
 * - JSON lines: the extracted path and status, joined by a space ("/healthz 200");
 * - plain access-log lines, Common Log Format (`"GET /healthz HTTP/1.1" 200 ...`) or
 *   morgan-style (`GET /healthz 200 1.2 ms`).
 */
export const DEFAULT_DROP_RULES: readonly DropRule[] = [
  {
    name: "health_probe_json",
    source: [EXTRACTED.httpPath, EXTRACTED.status],
    separator: " ",
    expression: `^/${HEALTH_PATHS}(?:[/?][^ ]*)? [23][0-9][0-9]$`,
  },
  {
    name: "metrics_scrape_json",
    source: [EXTRACTED.httpPath, EXTRACTED.status],
    separator: " ",
    expression: "^/metrics(?:[?][^ ]*)? [23][0-9][0-9]$",
  },
  {
    name: "health_probe_access_log",
    expression: `(?:^|[" ])(?:GET|HEAD) /${HEALTH_PATHS}(?:[/?][^ "]*)?(?: HTTP/[0-9.]+")? [23][0-9][0-9](?: |$)`,
  },
  {
    name: "metrics_scrape_access_log",
    expression: `(?:^|[" ])(?:GET|HEAD) /metrics(?:[?][^ "]*)?(?: HTTP/[0-9.]+")? [23][0-9][0-9](?: |$)`,
  },
];

/** Escapes a literal for use inside a regex (the escapes mean the same in RE2 and JavaScript). */
export function escapeRegex(literal: string): string {
  return literal.replace(/[\\^$.|?*+()[\]{}]/g, "\\$&");
}

/** The standard pipeline: our project's containers of one environment, LOG_LABELS, JSON level, health noise dropped. */
export function defaultLogPipeline(input: LogPipelineInput): LogPipeline {
  const envLabel = dockerLabelMeta(LABELS.environment);
  const pipeline: LogPipeline = {
    environment: input.environment,
    lokiUrl: input.lokiUrl,
    dockerHost: input.dockerHost,
    refreshInterval: input.refreshInterval ?? LOG_PIPELINE_DEFAULTS.refreshInterval,
    dockerFilters: [{ name: "label", values: [`${LABELS.project}=${PROJECT}`, `${LABELS.environment}=${input.environment}`] }],
    relabelRules: [
      // Defence in depth: the Docker filter already did this, but a filter typo must not ship every container on the host.
      { action: "keep", sourceLabels: [dockerLabelMeta(LABELS.project)], regex: escapeRegex(PROJECT) },
      { action: "keep", sourceLabels: [envLabel], regex: escapeRegex(input.environment) },
      { action: "replace", sourceLabels: [envLabel], targetLabel: "environment" },
      { action: "replace", sourceLabels: [dockerLabelMeta(LABELS.service)], targetLabel: "service" },
      { action: "replace", sourceLabels: [dockerLabelMeta(LABELS.component)], targetLabel: "component" },
      // Docker names start with "/": "/dev-api-1" becomes "dev-api-1".
      { action: "replace", sourceLabels: [DOCKER_META.containerName], regex: "/(.*)", targetLabel: "container" },
      // Absent at discovery (the rule then sets nothing), present on every stream: "stdout" or "stderr".
      { action: "replace", sourceLabels: [DOCKER_META.logStream], targetLabel: "stream" },
    ],
    multiline: {
      firstLine: MULTILINE_FIRST_LINE,
      maxLines: LOG_PIPELINE_DEFAULTS.multilineMaxLines,
      maxWaitTime: LOG_PIPELINE_DEFAULTS.multilineMaxWait,
    },
    json: {
      expressions: {
        [EXTRACTED.level]: APP_LOG_FIELDS.level,
        [EXTRACTED.requestId]: APP_LOG_FIELDS.requestId,
        [EXTRACTED.traceId]: APP_LOG_FIELDS.traceId,
        // pino-http nests the response status; Caddy and our services log it flat.
        [EXTRACTED.status]: `${APP_LOG_FIELDS.status} || res.statusCode`,
        // Our services (path), pino-http (req.url), Caddy (request.uri).
        [EXTRACTED.httpPath]: "path || url || req.url || request.uri",
      },
      lowercase: [EXTRACTED.level],
      labels: ["level"],
      structuredMetadata: [EXTRACTED.requestId, EXTRACTED.traceId],
    },
    dropRules: DEFAULT_DROP_RULES,
    rateLimit: {
      linesPerSecond: input.linesPerSecond ?? LOG_PIPELINE_DEFAULTS.linesPerSecond,
      burstLines: input.burstLines ?? LOG_PIPELINE_DEFAULTS.burstLines,
      byLabel: "container",
    },
    maxLineBytes: input.maxLineBytes ?? LOG_PIPELINE_DEFAULTS.maxLineBytes,
  };
  assertValidLogPipeline(pipeline);
  return pipeline;
}

/** Throws one error listing every problem (each names its key and the fix). */
export function assertValidLogPipeline(pipeline: LogPipeline): void {
  const problems = logPipelineProblems(pipeline);
  if (problems.length > 0) {
    throw new ValidationError("log pipeline", problems);
  }
}

const GO_DURATION = /^(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+$/;
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
/** JMESPath subset: dotted identifiers joined by `||`. */
const JMES_SUBSET = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?: \|\| [A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)*$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Every problem of a pipeline, each naming the key and the fix; empty when valid. */
export function logPipelineProblems(p: LogPipeline): string[] {
  const problems: string[] = [];

  if (typeof p.environment !== "string" || p.environment.length === 0 || p.environment.length > 63 || CONTROL.test(p.environment)) {
    problems.push(`environment ${JSON.stringify(p.environment)} is not usable: give 1-63 printable characters, e.g. "dev" or "prod".`);
  }

  let lokiUrl: URL | undefined;
  try {
    lokiUrl = new URL(p.lokiUrl);
  } catch {
    lokiUrl = undefined;
  }
  if (!lokiUrl || (lokiUrl.protocol !== "http:" && lokiUrl.protocol !== "https:") || !lokiUrl.pathname.endsWith("/loki/api/v1/push")) {
    problems.push(`lokiUrl ${JSON.stringify(p.lokiUrl)} is not a Loki push URL: write "http://loki:3100/loki/api/v1/push".`);
  }

  if (/^unix:/i.test(p.dockerHost) || /docker\.sock/.test(p.dockerHost)) {
    problems.push(
      `dockerHost ${JSON.stringify(p.dockerHost)} is the raw Docker socket: point at the read-only socket proxy instead, e.g. "tcp://docker-socket-proxy:2375" (docs/architecture.md, Logs).`,
    );
  } else if (!/^(?:tcp|http|https):\/\/[A-Za-z0-9.-]+:[0-9]{1,5}$/.test(p.dockerHost)) {
    problems.push(`dockerHost ${JSON.stringify(p.dockerHost)} is not a Docker API address: write "tcp://docker-socket-proxy:2375".`);
  }

  if (!GO_DURATION.test(p.refreshInterval)) {
    problems.push(`refreshInterval ${JSON.stringify(p.refreshInterval)} is not a Go duration: write e.g. "15s" or "1m".`);
  }

  const projectFilter = `${LABELS.project}=${PROJECT}`;
  if (!p.dockerFilters.some((f) => f.name === "label" && f.values.includes(projectFilter))) {
    problems.push(
      `dockerFilters must ask Docker for label ${projectFilter}: add { name: "label", values: ["${projectFilter}"] } so other projects' containers are never read.`,
    );
  }
  p.dockerFilters.forEach((f, i) => {
    if (!/^[a-z_]+$/.test(f.name) || f.values.length === 0 || f.values.some((v) => v.length === 0 || CONTROL.test(v))) {
      problems.push(
        `dockerFilters[${i}] is malformed: give a Docker filter name such as "label" and non-empty values such as "${projectFilter}".`,
      );
    }
  });

  const produced = new Set<string>();
  p.relabelRules.forEach((r, i) => {
    const key = `relabelRules[${i}]`;
    if (!["replace", "keep", "drop"].includes(r.action))
      problems.push(`${key}.action ${JSON.stringify(r.action)} is not supported: use "replace", "keep" or "drop".`);
    if (r.sourceLabels.length === 0 || r.sourceLabels.some((l) => !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l))) {
      problems.push(`${key}.sourceLabels must be one or more label names such as "${DOCKER_META.containerName}".`);
    }
    if (r.regex !== undefined) {
      const bad = portableRegexProblem(r.regex);
      if (bad) problems.push(`${key}.regex ${JSON.stringify(r.regex)} ${bad}`);
    }
    if (r.action === "replace") {
      if (r.targetLabel === undefined) {
        problems.push(`${key}.targetLabel is missing: a replace rule must name the label it sets (one of ${LOG_LABELS.join(", ")}).`);
      } else if (!(LOG_LABELS as readonly string[]).includes(r.targetLabel)) {
        problems.push(
          `${key}.targetLabel ${JSON.stringify(r.targetLabel)} is not in LOG_LABELS: use one of ${LOG_LABELS.join(", ")} (observability-catalogue.ts) or add it there first.`,
        );
      } else {
        produced.add(r.targetLabel);
      }
    }
    if (r.replacement !== undefined && CONTROL.test(r.replacement))
      problems.push(`${key}.replacement contains control characters: remove them.`);
  });

  const m = p.multiline;
  const firstBad = portableRegexProblem(m.firstLine);
  if (firstBad) problems.push(`multiline.firstLine ${JSON.stringify(m.firstLine)} ${firstBad}`);
  else if (new RegExp(m.firstLine).test("")) {
    problems.push(
      `multiline.firstLine ${JSON.stringify(m.firstLine)} matches the empty string, so every line would start an entry: anchor it on a real first character, e.g. "${MULTILINE_FIRST_LINE}".`,
    );
  }
  if (!Number.isInteger(m.maxLines) || m.maxLines < 2 || m.maxLines > 10_000)
    problems.push(`multiline.maxLines ${m.maxLines} must be an integer from 2 to 10000 (both shippers default to 128).`);
  if (!GO_DURATION.test(m.maxWaitTime))
    problems.push(`multiline.maxWaitTime ${JSON.stringify(m.maxWaitTime)} is not a Go duration: write e.g. "3s".`);

  const extracted = new Set(Object.keys(p.json.expressions));
  for (const [name, expr] of Object.entries(p.json.expressions)) {
    if (!IDENTIFIER.test(name))
      problems.push(`json.expressions key ${JSON.stringify(name)} is not an identifier: use lower_snake_case such as "request_id".`);
    if (!JMES_SUBSET.test(expr))
      problems.push(
        `json.expressions.${name} ${JSON.stringify(expr)} is outside the supported JMESPath subset: use dotted field names joined by " || ", e.g. "path || req.url".`,
      );
  }
  for (const name of p.json.lowercase) {
    if (!extracted.has(name))
      problems.push(`json.lowercase ${JSON.stringify(name)} is not extracted: add it to json.expressions or remove it.`);
  }
  for (const label of p.json.labels) {
    if (!extracted.has(label))
      problems.push(`json.labels ${JSON.stringify(label)} is not extracted: add it to json.expressions (e.g. ${label}: "${label}").`);
    if (!(LOG_LABELS as readonly string[]).includes(label))
      problems.push(`json.labels ${JSON.stringify(label)} is not in LOG_LABELS: use one of ${LOG_LABELS.join(", ")}.`);
    if (produced.has(label))
      problems.push(`json.labels ${JSON.stringify(label)} is also set by a relabel rule: set each label in one place.`);
    produced.add(label);
  }
  for (const name of p.json.structuredMetadata) {
    if (!extracted.has(name))
      problems.push(`json.structuredMetadata ${JSON.stringify(name)} is not extracted: add it to json.expressions.`);
    if ((p.json.labels as readonly string[]).includes(name) || (LOG_LABELS as readonly string[]).includes(name)) {
      problems.push(
        `json.structuredMetadata ${JSON.stringify(name)} is also a label: keep high-cardinality ids out of labels (remove it from one of the two).`,
      );
    }
  }
  for (const id of [EXTRACTED.requestId, EXTRACTED.traceId]) {
    if (produced.has(id)) problems.push(`${id} must never be a stream label (one stream per request): make it structured metadata.`);
  }
  for (const label of LOG_LABELS) {
    if (!produced.has(label))
      problems.push(`label ${JSON.stringify(label)} (LOG_LABELS) is set by no relabel rule or JSON label: add a rule that sets it.`);
  }

  const names = new Set<string>();
  p.dropRules.forEach((d, i) => {
    const key = `dropRules[${i}]`;
    if (!/^[a-z][a-z0-9_]*$/.test(d.name))
      problems.push(`${key}.name ${JSON.stringify(d.name)} must be lower_snake_case (it becomes the drop counter's reason label).`);
    if (names.has(d.name))
      problems.push(
        `${key}.name ${JSON.stringify(d.name)} is used twice: give every rule its own name so its drop counter means one thing.`,
      );
    names.add(d.name);
    const bad = portableRegexProblem(d.expression);
    if (bad) problems.push(`${key}.expression ${JSON.stringify(d.expression)} ${bad}`);
    else if (new RegExp(d.expression).test(""))
      problems.push(`${key}.expression matches the empty string and would drop everything: make it match only the noise.`);
    for (const s of d.source ?? []) {
      if (!extracted.has(s)) problems.push(`${key}.source ${JSON.stringify(s)} is not extracted: add it to json.expressions or remove it.`);
    }
    if (d.source !== undefined && d.source.length === 0)
      problems.push(`${key}.source is empty: omit it to match the line, or name extracted fields.`);
    if (d.separator !== undefined && (d.separator.length === 0 || d.separator.includes(",")))
      problems.push(`${key}.separator ${JSON.stringify(d.separator)} must be non-empty and without commas, e.g. " " or ";".`);
  });

  const rl = p.rateLimit;
  if (!Number.isInteger(rl.linesPerSecond) || rl.linesPerSecond < 1)
    problems.push(`rateLimit.linesPerSecond ${rl.linesPerSecond} must be a positive integer, e.g. 200.`);
  if (!Number.isInteger(rl.burstLines) || rl.burstLines < rl.linesPerSecond)
    problems.push(`rateLimit.burstLines ${rl.burstLines} must be an integer at least linesPerSecond (${rl.linesPerSecond}), e.g. 2000.`);
  if (!produced.has(rl.byLabel))
    problems.push(`rateLimit.byLabel ${JSON.stringify(rl.byLabel)} is not a label the pipeline sets: use "container".`);

  if (!Number.isInteger(p.maxLineBytes) || p.maxLineBytes < 1024 || p.maxLineBytes > 16 * 1024 * 1024 || p.maxLineBytes % 1024 !== 0) {
    problems.push(
      `maxLineBytes ${p.maxLineBytes} must be a whole number of KiB between 1 KiB and 16 MiB, e.g. 262144 (256 KiB, Loki's default).`,
    );
  }
  return problems;
}

/**
 * Why a regex is not in the RE2 ∩ JavaScript subset, or undefined when it is. Refused: any `(?`
 * group other than `(?:` (named groups, lookaround and inline flags differ or do not exist in one
 * engine), backreferences and letter escapes other than \d \D \w \W \s \S \b \B \t \n \r \f.
 */
export function portableRegexProblem(re: string): string | undefined {
  for (let i = 0; i < re.length; i++) {
    const c = re[i];
    if (c === "\\") {
      const next = re[i + 1];
      if (next === undefined) return "ends with a lone backslash: escape it as \\\\.";
      if (/[A-Za-z0-9]/.test(next) && !"dDwWsSbBtnrf".includes(next)) {
        return `uses \\${next}, which RE2 and JavaScript read differently (or one lacks): write a character class instead.`;
      }
      i++;
    } else if (c === "(" && re[i + 1] === "?" && re[i + 2] !== ":") {
      return "uses a (?...) group other than (?:...): named groups, lookaround and inline flags are not portable between RE2 and JavaScript.";
    }
  }
  try {
    new RegExp(re);
  } catch (e) {
    return `does not compile: ${(e as Error).message}.`;
  }
  return undefined;
}
