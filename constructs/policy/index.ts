/** Public API of the policy module. */
export * from "./policy-aspect";
export * from "./rules";
export * from "./types";
export * from "./expressions";
export * from "./json";
export * from "./normalize";
export * from "./workload";
