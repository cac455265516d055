import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderCaddyfile, type CaddyfileInput, type CaddyRoute } from "../../constructs/edge/renderers/caddyfile";
import { describeIfBinary } from "../support/binaries";
import { METRICS } from "../../constructs/observability/renderers/observability-catalogue";
import { freePort } from "../support/helpers";

const TELEGRAM_FRAMES = ["https://web.telegram.org", "https://*.telegram.org"] as const;

const prodInput: CaddyfileInput = {
  tls: { mode: "acme", email: "ops@updateio.app", caUrl: "https://acme-staging-v02.api.letsencrypt.org/directory" },
  httpPort: 80,
  httpsPort: 443,
  healthPort: 8081,
  adminAllowList: ["10.0.0.0/8", "2001:db8::/32"],
  hsts: true,
  routes: [
    // Deliberately unsorted: the catch-all comes before the path route of the same host.
    { host: "api.updateio.app", upstreams: ["api-1:3000", "api-2:3000"], healthPath: "/healthz" },
    { host: "app.updateio.app", upstreams: ["miniapp-1:3000"], frameAncestors: TELEGRAM_FRAMES },
    { host: "api.updateio.app", path: "/telegram/webhook*", upstreams: ["telegram-bot-1:8080"] },
    { host: "admin.updateio.app", upstreams: ["admin-1:3000"], adminOnly: true, healthPath: "/healthz" },
  ],
};

const devInput: CaddyfileInput = {
  tls: { mode: "internal" },
  httpPort: 80,
  httpsPort: 443,
  healthPort: 8081,
  adminAllowList: [],
  hsts: false,
  routes: [{ host: "api.updateio.localhost", upstreams: ["api-1:3000"], healthPath: "/healthz" }],
};

/** The lines of one site block, from "<address> {" to its closing "}". */
function site(text: string, address: string): string {
  const lines = text.split("\n");
  const start = lines.indexOf(`${address} {`);
  if (start < 0) throw new Error(`no site block for ${address} in:\n${text}`);
  const end = lines.indexOf("}", start);
  return lines.slice(start, end + 1).join("\n");
}

/** The lines of the handle block opened by `opening` (e.g. "\thandle {") inside a site block. */
function handle(siteText: string, opening: string): string {
  const lines = siteText.split("\n");
  const start = lines.indexOf(opening);
  if (start < 0) throw new Error(`no ${JSON.stringify(opening)} in:\n${siteText}`);
  const end = lines.indexOf("\t}", start);
  return lines.slice(start, end + 1).join("\n");
}

function withRoutes(input: CaddyfileInput, routes: readonly CaddyRoute[]): CaddyfileInput {
  return { ...input, routes };
}

describe("renderCaddyfile: text", () => {
  const prod = renderCaddyfile(prodInput);
  const dev = renderCaddyfile(devInput);

  it("is independent of route order, with a trailing newline", () => {
    expect(renderCaddyfile(withRoutes(prodInput, [...prodInput.routes].reverse()))).toBe(prod);
    expect(prod.endsWith("}\n")).toBe(true);
    expect(prod.endsWith("\n\n")).toBe(false);
  });

  it("writes one site block per host, hosts sorted, then the health site", () => {
    const openings = prod.split("\n").filter((line) => /^\S.* \{$/.test(line));
    expect(openings).toEqual(["admin.updateio.app {", "api.updateio.app {", "app.updateio.app {", "http://:8081 {"]);
  });

  it("global options for ACME: email, acme_ca, ports, admin on localhost, HTTP/1.1+2 only", () => {
    const global = prod.slice(prod.indexOf("{\n"), prod.indexOf("\n}\n") + 3);
    for (const line of [
      "\tadmin localhost:2019",
      "\temail ops@updateio.app",
      "\tacme_ca https://acme-staging-v02.api.letsencrypt.org/directory",
      "\thttp_port 80",
      "\thttps_port 443",
      "\t\tprotocols h1 h2",
    ]) {
      expect(global).toContain(`${line}\n`);
    }
    expect(global).not.toContain("local_certs");
    expect(renderCaddyfile({ ...prodInput, tls: { mode: "acme", email: "ops@updateio.app" } })).not.toContain("acme_ca");
    const tuned = renderCaddyfile({ ...prodInput, http3: true, adminPort: 2999 });
    expect(tuned).toContain("\t\tprotocols h1 h2 h3\n");
    expect(tuned).toContain("\tadmin localhost:2999\n");
  });

  it("global options for the internal CA: local_certs, no ACME email, no trust-store install", () => {
    expect(dev).toContain("\tlocal_certs\n");
    expect(dev).toContain("\tskip_install_trust\n");
    expect(dev).not.toContain("email");
    expect(dev).not.toContain("acme_ca");
  });

  it("sends JSON access logs to stdout from every site", () => {
    for (const host of ["admin.updateio.app", "api.updateio.app", "app.updateio.app"]) {
      expect(site(prod, host)).toContain("\tlog {\n\t\toutput stdout\n\t\tformat json\n\t}");
    }
    expect(site(prod, "http://:8081")).not.toContain("log");
  });

  it("sets the security headers on every site and removes Server", () => {
    for (const host of ["admin.updateio.app", "api.updateio.app", "app.updateio.app"]) {
      const block = site(prod, host);
      expect(block).toContain("\t\tdefer\n\t\t-Server\n");
      expect(block).toContain("\t\tX-Content-Type-Options nosniff\n");
      expect(block).toContain("\t\tReferrer-Policy strict-origin-when-cross-origin\n");
      expect(block).toMatch(/\t\tPermissions-Policy "camera=\(\), microphone=\(\), geolocation=\(\)[^"]*"\n/);
    }
  });

  it("sends HSTS only when hsts is true", () => {
    expect(prod.match(/Strict-Transport-Security "max-age=31536000; includeSubDomains"/g)).toHaveLength(3);
    expect(dev).not.toContain("Strict-Transport-Security");
  });

  it("forbids framing unless frameAncestors is given; then CSP frame-ancestors and no X-Frame-Options", () => {
    const api = handle(site(prod, "api.updateio.app"), "\thandle {");
    expect(api).toContain("\t\t\tX-Frame-Options DENY\n");
    expect(api).toContain(`\t\t\t+Content-Security-Policy "frame-ancestors 'none'"\n`);

    const miniApp = site(prod, "app.updateio.app");
    expect(miniApp).toContain(`+Content-Security-Policy "frame-ancestors https://web.telegram.org https://*.telegram.org"`);
    expect(miniApp).toContain("\t\t\t-X-Frame-Options\n");
    expect(miniApp).not.toContain("X-Frame-Options DENY");
    expect(miniApp).not.toContain("'none'");
  });

  it("fences adminOnly routes with `not remote_ip <allow-list>` answered by 403", () => {
    const admin = site(prod, "admin.updateio.app");
    expect(admin).toContain("\t\t@outside_admin_allow_list_0 not remote_ip 10.0.0.0/8 2001:db8::/32\n");
    expect(admin).toContain("\t\trespond @outside_admin_allow_list_0 403\n");
    expect(admin.indexOf("respond @outside")).toBeLessThan(admin.indexOf("reverse_proxy"));
    expect(site(prod, "api.updateio.app")).not.toContain("remote_ip");
  });

  it("answers 403 to everybody on adminOnly routes when the allow-list is empty", () => {
    const admin = site(renderCaddyfile({ ...prodInput, adminAllowList: [] }), "admin.updateio.app");
    expect(admin).toContain("\t\trespond 403\n");
    expect(admin).not.toContain("remote_ip");
    expect(admin).not.toContain("reverse_proxy");
  });

  it("puts path routes before the host's catch-all, most specific path first", () => {
    const api = site(prod, "api.updateio.app");
    expect(api.indexOf("\thandle /telegram/webhook* {")).toBeGreaterThan(0);
    expect(api.indexOf("\thandle /telegram/webhook* {")).toBeLessThan(api.indexOf("\thandle {"));

    const many = renderCaddyfile(
      withRoutes(devInput, [
        { host: "api.updateio.localhost", upstreams: ["api-1:3000"] },
        { host: "api.updateio.localhost", path: "/a*", upstreams: ["a:1"] },
        { host: "api.updateio.localhost", path: "/a/longer*", upstreams: ["b:1"] },
        { host: "api.updateio.localhost", path: "/a", upstreams: ["c:1"] },
      ]),
    );
    const openings = many.split("\n").filter((line) => line.startsWith("\thandle"));
    expect(openings).toEqual(["\thandle /a/longer* {", "\thandle /a {", "\thandle /a* {", "\thandle {"]);
  });

  it("proxies to every static upstream, round robin, with active and passive health checks", () => {
    const api = handle(site(prod, "api.updateio.app"), "\thandle {");
    expect(api).toContain("\t\treverse_proxy api-1:3000 api-2:3000 {\n");
    for (const option of [
      "lb_policy round_robin",
      "lb_try_duration 5s",
      "fail_duration 30s",
      "health_uri /healthz",
      "health_interval 10s",
      "health_timeout 2s",
      "health_status 2xx",
    ]) {
      expect(api).toContain(`\t\t\t${option}\n`);
    }
    expect(prod).not.toContain("dynamic");

    const webhook = handle(site(prod, "api.updateio.app"), "\thandle /telegram/webhook* {");
    expect(webhook).toContain("fail_duration 30s");
    expect(webhook).not.toContain("health_uri");

    const tuned = renderCaddyfile({ ...devInput, healthInterval: "3s", healthTimeout: "500ms", lbTryDuration: "2s" });
    expect(tuned).toContain("health_interval 3s\n");
    expect(tuned).toContain("health_timeout 500ms\n");
    expect(tuned).toContain("lb_try_duration 2s\n");
  });

  it("finds Swarm tasks by DNS (dynamic a, re-resolved every second), with retries and passive checks but no active ones", () => {
    const text = renderCaddyfile(
      withRoutes(prodInput, [{ host: "api.updateio.app", dnsUpstream: { name: "tasks.api", port: 3000 }, healthPath: "/health" }]),
    );
    const api = handle(site(text, "api.updateio.app"), "\thandle {");
    expect(api).toContain(
      "\t\treverse_proxy {\n\t\t\tdynamic a tasks.api 3000 {\n\t\t\t\trefresh 1s\n\t\t\t}\n\t\t\tlb_policy round_robin\n",
    );
    expect(api).toContain("\t\t\tlb_try_duration 5s\n");
    expect(api).toContain("\t\t\tfail_duration 30s\n");
    // Caddy runs no active checks on dynamic upstreams; Swarm keeps unhealthy tasks out of DNS.
    expect(api).not.toContain("health_uri");
  });

  it("adds a plain-HTTP health site: /healthz 200, anything else 404", () => {
    expect(site(prod, "http://:8081")).toBe("http://:8081 {\n\trespond /healthz 200\n\trespond 404\n}");
  });
});

describe("renderCaddyfile: invalid input", () => {
  const api: CaddyRoute = { host: "api.updateio.app", upstreams: ["api-1:3000"] };
  const cases: [string, CaddyfileInput, RegExp][] = [
    ["duplicate host+path", withRoutes(prodInput, [api, { ...api }]), /routes\[1\] repeats host "api\.updateio\.app".*routes\[0\]/],
    [
      "duplicate path route",
      withRoutes(prodInput, [
        { ...api, path: "/x*" },
        { ...api, path: "/x*" },
      ]),
      /routes\[1\] repeats .*"\/x\*"/,
    ],
    ["port 0", { ...prodInput, httpPort: 0 }, /httpPort 0 .*1\.\.65535/],
    ["port 70000", { ...prodInput, httpsPort: 70000 }, /httpsPort 70000 .*1\.\.65535/],
    ["fractional port", { ...prodInput, healthPort: 80.5 }, /healthPort 80\.5/],
    ["same port twice", { ...prodInput, healthPort: 443 }, /httpsPort and healthPort are both 443/],
    [
      "upstream without port",
      withRoutes(prodInput, [{ ...api, upstreams: ["api-1"] }]),
      /routes\[0\]\.upstreams\[0\] "api-1" is not "name:port"/,
    ],
    [
      "upstream with scheme",
      withRoutes(prodInput, [{ ...api, upstreams: ["http://api-1:3000"] }]),
      /routes\[0\]\.upstreams\[0\] "http:\/\/api-1:3000"/,
    ],
    ["upstream port out of range", withRoutes(prodInput, [{ ...api, upstreams: ["api-1:99999"] }]), /routes\[0\]\.upstreams\[0\]/],
    ["empty upstreams", withRoutes(prodInput, [{ ...api, upstreams: [] }]), /routes\[0\]\.upstreams is empty/],
    ["duplicate upstream", withRoutes(prodInput, [{ ...api, upstreams: ["a:1", "a:1"] }]), /routes\[0\]\.upstreams lists "a:1" twice/],
    [
      "invalid CIDR",
      { ...prodInput, adminAllowList: ["10.0.0.0/8", "10.0.0.300/8"] },
      /adminAllowList\[1\] "10\.0\.0\.300\/8" is not a CIDR/,
    ],
    ["bare IP", { ...prodInput, adminAllowList: ["203.0.113.7"] }, /adminAllowList\[0\] .*"203\.0\.113\.7\/32"/],
    ["prefix too long", { ...prodInput, adminAllowList: ["10.0.0.0/33"] }, /adminAllowList\[0\]/],
    [
      "host with scheme",
      withRoutes(prodInput, [{ ...api, host: "https://api.updateio.app" }]),
      /routes\[0\]\.host .*must not include a scheme/,
    ],
    ["host with port", withRoutes(prodInput, [{ ...api, host: "api.updateio.app:8443" }]), /routes\[0\]\.host .*must not include a port/],
    ["host with path", withRoutes(prodInput, [{ ...api, host: "api.updateio.app/v1" }]), /routes\[0\]\.host .*must not include a path/],
    ["uppercase host", withRoutes(prodInput, [{ ...api, host: "API.updateio.app" }]), /routes\[0\]\.host .*lowercase/],
    ["empty host", withRoutes(prodInput, [{ ...api, host: "" }]), /routes\[0\]\.host "" is empty/],
    ["acme email without @", { ...prodInput, tls: { mode: "acme", email: "ops.updateio.app" } }, /tls\.email "ops\.updateio\.app"/],
    ["acme CA not https", { ...prodInput, tls: { mode: "acme", email: "a@b.c", caUrl: "http://ca" } }, /tls\.caUrl "http:\/\/ca"/],
    [
      "path without slash",
      withRoutes(prodInput, [{ ...api, path: "telegram/*" }]),
      /routes\[0\]\.path "telegram\/\*" must start with "\/"/,
    ],
    ["path breaking out of the token", withRoutes(prodInput, [{ ...api, path: "/x {" }]), /routes\[0\]\.path/],
    ["health path with a space", withRoutes(prodInput, [{ ...api, healthPath: "/health z" }]), /routes\[0\]\.healthPath/],
    ["empty frameAncestors", withRoutes(prodInput, [{ ...api, frameAncestors: [] }]), /routes\[0\]\.frameAncestors is empty/],
    [
      "frame source with ;",
      withRoutes(prodInput, [{ ...api, frameAncestors: ["https://a; script-src *"] }]),
      /routes\[0\]\.frameAncestors\[0\]/,
    ],
    ["bad duration", { ...prodInput, healthInterval: "10 seconds" }, /healthInterval "10 seconds" is not a Go duration/],
    ["bad timeout", { ...prodInput, healthTimeout: "2" }, /healthTimeout "2"/],
    [
      "static and DNS upstreams together",
      withRoutes(prodInput, [{ ...api, dnsUpstream: { name: "tasks.api", port: 3000 } }]),
      /routes\[0\] sets both upstreams and dnsUpstream/,
    ],
    [
      "DNS upstream name breaking out of the token",
      withRoutes(prodInput, [{ host: "api.updateio.app", dnsUpstream: { name: "tasks.api }\n\trespond 200", port: 3000 } }]),
      /routes\[0\]\.dnsUpstream\.name .* is not a DNS name/,
    ],
    [
      "DNS upstream wildcard",
      withRoutes(prodInput, [{ host: "api.updateio.app", dnsUpstream: { name: "*.api", port: 3000 } }]),
      /routes\[0\]\.dnsUpstream\.name/,
    ],
    [
      "DNS upstream port",
      withRoutes(prodInput, [{ host: "api.updateio.app", dnsUpstream: { name: "tasks.api", port: 0 } }]),
      /routes\[0\]\.dnsUpstream\.port 0/,
    ],
  ];

  it.each(cases)("rejects %s, naming the field", (_label, input, message) => {
    expect(() => renderCaddyfile(input)).toThrow(message);
  });

  it("reports every problem in one Error", () => {
    const input: CaddyfileInput = {
      ...prodInput,
      httpPort: -1,
      tls: { mode: "acme", email: "nobody" },
      adminAllowList: ["everyone"],
      routes: [{ host: "http://x", upstreams: [] }],
    };
    let message = "";
    try {
      renderCaddyfile(input);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Caddyfile input is invalid:\n(  - .*\n){4}  - .*$/);
    for (const field of ["httpPort", "tls.email", "adminAllowList[0]", "routes[0].host", "routes[0].upstreams"]) {
      expect(message).toContain(`  - ${field}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// The real binary (Debian's caddy 2.6.2 here; production runs 2.10).

/** A temp dir used as HOME/XDG dirs so caddy never touches the real ones. */
function caddySandbox(): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), "caddyfile-test-"));
  for (const sub of ["data", "config"]) mkdirSync(join(dir, sub));
  return { dir, env: { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config") } };
}

function caddy(args: string[], env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync("caddy", args, { env, encoding: "utf8", timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every object under `root` (itself included) for which `pick` is true. */
function findAll(root: Json, pick: (o: JsonObject) => boolean): JsonObject[] {
  const hits: JsonObject[] = [];
  const visit = (node: Json): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (isObject(node)) {
      if (pick(node)) hits.push(node);
      Object.values(node).forEach(visit);
    }
  };
  visit(root);
  return hits;
}

/** The top-level route of the adapted config that matches `host`. */
function hostRoute(config: Json, host: string): JsonObject {
  const routes = findAll(
    config,
    (o) => Array.isArray(o.match) && o.match.some((m) => isObject(m) && Array.isArray(m.host) && m.host.includes(host)),
  );
  expect(routes, `route for ${host}`).toHaveLength(1);
  return routes[0]!;
}

function proxies(root: Json): JsonObject[] {
  return findAll(root, (o) => o.handler === "reverse_proxy");
}

function dials(proxy: JsonObject): Json[] {
  return (proxy.upstreams as JsonObject[]).map((u) => u.dial!);
}

describeIfBinary("caddy", "renderCaddyfile: caddy validate / adapt / fmt", () => {
  let sandbox: ReturnType<typeof caddySandbox>;
  beforeAll(() => {
    sandbox = caddySandbox();
  });
  afterAll(() => {
    rmSync(sandbox.dir, { recursive: true, force: true });
  });

  function check(name: string, input: CaddyfileInput): JsonObject {
    const file = join(sandbox.dir, `${name}.Caddyfile`);
    const text = renderCaddyfile(input);
    writeFileSync(file, text);

    const validate = caddy(["validate", "--adapter", "caddyfile", "--config", file], sandbox.env);
    expect(validate.status, validate.stderr).toBe(0);
    expect(validate.stdout + validate.stderr).toContain("Valid configuration");
    // An unformatted Caddyfile makes caddy warn at every start; ours must already be in `caddy fmt` form.
    expect(validate.stderr).not.toContain("not formatted");
    const fmt = caddy(["fmt", file], sandbox.env);
    expect(fmt.status, fmt.stderr).toBe(0);
    expect(fmt.stdout).toBe(text);

    const adapt = caddy(["adapt", "--adapter", "caddyfile", "--config", file], sandbox.env);
    expect(adapt.status, adapt.stderr).toBe(0);
    expect(adapt.stderr).not.toMatch(/"level":"warn"/);
    const config = JSON.parse(adapt.stdout) as Json;
    expect(isObject(config)).toBe(true);
    return config as JsonObject;
  }

  it("prod-like input (ACME, HSTS, 2 api replicas, admin allow-list, webhook path, mini app)", () => {
    const config = check("prod", prodInput);
    expect(config.admin).toEqual({ listen: "localhost:2019" });

    const http = (config.apps as JsonObject).http as JsonObject;
    expect(http.http_port).toBe(80);
    expect(http.https_port).toBe(443);
    const issuers = findAll(config.apps as JsonObject, (o) => o.module === "acme");
    expect(issuers).toEqual([{ module: "acme", ca: "https://acme-staging-v02.api.letsencrypt.org/directory", email: "ops@updateio.app" }]);

    // api: the webhook path route and the health-checked, round-robin catch-all
    const api = hostRoute(config, "api.updateio.app");
    const apiProxies = proxies(api);
    expect(apiProxies.map(dials)).toEqual([["telegram-bot-1:8080"], ["api-1:3000", "api-2:3000"]]);
    const main = apiProxies[1]!;
    expect(main.load_balancing).toEqual({
      selection_policy: { policy: "round_robin" },
      try_duration: 5_000_000_000,
      try_interval: 250_000_000,
    });
    expect(main.health_checks).toEqual({
      active: { uri: "/healthz", interval: 10_000_000_000, timeout: 2_000_000_000, expect_status: 2 },
      passive: { fail_duration: 30_000_000_000 },
    });
    const pathMatchers = findAll(api, (o) => Array.isArray(o.path));
    expect(pathMatchers).toEqual([{ path: ["/telegram/webhook*"] }]);

    // every site: deferred security headers, Server removed, HSTS
    for (const host of ["admin.updateio.app", "api.updateio.app", "app.updateio.app"]) {
      const siteHeaders = findAll(
        hostRoute(config, host),
        (o) => o.handler === "headers" && isObject(o.response) && Array.isArray(o.response.delete) && o.response.delete.includes("Server"),
      );
      expect(siteHeaders, host).toHaveLength(1);
      const response = siteHeaders[0]!.response as JsonObject;
      expect(response.deferred).toBe(true);
      expect(response.set).toMatchObject({
        "X-Content-Type-Options": ["nosniff"],
        "Referrer-Policy": ["strict-origin-when-cross-origin"],
        "Strict-Transport-Security": ["max-age=31536000; includeSubDomains"],
      });
    }

    // mini app: embeddable by Telegram only
    const frame = findAll(hostRoute(config, "app.updateio.app"), (o) => isObject(o.add) && "Content-Security-Policy" in o.add);
    expect(frame).toEqual([
      {
        add: { "Content-Security-Policy": ["frame-ancestors https://web.telegram.org https://*.telegram.org"] },
        deferred: true,
        delete: ["X-Frame-Options"],
      },
    ]);

    // admin: a subroute answering 403 to anything outside the allow-list, before the proxy
    const admin = hostRoute(config, "admin.updateio.app");
    const denied = findAll(
      admin,
      (o) =>
        Array.isArray(o.routes) &&
        o.routes.some((r) => isObject(r) && Array.isArray(r.handle) && r.handle.some((h) => isObject(h) && h.status_code === 403)),
    );
    expect(denied).toHaveLength(1);
    const inner = denied[0]!.routes as JsonObject[];
    const denyIndex = inner.findIndex((r) => JSON.stringify(r).includes('"status_code":403'));
    expect(inner[denyIndex]!.match).toEqual([{ not: [{ remote_ip: { ranges: ["10.0.0.0/8", "2001:db8::/32"] } }] }]);
    expect(inner.findIndex((r) => JSON.stringify(r).includes('"handler":"reverse_proxy"'))).toBeGreaterThan(denyIndex);

    // access logs: one stdout/json logger per site
    const logs = (config.logging as JsonObject).logs as JsonObject;
    const accessLoggers = Object.values(logs).filter((l) => isObject(l) && Array.isArray(l.include));
    expect(accessLoggers).toHaveLength(3);
    for (const logger of accessLoggers) expect(logger).toMatchObject({ writer: { output: "stdout" }, encoder: { format: "json" } });

    // health site on its own plain-HTTP listener
    const healthServer = Object.values(http.servers as JsonObject).find((s) => isObject(s) && JSON.stringify(s.listen) === '[":8081"]');
    expect(healthServer).toBeDefined();
    expect(findAll(healthServer!, (o) => o.handler === "static_response").map((o) => o.status_code)).toEqual([200, 404]);
  });

  it("Swarm-like input: DNS upstreams adapt to dynamic_upstreams of source a, refreshed every second", () => {
    const config = check("swarm", withRoutes(prodInput, [{ host: "api.updateio.app", dnsUpstream: { name: "tasks.api", port: 3000 } }]));
    const [proxy] = proxies(hostRoute(config, "api.updateio.app"));
    expect(proxy!.dynamic_upstreams).toEqual({ source: "a", name: "tasks.api", port: "3000", refresh: 1_000_000_000 });
    expect(proxy!.upstreams).toBeUndefined();
  });

  it("dev-like input (internal CA, one replica)", () => {
    const config = check("dev", devInput);
    expect(findAll(config.apps as JsonObject, (o) => o.module === "internal").length).toBeGreaterThan(0);
    expect(findAll(config.apps as JsonObject, (o) => o.module === "acme")).toEqual([]);
    expect((config.apps as JsonObject).pki).toMatchObject({ certificate_authorities: { local: { install_trust: false } } });
    const [proxy] = proxies(hostRoute(config, "api.updateio.localhost"));
    expect(dials(proxy!)).toEqual(["api-1:3000"]);
    expect((proxy!.health_checks as JsonObject).active).toMatchObject({ uri: "/healthz" });
    expect(JSON.stringify(config)).not.toContain("Strict-Transport-Security");
  });

  it("an adminOnly route with an empty allow-list adapts to a bare 403", () => {
    const config = check(
      "nobody",
      withRoutes({ ...devInput, adminAllowList: [] }, [{ host: "admin.updateio.localhost", upstreams: ["admin-1:3000"], adminOnly: true }]),
    );
    const admin = hostRoute(config, "admin.updateio.localhost");
    expect(proxies(admin)).toEqual([]);
    expect(findAll(admin, (o) => o.handler === "static_response")).toEqual([{ handler: "static_response", status_code: 403 }]);
  });
});

// ---------------------------------------------------------------------------------------------------
// `caddy run` on loopback: routing, headers, health checks, retries and the admin fence, end to end.

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

interface Upstream {
  readonly name: string;
  readonly server: Server;
  readonly dial: string;
  healthHits: number;
  hits: number;
}

/** A tiny app replica: names itself, sends headers the edge must override, and a chosen /healthz status. */
async function startUpstream(name: string, healthStatus: number): Promise<Upstream> {
  const upstream: Upstream = { name, server: createHttpServer(), dial: "", healthHits: 0, hits: 0 };
  upstream.server.on("request", (req, res) => {
    if (req.url === "/healthz") {
      upstream.healthHits++;
      res.writeHead(healthStatus).end();
      return;
    }
    upstream.hits++;
    res.writeHead(200, {
      "content-type": "text/plain",
      server: "node-upstream",
      "x-frame-options": "SAMEORIGIN",
      "content-security-policy": "default-src 'self'",
    });
    res.end(`${name} ${req.url ?? ""}`);
  });
  await new Promise<void>((resolve) => upstream.server.listen(0, "127.0.0.1", resolve));
  const address = upstream.server.address();
  if (typeof address !== "object" || address === null) throw new Error("upstream has no address");
  return Object.assign(upstream, { dial: `127.0.0.1:${address.port}` });
}

function get(url: string, options: { host?: string; ca?: string } = {}): Promise<Reply> {
  const target = new URL(url);
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        headers: options.host === undefined ? {} : { host: options.host },
        ...(target.protocol === "https:" ? { servername: options.host, ca: options.ca, agent: false } : { agent: false }),
        timeout: 5_000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout: ${url}`)));
    req.on("error", reject);
    req.end();
  });
}

async function eventually<T>(what: string, attempt: () => Promise<T>, deadlineMs = 15_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      return await attempt();
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`${what} did not happen within ${deadlineMs} ms: ${String(last)}`);
}

interface RunningCaddy {
  readonly httpsPort: number;
  readonly httpPort: number;
  readonly healthPort: number;
  readonly metricsPort: number;
  readonly rootCa: string;
  readonly stdout: () => string;
  readonly stop: () => Promise<void>;
}

async function runCaddy(
  makeInput: (ports: { httpPort: number; httpsPort: number; healthPort: number; adminPort: number; metricsPort: number }) => CaddyfileInput,
): Promise<RunningCaddy> {
  const [httpPort, httpsPort, healthPort, adminPort, metricsPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const sandbox = caddySandbox();
  const file = join(sandbox.dir, "Caddyfile");
  const input = makeInput({ httpPort, httpsPort, healthPort, adminPort, metricsPort });
  writeFileSync(file, renderCaddyfile(input));

  const child: ChildProcess = spawn("caddy", ["run", "--adapter", "caddyfile", "--config", file], {
    env: sandbox.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(sandbox.dir, { recursive: true, force: true });
  };

  try {
    await eventually("caddy health site answering", async () => {
      if (child.exitCode !== null) throw new Error(`caddy exited early (${child.exitCode}):\n${err}`);
      const reply = await get(`http://127.0.0.1:${healthPort}/healthz`);
      if (reply.status !== 200) throw new Error(`status ${reply.status}`);
    });
    const rootCa = await eventually("internal root CA on disk", async () =>
      readFileSync(join(sandbox.dir, "data", "caddy", "pki", "authorities", "local", "root.crt"), "utf8"),
    );
    // Certificates are issued in the background after start; wait until every host completes a verified handshake.
    for (const host of new Set(input.routes.map((r) => r.host))) {
      await eventually(`a certificate for ${host}`, () => get(`https://127.0.0.1:${httpsPort}/`, { host, ca: rootCa }));
    }
    return { httpPort, httpsPort, healthPort, metricsPort, rootCa, stdout: () => out, stop };
  } catch (error) {
    await stop();
    throw new Error(`${String(error)}\ncaddy stderr:\n${err}`);
  }
}

describeIfBinary("caddy", "renderCaddyfile: caddy run on loopback", () => {
  const upstreams: Upstream[] = [];
  let healthy: Upstream; // api replica, /healthz 200
  let sick: Upstream; // api replica whose /healthz says 503
  let other: Upstream; // second mini-app replica, also the webhook target
  let deadDial: string; // nothing listens there
  let edge: RunningCaddy;

  const https = (host: string, path = "/"): Promise<Reply> => get(`https://127.0.0.1:${edge.httpsPort}${path}`, { host, ca: edge.rootCa });

  beforeAll(async () => {
    healthy = await startUpstream("healthy", 200);
    sick = await startUpstream("sick", 503);
    other = await startUpstream("other", 200);
    upstreams.push(healthy, sick, other);
    deadDial = `127.0.0.1:${await freePort()}`;
    edge = await runCaddy((ports) => ({
      tls: { mode: "internal" },
      ...ports,
      adminAllowList: ["10.0.0.0/8"],
      hsts: true,
      healthInterval: "1s",
      healthTimeout: "500ms",
      lbTryDuration: "3s",
      routes: [
        { host: "api.updateio.localhost", upstreams: [healthy.dial, sick.dial], healthPath: "/healthz" },
        { host: "api.updateio.localhost", path: "/telegram/webhook*", upstreams: [other.dial] },
        { host: "app.updateio.localhost", upstreams: [healthy.dial, other.dial], frameAncestors: TELEGRAM_FRAMES },
        { host: "bot.updateio.localhost", upstreams: [deadDial, healthy.dial] },
        { host: "admin.updateio.localhost", upstreams: [healthy.dial], adminOnly: true },
      ],
    }));
  });

  afterAll(async () => {
    await edge?.stop();
    await Promise.all(upstreams.map((u) => new Promise<void>((resolve) => u.server.close(() => resolve()))));
  });

  it("serves Prometheus metrics on the metrics port, with the handler metrics the alerts and dashboards use", async () => {
    expect((await https("api.updateio.localhost", "/v1/metrics-probe")).status).toBe(200);
    const reply = await get(`http://127.0.0.1:${edge.metricsPort}/metrics`);
    expect(reply.status).toBe(200);
    const names = new Set(
      reply.body
        .split("\n")
        .filter((l) => l && !l.startsWith("#"))
        .map((l) => l.split(/[{ ]/)[0]),
    );
    for (const name of METRICS.edge) expect(names, name).toContain(name);
    // Caddy 2.6 counts routed requests under the site's subroute handler, not reverse_proxy: queries
    // must not filter on handler (ratios stay right if a version also counts nested handlers).
    expect(reply.body).toMatch(/caddy_http_request_duration_seconds_count\{[^}]*code="200"[^}]*handler="subroute"/);
    expect((await get(`http://127.0.0.1:${edge.metricsPort}/other`)).status).toBe(404);
  });

  it("serves the health site: /healthz 200, anything else 404", async () => {
    expect((await get(`http://127.0.0.1:${edge.healthPort}/healthz`)).status).toBe(200);
    expect((await get(`http://127.0.0.1:${edge.healthPort}/other`)).status).toBe(404);
  });

  it("redirects plain HTTP to HTTPS on the public port 443, not the container's httpsPort", async () => {
    // http_port/https_port are "for internal use only" (Caddy docs): clients are sent to 443, which is
    // what the published 443 -> httpsPort mapping needs.
    const reply = await get(`http://127.0.0.1:${edge.httpPort}/x`, { host: "api.updateio.localhost" });
    expect(reply.status).toBe(308);
    expect(reply.headers.location).toBe("https://api.updateio.localhost/x");
  });

  it("active health checks take the replica whose /healthz fails out of the rotation", async () => {
    await eventually("an active health check on the sick replica", async () => {
      if (sick.healthHits === 0) throw new Error("not yet");
    });
    await new Promise((r) => setTimeout(r, 300));
    const before = sick.hits;
    const replies = await Promise.all(Array.from({ length: 6 }, () => https("api.updateio.localhost", "/v1/ping")));
    expect(replies.map((r) => r.body)).toEqual(Array(6).fill("healthy /v1/ping"));
    expect(sick.hits).toBe(before);
    expect(healthy.healthHits).toBeGreaterThan(0);
  });

  it("routes the webhook path before the host's catch-all", async () => {
    expect((await https("api.updateio.localhost", "/telegram/webhook/abc")).body).toBe("other /telegram/webhook/abc");
  });

  it("balances round robin across healthy replicas", async () => {
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) bodies.push((await https("app.updateio.localhost")).body.split(" ")[0]!);
    expect(bodies.filter((b) => b === "healthy")).toHaveLength(2);
    expect(bodies.filter((b) => b === "other")).toHaveLength(2);
  });

  it("retries another replica when one does not answer (lb_try_duration)", async () => {
    const replies: Reply[] = [];
    for (let i = 0; i < 4; i++) replies.push(await https("bot.updateio.localhost", "/r"));
    expect(replies.map((r) => `${r.status} ${r.body}`)).toEqual(Array(4).fill("200 healthy /r"));
  });

  it("overrides the app's headers: security headers set, Server gone, framing per route", async () => {
    const api = await https("api.updateio.localhost", "/h");
    expect(api.headers["x-content-type-options"]).toBe("nosniff");
    expect(api.headers["referrer-policy"]).toBe("strict-origin-when-cross-origin");
    expect(api.headers["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains");
    expect(api.headers["permissions-policy"]).toContain("camera=()");
    expect(api.headers.server).toBeUndefined();
    expect(api.headers["x-frame-options"]).toBe("DENY");
    // The app's own CSP survives next to the edge's frame-ancestors policy.
    expect(api.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(api.headers["content-security-policy"]).toContain("frame-ancestors 'none'");

    const miniApp = await https("app.updateio.localhost", "/");
    expect(miniApp.headers["x-frame-options"]).toBeUndefined();
    expect(miniApp.headers["content-security-policy"]).toContain("frame-ancestors https://web.telegram.org https://*.telegram.org");
  });

  it("answers 403 on admin routes to clients outside the allow-list, without reaching the app", async () => {
    const before = healthy.hits;
    const reply = await https("admin.updateio.localhost", "/secret");
    expect(reply.status).toBe(403);
    expect(reply.headers["x-content-type-options"]).toBe("nosniff");
    expect(healthy.hits).toBe(before);
  });

  it("writes JSON access logs to stdout", async () => {
    await https("api.updateio.localhost", "/logged");
    const entry = await eventually("an access log line", async () => {
      const line = edge
        .stdout()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { logger?: string; request?: { host?: string; uri?: string } })
        .find((e) => e.request?.uri === "/logged");
      if (line === undefined) throw new Error("not yet");
      return line;
    });
    expect(entry.logger).toMatch(/^http\.log\.access/);
    expect(entry.request?.host).toBe("api.updateio.localhost");
  });

  it("lets allow-listed clients through to admin routes", async () => {
    const allowed = await runCaddy((ports) => ({
      tls: { mode: "internal" },
      ...ports,
      adminAllowList: ["127.0.0.0/8", "::1/128"],
      hsts: false,
      routes: [{ host: "admin.updateio.localhost", upstreams: [healthy.dial], adminOnly: true }],
    }));
    try {
      const reply = await get(`https://127.0.0.1:${allowed.httpsPort}/panel`, { host: "admin.updateio.localhost", ca: allowed.rootCa });
      expect(`${reply.status} ${reply.body}`).toBe("200 healthy /panel");
    } finally {
      await allowed.stop();
    }
  });
});
