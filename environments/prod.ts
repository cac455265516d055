import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { type EnvironmentConfigInput, IMAGE_REF } from "./schema";
import { PINNED_IMAGES } from "./images";
import committedReleases from "./releases.json";
import { OFFSITE_PATTERNS } from "../constructs/postgres";
import { isPinnedByDigest } from "../constructs/contract/patterns";
import { updateioServices } from "./services";
import { REGISTRY_HOST, show, type VariableKey, type Variables } from "./variables";

/** Services whose image a variable can override for one run. */
const IMAGE_VARIABLES: Readonly<Record<string, VariableKey>> = {
  api: "API_IMAGE",
  "discord-bot": "DISCORD_BOT_IMAGE",
  "telegram-bot": "TELEGRAM_BOT_IMAGE",
  "admin-panel": "ADMIN_PANEL_IMAGE",
  "mini-app": "MINI_APP_IMAGE",
};

/**
 * A released image as releases.json holds it: registry/name:version@sha256:<64 hex>. Stricter than
 * IMAGE_REF (registry, tag and digest all required), so nothing quoted, templated or floating gets in.
 */
export const RELEASE_REF = new RegExp(
  `^${REGISTRY_HOST.source.slice(1, -1)}(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}@sha256:[0-9a-f]{64}$`,
);
/** The release's own version: a semver-like label (0.0.0-unreleased, 1.4.0, 2026.12.05-1). */
export const RELEASE_VERSION = /^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$/;
/** The all-zeros digest of the committed placeholders. */
export const PLACEHOLDER_DIGEST = /@sha256:0{64}$/;
export const COMMITTED_RELEASES_FILE = "environments/releases.json";
const PROJECT_ROOT = join(__dirname, "..");

export interface Releases {
  readonly version: string;
  readonly images: Readonly<Record<string, string>>;
}

/** The app services of the catalogue (environments/services.ts), by name: the keys releases.json must have. */
export function catalogueServiceNames(): string[] {
  return Object.keys(
    updateioServices({
      image: () => ({ kind: "registry", ref: "catalogue/names:only" }),
      size: () => ({ replicas: 1, memoryMb: 64, cpuShares: 2 }),
      hosts: { api: "a.invalid", admin: "a.invalid", miniApp: "a.invalid" },
      domain: "invalid",
      publicUrl: (host) => `https://${host}`,
      env: {},
      telegramMode: "webhook",
    }),
  );
}

/**
 * Problems of a releases file's parsed content, each naming the key and the fix (empty: valid).
 * Placeholder digests pass here (the committed file holds them, synth warns); the pin writer refuses them.
 */
export function releasesProblems(data: unknown, services: readonly string[] = catalogueServiceNames()): string[] {
  if (typeof data !== "object" || data === null || Array.isArray(data))
    return ['the file must hold an object { "version": "...", "images": { "<service>": "<ref>" } }'];
  const problems: string[] = [];
  const { version, images, ...rest } = data as Record<string, unknown>;
  for (const key of Object.keys(rest)) if (key !== "$comment") problems.push(`${key}: unknown key; remove it (keys: version, images)`);
  if (typeof version !== "string" || !RELEASE_VERSION.test(version))
    problems.push(`version: ${version === undefined ? "missing" : show(String(version))}; write a version such as 1.4.0`);
  if (typeof images !== "object" || images === null || Array.isArray(images)) {
    problems.push('images: must be an object { "<service>": "<registry>/<name>:<version>@sha256:<64 hex>" }');
    return problems;
  }
  for (const [service, ref] of Object.entries(images as Record<string, unknown>)) {
    if (!services.includes(service))
      problems.push(`images.${service}: not a service of the catalogue (environments/services.ts: ${services.join(", ")}); remove it`);
    else if (typeof ref !== "string" || !RELEASE_REF.test(ref) || !isPinnedByDigest(ref))
      problems.push(
        `images.${service}: ${show(String(ref))} is refused; write <registry>/<name>:<version>@sha256:<64 hex>, e.g. ghcr.io/updateio/${service}:1.4.0@sha256:<digest>`,
      );
  }
  return problems;
}

const RELEASES_READ = new WeakMap<Variables, Releases>();

/**
 * The releases an environment deploys: environments/releases.json, or the file
 * UPDATEIO_<ENV>_RELEASES_FILE names (a candidate release checked before its pins are merged).
 */
export function releasesOf(vars: Variables): Releases {
  const known = RELEASES_READ.get(vars);
  if (known) return known;
  let releases: Releases = committedReleases;
  const file = vars.isSet("RELEASES_FILE") ? vars.path("RELEASES_FILE", COMMITTED_RELEASES_FILE) : undefined;
  if (file !== undefined && vars.problems.every((p) => p.variable !== vars.name("RELEASES_FILE"))) {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(isAbsolute(file) ? file : join(PROJECT_ROOT, file), "utf8"));
    } catch (e) {
      vars.report(
        vars.name("RELEASES_FILE"),
        `cannot read ${show(file)} as JSON (${(e as Error).message}); name a releases file written by npm run release:pins`,
      );
    }
    if (data !== undefined) {
      const problems = releasesProblems(data);
      for (const p of problems) vars.report(vars.name("RELEASES_FILE"), `${file}: ${p}`);
      // Every service of the catalogue needs its image (own keys only: "constructor" is no image).
      const missing = problems.length === 0 ? catalogueServiceNames().filter((s) => !Object.hasOwn((data as Releases).images, s)) : [];
      for (const s of missing)
        vars.report(
          vars.name("RELEASES_FILE"),
          `${file}: images.${s}: missing; add "${s}": "<registry>/<name>:<version>@sha256:<digest>" under images (npm run release:pins writes it), or unset ${vars.name("RELEASES_FILE")} to deploy ${COMMITTED_RELEASES_FILE}`,
        );
      if (problems.length === 0 && missing.length === 0) releases = data as Releases;
    }
  }
  RELEASES_READ.set(vars, releases);
  return releases;
}

/** The released image of an app service: the releases file, or its UPDATEIO_<ENV>_<SERVICE>_IMAGE override. */
export function releasedImage(vars: Variables, service: string) {
  const images = releasesOf(vars).images;
  const released = Object.hasOwn(images, service) ? images[service] : undefined;
  // Only the committed file can get here (a file named by RELEASES_FILE that lacks a service is refused above).
  if (released === undefined)
    throw new Error(
      `${COMMITTED_RELEASES_FILE} has no image for service "${service}": add "${service}": "<registry>/<name>:<version>@sha256:<digest>" under images (the release workflow writes it)`,
    );
  const variable = IMAGE_VARIABLES[service];
  const ref = variable
    ? vars.pattern(variable, IMAGE_REF, "write an image reference such as ghcr.io/updateio/api:1.2.3@sha256:<64 hex>", released)
    : released;
  return { kind: "registry" as const, ref };
}

/** The registry the app images come from (UPDATEIO_<ENV>_REGISTRY): the one host the registry credentials are sent to. */
export function registryHostOf(vars: Variables): string {
  return vars.pattern("REGISTRY", REGISTRY_HOST, "write a registry host such as ghcr.io or registry.example.com:5000", "ghcr.io");
}

/** Every app service's image as this environment deploys it (releases plus overrides), by service. */
export function releasedImages(vars: Variables): Record<string, string> {
  return Object.fromEntries(catalogueServiceNames().map((service) => [service, releasedImage(vars, service).ref]));
}

/** Public URL of a host on the edge: the HTTPS port appears when it is not 443. */
export function publicUrlFor(httpsPort: number): (host: string) => string {
  return (host) => (httpsPort === 443 ? `https://${host}` : `https://${host}:${httpsPort}`);
}

/** Off-host backup copy, when both the endpoint and the bucket are set; a part set alone is refused, not ignored. */
export function offsiteConfig(vars: Variables) {
  const endpoint = vars.endpointUrl("BACKUP_OFFSITE_ENDPOINT");
  const bucket = vars.pattern(
    "BACKUP_OFFSITE_BUCKET",
    OFFSITE_PATTERNS.bucket,
    "write an existing S3 bucket name: 3-63 lowercase letters, digits and dashes in dot-separated labels that start and end with a letter or digit (not an IP address, no xn-- prefix)",
  );
  const region = vars.pattern("BACKUP_OFFSITE_REGION", OFFSITE_PATTERNS.region, "write a region name such as eu-central-1");
  const provider = vars.pattern(
    "BACKUP_OFFSITE_PROVIDER",
    OFFSITE_PATTERNS.provider,
    "write an rclone s3 provider name such as AWS, Minio, Cloudflare or Other",
  );
  const [e, b] = [vars.name("BACKUP_OFFSITE_ENDPOINT"), vars.name("BACKUP_OFFSITE_BUCKET")];
  if (vars.isSet("BACKUP_OFFSITE_ENDPOINT") !== vars.isSet("BACKUP_OFFSITE_BUCKET")) {
    const [set, missing] = vars.isSet("BACKUP_OFFSITE_ENDPOINT") ? [e, b] : [b, e];
    vars.report(set, `has no effect without ${missing}: set both for an off-host copy, or unset ${set}`);
  }
  if (!vars.isSet("BACKUP_OFFSITE_ENDPOINT") || !vars.isSet("BACKUP_OFFSITE_BUCKET")) {
    for (const key of ["BACKUP_OFFSITE_REGION", "BACKUP_OFFSITE_PROVIDER"] as const) {
      if (vars.isSet(key)) vars.report(vars.name(key), `has no effect without ${e} and ${b}: set both, or unset ${vars.name(key)}`);
    }
    return undefined;
  }
  if (endpoint === undefined || bucket === undefined) return undefined; // refused above
  return { endpoint, bucket, image: PINNED_IMAGES.rclone, ...(region ? { region } : {}), ...(provider ? { provider } : {}) };
}

/** The operator VPN, off unless UPDATEIO_<ENV>_VPN is on; its other settings need it on. */
export function vpnConfig(vars: Variables) {
  const enabled = vars.bool("VPN", false);
  const endpoint = vars.hostname("VPN_ENDPOINT");
  const keyMode = vars.choice("VPN_KEY", ["generated", "supplied"] as const, "generated");
  const peers = vars
    .records("VPN_PEERS", 3, "alice-laptop:<44-character wg pubkey>:10.13.13.2/32")
    .map(([name = "", publicKey = "", allowedIps = ""]) => ({ name, publicKey, allowedIps }));
  if (!enabled) {
    for (const key of ["VPN_ENDPOINT", "VPN_PEERS", "VPN_KEY"] as const) {
      if (vars.isSet(key))
        vars.report(
          vars.name(key),
          `has no effect while ${vars.name("VPN")} is off; set ${vars.name("VPN")}=on, or unset ${vars.name(key)}`,
        );
    }
    return { enabled, image: PINNED_IMAGES.wireguard, keyMode: "generated" as const, peers: [] };
  }
  return { enabled, image: PINNED_IMAGES.wireguard, keyMode, ...(endpoint ? { endpoint } : {}), peers };
}

/** Logs, metrics, dashboards and alerting; `scale` shrinks memory for dev and test. */
export function observabilityConfig(
  vars: Variables,
  o: { lokiDays: number; prometheusDays: number; scale: number; pin?: (ref: string) => string; grafanaExpose: "edge" | "localhost" },
) {
  const pin = o.pin ?? ((ref: string) => ref);
  const mb = (n: number) => Math.max(64, Math.round(n * o.scale));
  const chatId = vars.pattern(
    "ALERT_TELEGRAM_CHAT_ID",
    /^-?[0-9]{1,20}$|^@[A-Za-z0-9_]{5,32}$/,
    "write a Telegram chat id such as -1001234567890 or @channelname",
  );
  return {
    loki: { image: pin(PINNED_IMAGES.loki), memoryMb: mb(1024), retentionDays: o.lokiDays },
    shipper: { kind: "alloy" as const, image: pin(PINNED_IMAGES.alloy), memoryMb: mb(256) },
    socketProxyImage: pin(PINNED_IMAGES.dockerSocketProxy),
    prometheus: { image: pin(PINNED_IMAGES.prometheus), memoryMb: mb(1024), retentionDays: o.prometheusDays },
    grafana: { image: pin(PINNED_IMAGES.grafana), memoryMb: mb(512), expose: o.grafanaExpose },
    exporters: {
      postgresImage: pin(PINNED_IMAGES.postgresExporter),
      redisImage: pin(PINNED_IMAGES.redisExporter),
      cadvisorImage: pin(PINNED_IMAGES.cadvisor),
      nodeImage: pin(PINNED_IMAGES.nodeExporter),
    },
    alerting: { ...(chatId ? { telegramChatId: chatId } : {}), discord: vars.bool("ALERT_DISCORD", false) },
  };
}

export interface ServiceSize {
  readonly replicas: number;
  readonly memoryMb: number;
}

/** Replicas and memory of each service in prod; a service not listed runs one replica with 256 MiB. */
const PROD_SIZES: Readonly<Record<string, ServiceSize>> = {
  api: { replicas: 3, memoryMb: 768 },
  "discord-bot": { replicas: 1, memoryMb: 512 },
  "telegram-bot": { replicas: 2, memoryMb: 512 },
  "admin-panel": { replicas: 2, memoryMb: 384 },
  "mini-app": { replicas: 2, memoryMb: 256 },
};

/**
 * Size budgets of prod's stateful volumes, MiB: the host's disk is sized from their sum (the
 * replicas count once each). Postgres' backups hold 3 base backups of a full database plus dumps
 * and the WAL archive; Loki's keeps 30 days at about 63 KB/s of logs; Prometheus caps its blocks at 80%.
 */
export const PROD_BUDGETS = {
  postgresData: 20480,
  postgresBackups: 81920,
  redisData: 2048,
  rabbitmqData: 4096,
  lokiData: 20480,
  shipperData: 64,
  prometheusData: 10240,
  grafanaData: 1024,
  edgeData: 256,
  vpnKeys: 16,
  // 48 hourly RDB snapshots of up to ~170 MiB; 28 definitions exports (KiB each); 14 gzipped
  // Grafana databases; 14 tars of Caddy's data.
  redisBackups: 8192,
  rabbitmqBackups: 256,
  grafanaBackups: 1024,
  edgeBackups: 256,
} as const;

/**
 * The four store backups (Postgres' are always on), with the stores' own schedules and retention.
 * Dev keeps them off: its volumes are unprotected, so `cdktf destroy` takes a backup along with the
 * data it copies, and the data is throwaway; turn one on in dev.ts to try it.
 */
export function storeBackupsConfig(enabled: boolean, pin: (ref: string) => string = (ref) => ref) {
  return {
    redis: { enabled },
    rabbitmq: { enabled },
    grafana: { enabled, image: pin(PINNED_IMAGES.python) },
    edge: { enabled },
  };
}

export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

/**
 * What test and prod share: released images by digest, the replicated data tier, webhook mode.
 * Reads only variables both environments have; prodConfig adds the prod-only ones (state, ACME).
 */
export function releasedConfig(
  vars: Variables,
  domain: string,
  defaults: { httpsPort: number; sizes: Readonly<Record<string, ServiceSize>> } = { httpsPort: 443, sizes: PROD_SIZES },
): EnvironmentConfigInput {
  const httpsPort = vars.port("EDGE_HTTPS_PORT", defaults.httpsPort);
  const hosts = { api: `api.${domain}`, admin: `admin.${domain}`, miniApp: `app.${domain}`, grafana: `grafana.${domain}` };
  return {
    name: "prod",
    dockerHost: vars.dockerHost("DOCKER_HOST", DEFAULT_DOCKER_HOST),
    state: { backend: "local", path: `state/${vars.env}.tfstate` },
    // Nodes pull the app images from here with the registry_username/registry_password variables.
    registry: { host: registryHostOf(vars) },
    // App services as Swarm services (rolling, health-gated, rolled back on failure); overlay
    // traffic between nodes crosses the hosts' network, so networks carrying data are encrypted.
    runtime: { kind: "swarm", encryptNetworks: true },
    requireDigests: true,
    protectData: true,
    debug: false,
    logLevel: "info",
    hosts,
    edge: {
      image: PINNED_IMAGES.caddy,
      memoryMb: 256,
      cpuShares: 1024,
      bindAddress: "0.0.0.0",
      httpPort: vars.port("EDGE_HTTP_PORT", 80),
      httpsPort,
      tls: { mode: "internal" },
      // Nobody until the operators list their networks (or use the VPN).
      adminAllowList: vars.cidrList("ADMIN_ALLOW", []),
    },
    // One streaming replica (read-only alias postgres-ro) and PgBouncer in front of the primary.
    postgres: {
      image: PINNED_IMAGES.postgres,
      memoryMb: 2048,
      cpuShares: 2048,
      database: "updateio",
      replicas: 1,
      pooler: true,
      poolerImage: PINNED_IMAGES.pgbouncer,
      offsite: offsiteConfig(vars),
    },
    // A replica and three Sentinels: the master can fail over without losing sessions.
    redis: { image: PINNED_IMAGES.redis, memoryMb: 512, cpuShares: 1024, replicas: 1, sentinels: 3 },
    rabbitmq: { image: PINNED_IMAGES.rabbitmq, memoryMb: 1024, cpuShares: 1024, vhost: "updateio-prod", clusterSize: 3 },
    observability: observabilityConfig(vars, { lokiDays: 30, prometheusDays: 30, scale: 1, grafanaExpose: "edge" }),
    budgets: PROD_BUDGETS,
    backups: storeBackupsConfig(true),
    vpn: vpnConfig(vars),
    migrations: { command: ["npx", "prisma", "migrate", "deploy"], memoryMb: 512 },
    services: updateioServices({
      image: (service) => releasedImage(vars, service),
      size: (service) => ({ cpuShares: 1024, ...(defaults.sizes[service] ?? { replicas: 1, memoryMb: 256 }) }),
      hosts,
      domain,
      publicUrl: publicUrlFor(httpsPort),
      env: { NODE_ENV: "production" },
      telegramMode: "webhook",
    }),
  };
}

/** A Terraform Cloud workspace for the state, from UPDATEIO_<ENV>_TFC_HOSTNAME/_ORGANIZATION/_WORKSPACE. */
export function cloudState(vars: Variables, workspace: string) {
  return {
    backend: "cloud" as const,
    hostname: vars.hostname("TFC_HOSTNAME", "app.terraform.io")!,
    organization: vars.pattern(
      "TFC_ORGANIZATION",
      /^[A-Za-z0-9_-]{1,90}$/,
      "write a Terraform Cloud organization name (letters, digits, - and _)",
      "updateio",
    ),
    workspace: vars.pattern(
      "TFC_WORKSPACE",
      /^[A-Za-z0-9_-]{1,90}$/,
      "write a Terraform Cloud workspace name (letters, digits, - and _)",
      workspace,
    ),
  };
}

/** The real thing: Terraform Cloud state, ACME certificates, digests everywhere, protected data. */
export function prodConfig(vars: Variables): EnvironmentConfigInput {
  const domain = vars.domain("DOMAIN", "updateio.app");
  const base = releasedConfig(vars, domain);
  const caUrl = vars.httpsUrl("ACME_CA");
  return {
    ...base,
    name: "prod",
    state: cloudState(vars, "updateio-prod"),
    edge: { ...base.edge, tls: { mode: "acme", email: vars.email("ACME_EMAIL", `ops@${domain}`), ...(caUrl ? { caUrl } : {}) } },
  };
}
