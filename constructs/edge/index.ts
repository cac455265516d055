/** Public API of the edge module. */
export * from "./edge-proxy";
export * from "./renderers/caddyfile";
export * from "./edge-backup";
export * from "./renderers/edge-backup";
