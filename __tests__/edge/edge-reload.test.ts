/** The edge's admin socket in the Caddyfile, and the reload job's script: what they render and what they refuse. */
import { describe, expect, it } from "vitest";
import { renderCaddyfile, type CaddyfileInput } from "../../constructs/edge/renderers/caddyfile";
import { renderEdgeReloadScript, type EdgeReloadScriptInput } from "../../constructs/edge/renderers/edge-reload";
import { PAYLOADS } from "../support/payloads";
import { validationOf } from "../support/helpers";

const CADDY: CaddyfileInput = {
  tls: { mode: "internal" },
  httpPort: 80,
  httpsPort: 443,
  healthPort: 8099,
  adminAllowList: [],
  hsts: false,
  routes: [{ host: "api.updateio.localhost", upstreams: ["api-1:3000"] }],
};
const SCRIPT: EdgeReloadScriptInput = {
  liveFile: "/etc/caddy/Caddyfile",
  expectedFile: "/etc/edge-reload/Caddyfile",
  adminSocket: "/run/caddy-admin/admin.sock",
  waitSeconds: 60,
};

describe("renderCaddyfile adminSocket", () => {
  it("serves the admin API on the socket instead of the localhost port", () => {
    const text = renderCaddyfile({ ...CADDY, adminSocket: "/run/caddy-admin/admin.sock" });
    expect(text).toMatch(/^\{\n\tadmin unix\/\/run\/caddy-admin\/admin\.sock\n/m);
    expect(text).not.toContain("localhost:2019");
    expect(renderCaddyfile(CADDY)).toContain("\tadmin localhost:2019\n");
  });

  it("frees the admin port: another listener may use 2019 with a socket, not without", () => {
    expect(() => renderCaddyfile({ ...CADDY, healthPort: 2019, adminSocket: "/run/a.sock" })).not.toThrow();
    expect(validationOf(() => renderCaddyfile({ ...CADDY, healthPort: 2019 })).problems).toContain(
      "healthPort and adminPort are both 2019: give each listener its own port.",
    );
  });

  it("refuses both an admin port and a socket", () => {
    expect(validationOf(() => renderCaddyfile({ ...CADDY, adminPort: 2999, adminSocket: "/run/a.sock" })).problems).toContain(
      "adminPort and adminSocket are both set: Caddy has one admin endpoint; keep one.",
    );
  });

  const badSockets = [
    ["relative", "run/admin.sock"],
    ["not a .sock", "/run/caddy-admin/admin"],
    ["a parent step", "/run/../etc/admin.sock"],
    ["a space", "/run/caddy admin/admin.sock"],
    ["too long for a unix socket", `/run/${"a".repeat(100)}.sock`],
    ...Object.entries(PAYLOADS).map(([name, payload]) => [name, `/run/${payload}.sock`]),
  ];
  it.each(badSockets)("refuses a socket path with %s, naming the key and an example", (_, path) => {
    const { subject, problems } = validationOf(() => renderCaddyfile({ ...CADDY, adminSocket: path }));
    expect(subject).toBe("Caddyfile input");
    expect(problems).toContain(
      `adminSocket ${JSON.stringify(path)} must be an absolute path of letters, digits and _ . / - ending in .sock, such as "/run/caddy-admin/admin.sock".`,
    );
  });
});

describe("renderEdgeReloadScript", () => {
  it("fills every placeholder with the paths, unquoted only because they are allow-listed", () => {
    const text = renderEdgeReloadScript(SCRIPT);
    expect(text).not.toContain("@@");
    expect(text).toContain(': "${LIVE_FILE:=/etc/caddy/Caddyfile}"');
    expect(text).toContain(': "${EXPECTED_FILE:=/etc/edge-reload/Caddyfile}"');
    expect(text).toContain(': "${ADMIN_SOCKET:=/run/caddy-admin/admin.sock}"');
    expect(text).toContain(': "${WAIT_SECONDS:=60}"');
    expect(text).toContain('caddy reload --config "$LIVE_FILE" --adapter caddyfile --address "unix/$ADMIN_SOCKET"');
  });

  const bad: [string, Partial<EdgeReloadScriptInput>, string][] = [
    ...Object.entries(PAYLOADS).map(([name, payload]): [string, Partial<EdgeReloadScriptInput>, string] => [
      `liveFile with ${name}`,
      { liveFile: `/etc/${payload}` },
      `liveFile: "/etc/${payload}" must be an absolute path of letters, digits and _ . / -`,
    ]),
    [
      "a relative adminSocket",
      { adminSocket: "admin.sock" },
      'adminSocket: "admin.sock" must be an absolute path of letters, digits and _ . / -',
    ],
    [
      "an expectedFile with a space",
      { expectedFile: "/etc/a b" },
      'expectedFile: "/etc/a b" must be an absolute path of letters, digits and _ . / -',
    ],
    ["no wait", { waitSeconds: 0 }, "waitSeconds: 0 must be whole seconds from 1 to 3600"],
    ["a fractional wait", { waitSeconds: 1.5 }, "waitSeconds: 1.5 must be whole seconds from 1 to 3600"],
  ];
  it.each(bad)("refuses %s, naming the key", (_, change, problem) => {
    const { subject, problems } = validationOf(() => renderEdgeReloadScript({ ...SCRIPT, ...change }));
    expect(subject).toBe("renderEdgeReloadScript input");
    expect(problems).toContain(problem);
  });
});
