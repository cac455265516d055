/** What the scripts that reach every Redis node (backup hooks, ACL reload) accept, checked once. */

export const REDIS_HOST = /^[a-z0-9][a-z0-9.-]{0,62}$/;
export const ABS_PATH = /^\/[A-Za-z0-9_./-]+$/;

/** Problems of a node list and its port, each naming the key (empty when fine). */
export function redisNodesProblems(hosts: readonly string[], port: number): string[] {
  const p: string[] = [];
  if (hosts.length === 0) p.push("hosts: is empty (fix: pass redis.nodeHosts)");
  for (const h of hosts) if (!REDIS_HOST.test(h)) p.push(`hosts: "${h}" must be a DNS name (lowercase letters, digits, dots, dashes)`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) p.push(`port: ${port} must be 1-65535`);
  return p;
}
