/** Public API of the edge module. */
export * from "./edge-proxy";
export * from "./renderers/caddyfile";
