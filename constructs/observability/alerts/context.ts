// What every group file of the catalogue shares: the resolved thresholds, the cAdvisor selectors
// for "our" containers, and two small PromQL/text helpers.
import { CADVISOR_LABELS } from "../renderers/observability-catalogue";
import { ALERT_DEFAULTS, type AlertRulesInput, type AlertThresholds } from "./types";

export interface CatalogueContext {
  /** Thresholds: the input where set, else ALERT_DEFAULTS. */
  readonly o: AlertThresholds;
  /** `, <environment label>="<env>"` when an environment is given (appended inside a selector), else "". */
  readonly envMatcher: string;
  /** Selector of the containers the cAdvisor alerts look at: labelled with a service, in this environment. */
  readonly ours: string;
}

export function catalogueContext(input: AlertRulesInput): CatalogueContext {
  const envMatcher = input.environment !== undefined ? `, ${CADVISOR_LABELS.environment}="${input.environment}"` : "";
  return {
    o: { ...ALERT_DEFAULTS, ...definedOnly(input) },
    envMatcher,
    ours: `{${CADVISOR_LABELS.service}!=""${envMatcher}}`,
  };
}

/** Copies label `from` into `service`, for alerts about any target or container (see AlertRule.labels). */
export const withService = (expr: string, from: string) => `label_replace(${expr}, "service", "$1", "${from}", "(.+)")`;

/** A ratio as a percentage for descriptions: 0.9 → "90%", 0.055 → "5.5%". */
export const pct = (ratio: number) => `${Math.round(ratio * 1000) / 10}%`;

/** Optional input keys that are set (so `{ ...defaults, ...definedOnly(input) }` keeps defaults for `undefined`). */
export function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
