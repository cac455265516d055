// Structural tests for the log renderers (Loki, Alloy, Promtail, socket proxy). Loki, Alloy and
// Promtail are not packaged for our machines (docs/architecture.md), so nothing here runs them: the output is
// checked against their documented keys, Alloy's syntax rules are checked by a small parser below,
// and the pipeline's regexes are exercised with JavaScript's engine (kept to the RE2 ∩ JS subset).
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderAlloyConfig, alloyString, ALLOY_COMPONENTS } from "../../constructs/observability/renderers/alloy";
import { renderPromtailConfig } from "../../constructs/observability/renderers/promtail";
import { renderLokiConfig, LOKI_TARGET_VERSION } from "../../constructs/observability/renderers/loki";
import { socketProxyEnv, SOCKET_PROXY_PORT, SOCKET_PROXY_SECTIONS } from "../../constructs/observability/renderers/docker-socket-proxy";
import {
  defaultLogPipeline,
  logPipelineProblems,
  portableRegexProblem,
  DOCKER_META,
  type DropRule,
  type LogPipeline,
  type RelabelRule,
} from "../../constructs/observability/renderers/log-pipeline";
import { LOG_LABELS } from "../../constructs/observability/renderers/observability-catalogue";

const BASE = { environment: "dev", lokiUrl: "http://loki:3100/loki/api/v1/push", dockerHost: "tcp://docker-socket-proxy:2375" } as const;
const pipeline = defaultLogPipeline(BASE);

// ---------------------------------------------------------------------------------------------
// A small Alloy syntax parser (grafana/alloy docs: get-started/syntax.md, expressions/types_and_values.md).
// ---------------------------------------------------------------------------------------------

type Tok =
  | { t: "ident"; v: string; line: number }
  | { t: "string"; v: string; line: number }
  | { t: "number"; v: number; line: number }
  | { t: "punct"; v: string; line: number }
  | { t: "nl"; line: number };

type Value =
  | { kind: "string"; value: string }
  | { kind: "number"; value: number }
  | { kind: "bool"; value: boolean }
  | { kind: "null" }
  | { kind: "array"; items: Value[] }
  | { kind: "object"; entries: [string, Value][] }
  | { kind: "ref"; path: string }
  | { kind: "call"; fn: string; args: Value[] };

interface Attr {
  type: "attr";
  name: string;
  value: Value;
  line: number;
}
interface Block {
  type: "block";
  name: string;
  label?: string;
  body: (Attr | Block)[];
  line: number;
}

function unescapeAlloy(raw: string, line: number): string {
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const e = raw[++i];
    const simple: Record<string, string> = {
      "\\": "\\",
      a: "\x07",
      b: "\b",
      f: "\f",
      n: "\n",
      r: "\r",
      t: "\t",
      v: "\v",
      "'": "'",
      '"': '"',
    };
    if (e !== undefined && e in simple) out += simple[e];
    else if (e !== undefined && /[0-7]/.test(e)) {
      const oct = raw.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) throw new Error(`line ${line}: bad octal escape`);
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
    } else if (e === "x" || e === "u" || e === "U") {
      const n = e === "x" ? 2 : e === "u" ? 4 : 8;
      const hex = raw.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) throw new Error(`line ${line}: bad \\${e} escape`);
      out += String.fromCodePoint(parseInt(hex, 16));
      i += n;
    } else throw new Error(`line ${line}: unknown escape \\${e ?? "(end)"}`);
  }
  return out;
}

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  let line = 1;
  while (i < src.length) {
    const c = src[i]!;
    if (c === "\n") {
      toks.push({ t: "nl", line });
      line++;
      i++;
    } else if (c === " " || c === "\t" || c === "\r") i++;
    else if (src.startsWith("//", i)) {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (src.startsWith("/*", i)) {
      const end = src.indexOf("*/", i + 2);
      if (end < 0) throw new Error(`line ${line}: unterminated block comment`);
      line += (src.slice(i, end).match(/\n/g) ?? []).length;
      i = end + 2;
    } else if (c === '"') {
      let j = i + 1;
      let raw = "";
      while (true) {
        const d = src[j];
        if (d === undefined || d === "\n") throw new Error(`line ${line}: unterminated string`);
        if (d === "\\") {
          raw += d + (src[j + 1] ?? "");
          j += 2;
          continue;
        }
        if (d === '"') break;
        raw += d;
        j++;
      }
      toks.push({ t: "string", v: unescapeAlloy(raw, line), line });
      i = j + 1;
    } else if (c === "`") {
      const end = src.indexOf("`", i + 1);
      if (end < 0) throw new Error(`line ${line}: unterminated raw string`);
      const v = src.slice(i + 1, end);
      toks.push({ t: "string", v, line });
      line += (v.match(/\n/g) ?? []).length;
      i = end + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      toks.push({ t: "ident", v: m[0], line });
      i += m[0].length;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(?:\.[0-9]+)?/.exec(src.slice(i))!;
      toks.push({ t: "number", v: Number(m[0]), line });
      i += m[0].length;
    } else if ("{}[](),=.".includes(c)) {
      toks.push({ t: "punct", v: c, line });
      i++;
    } else throw new Error(`line ${line}: unexpected character ${JSON.stringify(c)}`);
  }
  return toks;
}

function parseAlloy(src: string): Block[] {
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const isP = (v: string) => peek()?.t === "punct" && (peek() as { v: string }).v === v;
  const expectP = (v: string) => {
    const tok = toks[p++];
    if (!tok || tok.t !== "punct" || tok.v !== v) throw new Error(`line ${tok?.line ?? "EOF"}: expected ${JSON.stringify(v)}`);
  };
  const skipNl = () => {
    while (peek()?.t === "nl") p++;
  };
  /** After a statement: a newline, a closing brace (not consumed) or the end. */
  const terminator = () => {
    const tok = peek();
    if (!tok || tok.t === "nl") {
      p++;
      return;
    }
    if (isP("}")) return;
    throw new Error(`line ${tok.line}: statement not terminated by a newline`);
  };
  const dotted = (first: string): string => {
    let name = first;
    while (isP(".")) {
      p++;
      const next = toks[p++];
      if (!next || next.t !== "ident") throw new Error(`line ${next?.line ?? "EOF"}: identifier expected after "."`);
      name += `.${next.v}`;
    }
    return name;
  };
  /** A list closed on its own line needs a trailing comma (types_and_values.md). */
  const closing = (close: string, sawComma: boolean, line: number) => {
    const nlBefore = toks[p - 1]?.t === "nl";
    if (nlBefore && !sawComma) throw new Error(`line ${line}: missing trailing comma before ${close} on its own line`);
    expectP(close);
  };
  /** Items up to `close` (consumed), each followed by a comma or, for the last, by `close`; new lines allowed after commas. */
  const separated = <T>(close: "]" | "}", what: string, line: number, item: () => T): T[] => {
    const items: T[] = [];
    let sawComma = false;
    skipNl();
    while (!isP(close)) {
      items.push(item());
      sawComma = false;
      if (isP(",")) {
        p++;
        sawComma = true;
      }
      if (peek()?.t === "nl") {
        skipNl();
        if (!isP(close) && !sawComma) throw new Error(`line ${line}: missing comma between ${what}`);
      } else if (!sawComma && !isP(close)) throw new Error(`line ${line}: missing comma between ${what}`);
    }
    closing(close, sawComma, line);
    return items;
  };
  const expr = (): Value => {
    const tok = toks[p++];
    if (!tok) throw new Error("unexpected end in expression");
    if (tok.t === "string") return { kind: "string", value: tok.v };
    if (tok.t === "number") return { kind: "number", value: tok.v };
    if (tok.t === "ident") {
      if (tok.v === "true" || tok.v === "false") return { kind: "bool", value: tok.v === "true" };
      if (tok.v === "null") return { kind: "null" };
      const path = dotted(tok.v);
      if (isP("(")) {
        p++;
        const args: Value[] = [];
        while (!isP(")")) {
          args.push(expr());
          if (isP(",")) p++;
        }
        p++;
        return { kind: "call", fn: path, args };
      }
      return { kind: "ref", path };
    }
    if (tok.t === "punct" && tok.v === "[") return { kind: "array", items: separated("]", "array items", tok.line, expr) };
    if (tok.t === "punct" && tok.v === "{") {
      const entry = (): [string, Value] => {
        const key = toks[p++];
        if (!key || (key.t !== "ident" && key.t !== "string")) throw new Error(`line ${tok.line}: object key expected`);
        expectP("=");
        return [key.v as string, expr()];
      };
      return { kind: "object", entries: separated("}", "object entries", tok.line, entry) };
    }
    throw new Error(`line ${tok.line}: unexpected token in expression`);
  };
  const body = (nested: boolean): (Attr | Block)[] => {
    const items: (Attr | Block)[] = [];
    for (;;) {
      skipNl();
      const tok = peek();
      if (!tok) {
        if (nested) throw new Error("unexpected end: unclosed block");
        return items;
      }
      if (isP("}")) {
        if (!nested) throw new Error(`line ${tok.line}: unbalanced "}"`);
        return items;
      }
      if (tok.t !== "ident") throw new Error(`line ${tok.line}: attribute or block name expected`);
      p++;
      const name = dotted(tok.v);
      if (isP("=")) {
        if (name.includes(".")) throw new Error(`line ${tok.line}: attribute name ${name} must be a plain identifier`);
        p++;
        items.push({ type: "attr", name, value: expr(), line: tok.line });
        terminator();
        continue;
      }
      let label: string | undefined;
      const next = peek();
      if (next?.t === "string") {
        label = next.v;
        p++;
      }
      expectP("{");
      const inner = body(true);
      expectP("}");
      items.push({ type: "block", name, ...(label !== undefined ? { label } : {}), body: inner, line: tok.line });
      terminator();
    }
  };
  const top = body(false);
  for (const item of top)
    if (item.type !== "block") throw new Error(`line ${item.line}: top-level attribute ${item.name} is not expected here`);
  return top as Block[];
}

/** Documented arguments (A) and blocks (B) of what we render; R = required arguments; E = exports. */
const ALLOY_SCHEMA: Record<string, { A: string[]; B?: string[]; R?: string[]; E?: string[]; labeled: boolean }> = {
  logging: { A: ["level", "format", "destination", "write_to"], labeled: false },
  "discovery.docker": {
    A: [
      "host",
      "port",
      "host_networking_host",
      "refresh_interval",
      "match_first_network",
      "bearer_token_file",
      "bearer_token",
      "enable_http2",
      "follow_redirects",
      "proxy_url",
      "no_proxy",
    ],
    B: ["filter"],
    R: ["host"],
    E: ["targets"],
    labeled: true,
  },
  filter: { A: ["name", "values"], R: ["name", "values"], labeled: false },
  "discovery.relabel": { A: ["targets"], B: ["rule"], R: ["targets"], E: ["output", "rules"], labeled: true },
  rule: { A: ["action", "modulus", "regex", "replacement", "separator", "source_labels", "target_label"], labeled: false },
  "loki.source.docker": {
    A: ["forward_to", "host", "labels", "targets", "refresh_interval", "relabel_rules"],
    B: ["client"],
    R: ["forward_to", "host", "targets"],
    labeled: true,
  },
  "loki.process": {
    A: ["forward_to"],
    B: [
      "stage.multiline",
      "stage.json",
      "stage.template",
      "stage.labels",
      "stage.structured_metadata",
      "stage.drop",
      "stage.limit",
      "stage.truncate",
    ],
    R: ["forward_to"],
    E: ["receiver"],
    labeled: true,
  },
  "stage.multiline": { A: ["firstline", "max_lines", "max_wait_time"], R: ["firstline"], labeled: false },
  "stage.json": { A: ["expressions", "drop_malformed", "source"], R: ["expressions"], labeled: false },
  "stage.template": { A: ["source", "template"], R: ["source", "template"], labeled: false },
  "stage.labels": { A: ["values"], labeled: false },
  "stage.structured_metadata": { A: ["values"], labeled: false },
  "stage.drop": { A: ["drop_counter_reason", "expression", "longer_than", "older_than", "separator", "source", "value"], labeled: false },
  "stage.limit": { A: ["burst", "rate", "by_label_name", "drop", "max_distinct_labels"], R: ["burst", "rate"], labeled: false },
  "stage.truncate": { A: [], B: ["truncate_rule"], labeled: false },
  truncate_rule: { A: ["limit", "suffix", "sources", "source_type"], R: ["limit"], labeled: false },
  "loki.write": { A: ["external_labels", "max_streams"], B: ["endpoint"], E: ["receiver"], labeled: true },
  endpoint: {
    A: [
      "url",
      "batch_size",
      "batch_wait",
      "remote_timeout",
      "tenant_id",
      "name",
      "headers",
      "min_backoff_period",
      "max_backoff_period",
      "max_backoff_retries",
      "retry_on_http_429",
    ],
    R: ["url"],
    labeled: false,
  },
};
const TOP_LEVEL = ["logging", "discovery.docker", "discovery.relabel", "loki.source.docker", "loki.process", "loki.write"];

/** Checks every block against ALLOY_SCHEMA and every reference against a defined component export; returns problems. */
function alloyStructureProblems(blocks: Block[]): string[] {
  const problems: string[] = [];
  const defined = new Map<string, Set<string>>();
  const refs: { path: string; line: number }[] = [];
  const walkValue = (v: Value, line: number) => {
    if (v.kind === "ref") refs.push({ path: v.path, line });
    if (v.kind === "array") v.items.forEach((x) => walkValue(x, line));
    if (v.kind === "object") v.entries.forEach(([, x]) => walkValue(x, line));
    if (v.kind === "call") v.args.forEach((x) => walkValue(x, line));
  };
  const check = (b: Block, schemaName: string, parent?: string) => {
    const schema = ALLOY_SCHEMA[schemaName];
    if (!schema) {
      problems.push(`line ${b.line}: unknown block ${b.name}${parent ? ` in ${parent}` : ""}`);
      return;
    }
    if (schema.labeled && (b.label === undefined || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(b.label)))
      problems.push(`line ${b.line}: ${b.name} needs an identifier label`);
    if (!schema.labeled && b.label !== undefined) problems.push(`line ${b.line}: ${b.name} takes no label`);
    const seen = new Set<string>();
    for (const item of b.body) {
      if (item.type === "attr") {
        if (!schema.A.includes(item.name)) problems.push(`line ${item.line}: ${item.name} is not a documented argument of ${b.name}`);
        if (seen.has(item.name)) problems.push(`line ${item.line}: ${item.name} set twice in ${b.name}`);
        seen.add(item.name);
        walkValue(item.value, item.line);
      } else {
        const childSchema = b.name === "stage.truncate" && item.name === "rule" ? "truncate_rule" : item.name;
        if (!(schema.B ?? []).includes(childSchema))
          problems.push(`line ${item.line}: block ${item.name} is not documented inside ${b.name}`);
        else check(item, childSchema, b.name);
      }
    }
    for (const r of schema.R ?? []) if (!seen.has(r)) problems.push(`line ${b.line}: ${b.name} lacks required argument ${r}`);
  };
  for (const b of blocks) {
    if (!TOP_LEVEL.includes(b.name)) {
      problems.push(`line ${b.line}: ${b.name} is not a component this renderer is allowed to emit`);
      continue;
    }
    check(b, b.name);
    if (b.label !== undefined) {
      const key = `${b.name}.${b.label}`;
      if (defined.has(key)) problems.push(`line ${b.line}: ${key} defined twice`);
      defined.set(key, new Set(ALLOY_SCHEMA[b.name]?.E ?? []));
    }
  }
  for (const r of refs) {
    const parts = r.path.split(".");
    const component = parts.slice(0, 3).join(".");
    const exportName = parts.slice(3).join(".");
    const exports = defined.get(component);
    if (!exports) problems.push(`line ${r.line}: reference ${r.path} names no defined component`);
    else if (!exports.has(exportName)) problems.push(`line ${r.line}: ${component} exports no ${exportName}`);
  }
  return problems;
}

function blocksNamed(blocks: (Attr | Block)[], name: string): Block[] {
  return blocks.filter((b): b is Block => b.type === "block" && b.name === name);
}
function attr(b: Block, name: string): Value | undefined {
  return b.body.find((i): i is Attr => i.type === "attr" && i.name === name)?.value;
}
function str(v: Value | undefined): string | undefined {
  return v?.kind === "string" ? v.value : undefined;
}
function plain(v: Value | undefined): unknown {
  if (!v) return undefined;
  switch (v.kind) {
    case "string":
    case "number":
    case "bool":
      return v.value;
    case "null":
      return null;
    case "array":
      return v.items.map(plain);
    case "object":
      return Object.fromEntries(v.entries.map(([k, x]) => [k, plain(x)]));
    case "ref":
      return { ref: v.path };
    case "call":
      return { call: v.fn };
  }
}

/** The pipeline as Alloy renders it, normalized for comparison with Promtail's. */
function alloyView(text: string) {
  const blocks = parseAlloy(text);
  const [docker] = blocksNamed(blocks, "discovery.docker");
  const [relabel] = blocksNamed(blocks, "discovery.relabel");
  const [source] = blocksNamed(blocks, "loki.source.docker");
  const [proc] = blocksNamed(blocks, "loki.process");
  const [write] = blocksNamed(blocks, "loki.write");
  const stages = proc!.body.filter((i): i is Block => i.type === "block");
  const one = (n: string) => stages.find((s) => s.name === n)!;
  return {
    host: str(attr(docker!, "host")),
    sourceHost: str(attr(source!, "host")),
    refresh: str(attr(docker!, "refresh_interval")),
    filters: blocksNamed(docker!.body, "filter").map((f) => ({ name: str(attr(f, "name")), values: plain(attr(f, "values")) })),
    relabel: blocksNamed(relabel!.body, "rule").map((r) => ({
      action: str(attr(r, "action")),
      source_labels: plain(attr(r, "source_labels")),
      regex: str(attr(r, "regex")),
      target_label: str(attr(r, "target_label")),
      replacement: str(attr(r, "replacement")),
    })),
    stageOrder: stages.map((s) => s.name.replace(/^stage\./, "")),
    firstline: str(attr(one("stage.multiline"), "firstline")),
    maxLines: plain(attr(one("stage.multiline"), "max_lines")),
    maxWait: str(attr(one("stage.multiline"), "max_wait_time")),
    expressions: plain(attr(one("stage.json"), "expressions")),
    templates: stages
      .filter((s) => s.name === "stage.template")
      .map((s) => ({ source: str(attr(s, "source")), template: str(attr(s, "template")) })),
    labels: plain(attr(one("stage.labels"), "values")),
    structuredMetadata: plain(attr(one("stage.structured_metadata"), "values")),
    drops: stages
      .filter((s) => s.name === "stage.drop")
      .map((s) => ({
        reason: str(attr(s, "drop_counter_reason")),
        source: str(attr(s, "source"))?.split(","),
        separator: str(attr(s, "separator")),
        expression: str(attr(s, "expression")),
      })),
    limit: plain(attr(one("stage.limit"), "rate")),
    burst: plain(attr(one("stage.limit"), "burst")),
    limitBy: str(attr(one("stage.limit"), "by_label_name")),
    limitDrop: plain(attr(one("stage.limit"), "drop")),
    truncate: str(attr(blocksNamed(one("stage.truncate").body, "rule")[0]!, "limit")),
    url: str(attr(blocksNamed(write!.body, "endpoint")[0]!, "url")),
  };
}

/** The pipeline as Promtail renders it, in the same shape as alloyView. */
function promtailView(text: string) {
  const doc = parse(text) as any;
  const sc = doc.scrape_configs[0];
  const sd = sc.docker_sd_configs[0];
  const stages: Record<string, any>[] = sc.pipeline_stages;
  const one = (n: string) => stages.find((s) => n in s)![n];
  return {
    host: sd.host,
    sourceHost: sd.host,
    refresh: sd.refresh_interval,
    filters: sd.filters,
    relabel: sc.relabel_configs.map((r: any) => ({
      action: r.action,
      source_labels: r.source_labels,
      regex: r.regex,
      target_label: r.target_label,
      replacement: r.replacement,
    })),
    // Promtail truncates in limits_config, after the pipeline: the same place as Alloy's last stage.
    stageOrder: [...stages.map((s) => Object.keys(s)[0]), ...(doc.limits_config?.max_line_size_truncate === true ? ["truncate"] : [])],
    firstline: one("multiline").firstline,
    maxLines: one("multiline").max_lines,
    maxWait: one("multiline").max_wait_time,
    expressions: one("json").expressions,
    templates: stages.filter((s) => "template" in s).map((s) => s.template),
    labels: one("labels"),
    structuredMetadata: one("structured_metadata"),
    drops: stages
      .filter((s) => "drop" in s)
      .map((s) => ({
        reason: s.drop.drop_counter_reason,
        source: s.drop.source,
        separator: s.drop.separator,
        expression: s.drop.expression,
      })),
    limit: one("limit").rate,
    burst: one("limit").burst,
    limitBy: one("limit").by_label_name,
    limitDrop: one("limit").drop,
    truncate: `${doc.limits_config.max_line_size / 1024}KiB`,
    url: doc.clients[0].url,
  };
}

// ---------------------------------------------------------------------------------------------
// Simulations of the shippers' stage semantics with the pipeline's own regexes (JavaScript engine).
// ---------------------------------------------------------------------------------------------

/** Prometheus relabeling: regexes fully anchored; a replace with an empty result removes the label. */
function relabel(labels: Record<string, string>, rules: readonly RelabelRule[]): Record<string, string> | undefined {
  const out = { ...labels };
  for (const r of rules) {
    const value = r.sourceLabels.map((l) => out[l] ?? "").join(";");
    const re = new RegExp(`^(?:${r.regex ?? "(.*)"})$`);
    const m = re.exec(value);
    if (r.action === "keep" && !m) return undefined;
    if (r.action === "drop" && m) return undefined;
    if (r.action === "replace" && m && r.targetLabel) {
      const v = (r.replacement ?? "$1").replace(/\$\{?(\d+)\}?/g, (_, n: string) => m[Number(n)] ?? "");
      if (v === "") delete out[r.targetLabel];
      else out[r.targetLabel] = v;
    }
  }
  return Object.fromEntries(Object.entries(out).filter(([k]) => !k.startsWith("__")));
}

/** multiline stage: a line matching firstline starts an entry; others join the previous one with "\n". */
function joinMultiline(lines: string[], p: LogPipeline): string[] {
  const first = new RegExp(p.multiline.firstLine);
  const entries: string[][] = [];
  for (const line of lines) {
    const last = entries[entries.length - 1];
    if (first.test(line) || !last || last.length >= p.multiline.maxLines) entries.push([line]);
    else last.push(line);
  }
  return entries.map((e) => e.join("\n"));
}

/** The JMESPath subset the pipeline uses: dotted paths joined by ||, first truthy result. */
function jmes(doc: unknown, expr: string): unknown {
  for (const alt of expr.split("||").map((s) => s.trim())) {
    let cur: unknown = doc;
    for (const part of alt.split(".")) cur = cur !== null && typeof cur === "object" ? (cur as Record<string, unknown>)[part] : undefined;
    if (cur !== undefined && cur !== null && cur !== false && cur !== "") return cur;
  }
  return undefined;
}

interface Processed {
  dropped?: string;
  labels: Record<string, string>;
  structuredMetadata: Record<string, string>;
}

/** json -> template(lowercase) -> labels -> structured_metadata -> drop, as both shippers run them. */
function processEntry(line: string, p: LogPipeline): Processed {
  const extracted: Record<string, string> = {};
  try {
    const doc = JSON.parse(line) as unknown;
    for (const [name, expr] of Object.entries(p.json.expressions)) {
      const v = jmes(doc, expr);
      if (v !== undefined) extracted[name] = typeof v === "string" ? v : JSON.stringify(v);
    }
  } catch {
    // Not JSON: both shippers log the parse failure at debug level and go on.
  }
  for (const name of p.json.lowercase) if (extracted[name]) extracted[name] = extracted[name]!.toLowerCase();
  const labels = Object.fromEntries(p.json.labels.filter((l) => extracted[l] !== undefined).map((l) => [l, extracted[l]!]));
  const structuredMetadata = Object.fromEntries(
    p.json.structuredMetadata.filter((n) => extracted[n] !== undefined).map((n) => [n, extracted[n]!]),
  );
  for (const d of p.dropRules) {
    const subject = d.source
      ? d.source
          .filter((s) => extracted[s] !== undefined)
          .map((s) => extracted[s])
          .join(d.separator ?? ";")
      : line;
    if (new RegExp(d.expression).test(subject)) return { dropped: d.name, labels, structuredMetadata };
  }
  return { labels, structuredMetadata };
}

// ---------------------------------------------------------------------------------------------

describe(`renderLokiConfig (structural: Loki ${LOKI_TARGET_VERSION}.x is not installed here, so it never loads this file)`, () => {
  const dev = parse(renderLokiConfig({ retentionDays: 3 })) as any;
  const prod = parse(renderLokiConfig({ retentionDays: 30 })) as any;

  it("parses as YAML and runs single-binary, single-tenant, on the data volume", () => {
    expect(dev.target).toBe("all");
    expect(dev.auth_enabled).toBe(false);
    expect(dev.common.path_prefix).toBe("/loki");
    expect(dev.common.replication_factor).toBe(1);
    expect(dev.common.ring.kvstore.store).toBe("inmemory");
    expect(dev.common.storage.filesystem).toEqual({ chunks_directory: "/loki/chunks", rules_directory: "/loki/rules" });
    for (const dir of [
      dev.compactor.working_directory,
      dev.storage_config.tsdb_shipper.active_index_directory,
      dev.storage_config.tsdb_shipper.cache_location,
    ]) {
      expect(dir).toMatch(/^\/loki\//);
    }
    expect(dev.analytics.reporting_enabled).toBe(false);
  });

  it("uses schema v13 on TSDB with a 24h index from a fixed date (retention needs the 24h period)", () => {
    expect(dev.schema_config.configs).toHaveLength(1);
    const [cfg] = dev.schema_config.configs;
    expect(cfg).toMatchObject({ store: "tsdb", object_store: "filesystem", schema: "v13", index: { prefix: "index_", period: "24h" } });
    expect(String(cfg.from)).toBe("2024-01-01");
    expect(prod.schema_config).toEqual(dev.schema_config);
  });

  it("retention_period equals the requested days in hours, enforced by the compactor with delete_request_store", () => {
    expect(dev.limits_config.retention_period).toBe("72h");
    expect(prod.limits_config.retention_period).toBe("720h");
    for (const c of [dev, prod]) {
      expect(c.compactor.retention_enabled).toBe(true);
      expect(c.compactor.delete_request_store).toBe("filesystem");
      expect(typeof c.compactor.compaction_interval).toBe("string");
      expect(typeof c.compactor.retention_delete_delay).toBe("string");
    }
    // Lines older than the retention are refused, and queries are clamped to it.
    expect(dev.limits_config.reject_old_samples).toBe(true);
    expect(dev.limits_config.reject_old_samples_max_age).toBe("72h");
    expect(prod.limits_config.reject_old_samples_max_age).toBe("168h");
    expect(dev.limits_config.max_query_lookback).toBe("72h");
  });

  it("has typed ingestion and query limits, structured metadata on, and the ports of the catalogue", () => {
    const l = prod.limits_config;
    expect(typeof l.ingestion_rate_mb).toBe("number");
    expect(l.ingestion_burst_size_mb).toBeGreaterThanOrEqual(l.ingestion_rate_mb);
    expect(l.per_stream_rate_limit).toMatch(/^\d+MB$/);
    expect(l.per_stream_rate_limit_burst).toMatch(/^\d+MB$/);
    expect(l.max_line_size).toBe(pipeline.maxLineBytes);
    expect(l.max_line_size_truncate).toBe(true);
    expect(l.allow_structured_metadata).toBe(true);
    for (const k of ["max_query_series", "max_entries_limit_per_query", "max_query_parallelism"]) expect(Number.isInteger(l[k])).toBe(true);
    expect(l.query_timeout).toBe("1m");
    expect(prod.server).toMatchObject({ http_listen_port: 3100, grpc_listen_port: 9095 });
  });

  it("only uses keys from Loki's 3.x configuration reference (checked by hand, listed here)", () => {
    const allowed: Record<string, string[]> = {
      "": [
        "target",
        "auth_enabled",
        "server",
        "common",
        "schema_config",
        "storage_config",
        "compactor",
        "limits_config",
        "query_range",
        "analytics",
      ],
      server: ["http_listen_port", "grpc_listen_port", "log_level", "log_format"],
      common: ["instance_addr", "path_prefix", "storage", "replication_factor", "ring"],
      compactor: [
        "working_directory",
        "compaction_interval",
        "retention_enabled",
        "retention_delete_delay",
        "retention_delete_worker_count",
        "delete_request_store",
      ],
      limits_config: [
        "retention_period",
        "ingestion_rate_mb",
        "ingestion_burst_size_mb",
        "per_stream_rate_limit",
        "per_stream_rate_limit_burst",
        "max_line_size",
        "max_line_size_truncate",
        "reject_old_samples",
        "reject_old_samples_max_age",
        "allow_structured_metadata",
        "max_query_series",
        "max_entries_limit_per_query",
        "max_query_parallelism",
        "max_query_lookback",
        "query_timeout",
      ],
    };
    for (const [section, keys] of Object.entries(allowed)) {
      const obj = section === "" ? dev : dev[section];
      expect(
        Object.keys(obj).filter((k) => !keys.includes(k)),
        section || "top level",
      ).toEqual([]);
    }
  });

  it("reports every invalid input at once, naming the key and the fix", () => {
    let message = "";
    try {
      renderLokiConfig({
        retentionDays: 2.5,
        httpPort: 3100,
        grpcPort: 3100,
        dataDir: "loki/",
        ingestionRateMb: 8,
        ingestionBurstMb: 4,
        schemaFrom: "2024-13-45x",
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/retentionDays 2\.5 .*whole number of days.*e\.g\. 3/);
    expect(message).toMatch(/httpPort and grpcPort are both 3100: give each listener its own port/);
    expect(message).toMatch(/dataDir "loki\/" must be an absolute path/);
    expect(message).toMatch(/ingestionBurstMb 4 is below ingestionRateMb 8: raise the burst/);
    expect(message).toMatch(/schemaFrom "2024-13-45x" must be a date YYYY-MM-DD/);
    expect(() => renderLokiConfig({ retentionDays: 3, rejectOldSamplesMaxAgeHours: 168 })).toThrow(
      /rejectOldSamplesMaxAgeHours 168 exceeds the retention \(72h\).*use at most 72/,
    );
  });
});

describe("defaultLogPipeline / validation (pure TypeScript: fully checked here)", () => {
  it("builds the standard pipeline: project + environment filter, every LOG_LABELS label, ids kept out of labels", () => {
    expect(pipeline.dockerFilters).toEqual([{ name: "label", values: ["io.updateio.project=updateio", "io.updateio.environment=dev"] }]);
    const targets = new Set([...pipeline.relabelRules.map((r) => r.targetLabel).filter(Boolean), ...pipeline.json.labels]);
    expect([...targets].sort()).toEqual([...LOG_LABELS].sort());
    expect(pipeline.json.structuredMetadata).toEqual(["request_id", "trace_id"]);
    expect(logPipelineProblems(pipeline)).toEqual([]);
  });

  it("reports every problem at once, each naming its key and the fix", () => {
    const broken: LogPipeline = {
      ...pipeline,
      dockerHost: "unix:///var/run/docker.sock",
      lokiUrl: "http://loki:3100/",
      refreshInterval: "soon",
      dockerFilters: [{ name: "label", values: ["io.updateio.environment=dev"] }],
      relabelRules: pipeline.relabelRules.filter((r) => r.targetLabel !== "stream"),
      multiline: { ...pipeline.multiline, firstLine: "(?P<first>^\\S)" },
      json: { ...pipeline.json, labels: ["level", "request_id" as never] },
      dropRules: [...pipeline.dropRules, { name: "health_probe_json", expression: ".*" }],
      maxLineBytes: 1000,
    };
    const problems = logPipelineProblems(broken);
    const text = problems.join("\n");
    expect(text).toMatch(/dockerHost "unix:\/\/\/var\/run\/docker.sock" is the raw Docker socket: point at the read-only socket proxy/);
    expect(text).toMatch(/lokiUrl .* write "http:\/\/loki:3100\/loki\/api\/v1\/push"/);
    expect(text).toMatch(/refreshInterval "soon" is not a Go duration: write e\.g\. "15s"/);
    expect(text).toMatch(/dockerFilters must ask Docker for label io\.updateio\.project=updateio: add/);
    expect(text).toMatch(/label "stream" \(LOG_LABELS\) is set by no relabel rule or JSON label: add a rule/);
    expect(text).toMatch(/multiline\.firstLine .* named groups, lookaround and inline flags are not portable/);
    expect(text).toMatch(/json\.labels "request_id" is not in LOG_LABELS/);
    expect(text).toMatch(/request_id must never be a stream label .*: make it structured metadata/);
    expect(text).toMatch(/dropRules\[4\]\.name "health_probe_json" is used twice/);
    expect(text).toMatch(/dropRules\[4\]\.expression matches the empty string and would drop everything/);
    expect(text).toMatch(/maxLineBytes 1000 must be a whole number of KiB .* e\.g\. 262144/);
    expect(problems.length).toBeGreaterThanOrEqual(11);
    expect(() => defaultLogPipeline({ ...BASE, dockerHost: "unix:///run/docker.sock" })).toThrow(
      /log pipeline is invalid:\n {2}- dockerHost/,
    );
  });

  it("keeps regexes in the RE2 ∩ JavaScript subset", () => {
    expect(portableRegexProblem("^[^ \\t]")).toBeUndefined();
    expect(portableRegexProblem("(?i)error")).toMatch(/inline flags/);
    expect(portableRegexProblem("(?=x)")).toMatch(/lookaround/);
    expect(portableRegexProblem("(a)\\1")).toMatch(/\\1/);
    expect(portableRegexProblem("\\Aabc")).toMatch(/\\A/);
    expect(portableRegexProblem("[unclosed")).toMatch(/does not compile/);
  });
});

describe("pipeline regexes and stage semantics (simulated in JavaScript with the pipeline's own regexes; the shippers' RE2 engine is not run here)", () => {
  it("the multiline rule joins a Node.js stack trace into one entry and leaves JSON lines alone", () => {
    const lines = [
      '{"level":"info","msg":"listening","port":3000}',
      "Error: connect ECONNREFUSED 10.0.0.5:5432",
      "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)",
      "    at Pool.connect (/app/node_modules/pg-pool/index.js:45:11)",
      "\tat com.example.Java.frame(Frame.java:10)",
      '{"level":"warn","msg":"retrying"}',
    ];
    const entries = joinMultiline(lines, pipeline);
    expect(entries).toHaveLength(3);
    expect(entries[1]).toBe(lines.slice(1, 5).join("\n"));
    expect(entries[0]).toBe(lines[0]);
    expect(entries[2]).toBe(lines[5]);
  });

  it("a JSON line yields the lower-cased level label and request/trace ids as structured metadata only", () => {
    const r = processEntry(
      '{"level":"ERROR","msg":"payment failed","request_id":"req-81f2","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","status":502}',
      pipeline,
    );
    expect(r.dropped).toBeUndefined();
    expect(r.labels).toEqual({ level: "error" });
    expect(r.structuredMetadata).toEqual({ request_id: "req-81f2", trace_id: "4bf92f3577b34da6a3ce929d0e0e4736" });
  });

  it("successful health checks and /metrics scrapes are dropped; failing probes and real requests are kept", () => {
    const dropped = [
      ['{"level":"info","msg":"request completed","path":"/healthz","status":200}', "health_probe_json"],
      ['{"level":"info","req":{"method":"GET","url":"/health?full=1"},"res":{"statusCode":204}}', "health_probe_json"],
      ['{"level":"info","request":{"method":"GET","uri":"/metrics"},"status":200}', "metrics_scrape_json"],
      ['10.0.3.7 - - [12/May/2026:10:00:00 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "Docker-Health"', "health_probe_access_log"],
      ["GET /readyz 200 1.204 ms - 2", "health_probe_access_log"],
      ['172.18.0.9 - - [12/May/2026:10:00:00 +0000] "GET /metrics HTTP/1.1" 200 5120', "metrics_scrape_access_log"],
    ] as const;
    for (const [line, rule] of dropped) expect(processEntry(line, pipeline).dropped, line).toBe(rule);
    const kept = [
      '{"level":"error","msg":"health check failed: db unreachable","path":"/healthz","status":503}',
      '10.0.3.7 - - [12/May/2026:10:00:00 +0000] "GET /healthz HTTP/1.1" 503 19',
      '{"level":"info","msg":"request completed","path":"/api/health-tips","status":200}',
      '{"level":"info","msg":"request completed","path":"/api/orders","status":200}',
      "POST /metrics 200 1 ms",
      "GET /healthcheck-report 200 2 ms",
      "redis: 1:M 12 May 2026 10:00:00.000 * Ready to accept connections tcp",
    ];
    for (const line of kept) expect(processEntry(line, pipeline).dropped, line).toBeUndefined();
  });

  it("relabeling maps Docker metadata to LOG_LABELS and filters other projects and environments", () => {
    const meta = (project: string, env: string) => ({
      [DOCKER_META.containerId]: "3f1c",
      [DOCKER_META.containerName]: `/${env}-api-1`,
      __meta_docker_container_label_io_updateio_project: project,
      __meta_docker_container_label_io_updateio_environment: env,
      __meta_docker_container_label_io_updateio_service: "api",
      __meta_docker_container_label_io_updateio_component: "app",
      __address__: "172.18.0.4:3000",
    });
    // At discovery: no stream yet, so no stream label.
    expect(relabel(meta("updateio", "dev"), pipeline.relabelRules)).toEqual({
      environment: "dev",
      service: "api",
      component: "app",
      container: "dev-api-1",
    });
    // Per stream (the rules run again with the log stream meta label).
    expect(relabel({ ...meta("updateio", "dev"), [DOCKER_META.logStream]: "stderr" }, pipeline.relabelRules)).toMatchObject({
      stream: "stderr",
      container: "dev-api-1",
    });
    expect(relabel(meta("other", "dev"), pipeline.relabelRules)).toBeUndefined();
    expect(relabel(meta("updateio", "prod"), pipeline.relabelRules)).toBeUndefined();
  });
});

describe("renderAlloyConfig (structural: Grafana Alloy is not installed here; `alloy fmt`/`alloy run` never see this file)", () => {
  const text = renderAlloyConfig(pipeline);
  const blocks = parseAlloy(text);

  it("is well-formed Alloy syntax: balanced blocks, `name = value` attributes, quoted strings, terminators", () => {
    expect(blocks.map((b) => (b.label === undefined ? b.name : `${b.name}.${b.label}`))).toEqual([
      "logging",
      "discovery.docker.containers",
      "discovery.relabel.containers",
      "loki.source.docker.containers",
      "loki.process.containers",
      "loki.write.loki",
    ]);
    expect(() => parseAlloy('logging {\n  level = "info"\n')).toThrow(/unclosed block/);
    expect(() => parseAlloy('logging {\n  level = "in"fo"\n}\n')).toThrow();
    expect(() => parseAlloy('logging {\n  level "info"\n}\n')).toThrow();
    expect(() => parseAlloy('x.y "a" {\n  v = ["a", "b"\n  ]\n}\n')).toThrow(/trailing comma/);
  });

  it("uses only documented components, blocks and arguments, and every reference names a defined export", () => {
    expect(alloyStructureProblems(blocks)).toEqual([]);
    // The checker itself catches a dangling reference and an undocumented argument.
    const bad = parseAlloy('loki.process "p" {\n  forward_to = [loki.write.missing.receiver]\n  colour = "red"\n}\n');
    expect(alloyStructureProblems(bad)).toEqual([
      "line 3: colour is not a documented argument of loki.process",
      "line 2: reference loki.write.missing.receiver names no defined component",
    ]);
  });

  it("reads containers only through the socket proxy and sets logging to info/json", () => {
    const [logging] = blocksNamed(blocks, "logging");
    expect(plain(attr(logging!, "level"))).toBe("info");
    expect(plain(attr(logging!, "format"))).toBe("json");
    const v = alloyView(text);
    expect(v.host).toBe("tcp://docker-socket-proxy:2375");
    expect(v.sourceHost).toBe(v.host);
    const [source] = blocksNamed(blocks, "loki.source.docker");
    expect(plain(attr(source!, "targets"))).toEqual({ ref: `discovery.relabel.${ALLOY_COMPONENTS.relabel}.output` });
    expect(plain(attr(source!, "relabel_rules"))).toEqual({ ref: `discovery.relabel.${ALLOY_COMPONENTS.relabel}.rules` });
    expect(text).not.toMatch(/docker\.sock/);
  });

  it("round-trips hostile strings: quotes, backslashes, control characters and regex metacharacters", () => {
    const env = 'qa "blue"\\$(x)[1]{2}|*+?.^';
    const hostileDrop: DropRule = { name: "hostile_rule", expression: '"quoted\\\\path" \\[x\\] \\t(?:a|b)' };
    const hostile: LogPipeline = { ...defaultLogPipeline({ ...BASE, environment: env }), dropRules: [...pipeline.dropRules, hostileDrop] };
    const alloyText = renderAlloyConfig(hostile);
    expect(alloyStructureProblems(parseAlloy(alloyText))).toEqual([]);
    const v = alloyView(alloyText);
    expect(v.filters[0]!.values).toEqual(["io.updateio.project=updateio", `io.updateio.environment=${env}`]);
    const envKeep = v.relabel[1]!.regex!;
    expect(new RegExp(`^(?:${envKeep})$`).test(env)).toBe(true);
    expect(new RegExp(`^(?:${envKeep})$`).test("qa")).toBe(false);
    expect(v.drops.at(-1)!.expression).toBe(hostileDrop.expression);
    // Promtail's YAML carries the very same values.
    expect(promtailView(renderPromtailConfig(hostile))).toEqual(v);
    // The quoting helper on its own.
    for (const s of ['a"b', "back\\slash", "tab\there", "line\nbreak\r", "bell\u0007", "del\u007f", "émoji 🚀", "`raw`"]) {
      const toks = tokenize(`x = ${alloyString(s)}\n`);
      expect(toks[2]).toMatchObject({ t: "string", v: s });
    }
    expect(() => alloyString("\ud800")).toThrow(/lone UTF-16 surrogate/);
  });
});

describe("renderPromtailConfig (structural: Promtail is not installed here and is end-of-life; never loaded)", () => {
  const doc = parse(renderPromtailConfig(pipeline)) as any;

  it("parses as YAML with the documented top-level keys, server ports and positions on a volume", () => {
    expect(Object.keys(doc).sort()).toEqual(["clients", "limits_config", "positions", "scrape_configs", "server"]);
    expect(doc.server).toEqual({ http_listen_port: 9080, grpc_listen_port: 0, log_level: "info" });
    expect(doc.positions).toEqual({ filename: "/var/lib/promtail/positions.yaml" });
    expect(doc.clients).toEqual([{ url: BASE.lokiUrl }]);
    expect(doc.limits_config).toEqual({ max_line_size: 262144, max_line_size_truncate: true });
    const sc = doc.scrape_configs[0];
    expect(Object.keys(sc).sort()).toEqual(["docker_sd_configs", "job_name", "pipeline_stages", "relabel_configs"]);
    expect(Object.keys(sc.docker_sd_configs[0]).sort()).toEqual(["filters", "host", "refresh_interval"]);
    const documentedStages = ["multiline", "json", "template", "labels", "structured_metadata", "drop", "limit"];
    for (const s of sc.pipeline_stages) expect(documentedStages).toContain(Object.keys(s)[0]);
    expect(() => renderPromtailConfig(pipeline, { positionsFile: "positions.yaml", httpPort: 0 })).toThrow(
      /positionsFile "positions.yaml" must be an absolute file path[\s\S]*httpPort 0 must be a TCP port/,
    );
  });

  it("implements the same pipeline as Alloy: filter, labels, multiline regex, JSON, drop rules, limits, stage order", () => {
    const a = alloyView(renderAlloyConfig(pipeline));
    const p = promtailView(renderPromtailConfig(pipeline));
    expect(p).toEqual(a);
    // And both equal the pipeline itself.
    expect(a.firstline).toBe(pipeline.multiline.firstLine);
    expect(a.drops.map((d) => d.expression)).toEqual(pipeline.dropRules.map((d) => d.expression));
    expect(a.filters).toEqual(pipeline.dockerFilters);
    expect(a.stageOrder).toEqual([
      "multiline",
      "json",
      "template",
      "labels",
      "structured_metadata",
      "drop",
      "drop",
      "drop",
      "drop",
      "limit",
      "truncate",
    ]);
  });
});

describe("socketProxyEnv (structural: the proxy image is not run here; sections follow its haproxy.cfg)", () => {
  it("allows exactly the read-only sections the shippers call, everything else closed", () => {
    const env = socketProxyEnv();
    expect(SOCKET_PROXY_PORT).toBe(2375);
    const open = Object.entries(env)
      .filter(([k, v]) => k !== "LOG_LEVEL" && v === "1")
      .map(([k]) => k)
      .sort();
    expect(open).toEqual(["ALLOW_LOGS", "CONTAINERS", "NETWORKS", "PING"]);
    expect(env.POST).toBe("0");
    for (const k of [
      "EVENTS",
      "INFO",
      "VERSION",
      "EXEC",
      "AUTH",
      "SECRETS",
      "ALLOW_START",
      "ALLOW_STOP",
      "ALLOW_RESTARTS",
      "IMAGES",
      "VOLUMES",
      "SYSTEM",
    ])
      expect(env[k], k).toBe("0");
    expect(env.LOG_LEVEL).toBe("notice");
    for (const s of SOCKET_PROXY_SECTIONS) expect(s.why.length, s.name).toBeGreaterThan(5);
    expect(new Set(SOCKET_PROXY_SECTIONS.map((s) => s.name)).size).toBe(SOCKET_PROXY_SECTIONS.length);
    expect(() => socketProxyEnv({ logLevel: "loud" as never })).toThrow(/logLevel "loud" is not an HAProxy level/);
  });

  it("allowEngineInfo opens exactly /info and /version on top (cAdvisor), still read-only; off by default", () => {
    expect(socketProxyEnv({ allowEngineInfo: false })).toEqual(socketProxyEnv());
    const env = socketProxyEnv({ allowEngineInfo: true, logLevel: "info" });
    const open = Object.entries(env)
      .filter(([k, v]) => k !== "LOG_LEVEL" && v === "1")
      .map(([k]) => k)
      .sort();
    expect(open).toEqual(["ALLOW_LOGS", "CONTAINERS", "INFO", "NETWORKS", "PING", "VERSION"]);
    expect(env.POST).toBe("0");
    expect(env.LOG_LEVEL).toBe("info");
    expect(Object.keys(env).sort()).toEqual(Object.keys(socketProxyEnv()).sort());
  });
});
