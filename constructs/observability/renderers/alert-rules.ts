// Public entry of the alert catalogue and its renderers: a Prometheus rule file (checked by
// `promtool check rules` / `promtool test rules`) and a Grafana alerting provisioning file (Grafana
// does the notifying: docs/architecture.md "Metrics"). Both carry the same PromQL, so what promtool
// proves about an expression holds for the rule Grafana evaluates. The code lives in ../alerts (one
// file per rule group); this path stays so importers and the rendered files' header line don't change.
export {
  ALERT_DEFAULTS,
  CONTACT_POINTS,
  GRAFANA_ALERTING_DEFAULTS,
  PROM_DURATION,
  REDIS_ROLE_LABEL,
  alertRules,
  durationSeconds,
  grafanaRuleUid,
  isSecretReference,
  renderGrafanaAlerting,
  renderPrometheusRules,
  toYaml,
  type AlertGroup,
  type AlertRule,
  type AlertRulesInput,
  type AlertSeverity,
  type GrafanaAlertingInput,
} from "../alerts";
