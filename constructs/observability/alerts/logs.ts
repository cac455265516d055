// Logs: lines lost on the way into Loki, refused by Loki or dropped by the shipper.
import type { AlertRule } from "./types";

export function logAlerts(): AlertRule[] {
  return [
    {
      name: "LokiDiscardingSamples",
      group: "logs",
      expr: "sum by (job, instance, reason, tenant) (rate(loki_discarded_samples_total[5m])) > 0",
      for: "1m",
      severity: "warning",
      labels: { service: "loki" },
      summary: "Loki is discarding log lines ({{ $labels.reason }})",
      description:
        "Loki refused log lines for reason {{ $labels.reason }} (rate limits, too old, too long, stream limits): those logs are lost. Adjust the limit or the shipper's labels.",
    },
    {
      name: "LogShipperDroppingEntries",
      group: "logs",
      expr: "sum by (job, instance) (rate(loki_write_dropped_entries_total[5m])) > 0 or sum by (job, instance) (rate(promtail_dropped_entries_total[5m])) > 0",
      for: "1m",
      severity: "warning",
      labels: { service: "logs" },
      summary: "{{ $labels.job }} on {{ $labels.instance }} is dropping log entries",
      description:
        "The log shipper ({{ $labels.job }}) gave up sending entries to Loki after all retries: those logs are lost. Check that Loki is up and accepting writes.",
    },
  ];
}
