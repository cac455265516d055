/** Public API of the observability module. */
export * from "./prometheus-server";
export * from "./metrics-exporters";
export * from "./grafana-server";
export * from "./loki-stack";
export * from "./renderers/alert-rules";
export * from "./renderers/alloy";
export * from "./renderers/docker-socket-proxy";
export * from "./renderers/grafana";
export * from "./renderers/log-pipeline";
export * from "./renderers/loki";
export * from "./renderers/observability-catalogue";
export * from "./renderers/prometheus";
export * from "./renderers/promtail";
export * from "./grafana-backup";
export * from "./renderers/grafana-backup";
