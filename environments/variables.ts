import { ENVIRONMENTS as ENVIRONMENT_NAMES, type EnvironmentName as EnvName } from "../constructs/contract/environments";
import { isCidr } from "../constructs/edge";

/**
 * Values that differ per machine come from environment variables, one namespace per environment:
 * UPDATEIO_DEV_*, UPDATEIO_TEST_*, UPDATEIO_PROD_*. An environment reads its own namespace only, so
 * a value set for one environment never changes another (README, "Configuration"). This file is the
 * one list of them. Every read checks the value against an allow-list for its kind (host name, URL,
 * path, CIDR, ...) because the values end up in Terraform strings, rendered config files and shell
 * scripts; a problem is recorded (naming the variable and the fix) instead of thrown, so it is
 * reported together with every other configuration error.
 */

export { ENVIRONMENT_NAMES, type EnvName };

const ALL = ENVIRONMENT_NAMES;
const TEST_PROD = ["test", "prod"] as const;

interface VariableSpec {
  /** The environments that read it; UPDATEIO_<ENV>_<KEY> exists only for these. */
  readonly envs: readonly EnvName[];
  readonly help: string;
  /** Config key paths the value feeds (`*` matches one segment): problems there name the variable. */
  readonly paths: readonly string[];
}

export const VARIABLES = {
  DOCKER_HOST: {
    envs: ALL,
    paths: ["dockerHost"],
    help: "Docker daemon of this environment: unix:///path, ssh://user@host[:port], or tcp://host:port (plain TCP: refused in prod). Default unix:///var/run/docker.sock.",
  },
  SOURCE_ROOT: {
    envs: ["dev"],
    paths: ["services.*.image"],
    help: "Folder holding the UpdateIO service sources (api/, discord-bot/, ..., each with a Dockerfile that has a dev stage): absolute, or relative to this project. Unset: every service runs examples/reference-service.",
  },
  DOMAIN: {
    envs: TEST_PROD,
    paths: ["hosts"],
    help: "Base domain; hosts are api.<domain>, admin.<domain>, app.<domain>, grafana.<domain>. Default updateio.test (test), updateio.app (prod).",
  },
  ACME_EMAIL: {
    envs: ["prod"],
    paths: ["edge.tls.email"],
    help: "Contact e-mail of the ACME (Let's Encrypt) account. Default ops@<domain>.",
  },
  ACME_CA: {
    envs: ["prod"],
    paths: ["edge.tls.caUrl"],
    help: "https ACME directory URL, e.g. Let's Encrypt staging. Default Let's Encrypt production.",
  },
  ADMIN_ALLOW: { envs: ALL, paths: ["edge.adminAllowList"], help: "Comma-separated CIDRs allowed on admin surfaces, or none." },
  EDGE_HTTP_PORT: { envs: ALL, paths: ["edge.httpPort"], help: "Host port of the edge's HTTP listener." },
  EDGE_HTTPS_PORT: { envs: ALL, paths: ["edge.httpsPort"], help: "Host port of the edge's HTTPS listener." },
  POSTGRES_PORT: {
    envs: ["dev"],
    paths: ["postgres.hostPort"],
    help: "Port on 127.0.0.1 forwarded to the Postgres primary, for prisma migrate dev / prisma studio. Default 55432.",
  },
  TFC_HOSTNAME: {
    envs: TEST_PROD,
    paths: ["state.hostname"],
    help: "Terraform Cloud host for the state. Default app.terraform.io (test: setting any TFC_* moves its state there).",
  },
  TFC_ORGANIZATION: {
    envs: TEST_PROD,
    paths: ["state.organization"],
    help: "Terraform Cloud organization. Default updateio (test: setting any TFC_* moves its state there).",
  },
  TFC_WORKSPACE: {
    envs: TEST_PROD,
    paths: ["state.workspace"],
    help: "Terraform Cloud workspace. Default updateio-prod / updateio-test (test: setting any TFC_* moves its state there).",
  },
  REGISTRY: {
    envs: TEST_PROD,
    paths: ["registry.host"],
    help: "Host of the private registry the app images come from (credentials: TF_VAR_registry_username, TF_VAR_registry_password). Default ghcr.io.",
  },
  RELEASES_FILE: {
    envs: TEST_PROD,
    paths: [],
    help: "Releases file to deploy instead of environments/releases.json (a candidate release written by npm run release:pins): absolute, or relative to this project.",
  },
  BACKUP_OFFSITE_ENDPOINT: {
    envs: TEST_PROD,
    paths: ["postgres.offsite.endpoint"],
    help: "S3-compatible endpoint (https://host[:port]) for the off-host backup copy; with BACKUP_OFFSITE_BUCKET.",
  },
  BACKUP_OFFSITE_BUCKET: {
    envs: TEST_PROD,
    paths: ["postgres.offsite.bucket"],
    help: "Existing bucket for the off-host backup copy; with BACKUP_OFFSITE_ENDPOINT.",
  },
  BACKUP_OFFSITE_REGION: {
    envs: TEST_PROD,
    paths: ["postgres.offsite.region"],
    help: "Region of the off-host bucket, e.g. eu-central-1 (needs endpoint and bucket).",
  },
  BACKUP_OFFSITE_PROVIDER: {
    envs: TEST_PROD,
    paths: ["postgres.offsite.provider"],
    help: "rclone s3 provider of the off-host bucket: AWS, Minio, Cloudflare, Other (needs endpoint and bucket).",
  },
  ALERT_TELEGRAM_CHAT_ID: {
    envs: ALL,
    paths: ["observability.alerting.telegramChatId"],
    help: "Telegram chat Grafana sends alerts to (bot token: TF_VAR_alert_telegram_bot_token).",
  },
  ALERT_DISCORD: {
    envs: ALL,
    paths: ["observability.alerting.discord"],
    help: "on/off: send alerts to Discord (webhook: TF_VAR_alert_discord_webhook_url).",
  },
  GRAFANA_EXPOSE: {
    envs: ["dev", "test"],
    paths: ["observability.grafana.expose"],
    help: "edge (https://grafana.<domain>, admin allow-list) or localhost (http://127.0.0.1:3000).",
  },
  NETWORK_POOL: {
    envs: ["dev"],
    paths: ["runtime.networkPool"],
    help: "Private IPv4 range split into one /24 per network (Docker's default pools hold 31 networks for the whole machine), or docker to let Docker pick. Default 172.16.0.0/16.",
  },
  OBSERVABILITY: {
    envs: ["dev"],
    paths: ["observability.profile"],
    help: "off, logs (Loki + shipper + Grafana; the default) or full (adds Prometheus, exporters, alerting).",
  },
  VPN: { envs: ALL, paths: ["vpn.enabled"], help: "on/off: the WireGuard gateway for operators." },
  VPN_ENDPOINT: {
    envs: ALL,
    paths: ["vpn.endpoint"],
    help: "Public host name of the Docker host, for the VPN client templates (needs VPN on).",
  },
  VPN_PEERS: { envs: ALL, paths: ["vpn.peers"], help: "Comma-separated name:publicKey:10.13.13.N/32 (needs VPN on)." },
  VPN_KEY: { envs: ALL, paths: ["vpn.keyMode"], help: "generated (default) or supplied (TF_VAR_vpn_private_key; needs VPN on)." },
  API_IMAGE: { envs: TEST_PROD, paths: ["services.api.image"], help: "API image override, name:tag@sha256:<digest>." },
  DISCORD_BOT_IMAGE: { envs: TEST_PROD, paths: ["services.discord-bot.image"], help: "Discord bot image override." },
  TELEGRAM_BOT_IMAGE: { envs: TEST_PROD, paths: ["services.telegram-bot.image"], help: "Telegram bot image override." },
  ADMIN_PANEL_IMAGE: { envs: TEST_PROD, paths: ["services.admin-panel.image"], help: "Admin panel image override." },
  MINI_APP_IMAGE: { envs: TEST_PROD, paths: ["services.mini-app.image"], help: "Mini app image override." },
} as const satisfies Record<string, VariableSpec>;

export type VariableKey = keyof typeof VARIABLES;
const KEYS = Object.keys(VARIABLES) as VariableKey[];

export function variableName(env: EnvName, key: VariableKey): string {
  return `UPDATEIO_${env.toUpperCase()}_${key}`;
}

/** Every name an environment reads. */
export function variableNames(env: EnvName): string[] {
  return KEYS.filter((k) => (VARIABLES[k].envs as readonly string[]).includes(env)).map((k) => variableName(env, k));
}

/** The per-environment names that replace an old global name (UPDATEIO_<KEY> before namespacing). */
export function replacementsOf(key: VariableKey): string[] {
  return VARIABLES[key].envs.map((env) => variableName(env, key));
}

/** Old global names: refused, never ignored, with the names that replace them. */
const RETIRED: ReadonlyMap<string, VariableKey> = new Map(KEYS.map((k) => [`UPDATEIO_${k}`, k]));

export interface VariableProblem {
  readonly variable: string;
  readonly message: string;
}

const NAMESPACE = /^UPDATEIO_(DEV|TEST|PROD)_(.+)$/;

/** Problems no single environment owns (old global names, unknown UPDATEIO_* outside a namespace): they block every environment. */
export function globalVariableProblems(env: Readonly<Record<string, string | undefined>>): VariableProblem[] {
  const problems: VariableProblem[] = [];
  for (const name of Object.keys(env).sort()) {
    // Empty means unset (a CI pipeline passes unset variables as empty strings).
    if (!name.startsWith("UPDATEIO_") || NAMESPACE.test(name) || (env[name] ?? "").trim() === "") continue;
    const retired = RETIRED.get(name);
    if (retired) {
      const names = replacementsOf(retired);
      problems.push({
        variable: name,
        message: `is no longer read: each environment has its own variable now; set ${names.join(", ").replace(/, ([^,]*)$/, " and/or $1")} instead (the one(s) you mean), and unset ${name}`,
      });
    } else {
      problems.push({
        variable: name,
        message:
          'is not a variable this project reads; per-environment variables are UPDATEIO_DEV_*, UPDATEIO_TEST_* and UPDATEIO_PROD_* (README, "Configuration")',
      });
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Allow-lists per kind. None admits $, %, {, }, ", `, \, ;, quotes, spaces or control characters,
// so no accepted value can start a Terraform template, a shell expansion or a Caddyfile token.
// ---------------------------------------------------------------------------------------------

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
/** A lowercase DNS name (an IPv4 address also matches). */
export const HOSTNAME = new RegExp(`^(?=.{1,253}$)(?:${LABEL}\\.)*${LABEL}$`);
/** A registry host: a DNS name with a dot (ghcr.io, registry.example.com) or localhost, with an optional port. */
export const REGISTRY_HOST = new RegExp(`^(?:localhost|(?:${LABEL}\\.)+${LABEL})(?::[0-9]{1,5})?$`);
/** A DNS name with at least two labels (a domain for public host names, an e-mail's domain). */
const DOMAIN = new RegExp(`^(?=.{1,240}$)(?:${LABEL}\\.)+${LABEL}$`);
const EMAIL = new RegExp(`^[A-Za-z0-9._+-]{1,64}@(?:${LABEL}\\.)+${LABEL}$`);
const PORT = "(?::(?:6553[0-5]|655[0-2]\\d|65[0-4]\\d{2}|6[0-4]\\d{3}|[1-5]\\d{4}|[1-9]\\d{0,3}))";
const HOST_OR_IP = `(?:${LABEL}\\.)*${LABEL}|\\[[0-9a-fA-F:.]+\\]`;
// URL hosts are names or IPv4 only: the Caddyfile and the rclone script take nothing else.
const HTTPS_URL = new RegExp(`^https://(?:${LABEL}\\.)*${LABEL}${PORT}?(?:/[A-Za-z0-9._~-]+)*/?$`);
const ENDPOINT_URL = new RegExp(`^https?://(?:${LABEL}\\.)*${LABEL}${PORT}?/?$`);
/** Paths: letters, digits and . _ - + @ / only (no spaces, quotes, $, %, braces, ~, :, ,). */
export const SAFE_PATH = /^[A-Za-z0-9._@+/-]+$/;
const DOCKER_UNIX = /^unix:\/\/(\/[A-Za-z0-9._@+-]+)+$/;
const DOCKER_SSH = new RegExp(`^ssh://[a-z_][a-z0-9_.-]{0,31}@(?:${HOST_OR_IP})${PORT}?$`);
const DOCKER_TCP = new RegExp(`^tcp://(?:${HOST_OR_IP})${PORT}$`);
const BOOLEANS: Record<string, boolean> = { "1": true, true: true, yes: true, on: true, "0": false, false: false, no: false, off: false };

class Refusal {
  constructor(readonly message: string) {}
}
const refuse = (message: string) => new Refusal(message);

/** Reads one environment's UPDATEIO_<ENV>_* variables. */
export class Variables {
  readonly problems: VariableProblem[] = [];
  private readonly prefix: string;

  constructor(
    readonly env: EnvName,
    private readonly source: Readonly<Record<string, string | undefined>>,
  ) {
    this.prefix = `UPDATEIO_${env.toUpperCase()}_`;
    for (const name of Object.keys(source).sort()) {
      if (!name.startsWith(this.prefix) || (source[name] ?? "").trim() === "") continue;
      const key = name.slice(this.prefix.length);
      // Own keys only: a plain-object lookup of "constructor" or "__proto__" finds Object's members.
      const spec = Object.hasOwn(VARIABLES, key) ? (VARIABLES as Record<string, VariableSpec>)[key] : undefined;
      if (spec === undefined) {
        this.report(name, `is not a variable ${env} reads; ${env} reads ${variableNames(env).join(", ")}`);
      } else if (!spec.envs.includes(env)) {
        const others = replacementsOf(key as VariableKey);
        this.report(
          name,
          `applies to ${spec.envs.join(" and ")} only (${spec.help}); remove it${others.length > 0 ? `, or set ${others.join(" / ")}` : ""}`,
        );
      }
    }
  }

  name(key: VariableKey): string {
    return variableName(this.env, key);
  }

  /** The trimmed value, or undefined when unset or empty. */
  raw(key: VariableKey): string | undefined {
    if (!(VARIABLES[key].envs as readonly string[]).includes(this.env))
      throw new Error(`${this.env} does not read ${key} (environments/variables.ts)`);
    const value = this.source[this.name(key)];
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  }

  isSet(key: VariableKey): boolean {
    return this.raw(key) !== undefined;
  }

  /** Reports a problem with a variable; one line per variable and message. */
  report(variable: string, message: string): void {
    if (!this.problems.some((p) => p.variable === variable && p.message === message)) this.problems.push({ variable, message });
  }

  /** `parse` returns the value, or `refuse(message)` for a problem. */
  private check<T>(key: VariableKey, fallback: T, parse: (value: string) => T | Refusal): T {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    const result = parse(value);
    if (result instanceof Refusal) {
      this.report(this.name(key), result.message);
      return fallback;
    }
    return result;
  }

  /** A value matching `pattern`; `fix` says what to write instead. */
  pattern(key: VariableKey, pattern: RegExp, fix: string, fallback: string): string;
  pattern(key: VariableKey, pattern: RegExp, fix: string, fallback?: undefined): string | undefined;
  pattern(key: VariableKey, pattern: RegExp, fix: string, fallback?: string): string | undefined {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (!pattern.test(value)) {
      this.report(this.name(key), `${show(value)} is refused; ${fix}`);
      return fallback;
    }
    return value;
  }

  port(key: VariableKey, fallback: number): number {
    return this.check(key, fallback, (raw) => {
      const value = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
      return value >= 1 && value <= 65535 ? value : refuse(`${show(raw)} is not a port; set a whole number between 1 and 65535`);
    });
  }

  bool(key: VariableKey, fallback: boolean): boolean {
    return this.check(
      key,
      fallback,
      (raw) =>
        (Object.hasOwn(BOOLEANS, raw.toLowerCase()) ? BOOLEANS[raw.toLowerCase()]! : undefined) ??
        refuse(`${show(raw)} is not on or off; write 1/0, true/false, yes/no or on/off`),
    );
  }

  choice<T extends string>(key: VariableKey, options: readonly T[], fallback: T): T {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (!(options as readonly string[]).includes(value)) {
      this.report(this.name(key), `${show(value)} is not one of ${options.map((o) => `"${o}"`).join(", ")}; write one of them`);
      return fallback;
    }
    return value as T;
  }

  domain(key: VariableKey, fallback: string): string {
    return this.pattern(
      key,
      DOMAIN,
      "write a lowercase domain such as updateio.app (letters, digits, dashes and dots; no scheme, port or path)",
      fallback,
    );
  }

  hostname(key: VariableKey, fallback?: string): string | undefined {
    return this.pattern(
      key,
      HOSTNAME,
      "write a lowercase host name such as vpn.updateio.app or an IPv4 address (no scheme, port or path)",
      fallback as string,
    );
  }

  email(key: VariableKey, fallback: string): string {
    return this.pattern(
      key,
      EMAIL,
      "write an e-mail address such as ops@updateio.app (letters, digits and . _ + - before the @)",
      fallback,
    );
  }

  httpsUrl(key: VariableKey): string | undefined {
    return this.pattern(
      key,
      HTTPS_URL,
      "write an https URL such as https://acme-staging-v02.api.letsencrypt.org/directory (no query, spaces or quotes)",
    );
  }

  endpointUrl(key: VariableKey): string | undefined {
    return this.pattern(
      key,
      ENDPOINT_URL,
      "write the endpoint as https://host[:port] with no path, e.g. https://s3.eu-central-1.amazonaws.com",
    );
  }

  dockerHost(key: VariableKey, fallback: string): string {
    return this.check(key, fallback, (raw) =>
      DOCKER_UNIX.test(raw) || DOCKER_SSH.test(raw) || DOCKER_TCP.test(raw)
        ? raw
        : refuse(
            `${show(raw)} is not a Docker host URL; write unix:///var/run/docker.sock, ssh://user@host[:port] or tcp://host:port (letters, digits and . _ - only in names)`,
          ),
    );
  }

  /** A file system path: absolute, or relative to this project. */
  path(key: VariableKey, fallback: string): string {
    return this.check(key, fallback, (raw) => {
      if (raw.startsWith("~"))
        return refuse(
          `${show(raw)} starts with ~, which nothing expands here; write the absolute path (e.g. $HOME/updateio expanded by your shell)`,
        );
      if (!SAFE_PATH.test(raw))
        return refuse(
          `${show(raw)} is refused; a path here may hold letters, digits and . _ - + @ / only (no spaces, quotes, $, %, braces, ~, : or ,)`,
        );
      return raw.length > 1 ? raw.replace(/\/+$/, "") : raw;
    });
  }

  /** Comma-separated CIDRs; "none" is the empty list. Every entry must be a CIDR: an empty one is a typo, not "nobody". */
  cidrList(key: VariableKey, fallback: string[]): string[] {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (value.toLowerCase() === "none") return [];
    const items = value.split(",").map((item) => item.trim());
    const bad = items.flatMap((item, i) =>
      item === ""
        ? [`entry ${i + 1} is empty`]
        : isCidr(item) && /^[0-9a-fA-F:./]+$/.test(item)
          ? []
          : [`entry ${i + 1} ${show(item)} is not a CIDR`],
    );
    if (bad.length > 0) {
      this.report(
        this.name(key),
        `${bad.join("; ")}; write CIDRs separated by commas, e.g. 203.0.113.0/24,2001:db8::/32 (or none for nobody)`,
      );
      return fallback;
    }
    return items;
  }

  /** Comma-separated entries of exactly `fields` colon-separated fields. */
  records(key: VariableKey, fields: number, example: string): string[][] {
    const value = this.raw(key);
    if (value === undefined) return [];
    const entries = value.split(",").map((e) => e.trim());
    const bad = entries.flatMap((entry, i) => {
      if (entry === "") return [`entry ${i + 1} is empty`];
      const parts = entry.split(":");
      return parts.length === fields && parts.every((p) => p !== "")
        ? []
        : [`entry ${i + 1} has ${parts.length} field${parts.length === 1 ? "" : "s"} (want ${fields})`];
    });
    if (bad.length > 0) {
      this.report(this.name(key), `${bad.join("; ")}; write entries such as ${example}, separated by commas`);
      return [];
    }
    return entries.map((e) => e.split(":"));
  }
}

/** A value as it appears in a message: quoted, control characters escaped, long values cut. */
export function show(value: string): string {
  return JSON.stringify(value.length > 120 ? `${value.slice(0, 117)}...` : value);
}

export const VARIABLE_PATTERNS = {
  HOSTNAME,
  REGISTRY_HOST,
  DOMAIN,
  EMAIL,
  HTTPS_URL,
  ENDPOINT_URL,
  DOCKER_UNIX,
  DOCKER_SSH,
  DOCKER_TCP,
} as const;

/** The variable of `env` that feeds config key path `path`, if any. */
export function variableForPath(env: EnvName, path: readonly (string | number)[]): VariableKey | undefined {
  const segments = path.map(String);
  let best: { key: VariableKey; length: number } | undefined;
  for (const key of KEYS) {
    const spec: VariableSpec = VARIABLES[key];
    if (!spec.envs.includes(env)) continue;
    for (const p of spec.paths) {
      const want = p.split(".");
      if (want.length <= segments.length && want.every((w, i) => w === "*" || w === segments[i]) && (!best || want.length > best.length))
        best = { key, length: want.length };
    }
  }
  return best?.key;
}
