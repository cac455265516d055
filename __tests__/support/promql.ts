/**
 * PromQL identifiers, extracted conservatively for "does this query name a real metric" checks:
 * strings, label matchers, ranges and label lists are removed; every remaining identifier
 * followed by "(" is a function, every other one that is not a keyword is a metric name.
 */

const PROMQL_KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "inf",
  "nan",
]);

/** Metric and function names of a PromQL expression, each sorted and without repeats. */
export function promqlIdentifiers(expr: string): { metrics: string[]; functions: string[] } {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  // Numbers and duration literals ("5m" after offset) are one token each, never a name.
  const tokens = stripped.match(/[a-zA-Z_:][a-zA-Z0-9_:]*|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[a-zA-Z]*|\S/g) ?? [];
  const metrics = new Set<string>();
  const functions = new Set<string>();
  tokens.forEach((token, i) => {
    if (!/^[a-zA-Z_:]/.test(token) || PROMQL_KEYWORDS.has(token.toLowerCase())) return;
    (tokens[i + 1] === "(" ? functions : metrics).add(token);
  });
  return { metrics: [...metrics].sort(), functions: [...functions].sort() };
}
