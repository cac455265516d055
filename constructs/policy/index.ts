/** Public API of the policy module: the aspect, the rule catalogue, the packs per environment. */
export * from "./policy-aspect";
export * from "./rules/index";
export * from "./packs/index";
export * from "./types";
export * from "./expressions";
export * from "./json";
export * from "./normalize";
export * from "./workload";
