// Helpers shared by the two rule-file renderers and the validation: YAML output, Prometheus
// durations, grouping and Grafana rule uids.
import { stringify } from "yaml";
import type { AlertGroup, AlertRule } from "./types";

/** Prometheus durations ("5m", "1h30m", "0s"); Grafana parses `for` and intervals with the same parser. */
export const PROM_DURATION = /^(?:0|(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?)$/;

/** Seconds in a Prometheus duration (already checked against PROM_DURATION). */
export function durationSeconds(value: string): number {
  const units: Record<string, number> = { y: 31_536_000, w: 604_800, d: 86_400, h: 3_600, m: 60, s: 1, ms: 0.001 };
  let total = 0;
  for (const [, n, unit] of value.matchAll(/(\d+)(ms|y|w|d|h|m|s)/g)) total += Number(n) * units[unit!]!;
  return total;
}

/**
 * YAML 1.1 output: Prometheus and Grafana parse with Go YAML libraries, so strings such as "on" or
 * "-100123" must come out quoted; no anchors/aliases for shared objects; no line folding.
 */
export function toYaml(value: unknown): string {
  return stringify(value, { version: "1.1", lineWidth: 0, aliasDuplicateObjects: false });
}

/** Prefix of the Grafana rule uids ("uio-<kebab name>", at most 40 characters). */
const UID_PREFIX = "uio-";

/** Grafana rule uid of an alert: "uio-" + kebab-case name (Grafana allows 40 characters of [a-zA-Z0-9-_]). */
export function grafanaRuleUid(name: string): string {
  return (
    UID_PREFIX +
    name
      .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
      .replace(/([A-Z])([A-Z][a-z])/g, "$1-$2")
      .toLowerCase()
  );
}

/** Rules by group, groups sorted by name, rules in catalogue order within a group. */
export function groupsOf(rules: readonly AlertRule[]): [AlertGroup, AlertRule[]][] {
  const map = new Map<AlertGroup, AlertRule[]>();
  for (const r of rules) map.set(r.group, [...(map.get(r.group) ?? []), r]);
  return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A rule's labels plus its severity, keys sorted: the same label block in both rule files. */
export function ruleLabels(r: AlertRule): Record<string, string> {
  return sortedRecord({ ...r.labels, severity: r.severity });
}

function sortedRecord(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
