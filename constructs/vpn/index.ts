/** Public API of the vpn module. */
export * from "./vpn-gateway";
export * from "./renderers/wireguard";
