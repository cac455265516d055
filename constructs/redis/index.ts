/** Public API of the redis module. */
export * from "./redis-cache";
export * from "./renderers/redis";
export * from "./renderers/redis-sentinel";
export * from "./redis-backup";
export * from "./renderers/redis-backup";
