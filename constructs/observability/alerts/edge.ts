// Edge: the share of 5xx answers per Caddy server, once there is enough traffic to mean something.
import { pct, type CatalogueContext } from "./context";
import type { AlertRule } from "./types";

const caddy = "caddy_http_request_duration_seconds_count";
const by = "sum by (job, instance, server)";

export function edgeAlerts({ o }: CatalogueContext): AlertRule[] {
  return [
    {
      name: "EdgeHigh5xxRate",
      group: "edge",
      expr: `(${by} (rate(${caddy}{code=~"5.."}[5m])) / ${by} (rate(${caddy}[5m])) > ${o.edge5xxRatio}) and ${by} (rate(${caddy}[5m])) > ${o.edgeMinRequestsPerSecond}`,
      for: "5m",
      severity: "critical",
      labels: { service: "edge" },
      summary: "The edge proxy answers many 5xx on {{ $labels.server }}",
      description: `More than ${pct(o.edge5xxRatio)} of the responses of Caddy server {{ $labels.server }} ({{ $labels.instance }}) were 5xx over 5 minutes: an upstream is failing or unreachable (502/504). Check ScrapeTargetDown and ContainerMissing, then the upstream's logs.`,
    },
  ];
}
