// Availability: scrape targets down, and containers missing or crash-looping (cAdvisor).
import { CADVISOR_LABELS, EXPECTED_SERVICE_METRIC } from "../renderers/observability-catalogue";
import { withService, type CatalogueContext } from "./context";
import type { AlertRule } from "./types";

const svc = CADVISOR_LABELS.service;

export function availabilityAlerts(c: CatalogueContext): AlertRule[] {
  return [scrapeTargetDown(), appTargetDown(), ...containerMissing(c), ...expectedServicesMissing(c), containerRestarting(c)];
}

function scrapeTargetDown(): AlertRule {
  return {
    name: "ScrapeTargetDown",
    group: "availability",
    // The app services' targets have AppTargetDown, which keeps their own service label.
    expr: withService('up{job!="app"} == 0', "job"),
    for: "2m",
    severity: "critical",
    labels: {},
    summary: "{{ $labels.job }} target {{ $labels.instance }} is down",
    description:
      "Prometheus has not been able to scrape {{ $labels.instance }} (job {{ $labels.job }}) for 2 minutes: the exporter, or the service it runs beside, is not answering. Check the container's state and logs.",
  };
}

/** An app replica whose /metrics does not answer (job "app"; each target carries its service label). */
function appTargetDown(): AlertRule {
  return {
    name: "AppTargetDown",
    group: "availability",
    // Each app target carries its service label (relabel_configs); label_replace is the catalogue's way of saying so.
    expr: withService('up{job="app"} == 0', "service"),
    for: "5m",
    severity: "critical",
    labels: {},
    summary: "{{ $labels.service }} replica {{ $labels.instance }} serves no metrics",
    description:
      "Prometheus has not been able to scrape /metrics of {{ $labels.service }} at {{ $labels.instance }} for 5 minutes: the replica is down, hung, or no longer serves its metrics path. Check the service's health, its logs and its metrics path in environments/services.ts.",
  };
}

/**
 * One rule over every expected service (none when there are none): each expected service without a
 * container_last_seen series. From "rule", absent() per service, or-ed; from "metric", the services
 * node-exporter publishes (EXPECTED_SERVICE_METRIC), unless cAdvisor sees a container of them.
 */
function containerMissing({ o, envMatcher }: CatalogueContext): AlertRule[] {
  const expected = [...new Set(o.expectedServices)].sort();
  if (expected.length === 0) return [];
  const missing =
    o.expectedServicesFrom === "metric"
      ? `${EXPECTED_SERVICE_METRIC}{${svc}!=""${envMatcher}} unless on (${svc}) container_last_seen{${svc}!=""${envMatcher}}`
      : expected.map((s) => `absent(container_last_seen{${svc}="${s}"${envMatcher}})`).join(" or ");
  return [
    {
      name: "ContainerMissing",
      group: "availability",
      expr: withService(missing, svc),
      for: "2m",
      severity: "critical",
      labels: {},
      summary: "No running container for service {{ $labels.service }}",
      description:
        "cAdvisor has seen no container labelled io.updateio.service={{ $labels.service }} for 2 minutes: every replica is stopped or removed. If all services alert at once, cAdvisor itself is down (see ScrapeTargetDown).",
    },
  ];
}

/**
 * ContainerMissing from "metric" reads the list node-exporter publishes: with no list (node-exporter
 * down, its textfile unreadable) it cannot fire for anything, so that silence is an alert of its own.
 */
function expectedServicesMissing({ o, envMatcher }: CatalogueContext): AlertRule[] {
  if (o.expectedServicesFrom !== "metric" || o.expectedServices.length === 0) return [];
  return [
    {
      name: "ExpectedServicesMissing",
      group: "availability",
      expr: `absent(${EXPECTED_SERVICE_METRIC}{${svc}!=""${envMatcher}})`,
      for: "10m",
      severity: "warning",
      labels: { service: "node-exporter" },
      summary: "node-exporter publishes no list of the stack's services: ContainerMissing cannot fire",
      description:
        "No updateio_expected_service series for 10 minutes: node-exporter is down (see ScrapeTargetDown) or cannot read /expected-services (node_textfile_scrape_error). Until it is back, a stopped service raises no ContainerMissing.",
    },
  ];
}

function containerRestarting({ o, ours }: CatalogueContext): AlertRule {
  return {
    // Not changes(container_start_time_seconds): for Docker, cAdvisor reports the container's
    // *creation* time there (container/docker/handler.go: creationTime = inspect's Created), which a
    // restart-policy restart keeps. What a restart does change is the `restartcount` label cAdvisor
    // adds from inspect's RestartCount, so each restart (or replacement) starts a new series: more
    // than N restarts in 15 minutes = more than N+1 distinct series of one container.
    name: "ContainerRestarting",
    group: "availability",
    expr: withService(
      `count by (instance, name, ${svc}, ${CADVISOR_LABELS.environment}) (count_over_time(container_start_time_seconds${ours}[15m])) > ${o.containerRestarts + 1}`,
      svc,
    ),
    for: "0s",
    severity: "warning",
    labels: {},
    summary: "Container {{ $labels.name }} ({{ $labels.service }}) keeps restarting",
    description: `Container {{ $labels.name }} restarted (or was replaced) more than ${o.containerRestarts} times in 15 minutes: it is crash-looping or failing its healthcheck. Read its last logs before the next restart replaces them.`,
  };
}
