/** Public API of the kit module. */
export * from "./config-reload-job";
export * from "./connection";
export * from "./container-runtime";
export * from "./durations";
export * from "./generated-secret";
export * from "./hardened-service";
export * from "./live-config";
export * from "./network-pool";
export * from "./platform-network";
export * from "./secure-defaults";
export * from "./service-image";
export * from "./service-spec";
export * from "./service-volume";
export * from "./swarm-runtime";
export * from "./scheduled-backup";
export * from "./scheduled-backup-script";
export * from "./dev-port-forward";
