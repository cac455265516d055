import { describe, isExpression, labelsOf } from "../json";
import { boolOf, plain } from "../normalize";
import type { PolicyRule } from "../types";

const NETWORK_DRIVERS = ["bridge", "overlay"];

export const networkDriver: PolicyRule = {
  id: "network-driver",
  level: "error",
  title: "Networks are bridge or overlay, never the Swarm ingress; prod internal overlays are encrypted",
  why: "macvlan/ipvlan/host networks put containers on the host's LAN past the firewall, an ingress network publishes through the routing mesh, and an unencrypted overlay carries database and credential traffic in clear text between nodes",
  fix: 'use driver "bridge" (containers on one host) or "overlay" (Swarm); never set `ingress`; in prod give internal overlay networks options { encrypted = "" }.',
  appliesTo: "docker_network",
  check(net, ctx) {
    const what = describe(net, "docker_network");
    const problems: string[] = [];
    const driver = plain(net.driver);
    const d = driver === undefined ? "bridge" : String(driver).trim().toLowerCase();
    if (isExpression(driver)) problems.push(`${what} has driver ${driver}, which the policy cannot judge`);
    else if (!NETWORK_DRIVERS.includes(d)) problems.push(`${what} uses driver ${JSON.stringify(driver)}`);
    if (boolOf(net.ingress) !== undefined && boolOf(net.ingress) !== false) problems.push(`${what} is a Swarm ingress network`);
    const options = net.options && typeof net.options === "object" ? (net.options as Record<string, unknown>) : {};
    if (ctx.environment === "prod" && d === "overlay" && boolOf(net.internal) === true && !("encrypted" in options)) {
      problems.push(
        `${what} is an internal overlay network in prod without options.encrypted (role ${labelsOf(net).get("io.updateio.role") ?? "unlabelled"})`,
      );
    }
    return problems;
  },
};
