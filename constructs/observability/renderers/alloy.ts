/**
 * Renders Grafana Alloy's configuration (Alloy syntax) from a LogPipeline. Argument and block names
 * follow Alloy's component reference (grafana/alloy docs/sources/reference/components/...):
 * discovery.docker (host, refresh_interval, filter{name, values}), discovery.relabel (targets,
 * rule{action, source_labels, regex, target_label, replacement}; exports output and rules),
 * loki.source.docker (host, targets, relabel_rules, refresh_interval, forward_to), loki.process
 * (forward_to, stage.multiline/json/template/labels/structured_metadata/drop/limit/truncate),
 * loki.write (endpoint{url}; exports receiver) and the logging block (level, format).
 *
 * stage.truncate was added by grafana/alloy PR #4587 (merged October 2025): the pinned Alloy image
 * must be a release that has it, or the configuration fails to load.
 *
 * Positions (how far each container was read) live in Alloy's storage path
 * (`alloy run --storage.path=...`), which must be on a volume so a restart neither loses nor
 * re-sends lines.
 */
import { assertValidLogPipeline, type DropRule, type LogPipeline, type RelabelRule } from "./log-pipeline";
import { ValidationError } from "../../contract/errors";

/** Component labels used in the rendered file (other components reference them). */
export const ALLOY_COMPONENTS = {
  discovery: "containers",
  relabel: "containers",
  source: "containers",
  process: "containers",
  write: "loki",
} as const;

/**
 * Quotes a value as an Alloy double-quoted string. Alloy strings take Go-style escapes (Alloy docs,
 * "Types and values"): backslash and double quote are escaped, newline/CR/tab use \n \r \t, and
 * every other control character is written \u00XX. Anything else (including non-ASCII) is literal.
 */
export function alloyString(value: string): string {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    const code = value.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = value.charCodeAt(i + 1);
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += ch + value[i + 1];
        i++;
        continue;
      }
      throw new ValidationError("alloyString input", [
        `lone UTF-16 surrogate at index ${i} in ${JSON.stringify(value)}: pass valid Unicode text.`,
      ]);
    }
    if (ch === "\\") out += "\\\\";
    else if (ch === '"') out += '\\"';
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** A string list as an Alloy array. */
function alloyList(values: readonly string[]): string {
  return `[${values.map(alloyString).join(", ")}]`;
}

/** An object literal with identifier keys (our extracted names are identifiers). */
function alloyObject(entries: readonly (readonly [string, string])[], indent: string): string[] {
  if (entries.length === 0) return ["{}"];
  const width = Math.max(...entries.map(([k]) => k.length));
  return ["{", ...entries.map(([k, v]) => `${indent}  ${k.padEnd(width)} = ${alloyString(v)},`), `${indent}}`];
}

/** A loki.process stage (labels, structured_metadata) that keeps each extracted value under its own name. */
function sameNameValues(stage: string, names: readonly string[]): string[] {
  return [
    `  stage.${stage} {`,
    `    values = ${alloyObject(
      names.map((n) => [n, n] as const),
      "    ",
    ).join("\n")}`,
    "  }",
  ];
}

/** Attribute lines with aligned "=" (as `alloy fmt` writes them). */
function attrs(indent: string, pairs: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${indent}${k.padEnd(width)} = ${v}`);
}

/** A block of attributes: `<indent><name> {`, the attributes one level deeper, the closing brace. */
function block(indent: string, name: string, pairs: readonly (readonly [string, string])[]): string[] {
  return [`${indent}${name} {`, ...attrs(`${indent}  `, pairs), `${indent}}`];
}

function ruleBlock(rule: RelabelRule, indent: string): string[] {
  const pairs: [string, string][] = [
    ["action", alloyString(rule.action)],
    ["source_labels", alloyList(rule.sourceLabels)],
  ];
  if (rule.regex !== undefined) pairs.push(["regex", alloyString(rule.regex)]);
  if (rule.targetLabel !== undefined) pairs.push(["target_label", alloyString(rule.targetLabel)]);
  if (rule.replacement !== undefined) pairs.push(["replacement", alloyString(rule.replacement)]);
  return block(indent, "rule", pairs);
}

function dropBlock(rule: DropRule, indent: string): string[] {
  const pairs: [string, string][] = [];
  // Alloy takes several sources as one comma-separated string.
  if (rule.source !== undefined) pairs.push(["source", alloyString(rule.source.join(","))]);
  if (rule.separator !== undefined) pairs.push(["separator", alloyString(rule.separator)]);
  pairs.push(["expression", alloyString(rule.expression)], ["drop_counter_reason", alloyString(rule.name)]);
  return block(indent, "stage.drop", pairs);
}

/** The Alloy configuration file for one environment's log shipping. */
export function renderAlloyConfig(pipeline: LogPipeline): string {
  assertValidLogPipeline(pipeline);
  const c = ALLOY_COMPONENTS;
  const out: string[] = [
    "// Generated by constructs/observability/renderers/alloy.ts from the LogPipeline (log-pipeline.ts): change the pipeline, not this file.",
    `// Ships the logs of environment ${JSON.stringify(pipeline.environment).replace(/[\r\n]/g, "")} to Loki.`,
    "",
    ...block("", "logging", [
      ["level", alloyString("info")],
      ["format", alloyString("json")],
    ]),
    "",
    "// Containers come from the read-only socket proxy, filtered by the Docker API itself.",
    `discovery.docker ${alloyString(c.discovery)} {`,
    ...attrs("  ", [
      ["host", alloyString(pipeline.dockerHost)],
      ["refresh_interval", alloyString(pipeline.refreshInterval)],
    ]),
  ];
  for (const f of pipeline.dockerFilters) {
    out.push(
      "",
      ...block("  ", "filter", [
        ["name", alloyString(f.name)],
        ["values", alloyList(f.values)],
      ]),
    );
  }
  out.push("}", "");

  out.push(
    "// Filters targets and maps Docker metadata to our labels. loki.source.docker runs the same rules",
    "// again on every stream (relabel_rules below), where the log stream meta label exists.",
    `discovery.relabel ${alloyString(c.relabel)} {`,
    `  targets = discovery.docker.${c.discovery}.targets`,
  );
  for (const rule of pipeline.relabelRules) out.push("", ...ruleBlock(rule, "  "));
  out.push("}", "");

  out.push(
    ...block("", `loki.source.docker ${alloyString(c.source)}`, [
      ["host", alloyString(pipeline.dockerHost)],
      ["targets", `discovery.relabel.${c.relabel}.output`],
      ["relabel_rules", `discovery.relabel.${c.relabel}.rules`],
      ["refresh_interval", alloyString(pipeline.refreshInterval)],
      ["forward_to", `[loki.process.${c.process}.receiver]`],
    ]),
    "",
  );

  const m = pipeline.multiline;
  const j = pipeline.json;
  out.push(`loki.process ${alloyString(c.process)} {`, `  forward_to = [loki.write.${c.write}.receiver]`, "");
  out.push(
    "  // A new entry starts at every line matching firstline; other lines (stack frames) join the previous one.",
    ...block("  ", "stage.multiline", [
      ["firstline", alloyString(m.firstLine)],
      ["max_lines", String(m.maxLines)],
      ["max_wait_time", alloyString(m.maxWaitTime)],
    ]),
    "",
    "  stage.json {",
    `    expressions = ${alloyObject(Object.entries(j.expressions), "    ").join("\n")}`,
    "  }",
  );
  for (const name of j.lowercase) {
    out.push(
      "",
      ...block("  ", "stage.template", [
        ["source", alloyString(name)],
        ["template", alloyString("{{ if .Value }}{{ ToLower .Value }}{{ end }}")],
      ]),
    );
  }
  out.push(
    "",
    ...sameNameValues("labels", j.labels),
    "",
    "  // Request and trace ids: structured metadata (Loki 3, schema v13), never labels.",
    ...sameNameValues("structured_metadata", j.structuredMetadata),
  );
  for (const rule of pipeline.dropRules) out.push("", ...dropBlock(rule, "  "));
  const rl = pipeline.rateLimit;
  out.push(
    "",
    "  // Per-container token bucket; excess lines are dropped (counted) instead of stalling every container.",
    ...block("  ", "stage.limit", [
      ["rate", String(rl.linesPerSecond)],
      ["burst", String(rl.burstLines)],
      ["by_label_name", alloyString(rl.byLabel)],
      ["drop", "true"],
    ]),
    "",
    "  // Last, so the JSON stage above always saw the whole entry.",
    "  stage.truncate {",
    "    rule {",
    `      limit = ${alloyString(`${pipeline.maxLineBytes / 1024}KiB`)}`,
    "    }",
    "  }",
    "}",
    "",
    `loki.write ${alloyString(c.write)} {`,
    "  endpoint {",
    `    url = ${alloyString(pipeline.lokiUrl)}`,
    "  }",
    "}",
    "",
  );
  return out.join("\n");
}
