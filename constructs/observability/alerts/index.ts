// The alert catalogue (one file per group) and its two renderers. renderers/alert-rules.ts re-exports
// this public surface under its old path.
export { alertRules } from "./catalogue";
export { CONTACT_POINTS, GRAFANA_ALERTING_DEFAULTS, renderGrafanaAlerting, type GrafanaAlertingInput } from "./grafana-alerting";
export { renderPrometheusRules } from "./prometheus-rules";
export { REDIS_ROLE_LABEL } from "./redis";
export { PROM_DURATION, durationSeconds, grafanaRuleUid, toYaml } from "./shared";
export { ALERT_DEFAULTS, type AlertGroup, type AlertRule, type AlertRulesInput, type AlertSeverity } from "./types";
export { isSecretReference } from "./validation";
