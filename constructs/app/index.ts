/** Public API of the app module. */
export * from "./updateio-service";
export * from "./migration-job";
