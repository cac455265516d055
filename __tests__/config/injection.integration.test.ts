/**
 * No variable can inject. Every UPDATEIO_<ENV>_* variable, in every environment that reads it, is
 * tried with each character that could start something in a Terraform string, a rendered config
 * file or a shell script: each try must be refused with the variable named. The values that are
 * accepted (unusual but valid ones) are then proven inert: the synthesized JSON passes
 * `terraform validate` (provider-free, as in __tests__/environments/terraform-templates.integration.test.ts)
 * and the Caddyfile passes the real caddy.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { projectPath } from "../../constructs/kit/service-image";
import { type EnvironmentName } from "../../environments/load";
import { VARIABLES, type VariableKey } from "../../environments/variables";
import { describeIfBinary } from "../support/binaries";
import { synthEnvironment, uploadedFile } from "../support/stacks";
import { fakeSourceRoot } from "../support/dev-sources";
import { strings, validateTemplates } from "../support/terraform-templates";
import { loadProblems } from "../support/config-problems";

const PEER_KEY = `${"A".repeat(43)}=`;
const DIGEST = `@sha256:${"0123456789abcdef".repeat(4)}`;

import { PAYLOADS } from "../support/payloads";

export { PAYLOADS };

// Synth checks that the checkouts exist: stand-ins, one under a path with every unusual character the allow-list takes.
const SOURCES = mkdtempSync(join(tmpdir(), "config-injection-src-"));
afterAll(() => rmSync(SOURCES, { recursive: true, force: true }));
const SOURCE_ROOT = fakeSourceRoot(join(SOURCES, "updateio"));
const UNUSUAL_ROOT = fakeSourceRoot(join(SOURCES, "up-date_io/v1.2+build@x"));

/** A valid value per variable (the payload is appended to it) and what else it needs to be read at all. */
const BASE: Record<VariableKey, { value: string; with?: Partial<Record<VariableKey, string>> }> = {
  DOCKER_HOST: { value: "unix:///var/run/docker.sock" },
  SOURCE_ROOT: { value: SOURCE_ROOT },
  DOMAIN: { value: "updateio.app" },
  ACME_EMAIL: { value: "ops@updateio.app" },
  ACME_CA: { value: "https://acme.example.org/directory" },
  ADMIN_ALLOW: { value: "10.0.0.0/8" },
  EDGE_HTTP_PORT: { value: "8080" },
  EDGE_HTTPS_PORT: { value: "8443" },
  POSTGRES_PORT: { value: "55433" },
  NETWORK_POOL: { value: "10.99.0.0/16" },
  TFC_HOSTNAME: { value: "app.terraform.io" },
  TFC_ORGANIZATION: { value: "updateio" },
  TFC_WORKSPACE: { value: "updateio-prod" },
  REGISTRY: { value: "ghcr.io" },
  RELEASES_FILE: { value: "environments/releases.json" },
  BACKUP_OFFSITE_ENDPOINT: { value: "https://s3.example.com", with: { BACKUP_OFFSITE_BUCKET: "backups" } },
  BACKUP_OFFSITE_BUCKET: { value: "backups", with: { BACKUP_OFFSITE_ENDPOINT: "https://s3.example.com" } },
  BACKUP_OFFSITE_REGION: {
    value: "eu-central-1",
    with: { BACKUP_OFFSITE_ENDPOINT: "https://s3.example.com", BACKUP_OFFSITE_BUCKET: "backups" },
  },
  BACKUP_OFFSITE_PROVIDER: {
    value: "Minio",
    with: { BACKUP_OFFSITE_ENDPOINT: "https://s3.example.com", BACKUP_OFFSITE_BUCKET: "backups" },
  },
  // Alerts need Prometheus: dev's default observability profile (logs) has none.
  ALERT_TELEGRAM_CHAT_ID: { value: "-1001234567890", with: { OBSERVABILITY: "full" } },
  ALERT_DISCORD: { value: "on", with: { OBSERVABILITY: "full" } },
  GRAFANA_EXPOSE: { value: "edge" },
  OBSERVABILITY: { value: "full" },
  VPN: { value: "on", with: { VPN_PEERS: `alice:${PEER_KEY}:10.13.13.2/32` } },
  VPN_ENDPOINT: { value: "vpn.updateio.app", with: { VPN: "on", VPN_PEERS: `alice:${PEER_KEY}:10.13.13.2/32` } },
  VPN_PEERS: { value: `alice:${PEER_KEY}:10.13.13.2/32`, with: { VPN: "on" } },
  VPN_KEY: { value: "generated", with: { VPN: "on", VPN_PEERS: `alice:${PEER_KEY}:10.13.13.2/32` } },
  API_IMAGE: { value: `ghcr.io/updateio/api:1.0.0${DIGEST}` },
  DISCORD_BOT_IMAGE: { value: `ghcr.io/updateio/discord-bot:1.0.0${DIGEST}` },
  TELEGRAM_BOT_IMAGE: { value: `ghcr.io/updateio/telegram-bot:1.0.0${DIGEST}` },
  ADMIN_PANEL_IMAGE: { value: `ghcr.io/updateio/admin-panel:1.0.0${DIGEST}` },
  MINI_APP_IMAGE: { value: `ghcr.io/updateio/mini-app:1.0.0${DIGEST}` },
};

const named = (env: EnvironmentName, vars: Partial<Record<VariableKey, string>>) =>
  Object.fromEntries(Object.entries(vars).map(([k, v]) => [`UPDATEIO_${env.toUpperCase()}_${k}`, v]));

const problemsOf = (env: EnvironmentName, vars: Record<string, string>): string[] => loadProblems(env, vars);

const figures = { tried: 0, refusedNamed: 0, acceptedSafely: 0 };
afterAll(() => {
  process.stdout.write(
    `injection figures: ${figures.tried} inputs tried, ${figures.refusedNamed} refused with the variable named, ${figures.acceptedSafely} accepted and proven inert\n`,
  );
});

describe("every variable refuses every dangerous character, naming itself", () => {
  for (const key of Object.keys(VARIABLES) as VariableKey[]) {
    for (const env of VARIABLES[key].envs) {
      it(`UPDATEIO_${env.toUpperCase()}_${key}`, () => {
        const base = BASE[key];
        // A companion variable applies where it exists (OBSERVABILITY is dev's only).
        const extra = Object.fromEntries(
          Object.entries(base.with ?? {}).filter(([k]) => (VARIABLES[k as VariableKey].envs as readonly string[]).includes(env)),
        );
        // The base value alone is accepted: what is refused below is the payload.
        expect(problemsOf(env, named(env, { ...extra, [key]: base.value }))).toEqual([]);
        for (const [label, payload] of Object.entries(PAYLOADS)) {
          figures.tried++;
          const variable = `UPDATEIO_${env.toUpperCase()}_${key}`;
          const lines = problemsOf(env, named(env, { ...extra, [key]: `${base.value}${payload}` }));
          const line = lines.find((l) => l.startsWith(`${variable} (environment variable`));
          expect(line, `${variable} with ${label}: ${JSON.stringify(lines)}`).toBeDefined();
          figures.refusedNamed++;
        }
      });
    }
  }
});

describe("projectPath never writes a dangerous character into a Terraform expression", () => {
  for (const [label, payload] of Object.entries({ ...PAYLOADS, "\\": "a\\b", space: "a b" })) {
    it(`refuses ${label}`, () => {
      expect(() => projectPath(`../updateio${payload}`)).toThrow(/letters, digits and \. _ - \+ @ \/ only/);
      expect(() => projectPath(`/srv/updateio${payload}`)).toThrow(/letters, digits and \. _ - \+ @ \/ only/);
    });
  }
  it("writes an absolute path as a literal and a relative one under abspath", () => {
    expect(projectPath("/srv/up-date_io/+x@1")).toBe("/srv/up-date_io/+x@1");
    expect(projectPath("../updateio/api")).toMatch(/^\$\{TfToken\[TOKEN\.\d+\]\}$/);
  });
});

// Unusual values the allow-lists accept: what they produce must stay inert.
const ACCEPTED: Record<EnvironmentName, Record<string, string>> = {
  dev: named("dev", {
    DOCKER_HOST: "ssh://deploy_1@build-box.example.org:2222",
    SOURCE_ROOT: UNUSUAL_ROOT,
    ADMIN_ALLOW: "10.0.0.0/8, 2001:db8::/32,fd00::/8",
    EDGE_HTTP_PORT: "8080",
    EDGE_HTTPS_PORT: "8443",
    ALERT_TELEGRAM_CHAT_ID: "@updateio_alerts",
    ALERT_DISCORD: "YES",
    OBSERVABILITY: "full",
    GRAFANA_EXPOSE: "localhost",
    VPN: "On",
    VPN_ENDPOINT: "203.0.113.7",
    VPN_PEERS: `alice-laptop:${PEER_KEY}:10.13.13.2/32,bob:${"B".repeat(42)}A=:10.13.13.3/32`,
    VPN_KEY: "supplied",
  }),
  test: named("test", {
    DOCKER_HOST: "unix:///run/user/1000/docker.sock",
    DOMAIN: "staging-2.updateio.example",
    ADMIN_ALLOW: "none",
    BACKUP_OFFSITE_ENDPOINT: "https://minio.internal:9000/",
    BACKUP_OFFSITE_BUCKET: "updateio.backups-1",
    BACKUP_OFFSITE_REGION: "us-east-1",
    BACKUP_OFFSITE_PROVIDER: "Minio",
    API_IMAGE: `registry.example.org:5000/updateio/api:2.0.0-rc.1${DIGEST}`,
  }),
  prod: named("prod", {
    DOCKER_HOST: "ssh://deploy@prod-1.updateio.app",
    DOMAIN: "updateio.example",
    ACME_EMAIL: "ops+acme@updateio.example",
    ACME_CA: "https://acme-staging-v02.api.letsencrypt.org:443/directory",
    ADMIN_ALLOW: "203.0.113.0/24,2001:db8:1::/48",
    TFC_HOSTNAME: "tfe.example.org",
    TFC_ORGANIZATION: "Update_IO-ops",
    TFC_WORKSPACE: "updateio-prod_eu",
    BACKUP_OFFSITE_ENDPOINT: "https://s3.eu-central-1.amazonaws.com",
    BACKUP_OFFSITE_BUCKET: "updateio-backups",
    ALERT_TELEGRAM_CHAT_ID: "-1001234567890",
    VPN: "1",
    VPN_ENDPOINT: "vpn.updateio.example",
    VPN_PEERS: `alice-laptop:${PEER_KEY}:10.13.13.2/32`,
    MINI_APP_IMAGE: `ghcr.io/updateio/mini-app:3.1.4${DIGEST}`,
  }),
};

describe("accepted values are inert", () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), "config-injection-"));
    dirs.push(d);
    return d;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  for (const env of ["dev", "test", "prod"] as const) {
    it(`${env}: the unusual values load`, () => {
      expect(problemsOf(env, ACCEPTED[env])).toEqual([]);
    });
  }

  describeIfBinary("terraform", "terraform validate (provider-free) reads every synthesized string", () => {
    for (const env of ["dev", "test", "prod"] as const) {
      it(`${env}`, () => {
        const { json, text } = synthEnvironment(env, ACCEPTED[env], tempDir());
        // Each accepted value appears in the output as written (nothing re-rooted or rewritten).
        for (const value of Object.values(ACCEPTED[env])) {
          for (const part of value.split(",").map((p) => p.trim())) {
            if (/^(on|yes|1|none|supplied|localhost|edge|full)$/i.test(part) || /^\d+$/.test(part)) continue;
            figures.acceptedSafely++;
            if (/^[a-z][a-z0-9-]*:[A-Za-z0-9+/=]{44}:/.test(part)) continue; // a peer: its fields land separately
            expect(text.includes(part.replace(/\/$/, "")), `${part} in ${env}`).toBe(true);
          }
        }
        const validate = validateTemplates(
          tempDir(),
          strings([json.resource, json.locals ?? {}, json.output, json.provider, json.terraform]),
        );
        expect(validate.status, validate.output).toBe(0);
        if (env === "dev") {
          // The absolute source root is a literal: no expression Terraform would evaluate.
          const contexts = Object.values(json.resource.docker_image)
            .filter((i: any) => i.build)
            .map((i: any) => i.build.context);
          expect(contexts).toContain(`${UNUSUAL_ROOT}/api`);
        }
        expect(json.provider.docker[0].host).toBe(ACCEPTED[env][`UPDATEIO_${env.toUpperCase()}_DOCKER_HOST`]);
      }, 60_000);
    }
  });

  describeIfBinary("caddy", "the Caddyfile rendered from them passes the real caddy", () => {
    for (const env of ["dev", "test", "prod"] as const) {
      it(`${env}`, () => {
        const dir = tempDir();
        const { json, stack } = synthEnvironment(env, ACCEPTED[env], join(dir, "out"));
        const file = join(dir, "Caddyfile");
        writeFileSync(file, uploadedFile(json, "/etc/caddy/Caddyfile")!);
        const caddyEnv = { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config") };
        const adapt = spawnSync("caddy", ["adapt", "--adapter", "caddyfile", "--config", file], {
          env: caddyEnv,
          encoding: "utf8",
          timeout: 30_000,
        });
        expect(adapt.status, adapt.stderr).toBe(0);
        const config = JSON.stringify(JSON.parse(adapt.stdout));
        for (const cidr of stack.config.edge.adminAllowList) expect(config).toContain(`"${cidr}"`);
        expect(config).toContain(`"${stack.config.hosts.api}"`);
        if (env === "prod") {
          expect(config).toContain('"email":"ops+acme@updateio.example"');
          expect(config).toContain('"ca":"https://acme-staging-v02.api.letsencrypt.org:443/directory"');
        }
        const validate = spawnSync("caddy", ["validate", "--adapter", "caddyfile", "--config", file], {
          env: caddyEnv,
          encoding: "utf8",
          timeout: 30_000,
        });
        expect(validate.status, validate.stderr).toBe(0);
      }, 60_000);
    }
  });
});
