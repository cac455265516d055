// Pure renderer for the edge proxy's Caddyfile (see docs/architecture.md, "Edge").
// Everything emitted must parse on Caddy 2.6.2 (Debian, used by tests) and on 2.10 (production image):
// no directive or option added after 2.6.
import { isIP } from "node:net";
import { ValidationError } from "../../contract/errors";

export interface CaddyRoute {
  /** Host this route answers, e.g. "api.updateio.app" or "api.updateio.localhost". */
  readonly host: string;
  /** Optional path matcher such as "/telegram/webhook*"; path routes on a host are matched before that host's catch-all route. */
  readonly path?: string;
  /**
   * Upstream dial addresses "name:port" (one per replica, e.g. ["api-1:3000", "api-2:3000"]); load-balanced round robin.
   * Exclusive with dnsUpstream.
   */
  readonly upstreams?: readonly string[];
  /**
   * Replicas found by DNS instead (Swarm: tasks.<alias> lists the healthy tasks), re-resolved every
   * second. Caddy runs no active health checks on such upstreams: Swarm's own healthcheck keeps a
   * task out of DNS until it is healthy, and the passive checks and retries cover a task that dies.
   * Exclusive with upstreams.
   */
  readonly dnsUpstream?: { readonly name: string; readonly port: number };
  /** When set, active health checks GET this path on every static upstream (interval/timeout below); unhealthy upstreams leave the rotation. */
  readonly healthPath?: string;
  /** Restricted to the allow-list (admin surfaces): other clients get 403. */
  readonly adminOnly?: boolean;
  /** CSP frame-ancestors sources; when absent the route sends X-Frame-Options DENY and frame-ancestors 'none'. (The Telegram mini app runs inside Telegram's iframe.) */
  readonly frameAncestors?: readonly string[];
}

export interface CaddyfileInput {
  /** acme: certificates from Let's Encrypt (email required, optional CA directory URL for staging); internal: Caddy's local CA (dev/test). */
  readonly tls: { readonly mode: "acme"; readonly email: string; readonly caUrl?: string } | { readonly mode: "internal" };
  /** Ports Caddy listens on inside the container. */
  readonly httpPort: number;
  readonly httpsPort: number;
  /** Plain-HTTP port (inside the container only, never published) that answers GET /healthz with 200 for the container healthcheck. */
  readonly healthPort: number;
  /**
   * Serve Prometheus metrics on this port (plain HTTP, path /metrics) and turn on HTTP handler
   * metrics. The port is never published: only networks the edge shares (monitoring) reach it.
   * @default undefined (no metrics)
   */
  readonly metricsPort?: number;
  /** CIDRs allowed on adminOnly routes. Empty list = nobody (403 for all). */
  readonly adminAllowList: readonly string[];
  /** Send Strict-Transport-Security (prod). */
  readonly hsts: boolean;
  readonly routes: readonly CaddyRoute[];
  /** Active health check timing, Go duration strings; defaults "10s" / "2s". */
  readonly healthInterval?: string;
  readonly healthTimeout?: string;
  /**
   * How long a request may keep trying other replicas when one fails to answer (`lb_try_duration`).
   * @default "5s"
   */
  readonly lbTryDuration?: string;
  /**
   * Port of Caddy's admin API, always bound to localhost (tests running several Caddy processes need distinct ports).
   * @default 2019
   */
  readonly adminPort?: number;
  /**
   * Absolute path of a unix socket for Caddy's admin API instead of the localhost port: another
   * container that mounts the socket's volume (the edge's reload job) can then load a new
   * configuration, and nothing on any network can.
   * @default undefined (the localhost port)
   */
  readonly adminSocket?: string;
  /**
   * Serve HTTP/3. Off by default because the edge publishes only TCP 80/443: advertising h3 (Alt-Svc)
   * without publishing 443/udp makes browsers try QUIC for nothing. Turn on together with a 443/udp publish.
   * @default false
   */
  readonly http3?: boolean;
}

/** How often DNS upstreams are re-resolved: a new or removed Swarm task is seen within a second. */
const DNS_REFRESH = "1s";

export const CADDYFILE_DEFAULTS = {
  healthInterval: "10s",
  healthTimeout: "2s",
  lbTryDuration: "5s",
  adminPort: 2019,
  http3: false,
} as const;

/** Kept small on purpose: the apps need none of these browser features. */
const PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()";
const HSTS_VALUE = "max-age=31536000; includeSubDomains";

/**
 * Renders the edge Caddyfile: one site block per host (sorted), path routes before the host's catch-all,
 * security headers on every site, an internal-only health site, and admin routes fenced by `remote_ip`.
 *
 * Upstreams are static (`reverse_proxy api-1:3000 api-2:3000`), not `dynamic a`: Caddy's reverse_proxy
 * docs (caddyserver/website, src/docs/markdown/caddyfile/directives/reverse_proxy.md, "Dynamic upstreams",
 * the 2.5/2.6-era page and still so in later ones) say "active health checks do not run for dynamic
 * upstreams", and a maintainer confirms for 2.10 (caddyserver/caddy#7036) that with `dynamic` the health
 * decision is the dynamic module's job. The replica names are known at synth time, so static upstreams
 * keep active checks working; adding a replica means re-rendering (and reloading) this file.
 */
export function renderCaddyfile(input: CaddyfileInput): string {
  assertValid(input);

  const healthInterval = input.healthInterval ?? CADDYFILE_DEFAULTS.healthInterval;
  const healthTimeout = input.healthTimeout ?? CADDYFILE_DEFAULTS.healthTimeout;
  const lbTryDuration = input.lbTryDuration ?? CADDYFILE_DEFAULTS.lbTryDuration;
  const out: string[] = [];

  out.push("# Generated by constructs/edge/renderers/caddyfile.ts: change the input, not this file.");
  out.push(...globalOptions(input));

  for (const [host, routes] of groupByHost(input.routes)) {
    out.push("");
    out.push(`${host} {`);
    // Per-site `log` is the 2.6 way to turn on access logs; stdout+json so the log shipper can parse them.
    out.push("\tlog {", "\t\toutput stdout", "\t\tformat json", "\t}");
    out.push(...siteHeaders(input.hsts));
    routes.forEach((route, index) => {
      out.push(...routeBlock(route, index, input.adminAllowList, { healthInterval, healthTimeout, lbTryDuration }));
    });
    out.push("}");
  }

  // Plain HTTP, not published: only the container healthcheck talks to it. No access log, or the
  // healthcheck would flood it.
  out.push("");
  out.push(`http://:${input.healthPort} {`);
  out.push("\trespond /healthz 200");
  out.push("\trespond 404");
  out.push("}");
  if (input.metricsPort !== undefined) {
    out.push("");
    out.push(`http://:${input.metricsPort} {`);
    // `respond` sorts before `metrics` in Caddy's directive order, so each gets its own handle.
    out.push("\thandle /metrics {", "\t\tmetrics", "\t}");
    out.push("\thandle {", "\t\trespond 404", "\t}");
    out.push("}");
  }

  return `${out.join("\n")}\n`;
}

function globalOptions(input: CaddyfileInput): string[] {
  const admin =
    input.adminSocket !== undefined ? `unix/${input.adminSocket}` : `localhost:${input.adminPort ?? CADDYFILE_DEFAULTS.adminPort}`;
  const lines = ["{", `\tadmin ${admin}`];
  if (input.tls.mode === "acme") {
    lines.push(`\temail ${input.tls.email}`);
    if (input.tls.caUrl !== undefined) lines.push(`\tacme_ca ${input.tls.caUrl}`);
  } else {
    lines.push("\tlocal_certs");
    // Caddy would otherwise try to install its root into the system trust store of wherever it runs.
    lines.push("\tskip_install_trust");
  }
  lines.push(`\thttp_port ${input.httpPort}`);
  lines.push(`\thttps_port ${input.httpsPort}`);
  lines.push("\tservers {");
  lines.push(`\t\tprotocols ${(input.http3 ?? CADDYFILE_DEFAULTS.http3) ? "h1 h2 h3" : "h1 h2"}`);
  // Slow-header (slowloris) clients are cut off; no read_body/write limits, which would break uploads and streams.
  lines.push("\t\ttimeouts {", "\t\t\tread_header 10s", "\t\t\tidle 2m", "\t\t}");
  // `servers { metrics }` is the form both Caddy 2.6 (which the tests validate with) and 2.10 accept.
  if (input.metricsPort !== undefined) lines.push("\t\tmetrics");
  lines.push("\t}");
  lines.push("}");
  return lines;
}

function siteHeaders(hsts: boolean): string[] {
  // `defer` so these override what the upstream sent instead of being duplicated by it.
  const lines = ["\theader {", "\t\tdefer", "\t\t-Server"];
  lines.push(`\t\tPermissions-Policy ${quote(PERMISSIONS_POLICY)}`);
  lines.push("\t\tReferrer-Policy strict-origin-when-cross-origin");
  if (hsts) lines.push(`\t\tStrict-Transport-Security ${quote(HSTS_VALUE)}`);
  lines.push("\t\tX-Content-Type-Options nosniff");
  lines.push("\t}");
  return lines;
}

interface Timing {
  readonly healthInterval: string;
  readonly healthTimeout: string;
  readonly lbTryDuration: string;
}

function routeBlock(route: CaddyRoute, index: number, allowList: readonly string[], timing: Timing): string[] {
  const lines = [route.path === undefined ? "\thandle {" : `\thandle ${route.path} {`];
  lines.push(...frameHeaders(route.frameAncestors));

  if (route.adminOnly === true) {
    if (allowList.length === 0) {
      lines.push("\t\t# adminAllowList is empty: nobody may reach this route.");
      lines.push("\t\trespond 403");
      lines.push("\t}");
      return lines;
    }
    // Matcher names are scoped to their handle block; the index keeps them unique within the site anyway.
    const matcher = `@outside_admin_allow_list_${index}`;
    lines.push(`\t\t${matcher} not remote_ip ${allowList.join(" ")}`);
    lines.push(`\t\trespond ${matcher} 403`);
  }

  if (route.dnsUpstream !== undefined) {
    lines.push("\t\treverse_proxy {");
    lines.push(`\t\t\tdynamic a ${route.dnsUpstream.name} ${route.dnsUpstream.port} {`, `\t\t\t\trefresh ${DNS_REFRESH}`, "\t\t\t}");
  } else {
    lines.push(`\t\treverse_proxy ${(route.upstreams ?? []).join(" ")} {`);
  }
  lines.push("\t\t\tlb_policy round_robin");
  // Retries go to another replica while lb_try_duration lasts; fail_duration turns on passive checks
  // so a replica that just failed is skipped for 30s.
  lines.push(`\t\t\tlb_try_duration ${timing.lbTryDuration}`);
  lines.push("\t\t\tlb_try_interval 250ms");
  lines.push("\t\t\tfail_duration 30s");
  if (route.healthPath !== undefined && route.dnsUpstream === undefined) {
    lines.push(`\t\t\thealth_uri ${route.healthPath}`);
    lines.push(`\t\t\thealth_interval ${timing.healthInterval}`);
    lines.push(`\t\t\thealth_timeout ${timing.healthTimeout}`);
    lines.push("\t\t\thealth_status 2xx");
  }
  lines.push("\t\t}");
  lines.push("\t}");
  return lines;
}

function frameHeaders(frameAncestors: readonly string[] | undefined): string[] {
  // `+` adds a second CSP policy instead of replacing the app's own CSP; browsers enforce both.
  if (frameAncestors === undefined) {
    return [
      "\t\theader {",
      "\t\t\tdefer",
      `\t\t\t+Content-Security-Policy ${quote("frame-ancestors 'none'")}`,
      "\t\t\tX-Frame-Options DENY",
      "\t\t}",
    ];
  }
  // An X-Frame-Options from the app (SAMEORIGIN is a common framework default) would block the embedding.
  return [
    "\t\theader {",
    "\t\t\tdefer",
    `\t\t\t+Content-Security-Policy ${quote(`frame-ancestors ${frameAncestors.join(" ")}`)}`,
    "\t\t\t-X-Frame-Options",
    "\t\t}",
  ];
}

/** Hosts in code-unit order (locale-independent); per host, path routes in Caddy's own order, catch-all last. */
function groupByHost(routes: readonly CaddyRoute[]): [string, CaddyRoute[]][] {
  const byHost = new Map<string, CaddyRoute[]>();
  for (const route of routes) {
    const list = byHost.get(route.host) ?? [];
    list.push(route);
    byHost.set(route.host, list);
  }
  return [...byHost.entries()].sort(([a], [b]) => compare(a, b)).map(([host, list]) => [host, [...list].sort(comparePathRoutes)]);
}

// Mirrors how the Caddyfile adapter orders `handle` blocks with path matchers (longer path first,
// "/x" before "/x*", no matcher last), so the text reads in the order Caddy evaluates it.
function comparePathRoutes(a: CaddyRoute, b: CaddyRoute): number {
  if (a.path === undefined || b.path === undefined) {
    return a.path === undefined ? (b.path === undefined ? 0 : 1) : -1;
  }
  if (a.path.replace(/\*$/, "") === b.path.replace(/\*$/, "")) return a.path.length - b.path.length;
  if (a.path.length !== b.path.length) return b.path.length - a.path.length;
  return compare(a.path, b.path);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function quote(value: string): string {
  return `"${value}"`;
}

// ---------------------------------------------------------------------------------------------------
// Validation: every problem is collected, then reported at once.

const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const HOST_LABEL = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
const HOSTNAME = new RegExp(`^(\\*\\.)?${HOST_LABEL}(\\.${HOST_LABEL})*$`);
const UPSTREAM = /^([A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?):(\d{1,5})$/;
// Caddyfile-significant characters (quotes, braces, comment, whitespace) are refused so no input can break out of a token.
const PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;
const ADMIN_SOCKET = /^\/[A-Za-z0-9_./-]{1,100}\.sock$/;
const FRAME_SOURCE = /^('self'|'none'|[A-Za-z0-9*][A-Za-z0-9*+.:/_-]*)$/;

function assertValid(input: CaddyfileInput): void {
  const problems: string[] = [];

  checkPort(problems, "httpPort", input.httpPort);
  checkPort(problems, "httpsPort", input.httpsPort);
  checkPort(problems, "healthPort", input.healthPort);
  if (input.adminPort !== undefined) checkPort(problems, "adminPort", input.adminPort);
  if (input.adminSocket !== undefined) {
    if (input.adminPort !== undefined) problems.push("adminPort and adminSocket are both set: Caddy has one admin endpoint; keep one.");
    if (!ADMIN_SOCKET.test(input.adminSocket) || input.adminSocket.split("/").includes(".."))
      problems.push(
        `adminSocket ${JSON.stringify(input.adminSocket)} must be an absolute path of letters, digits and _ . / - ending in .sock, such as "/run/caddy-admin/admin.sock".`,
      );
  }
  if (input.metricsPort !== undefined) checkPort(problems, "metricsPort", input.metricsPort);
  const ports = [
    ["httpPort", input.httpPort],
    ["httpsPort", input.httpsPort],
    ["healthPort", input.healthPort],
    ...(input.metricsPort !== undefined ? ([["metricsPort", input.metricsPort]] as const) : []),
    ...(input.adminSocket === undefined ? ([["adminPort", input.adminPort ?? CADDYFILE_DEFAULTS.adminPort]] as const) : []),
  ] as const;
  for (let i = 0; i < ports.length; i++) {
    for (let j = i + 1; j < ports.length; j++) {
      const [nameA, portA] = ports[i]!;
      const [nameB, portB] = ports[j]!;
      if (portA === portB) problems.push(`${nameA} and ${nameB} are both ${portA}: give each listener its own port.`);
    }
  }

  if (input.tls.mode === "acme") {
    const { email, caUrl } = input.tls;
    if (!/^[^\s@"{}]+@[^\s@"{}]+$/.test(email)) {
      problems.push(`tls.email ${JSON.stringify(email)} is not an email address: ACME needs a contact such as "ops@updateio.app".`);
    }
    if (caUrl !== undefined && !isHttpsUrl(caUrl)) {
      problems.push(
        `tls.caUrl ${JSON.stringify(caUrl)} is not an https URL: use an ACME directory such as "https://acme-staging-v02.api.letsencrypt.org/directory", or omit it for Let's Encrypt production.`,
      );
    }
  } else if (input.tls.mode !== "internal") {
    problems.push(`tls.mode must be "acme" or "internal".`);
  }

  input.adminAllowList.forEach((cidr, i) => {
    if (!isCidr(cidr)) {
      problems.push(`adminAllowList[${i}] ${JSON.stringify(cidr)} is not a CIDR: write "10.0.0.0/8", "203.0.113.7/32" or "2001:db8::/32".`);
    }
  });

  for (const key of ["healthInterval", "healthTimeout", "lbTryDuration"] as const) {
    const value = input[key];
    if (value !== undefined && !GO_DURATION.test(value)) {
      problems.push(`${key} ${JSON.stringify(value)} is not a Go duration: write e.g. "500ms", "10s" or "1m30s".`);
    }
  }

  const seen = new Map<string, number>();
  input.routes.forEach((route, i) => {
    problems.push(...caddyRouteProblems(route, `routes[${i}]`));
    const first = seen.get(routeKey(route));
    if (first !== undefined) problems.push(duplicateRouteProblem(route, `routes[${i}]`, first));
    else seen.set(routeKey(route), i);
  });

  if (problems.length > 0) {
    throw new ValidationError("Caddyfile input", problems);
  }
}

/**
 * What is wrong with one route on its own, each problem prefixed with `at` (e.g. "routes[2]"), so
 * EdgeProxy.addRoute can refuse a route in the call with the same messages as the whole-file check.
 */
export function caddyRouteProblems(route: CaddyRoute, at: string): string[] {
  const problems: string[] = [];
  const hostProblem = hostError(route.host);
  if (hostProblem !== undefined) problems.push(`${at}.host ${JSON.stringify(route.host)} ${hostProblem}`);

  if (route.path !== undefined && !PATH.test(route.path)) {
    problems.push(
      `${at}.path ${JSON.stringify(route.path)} must start with "/" and contain no spaces, quotes, braces or "#", e.g. "/telegram/webhook*".`,
    );
  }
  if (route.healthPath !== undefined && !PATH.test(route.healthPath)) {
    problems.push(
      `${at}.healthPath ${JSON.stringify(route.healthPath)} must start with "/" and contain no spaces, quotes, braces or "#", e.g. "/healthz".`,
    );
  }

  const upstreams = route.upstreams ?? [];
  if (route.dnsUpstream !== undefined) {
    if (route.upstreams !== undefined) problems.push(`${at} sets both upstreams and dnsUpstream: keep one.`);
    const dns = route.dnsUpstream;
    if (!HOSTNAME.test(dns.name) || dns.name.startsWith("*") || dns.name.length > 253)
      problems.push(`${at}.dnsUpstream.name ${JSON.stringify(dns.name)} is not a DNS name, e.g. "tasks.api".`);
    if (!Number.isInteger(dns.port) || dns.port < 1 || dns.port > 65535)
      problems.push(`${at}.dnsUpstream.port ${String(dns.port)} is not a port: use an integer in 1..65535.`);
  } else if (upstreams.length === 0) {
    problems.push(`${at}.upstreams is empty: list at least one "name:port" replica, e.g. ["api-1:3000"].`);
  }
  upstreams.forEach((upstream, j) => {
    const match = UPSTREAM.exec(upstream);
    const port = match === null ? NaN : Number(match[3]);
    if (match === null || port < 1 || port > 65535) {
      problems.push(`${at}.upstreams[${j}] ${JSON.stringify(upstream)} is not "name:port" (no scheme, port 1..65535), e.g. "api-1:3000".`);
    }
  });
  const duplicateUpstream = upstreams.find((u, j) => upstreams.indexOf(u) !== j);
  if (duplicateUpstream !== undefined) {
    problems.push(`${at}.upstreams lists ${JSON.stringify(duplicateUpstream)} twice: list each replica once.`);
  }

  if (route.frameAncestors !== undefined) {
    if (route.frameAncestors.length === 0) {
      problems.push(
        `${at}.frameAncestors is empty: omit it to forbid framing, or list the allowed sources such as "https://web.telegram.org".`,
      );
    }
    route.frameAncestors.forEach((source, j) => {
      if (!FRAME_SOURCE.test(source)) {
        problems.push(
          `${at}.frameAncestors[${j}] ${JSON.stringify(source)} is not a CSP source: write e.g. "https://web.telegram.org", "https://*.telegram.org" or "'self'".`,
        );
      }
    });
  }
  return problems;
}

/** Routes with the same key would render two handlers for one host and path. */
export function routeKey(route: CaddyRoute): string {
  return `${route.host} ${route.path ?? "(catch-all)"}`;
}

/** The problem of `route` (at `at`) repeating the host and path of routes[first]. */
export function duplicateRouteProblem(route: CaddyRoute, at: string, first: number): string {
  return `${at} repeats host ${JSON.stringify(route.host)} with path ${route.path === undefined ? "(none: catch-all)" : JSON.stringify(route.path)} already used by routes[${first}]: merge their upstreams into one route.`;
}

function checkPort(problems: string[], field: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    problems.push(`${field} ${String(port)} is not a port: use an integer in 1..65535.`);
  }
}

function hostError(host: string): string | undefined {
  if (host.length === 0) return `is empty: give the DNS name this route answers, e.g. "api.updateio.app".`;
  if (host.includes("://")) return `must not include a scheme: write the bare name, e.g. "api.updateio.app" (the scheme follows from tls).`;
  if (host.includes("/")) return `must not include a path: put the path in "path".`;
  if (host.includes(":")) return `must not include a port: listeners come from httpPort/httpsPort.`;
  if (host !== host.toLowerCase()) return `must be lowercase (DNS names are case-insensitive and the hosts are compared as text).`;
  if (host.length > 253 || !HOSTNAME.test(host))
    return `is not a valid DNS name: use letters, digits, "-" and ".", e.g. "api.updateio.localhost".`;
  return undefined;
}

/** An IPv4 or IPv6 network in CIDR form (also used by the config schema, so both agree). */
export function isCidr(value: string): boolean {
  const slash = value.indexOf("/");
  if (slash < 0) return false;
  const address = value.slice(0, slash);
  const bits = value.slice(slash + 1);
  const family = isIP(address);
  // Caddy parses remote_ip ranges with Go's netip.ParsePrefix, which refuses an IPv6 zone ("%eth0") and a prefix length with a leading zero ("/08").
  if (family === 0 || address.includes("%") || !/^(?:0|[1-9]\d{0,2})$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

function isHttpsUrl(value: string): boolean {
  try {
    return new URL(value).protocol === "https:" && !/[\s"{}]/.test(value);
  } catch {
    return false;
  }
}
