/**
 * The services a stack declares, as a Prometheus text file for node-exporter's textfile collector:
 * one `updateio_expected_service` series per service, labelled as cAdvisor labels its containers.
 * ContainerMissing then compares it with cAdvisor's containers, so its rule never names a service
 * and a new service changes this file (a live config) instead of Prometheus' and Grafana's rules.
 */
import { ValidationError } from "../../contract/index";
import { CADVISOR_LABELS, EXPECTED_SERVICE_METRIC, LABEL_VALUE } from "./observability-catalogue";

/** The file name: the textfile collector reads `*.prom` only. */
export const EXPECTED_SERVICES_FILE = "expected-services.prom";

export function renderExpectedServices(environment: string, services: readonly string[]): string {
  const problems = [
    ...(LABEL_VALUE.test(environment) ? [] : [`environment ${JSON.stringify(environment)} is not an io.updateio.environment value`]),
    ...services.flatMap((s, i) =>
      LABEL_VALUE.test(s)
        ? []
        : [
            `services[${i}] ${JSON.stringify(s)} is not an io.updateio.service value: use lowercase letters, digits, "-", "_", ".", e.g. "api"`,
          ],
    ),
  ];
  if (services.length === 0) problems.push("services is empty: list every long-running service of the stack");
  if (problems.length > 0) throw new ValidationError("Expected services file", problems);
  const lines = [...new Set(services)]
    .sort()
    .map((s) => `${EXPECTED_SERVICE_METRIC}{${CADVISOR_LABELS.service}="${s}",${CADVISOR_LABELS.environment}="${environment}"} 1`);
  return [
    `# HELP ${EXPECTED_SERVICE_METRIC} A long-running service of the stack: ContainerMissing fires when cAdvisor sees no container of it.`,
    `# TYPE ${EXPECTED_SERVICE_METRIC} gauge`,
    ...lines,
    "",
  ].join("\n");
}
