/** The environments every layer knows: one stack each. */
export const ENVIRONMENTS = ["dev", "test", "prod"] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

/** Addresses that only the host itself reaches: publishing there exposes nothing to the network. */
export const LOOPBACK_ADDRESSES = ["127.0.0.1", "::1"] as const;
