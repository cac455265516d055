import { createHash } from "node:crypto";
import { ValidationError } from "../contract/errors";

/**
 * Pinned subnets for bridge networks. Docker's default address pools hold 31 networks in all
 * (172.17-31.0.0/16 and sixteen 192.168.x.0/20), shared by every project on the machine: a laptop
 * stack with two dozen networks exhausts them ("could not find an available, non-overlapping IPv4
 * address pool"). A stack that pins each network to a /24 of its own pool needs none of them.
 */

/** Each pinned network's size: 254 addresses, more than a one-host network ever holds. */
export const POOL_SUBNET_PREFIX = 24;

const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const PRIVATE: readonly (readonly [number, number])[] = [
  [ipv4("10.0.0.0"), 8],
  [ipv4("172.16.0.0"), 12],
  [ipv4("192.168.0.0"), 16],
];

function ipv4(dotted: string): number {
  return dotted.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}

function dotted(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

/** Why `pool` cannot be a network pool (undefined when it can): an RFC 1918 IPv4 network from /8 to /23. */
export function networkPoolProblem(pool: string): string | undefined {
  const m = IPV4_CIDR.exec(pool);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255)) return `"${pool}" is not an IPv4 network; write one such as 172.16.0.0/16`;
  const prefix = Number(m[5]);
  if (prefix < 8 || prefix > POOL_SUBNET_PREFIX - 1)
    return `"${pool}" must be a /8 to /${POOL_SUBNET_PREFIX - 1} (it is split into /${POOL_SUBNET_PREFIX} networks), e.g. 172.16.0.0/16`;
  const base = ipv4(m.slice(1, 5).join("."));
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) return `"${pool}" has host bits set; the network is ${dotted(base - (base % size))}/${prefix}`;
  if (!PRIVATE.some(([net, bits]) => prefix >= bits && Math.floor(base / 2 ** (32 - bits)) === net / 2 ** (32 - bits)))
    return `"${pool}" is not a private range; use part of 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16`;
  return undefined;
}

/** How many /24 networks the pool holds. */
export function poolCapacity(pool: string): number {
  return 2 ** (POOL_SUBNET_PREFIX - Number(pool.split("/")[1]));
}

export interface PinnedSubnet {
  readonly subnet: string;
  /** The subnet's first host: Docker's bridge address. Pinned too, so what the engine reads back equals the config. */
  readonly gateway: string;
}

/**
 * A /24 of `pool` for each name. Each name starts at the slot its hash picks and takes the next
 * free one (names in sorted order), so adding or removing a network moves no other network unless
 * it collides with it: a moved subnet replaces the network and every container on it.
 */
export function allocateSubnets(pool: string, names: readonly string[]): Map<string, PinnedSubnet> {
  const problem = networkPoolProblem(pool);
  if (problem) throw new ValidationError("network pool", [problem]);
  const slots = poolCapacity(pool);
  const unique = [...new Set(names)].sort();
  if (unique.length > slots)
    throw new ValidationError("network pool", [`"${pool}" holds ${slots} /${POOL_SUBNET_PREFIX} networks; ${unique.length} needed`]);
  const base = ipv4(pool.split("/")[0]!);
  const taken = new Set<number>();
  const out = new Map<string, PinnedSubnet>();
  for (const name of unique) {
    let slot = createHash("sha256").update(name).digest().readUInt32BE(0) % slots;
    while (taken.has(slot)) slot = (slot + 1) % slots;
    taken.add(slot);
    const net = base + slot * 2 ** (32 - POOL_SUBNET_PREFIX);
    out.set(name, { subnet: `${dotted(net)}/${POOL_SUBNET_PREFIX}`, gateway: dotted(net + 1) });
  }
  return out;
}
