import { block, blocks, describe, isExpression, isRecord, labelsOf } from "../json";
import { boolOf, plain } from "../normalize";
import type { PolicyRule } from "../types";

const NETWORK_DRIVERS = ["bridge", "overlay"];

/**
 * Driver options a network may set, and the values each may take. Everything else is refused: the
 * bridge driver's options reach the host (com.docker.network.bridge.name = "br0" enslaves the
 * containers to an existing host bridge, i.e. the LAN; gateway_mode_ipv4 "routed"/"nat-unprotected"
 * makes container ports reachable from outside without publishing them; host_binding_ipv4,
 * enable_ip_masquerade, trusted_host_interfaces ...), and an unknown option is untested behaviour.
 */
const NETWORK_OPTIONS: Readonly<Record<string, (value: unknown) => boolean>> = {
  encrypted: (v) => typeof v === "string", // IPsec between overlay nodes (the key alone turns it on)
  "com.docker.network.driver.mtu": (v) => typeof v === "string" && /^\d{3,5}$/.test(v),
};

/**
 * A Swarm service's per-attachment driver options (task_spec.networks_advanced.driver_opts, sent as
 * the endpoint's DriverOpts): none of our services set any, and they reach as far as a network's
 * own options (e.g. com.docker.network.endpoint.sysctls sets the interface's sysctls, such as
 * route_localnet, past sysctls-allowed), so every one is refused.
 */
function attachmentOptionProblems(service: Record<string, unknown>): string[] {
  const what = describe(service, "docker_service");
  const problems: string[] = [];
  blocks(block(service.task_spec).networks_advanced).forEach((n, i) => {
    const opts = n.driver_opts;
    if (opts === undefined || opts === null || (Array.isArray(opts) && opts.length === 0)) return;
    problems.push(
      `${what} sets task_spec.networks_advanced[${i}].driver_opts ${JSON.stringify(opts)}: remove it (an attachment takes no driver options)`,
    );
  });
  return problems;
}

export const networkDriver: PolicyRule = {
  id: "network-driver",
  level: "error",
  title:
    "Networks are bridge or overlay with the default IPAM and known options, never the Swarm ingress; prod internal overlays are encrypted",
  why: "macvlan/ipvlan/host networks put containers on the host's LAN past the firewall, and so do a bridge's driver options (com.docker.network.bridge.name naming a host bridge, gateway_mode_ipv4 routed or nat-unprotected); an IPAM driver is a plugin running on the host; a service's per-attachment driver_opts reach the endpoint's interface (its sysctls included); an ingress network publishes through the routing mesh, and an unencrypted overlay carries database and credential traffic in clear text between nodes",
  fix: `use driver "bridge" (containers on one host) or "overlay" (Swarm); never set \`ingress\`; leave ipam_driver unset (or "default") and ipam_options empty; set only the options ${Object.keys(NETWORK_OPTIONS).join(", ")}; in prod give internal overlay networks options { encrypted = "" }; a Swarm service's network attachments set no driver_opts.`,
  appliesTo: ["docker_network", "docker_service"],
  check(net, ctx, type) {
    if (type === "docker_service") return attachmentOptionProblems(net);
    const what = describe(net, "docker_network");
    const problems: string[] = [];
    const driver = plain(net.driver);
    // Exactly as written: the engine looks up any other spelling ("Bridge", "overlay ") as a plugin.
    const d = driver === undefined ? "bridge" : String(driver);
    if (isExpression(driver)) problems.push(`${what} has driver ${driver}, which the policy cannot judge`);
    else if (!NETWORK_DRIVERS.includes(d)) problems.push(`${what} uses driver ${JSON.stringify(driver)}`);
    if (boolOf(net.ingress) !== undefined && boolOf(net.ingress) !== false) problems.push(`${what} is a Swarm ingress network`);
    const options = net.options && typeof net.options === "object" ? (net.options as Record<string, unknown>) : {};
    if (net.options !== undefined && net.options !== null && !isRecord(net.options))
      problems.push(`${what} sets options to ${JSON.stringify(net.options)}, which the policy cannot read: write a map of literal options`);
    for (const [key, value] of Object.entries(options)) {
      const allowed = Object.hasOwn(NETWORK_OPTIONS, key) ? NETWORK_OPTIONS[key]! : undefined;
      if (!allowed || !allowed(value))
        problems.push(
          `${what} sets options ${JSON.stringify(key)} = ${JSON.stringify(value)}: remove it (only ${Object.keys(NETWORK_OPTIONS).join(", ")} are allowed)`,
        );
    }
    const ipam = plain(net.ipam_driver);
    if (ipam !== undefined && ipam !== null && ipam !== "default")
      problems.push(`${what} uses ipam_driver ${JSON.stringify(net.ipam_driver)} (a plugin on the host): remove ipam_driver`);
    const ipamOptions = net.ipam_options;
    if (ipamOptions !== undefined && ipamOptions !== null && !(isRecord(ipamOptions) && Object.keys(ipamOptions).length === 0))
      problems.push(`${what} sets ipam_options ${JSON.stringify(ipamOptions)}: remove ipam_options`);
    if (ctx.environment === "prod" && d === "overlay" && boolOf(net.internal) === true && !("encrypted" in options)) {
      problems.push(
        `${what} is an internal overlay network in prod without options.encrypted (role ${labelsOf(net).get("io.updateio.role") ?? "unlabelled"})`,
      );
    }
    return problems;
  },
};
