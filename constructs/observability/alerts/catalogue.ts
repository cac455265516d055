// The one alert catalogue, assembled from one file per group. Both rule files (Prometheus and
// Grafana) are rendered from it, so what promtool proves about an expression holds for Grafana too.
import { availabilityAlerts } from "./availability";
import { backupAlerts } from "./backup";
import { capacityAlerts } from "./capacity";
import { catalogueContext } from "./context";
import { edgeAlerts } from "./edge";
import { hostAlerts } from "./host";
import { logAlerts } from "./logs";
import { postgresAlerts } from "./postgres";
import { rabbitmqAlerts } from "./rabbitmq";
import { redisAlerts } from "./redis";
import { restoreDrillAlerts } from "./restore-drill";
import type { AlertRule, AlertRulesInput } from "./types";
import { assertValidAlertInput, assertValidCatalogue } from "./validation";

/**
 * The alert catalogue. Thresholds come from the input (validated, all problems at once); everything
 * else is fixed here so the Prometheus rule file and Grafana's rules cannot drift apart.
 */
export function alertRules(input: AlertRulesInput = {}): AlertRule[] {
  assertValidAlertInput(input);
  const c = catalogueContext(input);
  // Catalogue order is rule order inside each rendered group: append new groups' rules, don't reorder.
  const rules: AlertRule[] = [
    ...availabilityAlerts(c),
    ...postgresAlerts(c),
    ...redisAlerts(c),
    ...rabbitmqAlerts(c),
    ...backupAlerts(c),
    ...hostAlerts(c),
    ...edgeAlerts(c),
    ...logAlerts(),
    ...capacityAlerts(c),
    ...restoreDrillAlerts({
      intervalSeconds: c.o.restoreDrillIntervalSeconds,
      containerName: input.environment ? `${input.environment}-postgres-restore-drill` : undefined,
    }),
  ];
  assertValidCatalogue(rules);
  return rules;
}
