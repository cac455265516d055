/** Public API of the app module. */
export * from "./app-settings";
export * from "./updateio-service";
export * from "./migration-job";
