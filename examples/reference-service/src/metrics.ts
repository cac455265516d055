import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

export interface Metrics {
  readonly registry: Registry;
  readonly requests: Counter<"method" | "route" | "status">;
  readonly duration: Histogram<"route">;
  readonly backendUp: Gauge<"backend">;
}

/** A registry of its own (no global state): process metrics plus HTTP and backend health. */
export function createMetrics(service: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: "http_requests_total",
      help: "HTTP requests by route and status.",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    duration: new Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP request duration.",
      labelNames: ["route"],
      registers: [registry],
    }),
    backendUp: new Gauge({
      name: "reference_backend_up",
      help: "1 when the last check of a backing service succeeded.",
      labelNames: ["backend"],
      registers: [registry],
    }),
  };
}
