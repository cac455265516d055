// Validation of the catalogue's input, of the catalogue itself, and of the Grafana alerting input.
// Every check collects all problems and throws once, with a fix for each.
import type { GrafanaAlertingInput } from "./grafana-alerting";
import { PROM_DURATION, durationSeconds, grafanaRuleUid } from "./shared";
import { ALERT_DEFAULTS, type AlertRule, type AlertRulesInput } from "./types";
import { problemsOf, throwIfProblems } from "../../contract/errors";
import { LABEL_VALUE } from "../renderers/observability-catalogue";

const NAME = /^[A-Z][A-Za-z0-9]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Whether a value handed in for a secret setting is a reference, not the secret: Grafana's
 * `$__file{/abs/path}` (or `$__env{NAME}`) expansion, or an unresolved Terraform token (rendered
 * at apply time).
 */
export function isSecretReference(value: string): boolean {
  return (
    /^\$__file\{\/[^{}\s]+\}$/.test(value) || /^\$__env\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(value) || /\$\{TfToken\[[^\]]+\]\}/.test(value)
  );
}

export function assertValidAlertInput(input: AlertRulesInput): void {
  const problems: string[] = [];
  if (input.environment !== undefined && !LABEL_VALUE.test(input.environment)) {
    problems.push(
      `environment ${JSON.stringify(input.environment)} is not an io.updateio.environment value: use lowercase letters, digits, "-", e.g. "prod".`,
    );
  }
  (input.expectedServices ?? []).forEach((s, i) => {
    if (!LABEL_VALUE.test(s))
      problems.push(
        `expectedServices[${i}] ${JSON.stringify(s)} is not an io.updateio.service value: use lowercase letters, digits, "-", "_", ".", e.g. "api".`,
      );
  });
  if (input.expectedServicesFrom !== undefined && !["rule", "metric"].includes(input.expectedServicesFrom))
    problems.push(`expectedServicesFrom ${JSON.stringify(input.expectedServicesFrom)} must be "rule" or "metric".`);
  const ratio = (key: keyof AlertRulesInput, value: number | undefined, example: string) => {
    if (value !== undefined && !(Number.isFinite(value) && value > 0 && value < 1))
      problems.push(`${key} ${String(value)} must be a ratio strictly between 0 and 1, e.g. ${example}.`);
  };
  const positive = (key: keyof AlertRulesInput, value: number | undefined, example: string, integer: boolean) => {
    if (value !== undefined && !(Number.isFinite(value) && value > 0 && (!integer || Number.isInteger(value)))) {
      problems.push(`${key} ${String(value)} must be a positive ${integer ? "integer" : "number"}, e.g. ${example}.`);
    }
  };
  ratio("redisMemoryRatio", input.redisMemoryRatio, "0.9");
  ratio("diskFreeRatio", input.diskFreeRatio, "0.1");
  ratio("edge5xxRatio", input.edge5xxRatio, "0.05");
  positive("backupMaxAgeHours", input.backupMaxAgeHours, "26 (daily backups plus slack)", true);
  positive("queueReadyThreshold", input.queueReadyThreshold, "1000", true);
  positive("replicaLagSeconds", input.replicaLagSeconds, "30", true);
  positive("edgeMinRequestsPerSecond", input.edgeMinRequestsPerSecond, "0.1", false);
  positive("containerRestarts", input.containerRestarts, "2", true);
  ratio("volumeBudgetWarningRatio", input.volumeBudgetWarningRatio, "0.8");
  ratio("volumeBudgetCriticalRatio", input.volumeBudgetCriticalRatio, "0.9");
  const warnAt = input.volumeBudgetWarningRatio ?? ALERT_DEFAULTS.volumeBudgetWarningRatio;
  const critAt = input.volumeBudgetCriticalRatio ?? ALERT_DEFAULTS.volumeBudgetCriticalRatio;
  if (warnAt >= critAt)
    problems.push(`volumeBudgetWarningRatio ${warnAt} must be below volumeBudgetCriticalRatio ${critAt}: the warning comes first.`);
  if (input.dockerDataRoot !== undefined && !/^\/(?:[A-Za-z0-9._-]+\/)*[A-Za-z0-9._-]+$/.test(input.dockerDataRoot))
    problems.push(
      `dockerDataRoot ${JSON.stringify(input.dockerDataRoot)} must be an absolute path without a trailing slash, e.g. "/var/lib/docker" (docker info -f '{{.DockerRootDir}}').`,
    );
  positive("diskMinFreeBytes", input.diskMinFreeBytes, "2147483648 (2 GiB, above RabbitMQ's 1 GB disk_free_limit)", true);
  positive("diskFillWarningHours", input.diskFillWarningHours, "24", true);
  positive("diskFillCriticalHours", input.diskFillCriticalHours, "4", true);
  positive("restoreDrillIntervalSeconds", input.restoreDrillIntervalSeconds, "86400", true);
  if (input.restoreDrillIntervalSeconds !== undefined && input.restoreDrillIntervalSeconds < 21600)
    problems.push(
      `restoreDrillIntervalSeconds ${input.restoreDrillIntervalSeconds} must be at least 21600 (6 h): a drill restores a whole dump.`,
    );
  (input.backupStores ?? []).forEach(({ store, maxAgeHours }, i) => {
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(store))
      problems.push(`backupStores[${i}].store ${JSON.stringify(store)} must be a store label such as "redis".`);
    if (!(Number.isInteger(maxAgeHours) && maxAgeHours > 0))
      problems.push(`backupStores[${i}].maxAgeHours ${String(maxAgeHours)} must be a positive integer, e.g. 3 for hourly backups.`);
  });
  throwIfProblems("alert rules input", problems);
}

export function assertValidCatalogue(rules: readonly AlertRule[]): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  rules.forEach((r, i) => {
    const at = `rules[${i}] (${r.name})`;
    if (!NAME.test(r.name)) problems.push(`${at}.name must be PascalCase letters and digits, e.g. "PostgresDown".`);
    if (seen.has(r.name)) problems.push(`${at}.name is used twice: alert names are unique (Grafana titles and uids come from them).`);
    seen.add(r.name);
    problems.push(...ruleProblems(r, at), ...labelProblems(r, at), ...textProblems(r, at));
  });
  throwIfProblems("alert catalogue", problems);
}

function ruleProblems(r: AlertRule, at: string): string[] {
  const problems: string[] = [];
  if (grafanaRuleUid(r.name).length > 40)
    problems.push(`${at}.name is too long: Grafana rule uids ("${grafanaRuleUid(r.name)}") allow 40 characters; shorten the name.`);
  if (r.expr.trim() === "") problems.push(`${at}.expr is empty: give the PromQL whose result series are the alerts.`);
  if (!PROM_DURATION.test(r.for))
    problems.push(`${at}.for ${JSON.stringify(r.for)} is not a Prometheus duration: write e.g. "0s", "5m" or "1h".`);
  if (r.severity !== "critical" && r.severity !== "warning") problems.push(`${at}.severity must be "critical" or "warning".`);
  return problems;
}

function labelProblems(r: AlertRule, at: string): string[] {
  const problems: string[] = [];
  for (const [k, v] of Object.entries(r.labels)) {
    if (!LABEL_NAME.test(k) || k.startsWith("__") || k === "severity" || k === "alertname") {
      problems.push(
        `${at}.labels.${k} is not a usable label name: use [a-zA-Z_][a-zA-Z0-9_]*, not "severity" (set by severity), "alertname" or a "__" prefix.`,
      );
    }
    if (v.includes("$") || v === "")
      problems.push(`${at}.labels.${k} ${JSON.stringify(v)} must be a non-empty value without "$" (Grafana expands env vars in labels).`);
  }
  return problems;
}

/** Summary and description: non-empty, and templated only in the one form Prometheus and Grafana render alike. */
function textProblems(r: AlertRule, at: string): string[] {
  const problems: string[] = [];
  for (const key of ["summary", "description"] as const) {
    const text = r[key];
    if (text.trim() === "") problems.push(`${at}.${key} is empty: say what broke and where to look.`);
    if (text.includes("${"))
      problems.push(`${at}.${key} contains "\${": Grafana would expand it as an env var; use only {{ $labels.<name> }}.`);
    const templates = text.match(/\{\{.*?\}\}/g) ?? [];
    for (const t of templates) {
      if (!/^\{\{ \$labels\.[a-zA-Z_][a-zA-Z0-9_]* \}\}$/.test(t))
        problems.push(`${at}.${key} uses ${t}: only "{{ $labels.<name> }}" renders the same in Prometheus and Grafana.`);
    }
  }
  return problems;
}

export function assertValidGrafanaInput(input: GrafanaAlertingInput): void {
  const problems: string[] = [];
  try {
    assertValidCatalogue(input.rules);
  } catch (e) {
    problems.push(...problemsOf(e));
  }
  if (input.rules.length === 0)
    problems.push("rules is empty: pass alertRules(...), the catalogue the Prometheus rule file is rendered from.");
  problems.push(...channelProblems(input), ...scheduleProblems(input));
  throwIfProblems("Grafana alerting input", problems);
}

/** Telegram/Discord settings must be secret references (never the secret), and warningsTo a configured channel. */
function channelProblems(input: GrafanaAlertingInput): string[] {
  const problems: string[] = [];
  if (input.telegram) {
    const { botToken, chatId } = input.telegram;
    if (!isSecretReference(botToken)) {
      problems.push(
        `telegram.botToken is not a reference: pass "$__file{/run/secrets/telegram_bot_token}" (Grafana reads the secret file) or a Terraform token, never the token itself (it would be written into the rendered file).`,
      );
    }
    if (!isSecretReference(chatId) && !/^-?\d+$/.test(chatId) && !/^@[A-Za-z0-9_]{5,}$/.test(chatId)) {
      problems.push(
        `telegram.chatId ${JSON.stringify(chatId)} is not a chat id: use the numeric id (e.g. "-1001234567890"), "@channelname", or a $__file{...} reference.`,
      );
    }
  }
  if (input.discord && !isSecretReference(input.discord.webhookUrl)) {
    problems.push(
      `discord.webhookUrl is not a reference: pass "$__file{/run/secrets/discord_webhook_url}" (Grafana reads the secret file) or a Terraform token, never the URL itself (it embeds the webhook's secret).`,
    );
  }
  if (input.warningsTo !== undefined && input.warningsTo !== "telegram" && input.warningsTo !== "discord")
    problems.push(`warningsTo must be "telegram" or "discord".`);
  if (input.warningsTo !== undefined && !input[input.warningsTo]) {
    problems.push(
      `warningsTo is "${input.warningsTo}" but ${input.warningsTo} is not configured: configure it, or point warningsTo at a configured channel.`,
    );
  }
  return problems;
}

/** Folder, evaluation interval and notification timing. */
function scheduleProblems(input: GrafanaAlertingInput): string[] {
  const problems: string[] = [];
  if (input.folder !== undefined && (input.folder.trim() === "" || input.folder.includes("$") || input.folder.includes("/"))) {
    problems.push(`folder ${JSON.stringify(input.folder)} must be a non-empty title without "$" or "/", e.g. "UpdateIO".`);
  }
  if (
    input.interval !== undefined &&
    !(PROM_DURATION.test(input.interval) && durationSeconds(input.interval) >= 10 && durationSeconds(input.interval) % 10 === 0)
  ) {
    problems.push(
      `interval ${JSON.stringify(input.interval)} must be a duration that is a multiple of Grafana's 10s base interval, e.g. "1m".`,
    );
  }
  for (const [key, value] of Object.entries(input.timing ?? {})) {
    if (value !== undefined && !(PROM_DURATION.test(value) && durationSeconds(value) > 0))
      problems.push(`timing.${key} ${JSON.stringify(value)} must be a positive duration, e.g. "5m".`);
  }
  return problems;
}
