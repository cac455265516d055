import { ValidationError } from "../../contract/errors";

/**
 * Environment of the read-only Docker socket proxy (image tecnativa/docker-socket-proxy, HAProxy in
 * front of the socket) that the log shippers use instead of the raw socket (docs/architecture.md "Logs").
 *
 * Every section the image knows is set explicitly, so a new image whose defaults differ cannot
 * widen access. Allowed is exactly what the shippers call (read in their sources):
 * - discovery (Prometheus' Docker SD, used by Alloy's discovery.docker and Promtail's
 *   docker_sd_configs): GET /containers/json (list) and GET /networks (network labels);
 * - log reading (Alloy's loki.source.docker, Promtail's docker target): GET /containers/{id}/json
 *   (inspect, also polled every few seconds to restart tailing) and GET /containers/{id}/logs;
 * - the Docker Go client's API version negotiation: GET or HEAD /_ping.
 * Neither polls /events, /info or /version (allowEngineInfo opens the last two, for cAdvisor).
 *
 * Residual risk, stated plainly: CONTAINERS=1 opens every GET under /containers, including
 * /containers/{id}/archive (read a file out of any container, e.g. a secret file) and
 * /containers/{id}/export. The proxy filters by path prefix, not by endpoint; keep it on a network
 * shared only with the shipper, never published.
 */

/** The proxy's listening port (the shipper's dockerHost is tcp://<proxy>:2375). */
export const SOCKET_PROXY_PORT = 2375;

export interface SocketProxyOptions {
  /**
   * HAProxy log level. HAProxy writes one line per request at "info"; the shipper's inspect polling
   * would make that thousands of lines an hour, so the default keeps notices and worse. Set "info"
   * to see every request (including 403s for refused paths) while debugging.
   * @default "notice"
   */
  readonly logLevel?: "debug" | "info" | "notice" | "warning" | "err";
  /**
   * Also open GET /info and GET /version (INFO=1, VERSION=1). cAdvisor needs them: its Docker
   * factory reads the engine's info (storage driver, root dir, cgroup driver) and version once at
   * start and registers no Docker containers without them; it reaches the engine through this
   * same proxy (`--docker=tcp://docker-socket-proxy:2375`). /info exposes host details (kernel,
   * CPU and memory, container counts, registry mirrors), still read-only (POST stays 0). Leave it
   * off when only the log shippers use the proxy: neither calls /info or /version.
   * @default false
   */
  readonly allowEngineInfo?: boolean;
}

/** One API section: its value and why. Exported so reviews and tests can read the reasons. */
export interface SocketProxySection {
  readonly name: string;
  readonly value: "0" | "1";
  readonly why: string;
}

export const SOCKET_PROXY_SECTIONS: readonly SocketProxySection[] = [
  // Read access the shippers need.
  {
    name: "CONTAINERS",
    value: "1",
    why: "GET /containers/json (discovery), /containers/{id}/json (inspect) and /containers/{id}/logs (tailing).",
  },
  { name: "NETWORKS", value: "1", why: "GET /networks: Docker SD reads network labels on every refresh and fails without them." },
  { name: "PING", value: "1", why: "GET/HEAD /_ping: the Docker Go client negotiates the API version with it." },
  // Everything else is closed. POST=0 makes the whole API read-only (only GET and HEAD pass).
  { name: "POST", value: "0", why: "Read-only: no create, start, stop, exec or delete of anything." },
  { name: "EVENTS", value: "0", why: "Not used: discovery polls the container list instead of following events." },
  { name: "VERSION", value: "0", why: "Not used: version negotiation goes through /_ping." },
  { name: "INFO", value: "0", why: "Not used; /info exposes host details." },
  { name: "ALLOW_START", value: "0", why: "Would allow starting containers (needs POST too)." },
  { name: "ALLOW_STOP", value: "0", why: "Would allow stopping containers (needs POST too)." },
  { name: "ALLOW_RESTARTS", value: "0", why: "Would allow stop/restart/kill of containers (needs POST too)." },
  // Newer proxy builds gate these GET endpoints under /containers separately; older ones ignore the
  // names. Logs must stay open for the shippers; archive (file reads), export and attach stay shut.
  {
    name: "ALLOW_LOGS",
    value: "1",
    why: "GET /containers/{id}/logs: the shippers tail container logs (newer proxy builds close it by default).",
  },
  { name: "ALLOW_ARCHIVE", value: "0", why: "GET /containers/{id}/archive would read any file (secrets included) out of any container." },
  { name: "ALLOW_EXPORT", value: "0", why: "GET /containers/{id}/export would dump a container's whole filesystem." },
  { name: "ALLOW_ATTACH", value: "0", why: "Attach streams a container's stdio." },
  { name: "AUTH", value: "0", why: "Registry credentials: security-critical." },
  { name: "SECRETS", value: "0", why: "Swarm secrets: security-critical." },
  { name: "BUILD", value: "0", why: "Not used." },
  { name: "COMMIT", value: "0", why: "Not used." },
  { name: "CONFIGS", value: "0", why: "Swarm configs: not used." },
  { name: "DISTRIBUTION", value: "0", why: "Not used." },
  { name: "EXEC", value: "0", why: "Command execution in containers: never." },
  { name: "GRPC", value: "0", why: "Not used." },
  { name: "IMAGES", value: "0", why: "Not used." },
  { name: "NODES", value: "0", why: "Swarm nodes: not used." },
  { name: "PLUGINS", value: "0", why: "Not used." },
  { name: "SERVICES", value: "0", why: "Swarm services: not used (a Swarm move needs its own discovery)." },
  { name: "SESSION", value: "0", why: "Not used." },
  { name: "SWARM", value: "0", why: "Not used." },
  { name: "SYSTEM", value: "0", why: "Not used (/system/df walks every image and volume)." },
  { name: "TASKS", value: "0", why: "Swarm tasks: not used." },
  { name: "VOLUMES", value: "0", why: "Not used." },
];

/** Environment variables for the proxy container. */
export function socketProxyEnv(options: SocketProxyOptions = {}): Record<string, string> {
  const logLevel = options.logLevel ?? "notice";
  if (!["debug", "info", "notice", "warning", "err"].includes(logLevel)) {
    throw new ValidationError("socketProxyEnv input", [
      `logLevel ${JSON.stringify(logLevel)} is not an HAProxy level: use "debug", "info", "notice", "warning" or "err".`,
    ]);
  }
  const env: Record<string, string> = {};
  for (const s of SOCKET_PROXY_SECTIONS) env[s.name] = s.value;
  if (options.allowEngineInfo === true) {
    // cAdvisor's Docker factory: GET /info and GET /version at start (see SocketProxyOptions).
    env.INFO = "1";
    env.VERSION = "1";
  }
  env.LOG_LEVEL = logLevel;
  return env;
}
