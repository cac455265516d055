import { posix } from "node:path";
import { z } from "zod";
import { ENVIRONMENTS } from "../constructs/contract/environments";
import { hasUrlCredentials } from "../constructs/contract";
import { BUILD_NAME, ENV_NAME, networkPoolProblem, PLACEMENT_CONSTRAINT, SWARM_OBJECT_BASE_MAX } from "../constructs/kit";
import { isPinnedByDigest, isSecretEnvName } from "../constructs/policy";
import { isCidr } from "../constructs/edge";
import { OFFSITE_PATTERNS, parseSynchronousStandbyNames, postgresSettingsProblems, postgresStandbyName } from "../constructs/postgres";
import { cidrsOverlap, PEER_NAME, vpnSettingsProblems, WG_KEY, WIREGUARD_DEFAULTS } from "../constructs/vpn";
import {
  MIN_VOLUME_BUDGET_MB,
  VOLUME_BUDGET_HELP,
  VOLUME_BUDGET_KEYS,
  volumeBudgetProblems,
  type VolumeBudgetKey,
} from "../constructs/observability/volume-budgets";
import { SAFE_PATH, VARIABLE_PATTERNS } from "./variables";
import { DEV_STAGE } from "../constructs/app";
import { buildSourceProblems, isInsideContext } from "./build-sources";
import { list, obj } from "./loose-input";
import { CONNECTION_SECRETS, topologyProblems } from "./topology-problems";

/**
 * The shape of one environment's configuration. Data only: the EnvironmentStack reads it, nothing
 * here builds resources. Every object is strict (unknown keys are errors) and every message says
 * how to fix the value, because the platform team reads these at `cdktf synth` time.
 */

// Registry reference: [registry[:port]/]path[:tag][@sha256:digest]
export const IMAGE_REF =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;
const HOSTNAME = VARIABLE_PATTERNS.HOSTNAME;

export const imageRef = z
  .string({ error: 'must be an image reference string such as "postgres:17.6-bookworm"' })
  .regex(IMAGE_REF, {
    error: (issue) => `"${String(issue.input)}" is not a valid image reference; use [registry/]name:tag or name:tag@sha256:<64 hex>`,
  })
  .refine((ref) => ref.includes("@") || (ref.split("/").pop() ?? "").includes(":"), {
    error: "has no tag or digest; pin it, e.g. name:1.2.3 or name:1.2.3@sha256:<digest> (never an implicit latest)",
  })
  .refine((ref) => !/:latest(@|$)/.test(ref), {
    error: 'uses the floating tag "latest"; pin a version tag (and a digest in prod)',
  });

const port = z
  .int({ error: "must be a whole number between 1 and 65535" })
  .min(1, { error: "must be between 1 and 65535" })
  .max(65535, { error: "must be between 1 and 65535" });

const memoryMb = z
  .int({ error: "must be a whole number of MiB, e.g. 512" })
  .min(32, { error: "must be at least 32 (MiB); containers below that fail to start" })
  .max(65536, { error: "must be at most 65536 (MiB); split the service instead" });

const cpuShares = z
  .int({ error: "must be a whole number, 1024 = one CPU's fair share" })
  .min(2, { error: "must be at least 2 (Docker's minimum CPU share)" })
  .max(262144, { error: "must be at most 262144 (Docker's maximum CPU share)" });

const cidr = z.string().refine(isCidr, {
  error: (issue) => `"${String(issue.input)}" is not a CIDR; write an address with a prefix length, e.g. 203.0.113.0/24 or 10.8.0.0/16`,
});

/** Longest free-text value (an env value, a command argument, a path): anything longer is a paste accident. */
export const MAX_TEXT_LENGTH = 4096;
/**
 * Characters no free-text value may hold: C0 controls (tab, newline, NUL: the engine cannot pass NUL in an env value),
 * DEL, the line and paragraph separators, and the invisible bidi and zero-width format characters that make a
 * value read differently from what it is.
 */
export const FORBIDDEN_TEXT_CHARS = /[\u0000-\u001f\u007f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;
/**
 * Terraform template starts ("${", "%{", and so "$${", which Terraform turns into a literal "${") and cdktf's token
 * marker ("${TfToken[TOKEN.n]}" is resolved by cdktf into whatever that token holds): free text reaches Terraform
 * strings unescaped, so none may hold them.
 */
export const TEMPLATE_MARKER = /[$%]\{|TfToken\[/;

/** A free-text string that reaches a Terraform string as written: bounded, one line, no template or token. */
function freeText(what: string, typeError: string) {
  return z
    .string({ error: typeError })
    .max(MAX_TEXT_LENGTH, { error: `is longer than ${MAX_TEXT_LENGTH} characters; ${what} this long is a mistake (a pasted file?)` })
    .refine((v) => !FORBIDDEN_TEXT_CHARS.test(v), {
      error: (issue) =>
        `${showText(String(issue.input))} contains a control character (newline, tab, NUL, ...), a line separator or an invisible bidi/zero-width character; write ${what} on one line with visible characters only`,
    })
    .refine((v) => !TEMPLATE_MARKER.test(v), {
      error: (issue) =>
        `${showText(String(issue.input))} contains "\${", "%{" or "TfToken[": Terraform templates are not allowed in ${what} (Terraform would evaluate "\${...}", turn "$\${" into "\${", and cdktf would replace a token marker); write the literal value without them`,
    });
}

/** A value as it appears in a message: quoted, control and invisible characters escaped, long values cut. */
function showText(value: string): string {
  const cut = value.length > 120 ? `${value.slice(0, 117)}...` : value;
  return JSON.stringify(cut).replace(
    /[\u007f-\u009f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * A record (string keys) that refuses an own "__proto__" key (JSON.parse makes one): z.record drops it silently,
 * so the key would vanish without an error although no name pattern admits it.
 */
function ownRecord<K extends z.core.$ZodRecordKey, V extends z.core.SomeType>(key: K, value: V, what: string) {
  const record = z.record(key, value);
  return z.preprocess<unknown, typeof record, z.input<typeof record>>((raw, ctx) => {
    if (raw !== null && typeof raw === "object" && Object.hasOwn(raw, "__proto__"))
      ctx.addIssue({
        code: "custom",
        path: ["__proto__"],
        message: `is not ${what}; "__proto__" is never a valid name here: remove it`,
        input: raw,
      });
    return raw;
  }, record);
}

const envVars = ownRecord(
  z.string().regex(ENV_NAME, { error: "environment variable names must be UPPER_SNAKE_CASE, e.g. LOG_FORMAT" }),
  freeText("an environment variable value", "environment variable values must be strings; quote numbers and booleans"),
  "an environment variable name (UPPER_SNAKE_CASE)",
).superRefine((vars, ctx) => {
  for (const [name, value] of Object.entries(vars)) {
    if (isSecretEnvName(name)) {
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: "looks like a secret; never put secrets in config: declare it under secrets (delivered as a file) instead",
      });
    } else if (hasUrlCredentials(value)) {
      ctx.addIssue({
        code: "custom",
        path: [name],
        message:
          "contains credentials in a URL (scheme://<user or token>[:password]@...); never put credentials in config: declare the URL under secrets (delivered as a file) instead",
      });
    }
  }
});

const featureFlags = ownRecord(
  z.string().regex(/^[a-z][a-zA-Z0-9]*$/, { error: "feature flag names must be camelCase, e.g. newOnboarding" }),
  z.boolean({ error: "feature flags are true or false" }),
  "a feature flag name (camelCase)",
);

/**
 * A path inside a container, as the engine's bind spec (src:path:rw) takes it: absolute, segments of letters,
 * digits, . _ - only (no ":" or "," that would split the spec, no spaces), no "." or ".." segments, not "/" itself.
 */
export const CONTAINER_PATH = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._-]+)+$/;

/** How an app service's image is obtained: pulled from a registry, or built from local source (dev). */
const imageSource = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({ kind: z.literal("registry"), ref: imageRef }),
    z.strictObject({
      kind: z.literal("build"),
      /** Source directory, relative to the project root (the stack resolves it with Terraform's abspath); it must exist at synth. */
      context: z
        .string()
        .regex(SAFE_PATH, { error: "must name the service's source folder, e.g. ../updateio/api (letters, digits and . _ - + @ / only)" }),
      /** Relative to the context. */
      dockerfile: z
        .string()
        .regex(SAFE_PATH, { error: "must be the Dockerfile's path in the context, e.g. Dockerfile (letters, digits and . _ - + @ / only)" })
        .refine(isInsideContext, {
          error: (issue) =>
            `${showText(String(issue.input))} leaves the build context; write the Dockerfile's path relative to the context, without a leading "/" or ".." segments, e.g. Dockerfile or docker/dev.Dockerfile`,
        })
        .default("Dockerfile"),
      /**
       * The Dockerfile stage built (BuildKit). Service contract: the `dev` stage has every dependency and runs `npm run dev`; the runtime stage is the last.
       * @default "dev"
       */
      target: z.string().regex(BUILD_NAME, { error: 'must be a Dockerfile stage name such as "dev"' }).default(DEV_STAGE),
      /** Command that runs the service with hot reload, e.g. ["npm", "run", "dev"]. */
      devCommand: z
        .array(
          freeText("a command argument", 'must be a command argument string, e.g. "npm"').min(1, {
            error: 'must not be empty; write a command argument such as "npm"',
          }),
        )
        .min(1, { error: 'must be a non-empty command such as ["npm", "run", "dev"]' }),
      /** Path of the source inside the container, where the context is bind-mounted for hot reload. */
      mountPath: z
        .string({ error: "must be an absolute path inside the container, e.g. /app" })
        .max(MAX_TEXT_LENGTH, { error: `is longer than ${MAX_TEXT_LENGTH} characters; write a short absolute path such as /app` })
        .regex(CONTAINER_PATH, {
          error: (issue) =>
            `${showText(String(issue.input))} is refused; write an absolute path inside the container such as /app or /srv/api: segments of letters, digits, . _ - only (no ":", ",", spaces or control characters, no "." or ".." segments, not "/" itself)`,
        })
        .default("/app"),
    }),
  ],
  { error: 'must be { kind: "registry", ref } or { kind: "build", context, devCommand }' },
);

/** Replicas per service: one host's containers stop at CONTAINER_REPLICA_LIMIT; Swarm spreads them over nodes. */
export const CONTAINER_REPLICA_LIMIT = 20;
const SWARM_REPLICA_LIMIT = 100;

/** An app service's name: its container and DNS name on the internal networks, e.g. status-page. */
export const SERVICE_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
/** "prod-" and "test-": the longest environment prefix of a Swarm object name. */
const LONGEST_ENV_PREFIX = Math.max(...ENVIRONMENTS.map((e) => e.length + 1));
/**
 * The secret files a backing service's connection gives an app (PostgresCluster, RedisCache and RabbitBroker
 * connectionFor/addApp): the longest of them bounds the service name.
 */
export const CONNECTION_SECRET_NAMES = Object.values(CONNECTION_SECRETS).flat();
const LONGEST_CONNECTION_SECRET = CONNECTION_SECRET_NAMES.reduce((a, b) => (b.length > a.length ? b : a));
/**
 * On Swarm (test, prod) a service's secrets are objects named "<env>-<service>-<secret>-<12 hex>" in at most 64
 * characters (SWARM_OBJECT_BASE_MAX = 51 before the hash): 51 - 5 - 1 - 23 = 22 is the longest service name whose
 * every connection secret fits.
 */
export const SERVICE_NAME_MAX = SWARM_OBJECT_BASE_MAX - LONGEST_ENV_PREFIX - 1 - LONGEST_CONNECTION_SECRET.length;
const serviceName = z
  .string()
  .regex(SERVICE_NAME, { error: "must be lowercase words joined by dashes, e.g. status-page" })
  .max(SERVICE_NAME_MAX, {
    error: `must be at most ${SERVICE_NAME_MAX} characters: on Swarm each secret is named <env>-<service>-<secret>-<12 hex> in at most 64 characters, and with "prod-" and the longest connection secret (${LONGEST_CONNECTION_SECRET}) that leaves ${SERVICE_NAME_MAX} for the service name; shorten it`,
  });

/** Backing services an app may use; each brings the app its own user, secret files and network. */
export const BACKING_SERVICES = ["postgres", "redis", "rabbitmq"] as const;
export type BackingService = (typeof BACKING_SERVICES)[number];

/** An exchange or queue name on the broker, e.g. updateio.events. */
const brokerName = z.string().regex(/^[a-z][a-z0-9_.-]{0,100}$/, { error: "must be an exchange or queue name such as updateio.events" });

/** An app's metrics path: it lands in prometheus.yml, so an allow-list (no query, no spaces, no quotes). */
export const METRICS_PATH = /^(?=.{2,256}$)\/[a-z0-9_-]+(?:\/[a-z0-9_-]+)*$/;

/** A CSP frame-ancestors source: https:// and a host name (its labels as HOSTNAME's), optionally behind "*.". */
const FRAME_ORIGIN = new RegExp(`^https://(?:\\*\\.)?${HOSTNAME.source.slice(1)}`);

/** A public route on the edge to this service. */
const appRoute = z.strictObject({
  host: z.string().regex(HOSTNAME, { error: "must be a bare host name such as status.updateio.app (no scheme, no port)" }),
  /** Only this exact path on the host, e.g. /telegram/webhook (Caddy's path matcher: not the paths below it); the host's other paths go elsewhere. */
  path: z
    .string()
    .regex(/^\/[a-z0-9/_-]{1,255}$/, { error: "must be a URL path of at most 256 characters such as /telegram/webhook" })
    .optional(),
  /** Behind the edge's admin allow-list (admin surfaces). */
  adminOnly: z.boolean({ error: "must be true or false" }).default(false),
  /** Who may frame the page (CSP frame-ancestors); absent: nobody. */
  frameAncestors: z
    .array(z.string().regex(FRAME_ORIGIN, { error: "must be an https origin such as https://web.telegram.org or https://*.telegram.org" }))
    .optional(),
});

/** The secret's file name (under /run/secrets) and the *_FILE variable that points the service at it. */
const secretFile = (example: string) => ({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,62}$/, { error: `must be a file name in snake_case of at most 63 characters, e.g. ${example}` }),
  envVar: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]{0,58}_FILE$/, { error: "must be an UPPER_SNAKE_CASE name ending in _FILE, at most 64 characters" }),
});

/** A secret file the service reads through <envVar> (a *_FILE variable): generated here, or a Terraform variable. */
const appSecret = z.union(
  [
    z.strictObject({
      ...secretFile("session_secret"),
      /** Random letters and digits of this length, kept in state. */
      generate: z.strictObject({ length: z.int().min(24, { error: "must be at least 24" }).max(256, { error: "must be at most 256" }) }),
    }),
    z.strictObject({
      ...secretFile("discord_bot_token"),
      /** A sensitive Terraform variable (TF_VAR_<name> or a workspace variable) the operators set. */
      variable: z.strictObject({
        name: z
          .string()
          .regex(/^[a-z][a-z0-9_]{0,62}$/, { error: "must be a Terraform variable name in snake_case, at most 63 characters" }),
        description: z
          .string()
          .regex(/^[^\n"${}%\\]{1,200}$/, { error: "must be one line of plain text (no quotes, $, %, braces)" })
          .refine((v) => !FORBIDDEN_TEXT_CHARS.test(v), {
            error: (issue) =>
              `${showText(String(issue.input))} contains a control character (carriage return, tab, NUL, ...), a line separator or an invisible bidi/zero-width character; write the description as one line of plain text (no quotes, $, %, braces) with visible characters only`,
          }),
      }),
    }),
  ],
  { error: "must be { name, envVar, generate: { length } } or { name, envVar, variable: { name, description } }" },
);

/**
 * One app service: one entry of `services`, like Kamal's accessories. The stack loops over them:
 * image, size and replicas; what it uses (users, secrets and networks follow); its edge routes;
 * the services it calls; whether it reaches the internet; its own secrets.
 */
const appService = z.strictObject({
  image: imageSource,
  replicas: z
    .int({ error: "must be a whole number" })
    .min(1, { error: "must be at least 1; remove the service from the environment instead" })
    .max(SWARM_REPLICA_LIMIT, { error: `must be at most ${SWARM_REPLICA_LIMIT}; split the service instead` }),
  memoryMb,
  cpuShares,
  /** Port the service listens on inside the container (HTTP and the /health endpoint). */
  port,
  env: envVars.default({}),
  features: featureFlags.default({}),
  /** Ports published on 127.0.0.1 for debugging (dev only), e.g. the Node inspector. */
  debugPorts: z.array(port).default([]),
  uses: z.array(z.enum(BACKING_SERVICES, { error: `must be one of ${BACKING_SERVICES.join(", ")}` })).default([]),
  routes: z.array(appRoute).default([]),
  /** Services it calls over a network of their own (it gets <NAME>_INTERNAL_URL), e.g. ["api"]. */
  calls: z.array(serviceName).default([]),
  /**
   * How the services that call this one reach it. "per-caller": a network for each caller and this
   * service alone, so callers cannot reach each other. "shared": one `<name>-callers` network that
   * this service joins whether or not anything calls it yet and that every caller joins, so a new
   * caller leaves this service as it is (on Swarm, joining a network replaces a service: provider
   * 3.6.2 treats networks_advanced as ForceNew, and every task stops), at the cost of its callers
   * reaching each other on that network. Switching replaces it and its callers once.
   */
  inbound: z.enum(["per-caller", "shared"], { error: 'must be "per-caller" or "shared"' }).default("per-caller"),
  /** Reaches the internet (e.g. the Discord gateway, the Telegram Bot API). */
  egress: z.boolean({ error: "must be true or false" }).default(false),
  secrets: z.array(appSecret).default([]),
  /** What it publishes to (exchanges) and consumes from (queues) on the broker, when it uses rabbitmq; its user may do nothing else. */
  messaging: z
    .strictObject({
      publishes: z.array(brokerName).default([]),
      consumes: z.array(brokerName).default([]),
    })
    .default({ publishes: [], consumes: [] }),
  /** One instance at a time (stop-first updates, one replica): a Discord gateway session, a Telegram getUpdates consumer. */
  exclusive: z.boolean({ error: "must be true or false" }).default(false),
  /** Prometheus scrapes this path on the service's port (every replica; profile full); absent: not scraped. */
  metrics: z
    .strictObject({
      path: z
        .string()
        .regex(METRICS_PATH, { error: "must be a URL path of at most 256 lowercase letters, digits, /, _ and -, such as /metrics" })
        .default("/metrics"),
    })
    .optional(),
});

const dataService = z.strictObject({
  image: imageRef,
  memoryMb,
  cpuShares,
});

/** Replicas of a data store (Postgres standbys, Redis replicas); they share the one host with it. */
const storeReplicas = z
  .int({ error: "must be a whole number" })
  .min(0, { error: "must be 0 or more" })
  .max(3, { error: "must be at most 3 on one host" })
  .default(0);

const days = (max: number, example: string) =>
  z
    .int({ error: "must be a whole number of days" })
    .min(1, { error: `must be at least 1 day, e.g. ${example}` })
    .max(max, { error: `must be at most ${max} days` });

/** Off-host copy of the backups volume to S3-compatible storage (rclone); keys are Terraform variables. */
const offsite = z.strictObject({
  endpoint: z.string().regex(VARIABLE_PATTERNS.ENDPOINT_URL, {
    error: "must be the S3 endpoint URL with no path, e.g. https://s3.eu-central-1.amazonaws.com",
  }),
  bucket: z.string().regex(OFFSITE_PATTERNS.bucket, {
    error:
      "must be an existing S3 bucket name (3-63 lowercase letters, digits and dashes in dot-separated labels that start and end with a letter or digit; not an IP address, no xn-- prefix)",
  }),
  prefix: z
    .string()
    .regex(OFFSITE_PATTERNS.prefix, {
      error: (issue) =>
        `${showText(String(issue.input))} is refused; write path segments of letters, digits and . _ - without a leading or trailing slash and without "." or ".." segments (the S3 client resolves them: test/../prod/postgres writes into prod/postgres), e.g. prod/postgres`,
    })
    .optional(),
  region: z.string().regex(OFFSITE_PATTERNS.region, { error: "must be a region name such as eu-central-1" }).optional(),
  provider: z
    .string()
    .regex(OFFSITE_PATTERNS.provider, { error: "must be an rclone s3 provider name such as AWS, Minio, Cloudflare or Other" })
    .optional(),
  image: imageRef,
  intervalSeconds: z
    .int({ error: "must be a whole number of seconds" })
    .min(60, { error: "must be at least 60" })
    .max(86400, { error: "must be at most 86400 (a day)" })
    .default(900),
});

const WAL_ARCHIVE =
  "the WAL archive that point-in-time recovery and the off-host copy rely on: walArchiveSettings in constructs/postgres/renderers/backup-scripts.ts, wired in environments/data-tier.ts; change it there";
const RECOVERY =
  "point-in-time restores write it (constructs/postgres/renderers/backup-scripts.ts, docs/runbooks); it never belongs in the running server's settings";
/**
 * Server settings the platform sets itself (constructs/postgres), refused in postgres.settings with where they
 * come from. archive_command and restore_command run through sh; the others wire archiving, replication and
 * client authentication. (config_file, hba_file's directory, port, listen_addresses, primary_conninfo, ... are
 * refused by postgresSettingsProblems as PostgresCluster's own.)
 */
const PLATFORM_POSTGRES_SETTINGS: ReadonlyMap<string, string> = new Map([
  ["archive_command", WAL_ARCHIVE],
  ["archive_mode", WAL_ARCHIVE],
  ["archive_timeout", WAL_ARCHIVE],
  ["archive_library", WAL_ARCHIVE],
  ["wal_level", `replication and ${WAL_ARCHIVE}`],
  ["restore_command", RECOVERY],
  ["archive_cleanup_command", RECOVERY],
  ["recovery_end_command", RECOVERY],
  [
    "hba_file",
    "PostgresCluster renders pg_hba.conf from the roles and networks (constructs/postgres/renderers/postgres-hba.ts); change the roles or networks instead",
  ],
  [
    "password_encryption",
    "scram-sha-256, by postgresSettings in constructs/postgres/renderers/postgres.ts; the roles' passwords depend on it",
  ],
]);

/**
 * The longest database name: PostgresCluster's roles are <database>_<purpose> in at most 41
 * characters, and the longest, the restore drill's <database>_restore_drill, leaves 27.
 */
export const DATABASE_NAME_MAX = 41 - "_restore_drill".length;
/** Words pg_hba.conf reads as keywords in its DATABASE column, never as a database's name. */
const HBA_DATABASE_KEYWORDS = ["all", "sameuser", "samerole", "samegroup", "replication"];
/** Databases every new cluster already has: the init script's CREATE DATABASE would fail on first boot. */
const BUILT_IN_DATABASES = ["postgres", "template0", "template1"];
/**
 * PostgreSQL's reserved key words (reserved, and reserved but usable as a function or type name;
 * PostgreSQL manual, Appendix C): none may name a database unquoted, as the init and grant SQL does.
 */
const SQL_RESERVED_WORDS = new Set(
  (
    "all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate collation column " +
    "concurrently constraint create cross current_catalog current_date current_role current_schema current_time current_timestamp " +
    "current_user default deferrable desc distinct do else end except false fetch for foreign freeze from full grant group having " +
    "ilike in initially inner intersect into is isnull join lateral leading left like limit localtime localtimestamp natural not " +
    "notnull null offset on only or order outer overlaps placing primary references returning right select session_user similar " +
    "some symmetric system_user table tablesample then to trailing true union unique user using variadic verbose when where window with"
  ).split(" "),
);

/** Why `name` (a lowercase SQL identifier) cannot be the application database's name, or undefined. */
function databaseNameProblem(name: string): string | undefined {
  if (name.length > DATABASE_NAME_MAX)
    return `"${name}" is longer than ${DATABASE_NAME_MAX} characters: the roles are named <database>_<purpose> in at most 41 characters, the longest being <database>_restore_drill; shorten it`;
  if (HBA_DATABASE_KEYWORDS.includes(name))
    return `"${name}" is a keyword of pg_hba.conf (${HBA_DATABASE_KEYWORDS.join(", ")}), which would admit the app's roles to every database (or to replication) instead of this one; pick another name, e.g. updateio`;
  if (BUILT_IN_DATABASES.includes(name))
    return `"${name}" already exists in every new cluster (${BUILT_IN_DATABASES.join(", ")}), so creating it fails on first boot; pick another name, e.g. updateio`;
  if (name === "pgbouncer")
    return '"pgbouncer" is PgBouncer\'s admin console: clients asking for it reach the console, not the database; pick another name, e.g. updateio';
  if (name === "pg" || name.startsWith("pg_"))
    return `"${name}" makes role names starting with "pg_" (${name}_owner, ${name}_app, ...), which PostgreSQL reserves; pick another name, e.g. updateio`;
  if (SQL_RESERVED_WORDS.has(name))
    return `"${name}" is a reserved SQL key word, and the init and grant statements name the database unquoted; pick another name, e.g. updateio`;
  return undefined;
}

const postgres = dataService.extend({
  /** Streaming replicas (read-only alias postgres-ro). */
  replicas: storeReplicas,
  /** PgBouncer in front of the primary (transaction pooling) for the services; migrations stay direct. */
  pooler: z.boolean({ error: "must be true or false" }).default(false),
  poolerImage: imageRef.optional(),
  poolSize: z
    .int({ error: "must be a whole number" })
    .min(1, { error: "must be at least 1" })
    .max(500, { error: "must be at most 500" })
    .default(20),
  database: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, { error: "must be a lowercase SQL identifier, e.g. updateio" })
    .superRefine((name, ctx) => {
      const problem = databaseNameProblem(name);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem, input: name });
    }),
  /** Dev only: a 127.0.0.1 port forwarded to the primary (not PgBouncer: migrations need sessions), for `prisma migrate dev` / `prisma studio`. */
  hostPort: port.optional(),
  /** Dev only: the schema owner gets CREATEDB, so `prisma migrate dev` can create and drop its shadow database. */
  ownerCreatedb: z.boolean({ error: "must be true or false" }).default(false),
  /** Off-host copy of dumps, base backups and WAL (absent: backups stay on this host). */
  offsite: offsite.optional(),
  /**
   * Extra server settings by name (constructs/postgres/renderers/postgres-settings.ts lists the accepted
   * ones). Reloadable ones are applied in place; restart-only ones replace the Postgres containers.
   */
  settings: ownRecord(
    z.string().regex(/^[a-z_.]+$/, { error: "setting names are lowercase, e.g. log_min_duration_statement" }),
    z.union([z.string(), z.number(), z.boolean()]),
    "a PostgreSQL setting name",
  )
    .superRefine((settings, ctx) => {
      const own: Record<string, string | number | boolean> = {};
      for (const [name, value] of Object.entries(settings)) {
        const setBy = PLATFORM_POSTGRES_SETTINGS.get(name);
        if (setBy !== undefined)
          ctx.addIssue({
            code: "custom",
            path: [name],
            message: `is set by the platform (${setBy}); remove it from postgres.settings: a value here would replace the platform's`,
          });
        else own[name] = value;
      }
      for (const line of postgresSettingsProblems(own, "")) {
        const colon = line.indexOf(": ");
        ctx.addIssue({ code: "custom", path: [line.slice(0, colon)], message: line.slice(colon + 2) });
      }
    })
    .default({}),
});

const redis = dataService.extend({
  /** Replicas following the master (prod: 1, with Sentinels for failover). */
  replicas: storeReplicas,
  /** Sentinels watching the master: 0 (none) or an odd number ≥ 3 so a majority can decide. */
  sentinels: z
    .int({ error: "must be a whole number" })
    .refine((n) => n === 0 || (n >= 3 && n % 2 === 1 && n <= 7), { error: "must be 0, 3, 5 or 7: Sentinels need an odd majority" })
    .default(0),
});

const rabbitmq = dataService.extend({
  /** Broker nodes: 1, or 3 for a cluster whose quorum queues survive losing one node. */
  clusterSize: z
    .union([z.literal(1), z.literal(3)], { error: "must be 1 or 3 (quorum queues need an odd number of nodes; 3 tolerates one loss)" })
    .default(1),
  vhost: z.string().regex(/^[a-z0-9_-]{1,63}$/, { error: "must be a simple name of at most 63 characters such as updateio-prod" }),
});

/** How much observability an environment runs (environments/observability.ts builds from it). */
export const OBSERVABILITY_PROFILES = ["off", "logs", "full"] as const;
export type ObservabilityProfile = (typeof OBSERVABILITY_PROFILES)[number];

const observability = z.strictObject({
  /**
   * full: logs, metrics, dashboards and alerting; logs: Loki, the shipper (and its socket proxy) and
   * a Grafana that reads them, no Prometheus, exporters or alerting; off: none of it (containers
   * still rotate their json-file logs). Test and prod must be full.
   */
  profile: z
    .enum(OBSERVABILITY_PROFILES, {
      error: 'must be "off", "logs" (Loki + shipper + Grafana) or "full" (adds Prometheus, exporters, alerting)',
    })
    .default("full"),
  loki: z.strictObject({ image: imageRef, memoryMb, retentionDays: days(3650, "3 in dev, 30 in prod") }),
  /** Alloy is the default; Promtail is end-of-life upstream and kept for teams that run it. */
  shipper: z.strictObject({
    kind: z.enum(["alloy", "promtail"], { error: 'must be "alloy" (default) or "promtail"' }).default("alloy"),
    image: imageRef,
    memoryMb,
  }),
  socketProxyImage: imageRef,
  prometheus: z.strictObject({ image: imageRef, memoryMb, retentionDays: days(3650, "7 in dev, 30 in prod") }),
  grafana: z.strictObject({
    image: imageRef,
    memoryMb,
    /** edge: https://<hosts.grafana> behind the admin allow-list; localhost: http://127.0.0.1:<localPort> only. */
    expose: z
      .enum(["edge", "localhost"], { error: 'must be "edge" (behind the admin allow-list) or "localhost" (127.0.0.1 only)' })
      .default("edge"),
    localPort: port.default(3000),
  }),
  exporters: z.strictObject({ postgresImage: imageRef, redisImage: imageRef, cadvisorImage: imageRef, nodeImage: imageRef }),
  /** Where Grafana sends alerts; the bot token and webhook URL are sensitive Terraform variables. */
  alerting: z
    .strictObject({
      telegramChatId: z
        .string()
        .regex(/^-?[0-9]{1,20}$|^@[A-Za-z0-9_]{5,32}$/, { error: "must be a Telegram chat id such as -1001234567890 or @channelname" })
        .optional(),
      discord: z.boolean({ error: "must be true or false" }).default(false),
    })
    .default({ discord: false }),
});

/**
 * One store's scheduled backup (constructs/kit/scheduled-backup.ts). Schedule and retention default
 * to the store's own (RedisBackup: hourly, 48 kept; RabbitBackup: 6-hourly, 28; GrafanaBackup and
 * EdgeBackup: daily, 14). The off-host copy follows postgres.offsite: same bucket and keys, the
 * store's own prefix <env>/<store>.
 */
const storeBackupFields = {
  enabled: z.boolean({ error: "must be true or false" }),
  /** Minutes between runs, 15 to 10080; up to a day it must divide one (15, 30, 60, 120, 360, 720, 1440). */
  everyMinutes: z
    .int({ error: "must be a whole number of minutes" })
    .min(15, { error: "must be at least 15" })
    .max(10080, { error: "must be at most 10080 (a week)" })
    .refine((m) => m > 1440 || 1440 % m === 0, {
      error: "must divide a day so runs fall on the same clock times (15, 30, 60, 120, 180, 240, 360, 720 or 1440)",
    })
    .optional(),
  /** Offset of the runs from UTC midnight, "HH:MM", below everyMinutes. */
  at: z
    .string()
    .regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, { error: 'must be "HH:MM" (24 h, UTC), e.g. "03:15"' })
    .optional(),
  /** Snapshots kept (the newest). */
  keep: z
    .int({ error: "must be a whole number of snapshots" })
    .min(1, { error: "must be at least 1" })
    .max(1000, { error: "must be at most 1000" })
    .optional(),
};
const storeBackup = z.strictObject(storeBackupFields);

const backups = z.strictObject({
  /** RDB snapshots of the "state" instance through a sync-only ACL user. */
  redis: storeBackup,
  /** Definitions exports (vhost, users, permissions, queues, policies); messages are not backed up. */
  rabbitmq: storeBackup,
  /** Grafana's SQLite database; `image` runs the job (python, pinned: Grafana's image has no sqlite3). */
  grafana: z.strictObject({ ...storeBackupFields, image: imageRef }),
  /** Caddy's data (ACME account, certificates, internal CA), with the edge's own image. */
  edge: storeBackup,
});

/** Optional WireGuard gateway: operators reach the admin surfaces through it instead of the internet. */
const vpn = z.strictObject({
  enabled: z.boolean({ error: "must be true or false" }),
  image: imageRef,
  /** generated: the container makes its key on first start (read the public key with `docker exec <env>-vpn wg show wg0 public-key`); supplied: TF_VAR_vpn_private_key. */
  keyMode: z.enum(["generated", "supplied"], { error: 'must be "generated" or "supplied" (TF_VAR_vpn_private_key)' }).default("generated"),
  subnet: cidr.default(WIREGUARD_DEFAULTS.subnet),
  listenPort: port.default(51820),
  /** Public host name of the Docker host, written into the client templates. */
  endpoint: z.string().regex(HOSTNAME, { error: "must be the Docker host's public name, e.g. vpn.updateio.app" }).optional(),
  peers: z
    .array(
      z.strictObject({
        name: z.string().regex(PEER_NAME, { error: "must be lowercase letters, digits and dashes, e.g. alice-laptop" }),
        publicKey: z
          .string()
          .regex(WG_KEY, { error: "must be a WireGuard public key (44 base64 characters ending in =, from `wg pubkey`)" }),
        allowedIps: z
          .string()
          .regex(/^\d{1,3}(\.\d{1,3}){3}\/32$/, { error: "must be the device's one VPN address as a /32, e.g. 10.13.13.2/32" }),
      }),
    )
    .default([]),
});

const edge = z.strictObject({
  image: imageRef,
  memoryMb,
  cpuShares,
  /** Host address the published ports bind to: 127.0.0.1 on a laptop or shared test host, 0.0.0.0 in prod. */
  bindAddress: z.enum(["127.0.0.1", "0.0.0.0"], { error: 'must be "127.0.0.1" or "0.0.0.0"' }),
  httpPort: port,
  httpsPort: port,
  tls: z.discriminatedUnion(
    "mode",
    [
      z.strictObject({ mode: z.literal("internal") }),
      z.strictObject({
        mode: z.literal("acme"),
        // Both end up in the Caddyfile: allow-lists, so no value can add a token or a directive.
        email: z
          .string({ error: "must be an email address for the ACME account, e.g. ops@updateio.app" })
          .regex(VARIABLE_PATTERNS.EMAIL, { error: "must be an email address for the ACME account, e.g. ops@updateio.app" })
          // The CA checks the contact as an RFC 5322 address (Let's Encrypt: invalidContact), which refuses these dots.
          .refine((email) => !/^\.|\.\.|\.@/.test(email), {
            error: (issue) =>
              `${showText(String(issue.input))} starts or ends its part before the @ with a dot, or has two dots in a row: the ACME CA refuses such a contact, so Caddy would get no certificate; write it like ops@updateio.app`,
          }),
        caUrl: z
          .string()
          .regex(VARIABLE_PATTERNS.HTTPS_URL, {
            error: "must be the https ACME directory URL, e.g. https://acme-staging-v02.api.letsencrypt.org/directory",
          })
          .optional(),
      }),
    ],
    { error: 'must be { mode: "internal" } or { mode: "acme", email }' },
  ),
  /** Client networks allowed on admin surfaces (admin panel, later Grafana). Empty = nobody. */
  adminAllowList: z.array(cidr).default([]),
  /**
   * How the edge reaches the routed app services. "per-service": an `edge-<name>` network for each,
   * shared by the edge and that service alone, so routed services cannot reach each other. "shared":
   * one `edge-apps` network that the edge joins whether or not a service is routed yet and that every
   * routed app service joins, so a new routed service leaves the edge container as it is (a container
   * joins a network only by being replaced), at the cost of routed services reaching each other there.
   * Grafana and the VPN keep their own networks. Switching replaces the edge and the routed services once.
   */
  appNetwork: z.enum(["per-service", "shared"], { error: 'must be "per-service" or "shared"' }).default("per-service"),
});

const hosts = z.strictObject({
  api: z.string().regex(HOSTNAME, { error: "must be a bare host name such as api.updateio.app (no scheme, no port)" }),
  admin: z.string().regex(HOSTNAME, { error: "must be a bare host name such as admin.updateio.app (no scheme, no port)" }),
  miniApp: z.string().regex(HOSTNAME, { error: "must be a bare host name such as app.updateio.app (no scheme, no port)" }),
  /** Grafana, behind the admin allow-list (when observability.grafana.expose is "edge"). */
  grafana: z.string().regex(HOSTNAME, { error: "must be a bare host name such as grafana.updateio.app (no scheme, no port)" }),
});

/** One volume's size budget in MiB; a missing one says which key to add and where. */
const budgetMb = (key: VolumeBudgetKey) =>
  z
    .int({
      error: (issue) =>
        issue.input === undefined
          ? `is missing: every stateful volume needs a size budget; add budgets.${key}: <MiB> (${VOLUME_BUDGET_HELP[key]}) to environments/<env>.ts`
          : `must be a whole number of MiB (${VOLUME_BUDGET_HELP[key]}), e.g. 1024`,
    })
    .min(MIN_VOLUME_BUDGET_MB, { error: `must be at least ${MIN_VOLUME_BUDGET_MB} (MiB)` })
    .max(16 * 1024 * 1024, { error: "must be at most 16777216 (MiB, 16 TiB)" });

/**
 * Size budget of every stateful volume, MiB (see constructs/observability/volume-budgets.ts): what
 * the host's disk is sized from. Prometheus and Loki are held to theirs; the others are measured
 * and alerted on at 80% and 90% (Docker cannot cap a volume).
 */
const budgets = z.strictObject(
  Object.fromEntries(VOLUME_BUDGET_KEYS.map((key) => [key, budgetMb(key)])) as Record<VolumeBudgetKey, ReturnType<typeof budgetMb>>,
  {
    error: (issue) =>
      issue.input === undefined
        ? `is missing: give every stateful volume a size budget in MiB, e.g. budgets: { ${VOLUME_BUDGET_KEYS.map((k) => `${k}: ...`).join(", ")} }`
        : undefined,
  },
);

const DOCKER_HOST = [VARIABLE_PATTERNS.DOCKER_UNIX, VARIABLE_PATTERNS.DOCKER_SSH, VARIABLE_PATTERNS.DOCKER_TCP];

const swarmOnly = z.undefined({ error: 'applies to the swarm runtime only; remove it, or set runtime.kind to "swarm"' }).optional();

/**
 * Where the app services run: plain containers on one Docker host (dev: bind mounts, hot reload,
 * debug ports), or Docker Swarm services (test, prod: rolling updates with automatic rollback,
 * more than one node). Stateful services, the edge and jobs are plain containers either way.
 */
const runtime = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({
      kind: z.literal("containers"),
      /**
       * A private IPv4 range; each network gets a /24 of it instead of a subnet from Docker's
       * default address pools (31 networks for the whole machine, which dev alone nearly fills).
       */
      networkPool: z
        .string()
        .refine((pool) => networkPoolProblem(pool) === undefined, { error: (issue) => networkPoolProblem(String(issue.input)) })
        .optional(),
      encryptNetworks: swarmOnly,
      placementConstraints: swarmOnly,
      updateDelaySeconds: swarmOnly,
    }),
    z.strictObject({
      kind: z.literal("swarm"),
      networkPool: z
        .undefined({
          error:
            "applies to the containers runtime only (overlays take subnets from the swarm's own pool, docker swarm init --default-addr-pool); remove it",
        })
        .optional(),
      /** IPsec-encrypt the overlay networks that carry data or credentials between nodes (prod). */
      encryptNetworks: z.boolean({ error: "must be true or false" }).default(false),
      /** Constraints for every app service, e.g. ["node.labels.updateio.apps==true"]; label the nodes first. */
      placementConstraints: z
        .array(
          z.string().regex(PLACEMENT_CONSTRAINT, {
            error: (issue) =>
              `"${String(issue.input)}" is not a placement constraint such as node.labels.updateio.apps==true or node.role==worker`,
          }),
        )
        .default([]),
      /** Pause between two tasks of a rolling update. */
      updateDelaySeconds: z
        .int({ error: "must be a whole number of seconds" })
        .min(0, { error: "must be 0 or more" })
        .max(600, { error: "must be at most 600" })
        .default(5),
    }),
  ],
  { error: 'must be { kind: "containers" } or { kind: "swarm" }' },
);

const state = z.discriminatedUnion(
  "backend",
  [
    z.strictObject({
      backend: z.literal("local"),
      /** State file path relative to the project root; keep it out of cdktf.out and git. */
      path: z
        .string()
        .regex(/^[A-Za-z0-9._/-]+\.tfstate$/, { error: "must be a relative path ending in .tfstate, e.g. state/dev.tfstate" })
        .refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), { error: "must stay inside the project (relative, no ..)" })
        .refine((p) => !posix.normalize(p).startsWith("cdktf.out/"), {
          error: "must not live in cdktf.out, which people delete; use state/<env>.tfstate",
        }),
    }),
    z.strictObject({
      backend: z.literal("cloud"),
      hostname: z.string().regex(HOSTNAME, { error: "must be a host name such as app.terraform.io" }),
      organization: z
        .string()
        .regex(/^[A-Za-z0-9_-]+$/, { error: "must be a Terraform Cloud organization name (letters, digits, - and _)" }),
      workspace: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,90}$/, { error: "must be a Terraform Cloud workspace name (letters, digits, - and _)" }),
    }),
  ],
  { error: 'must be { backend: "local", path } or { backend: "cloud", organization, workspace, hostname }' },
);

export const environmentConfigSchema = z
  .strictObject({
    name: z.enum(ENVIRONMENTS, { error: `must be ${ENVIRONMENTS.slice(0, -1).join(", ")} or ${ENVIRONMENTS.at(-1)}` }),
    /** Docker daemon the provider talks to, e.g. unix:///var/run/docker.sock or ssh://deploy@host. */
    dockerHost: z.string().refine((h) => DOCKER_HOST.some((p) => p.test(h)), {
      error: "must be a Docker host URL: unix:///var/run/docker.sock, ssh://user@host[:port] or tcp://host:port",
    }),
    state,
    /** The private registry the app images come from; its credentials are the sensitive variables registry_username/registry_password. */
    registry: z
      .strictObject({
        host: z
          .string()
          .regex(VARIABLE_PATTERNS.REGISTRY_HOST, { error: "must be a registry host such as ghcr.io or registry.example.com:5000" }),
      })
      .optional(),
    runtime,
    /** Every image must carry a digest (prod). */
    requireDigests: z.boolean(),
    /** Named data volumes get lifecycle.prevent_destroy. */
    protectData: z.boolean(),
    debug: z.boolean(),
    /** Dev: the socat image of the forwarders that publish debug ports and postgres.hostPort on 127.0.0.1. */
    portForwardImage: imageRef.optional(),
    logLevel: z.enum(["trace", "debug", "info", "warn", "error"], { error: "must be one of trace, debug, info, warn, error" }),
    hosts,
    edge,
    postgres,
    redis,
    rabbitmq,
    observability,
    budgets,
    backups,
    vpn,
    migrations: z.strictObject({
      /** The service whose image runs the migrations; it starts after they succeed. */
      service: serviceName.default("api"),
      /** Command run once per API image before the API starts. */
      command: z
        .array(
          freeText("a command argument", 'must be a command argument string, e.g. "npx"').min(1, {
            error: 'must not be empty; write a command argument such as "npx"',
          }),
        )
        .min(1, { error: 'must be a command such as ["npx", "prisma", "migrate", "deploy"]' }),
      memoryMb,
      /**
       * Where the migrations live, relative to the migration service's build context (images built
       * from source): their content is hashed at synth, so a changed migration re-runs the job.
       * @default ["prisma/migrations"]
       */
      paths: z
        .array(
          z.string().regex(/^(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9_][A-Za-z0-9_.\/-]{0,199}$/, {
            error: 'must be a path inside the build context (letters, digits, _ . / -, no ".."), e.g. "prisma/migrations"',
          }),
        )
        .default(["prisma/migrations"]),
      /**
       * Pre-migration dumps kept: a pg_dump right before each release's migrations, into the Postgres
       * backups volume (pre-migration/<digest>.dump); 0 turns it off. Needs released images (digests).
       * @default 0 in dev, 3 in test and prod
       */
      preMigrationDumps: z.number().int().min(0).max(50).optional(),
    }),
    /** The app services by name; the stack builds each from its entry. */
    services: ownRecord(serviceName, appService, "a service name")
      .refine((s) => Object.keys(s).length > 0, { error: "must list at least one service" })
      .superRefine((services, ctx) => {
        // The service's own secrets are Swarm objects too: <env>-<service>-<secret>-<12 hex>, at most 64 characters.
        for (const [svc, cfg] of Object.entries(services))
          (Array.isArray(cfg?.secrets) ? cfg.secrets : []).forEach((secret, i) => {
            if (typeof secret?.name !== "string") return;
            const length = LONGEST_ENV_PREFIX + svc.length + 1 + secret.name.length;
            if (length > SWARM_OBJECT_BASE_MAX)
              ctx.addIssue({
                code: "custom",
                path: [svc, "secrets", i, "name"],
                message: `"${secret.name}" is too long for this service: on Swarm the secret is named <env>-${svc}-${secret.name}-<12 hex>, over 64 characters; keep the service and secret names together at most ${SWARM_OBJECT_BASE_MAX - LONGEST_ENV_PREFIX - 1} characters`,
              });
          });
      }),
  })
  // Cross-field rules run even when some fields are invalid (when: always), so every problem is
  // reported in one pass; they therefore read the input defensively.
  .superRefine(
    (cfg, ctx) => {
      for (const [path, message] of crossFieldProblems(cfg as unknown)) ctx.addIssue({ code: "custom", path, message });
    },
    { when: () => true },
  );

type Problem = [(string | number)[], string];

/** Rules that relate several fields. Tolerates partial or mistyped input (it may not have parsed). */
export function crossFieldProblems(input: unknown): Problem[] {
  const problems: Problem[] = [];
  const issue = (path: (string | number)[], message: string) => problems.push([path, message]);
  const cfg = obj(input);
  const services = obj(cfg.services);
  const edgeCfg = obj(cfg.edge);
  const name = cfg.name;

  if (name === "prod" && cfg.requireDigests !== true)
    issue(["requireDigests"], "must be true in prod: only a digest really pins what runs");
  if (cfg.requireDigests === true) {
    const refs: Problem[] = [];
    for (const key of ["edge", "postgres", "redis", "rabbitmq"]) {
      const ref = obj(cfg[key]).image;
      if (typeof ref === "string") refs.push([[key, "image"], ref]);
    }
    const pg = obj(cfg.postgres);
    const off = obj(pg.offsite);
    if (typeof off.image === "string") refs.push([["postgres", "offsite", "image"], off.image]);
    const o11y = obj(cfg.observability);
    for (const [key, field] of [
      ["loki", "image"],
      ["shipper", "image"],
      ["prometheus", "image"],
      ["grafana", "image"],
      ["exporters", "postgresImage"],
      ["exporters", "redisImage"],
      ["exporters", "cadvisorImage"],
      ["exporters", "nodeImage"],
    ] as const) {
      const ref = obj(o11y[key])[field];
      if (typeof ref === "string") refs.push([["observability", key, field], ref]);
    }
    if (typeof o11y.socketProxyImage === "string") refs.push([["observability", "socketProxyImage"], o11y.socketProxyImage]);
    const vpnCfg = obj(cfg.vpn);
    if (vpnCfg.enabled === true && typeof vpnCfg.image === "string") refs.push([["vpn", "image"], vpnCfg.image]);
    const grafanaBackup = obj(obj(cfg.backups).grafana);
    if (grafanaBackup.enabled === true && typeof grafanaBackup.image === "string")
      refs.push([["backups", "grafana", "image"], grafanaBackup.image]);
    if (pg.pooler === true) {
      if (typeof pg.poolerImage === "string") refs.push([["postgres", "poolerImage"], pg.poolerImage]);
      else
        issue(
          ["postgres", "poolerImage"],
          "is required when postgres.pooler is on in an environment that requires digests: set name:tag@sha256:<digest>",
        );
    }
    for (const [svcName, svc] of Object.entries(services)) {
      const image = obj(obj(svc).image);
      if (image.kind === "build") {
        issue(
          ["services", svcName, "image"],
          'is built from local source, which this environment forbids (requireDigests); use { kind: "registry", ref: "name:tag@sha256:..." }',
        );
      } else if (typeof image.ref === "string") {
        refs.push([["services", svcName, "image", "ref"], image.ref]);
      }
    }
    for (const [path, ref] of refs) {
      if (IMAGE_REF.test(ref) && !isPinnedByDigest(ref))
        issue(path, `"${ref}" has no digest; this environment requires images pinned as name:tag@sha256:<64 hex>`);
    }
  }
  const redisCfg = obj(cfg.redis);
  if (
    typeof redisCfg.sentinels === "number" &&
    redisCfg.sentinels > 0 &&
    !(typeof redisCfg.replicas === "number" && redisCfg.replicas >= 1)
  ) {
    issue(["redis", "replicas"], "must be at least 1 when redis.sentinels is set: Sentinels need a replica to promote");
  }
  // Synchronous replication waits on standbys this cluster has: a name none of them carries (or more
  // than it runs) makes every commit wait forever, and the primary looks healthy meanwhile.
  const pgCfg = obj(cfg.postgres);
  const sync = obj(pgCfg.settings).synchronous_standby_names;
  const parsed = typeof sync === "string" ? parseSynchronousStandbyNames(sync.trim()) : undefined;
  if (parsed && !("problem" in parsed) && parsed.count > 0) {
    const replicas = typeof pgCfg.replicas === "number" ? pgCfg.replicas : 0;
    const standbys = Array.from({ length: replicas }, (_, i) => postgresStandbyName(i + 1));
    const named = parsed.names.includes("*") ? standbys : standbys.filter((s) => parsed.names.some((n) => n.toLowerCase() === s));
    if (named.length < parsed.count)
      issue(
        ["postgres", "settings", "synchronous_standby_names"],
        `"${sync}" waits for ${parsed.count} synchronous standby(s), ${
          replicas === 0
            ? "but this cluster has none (postgres.replicas is 0)"
            : `and ${named.length === 0 ? "none" : `only ${named.join(", ")}`} of this cluster's standbys (${standbys.join(", ")}) ${named.length === 1 ? "matches" : "match"}`
        }: every commit would wait forever; name them as ${postgresStandbyName(1)}, ..., or raise postgres.replicas`,
      );
  }
  const names = new Set(Object.keys(services));
  const routeOwners = new Map<string, string>();
  for (const [svcName, raw] of Object.entries(services)) {
    const svc = obj(raw);
    if (svc.exclusive === true && typeof svc.replicas === "number" && svc.replicas !== 1)
      issue(
        ["services", svcName, "replicas"],
        "must be 1 for an exclusive service (one instance at a time: a Discord gateway session, a Telegram getUpdates consumer); set exclusive to false if the service tolerates two instances, e.g. a Telegram bot in webhook mode",
      );
    const messaging = obj(svc.messaging);
    const usesBroker = Array.isArray(svc.uses) && svc.uses.includes("rabbitmq");
    if (
      !usesBroker &&
      ((Array.isArray(messaging.publishes) && messaging.publishes.length > 0) ||
        (Array.isArray(messaging.consumes) && messaging.consumes.length > 0))
    )
      issue(["services", svcName, "messaging"], 'has no effect unless uses includes "rabbitmq"; add it, or remove messaging');
    const calls = list(svc.calls);
    calls.forEach((callee, i) => {
      if (typeof callee !== "string") return;
      if (callee === svcName) issue(["services", svcName, "calls", i], "a service does not call itself over a network; remove it");
      else if (!names.has(callee))
        issue(["services", svcName, "calls", i], `"${callee}" is not a service of this environment; use one of ${[...names].join(", ")}`);
    });
    const routes = list(svc.routes);
    routes.forEach((r, i) => {
      const route = obj(r);
      if (typeof route.host !== "string") return;
      if (route.host === obj(cfg.hosts).grafana)
        issue(["services", svcName, "routes", i, "host"], `"${route.host}" is Grafana's host (hosts.grafana); pick another`);
      const key = `${route.host}${typeof route.path === "string" ? route.path : ""}`;
      const other = routeOwners.get(key);
      if (other !== undefined)
        issue(["services", svcName, "routes", i], `"${key}" is already routed to services.${other}; give each route its own host or path`);
      routeOwners.set(key, svcName);
    });
  }
  // `<svc>-metrics` is Prometheus' network to a service; a service named "metrics" would share it (`<callee>-<caller>`, `edge-<svc>`).
  if (names.has("metrics"))
    issue(["services", "metrics"], 'is a reserved name: "<service>-metrics" names the networks Prometheus scrapes on; rename the service');
  const migrationService = obj(cfg.migrations).service;
  if (typeof migrationService === "string" && !names.has(migrationService))
    issue(
      ["migrations", "service"],
      `"${migrationService}" is not a service of this environment; name the service whose image runs the migrations`,
    );
  if (typeof edgeCfg.httpPort === "number" && edgeCfg.httpPort === edgeCfg.httpsPort)
    issue(["edge", "httpsPort"], "must differ from edge.httpPort");
  const grafanaCfg = obj(obj(cfg.observability).grafana);
  if (grafanaCfg.expose === "localhost" && name === "prod")
    issue(
      ["observability", "grafana", "expose"],
      'must be "edge" in prod: operators reach Grafana through the edge\'s admin allow-list (or the VPN), not a port on the host',
    );
  if (
    grafanaCfg.expose === "localhost" &&
    typeof grafanaCfg.localPort === "number" &&
    (grafanaCfg.localPort === edgeCfg.httpPort || grafanaCfg.localPort === edgeCfg.httpsPort)
  ) {
    issue(["observability", "grafana", "localPort"], `port ${grafanaCfg.localPort} is the edge's; pick another host port`);
  }
  const o11yCfg = obj(cfg.observability);
  const profile = o11yCfg.profile ?? "full";
  if ((name === "test" || name === "prod") && profile !== "full")
    issue(
      ["observability", "profile"],
      `must be "full" in ${name}: its alerts, dashboards and volume budgets rely on Prometheus; lighter profiles are for dev (set "full", or remove the key)`,
    );
  if (profile === "off" && obj(obj(cfg.backups).grafana).enabled === true)
    issue(
      ["backups", "grafana", "enabled"],
      'has no Grafana to back up while observability.profile is "off"; set it to false, or pick profile "logs" or "full"',
    );
  const alerting = obj(o11yCfg.alerting);
  if (profile !== "full" && (alerting.telegramChatId !== undefined || alerting.discord === true))
    issue(
      ["observability", "alerting"],
      `has no effect while observability.profile is "${profile}": alerts are evaluated on Prometheus' metrics; set profile "full", or unset the alerting channels`,
    );
  if (name === "prod") {
    if (obj(edgeCfg.tls).mode !== "acme") issue(["edge", "tls", "mode"], 'must be "acme" in prod: browsers do not trust the internal CA');
    if (obj(cfg.state).backend !== "cloud")
      issue(["state", "backend"], 'must be "cloud" in prod: prod state holds secrets and lives in Terraform Cloud');
    if (cfg.debug !== false) issue(["debug"], "must be false in prod");
    if (cfg.protectData !== true) issue(["protectData"], "must be true in prod: destroying a data volume deletes the data");
  }
  if ((name === "dev" || name === "test") && edgeCfg.bindAddress !== undefined && edgeCfg.bindAddress !== "127.0.0.1") {
    issue(["edge", "bindAddress"], `must be "127.0.0.1" in ${name}: only prod publishes on all interfaces`);
  }
  const debugPortOwners = new Map<number, string>();
  for (const [svcName, raw] of Object.entries(services)) {
    const svc = obj(raw);
    const debugPorts = list(svc.debugPorts);
    if (debugPorts.length > 0 && name !== undefined && name !== "dev")
      issue(["services", svcName, "debugPorts"], "debug ports are for dev only; remove them");
    if (debugPorts.length > 0 && typeof svc.replicas === "number" && svc.replicas > 1)
      issue(
        ["services", svcName, "debugPorts"],
        `the forwarder reaches the service by name, so one of its ${svc.replicas} replicas at random: set replicas to 1 or remove debugPorts`,
      );
    for (const p of debugPorts) {
      if (typeof p !== "number") continue;
      if (p === svc.port)
        issue(["services", svcName, "debugPorts"], `must not include the service port ${p}; reach the service through the edge`);
      if (p === edgeCfg.httpPort || p === edgeCfg.httpsPort)
        issue(["services", svcName, "debugPorts"], `port ${p} is the edge's; pick another host port`);
      const other = debugPortOwners.get(p);
      if (other !== undefined)
        issue(["services", svcName, "debugPorts"], `port ${p} is already published by services.${other}; pick another`);
      debugPortOwners.set(p, svcName);
    }
  }
  if (name !== undefined && name !== "dev") {
    if (pgCfg.hostPort !== undefined)
      issue(["postgres", "hostPort"], "publishes the database on the host: dev only; reach it through the VPN or `docker exec` instead");
    if (pgCfg.ownerCreatedb === true)
      issue(
        ["postgres", "ownerCreatedb"],
        "lets the schema owner create databases: dev only (prisma migrate dev's shadow database); remove it",
      );
  }
  if (typeof pgCfg.hostPort === "number") {
    const p = pgCfg.hostPort;
    if (p === edgeCfg.httpPort || p === edgeCfg.httpsPort)
      issue(["postgres", "hostPort"], `port ${p} is the edge's; pick another host port`);
    const owner = debugPortOwners.get(p);
    if (owner !== undefined) issue(["postgres", "hostPort"], `port ${p} is already published by services.${owner}; pick another`);
  }
  if ((debugPortOwners.size > 0 || pgCfg.hostPort !== undefined) && cfg.portForwardImage === undefined)
    issue(
      ["portForwardImage"],
      "is required to publish debug ports or postgres.hostPort: set the pinned socat image (PINNED_IMAGES.socat)",
    );
  const runtimeKind = obj(cfg.runtime).kind;
  for (const [svcName, raw] of Object.entries(services)) {
    const svc = obj(raw);
    for (const [key, message] of buildSourceProblems(svc.image, name)) issue(["services", svcName, "image", key], message);
    if (runtimeKind === "containers" && typeof svc.replicas === "number" && svc.replicas > CONTAINER_REPLICA_LIMIT) {
      issue(
        ["services", svcName, "replicas"],
        `must be at most ${CONTAINER_REPLICA_LIMIT} on the container runtime (one host); set runtime.kind to "swarm" to run more`,
      );
    }
    if (runtimeKind === "swarm") {
      const image = obj(svc.image);
      if (image.kind === "build")
        issue(
          ["services", svcName, "image"],
          'is built from local source, which exists on one host only; the swarm runtime needs { kind: "registry", ref: "name:tag@sha256:..." } (or runtime.kind "containers")',
        );
      else if (typeof image.ref === "string" && IMAGE_REF.test(image.ref) && !isPinnedByDigest(image.ref))
        issue(
          ["services", svcName, "image", "ref"],
          `"${image.ref}" has no digest; Swarm nodes pull by reference, so the swarm runtime needs name:tag@sha256:<64 hex>`,
        );
      if (Array.isArray(svc.debugPorts) && svc.debugPorts.length > 0)
        issue(
          ["services", svcName, "debugPorts"],
          'Swarm cannot publish a port on 127.0.0.1 only; remove them (or use runtime.kind "containers")',
        );
    }
  }
  // Dangerous but valid: refused in prod, a warning elsewhere (configWarnings).
  if (name === "prod") for (const [path, message] of riskyValues(cfg)) issue(path, `${message}; prod refuses it`);
  const vpnCfg = obj(cfg.vpn);
  if (vpnCfg.enabled === false) {
    const inert = "has no effect while vpn.enabled is false; turn the VPN on or remove it";
    if (Array.isArray(vpnCfg.peers) && vpnCfg.peers.length > 0) issue(["vpn", "peers"], inert);
    if (vpnCfg.endpoint !== undefined) issue(["vpn", "endpoint"], inert);
    if (vpnCfg.keyMode === "supplied") issue(["vpn", "keyMode"], inert);
  }
  // The gateway's own subnet and peer checks, here so that a problem names its key (and variable).
  if (vpnCfg.enabled === true) {
    const subnet = typeof vpnCfg.subnet === "string" ? vpnCfg.subnet : WIREGUARD_DEFAULTS.subnet;
    const peers = list(vpnCfg.peers).map((p) => obj(p));
    const strings = peers.every((p) => ["name", "publicKey", "allowedIps"].every((k) => typeof p[k] === "string"));
    // Shapes the schema refuses already (a missing field, a number) are left to its own messages.
    if (strings) {
      const found = vpnSettingsProblems(subnet, peers as unknown as Parameters<typeof vpnSettingsProblems>[1]);
      for (const text of found.subnet) issue(["vpn", "subnet"], `${JSON.stringify(subnet)} ${text}`);
      for (const p of found.peers) issue(["vpn", "peers", p.peer, p.field], p.text.trim());
    }
    // The stack's networks take their subnets from the pool: one inside the VPN subnet would answer
    // for VPN peers' addresses (and the gateway routes between them).
    const pool = obj(cfg.runtime).networkPool;
    if (typeof pool === "string" && cidrsOverlap(subnet, pool) === true)
      issue(
        ["runtime", "networkPool"],
        `${JSON.stringify(pool)} overlaps the VPN subnet ${JSON.stringify(subnet)}: a network of the stack would take addresses of VPN peers; pick a range that leaves it out, e.g. "172.16.0.0/16"`,
      );
  }
  // Every store of every environment copies to the one bucket under <env>/<store>: Postgres' own prefix must not reach another's.
  const offsitePrefix = obj(obj(cfg.postgres).offsite).prefix;
  if (typeof offsitePrefix === "string" && typeof name === "string") {
    const [first] = offsitePrefix.split("/");
    const otherEnv = ENVIRONMENTS.find((e) => e !== name && e === first);
    const otherStore = Object.keys(obj(cfg.backups)).find(
      (s) => offsitePrefix === `${name}/${s}` || offsitePrefix.startsWith(`${name}/${s}/`),
    );
    if (otherEnv !== undefined)
      issue(
        ["postgres", "offsite", "prefix"],
        `"${offsitePrefix}" is under ${otherEnv}/, where the ${otherEnv} environment's backups go: ${name}'s dumps and WAL would mix with them, and a restore from the bucket could bring the wrong environment's data back; start it with ${name}/, e.g. ${name}/postgres`,
      );
    else if (otherStore !== undefined)
      issue(
        ["postgres", "offsite", "prefix"],
        `"${offsitePrefix}" is ${name}/${otherStore}, or under it, where the ${otherStore} backups are copied: the two stores' files would mix; pick a prefix of its own, e.g. ${name}/postgres`,
      );
  }
  for (const [store, raw] of Object.entries(obj(cfg.backups))) {
    const b = obj(raw);
    const every = b.everyMinutes;
    if (typeof every === "number" && typeof b.at === "string" && /^\d\d:\d\d$/.test(b.at)) {
      const [h, m] = b.at.split(":").map(Number);
      if (h! * 60 + m! >= every)
        issue(
          ["backups", store, "at"],
          `"${b.at}" is not shorter than everyMinutes (${every}); use an offset below the interval, e.g. "00:15"`,
        );
    } else if ((typeof every === "number") !== (typeof b.at === "string"))
      issue(
        ["backups", store, typeof every === "number" ? "at" : "everyMinutes"],
        "is missing: set everyMinutes and at together (the store's default offset may not fit another interval)",
      );
  }
  for (const [key, message] of volumeBudgetProblems(obj(cfg.budgets), {
    lokiRetentionDays: obj(obj(cfg.observability).loki).retentionDays,
    // A budget of a volume the profile does not create is not checked (nor used).
    created: { loki: profile !== "off", prometheus: profile === "full" },
  }))
    issue(["budgets", key], message);
  const seen = new Map<string, string>();
  for (const [key, host] of Object.entries(obj(cfg.hosts))) {
    if (typeof host !== "string") continue;
    const other = seen.get(host);
    if (other) issue(["hosts", key], `duplicates hosts.${other} ("${host}"); each surface needs its own host name`);
    seen.set(host, key);
  }
  problems.push(...topologyProblems(input));
  return problems;
}

/** An allow-list entry that admits (nearly) every address: IPv4 shorter than /8, IPv6 shorter than /16. */
export function coversEverything(cidr: string): boolean {
  const [address = "", bits = ""] = cidr.split("/");
  const prefix = Number(bits);
  if (!/^\d{1,3}$/.test(bits)) return false;
  return address.includes(":") ? prefix < 16 : prefix < 8;
}

/** Valid values that weaken the environment: prod refuses them, dev and test warn (configWarnings). */
function riskyValues(cfg: Record<string, any>): Problem[] {
  const risks: Problem[] = [];
  if (typeof cfg.dockerHost === "string" && cfg.dockerHost.startsWith("tcp://")) {
    risks.push([
      ["dockerHost"],
      `"${cfg.dockerHost}" is plain TCP: anyone who reaches that port controls the Docker engine (root on the host); use ssh://user@host or a unix socket`,
    ]);
  }
  const allow = list(obj(cfg.edge).adminAllowList);
  allow.forEach((cidr, i) => {
    if (typeof cidr === "string" && isCidr(cidr) && coversEverything(cidr))
      risks.push([
        ["edge", "adminAllowList", i],
        `"${cidr}" admits (nearly) every address to the admin surfaces; list your networks, or use the VPN`,
      ]);
  });
  const endpoint = obj(obj(cfg.postgres).offsite).endpoint;
  if (typeof endpoint === "string" && endpoint.startsWith("http://")) {
    risks.push([
      ["postgres", "offsite", "endpoint"],
      `"${endpoint}" is plain http: the backups and the bucket keys cross the network unencrypted; use https://`,
    ]);
  }
  // A Node inspector answers anyone who reaches its port with code execution in the app.
  for (const [svcName, svc] of Object.entries(obj(cfg.services))) {
    const nodeOptions = obj(obj(svc).env).NODE_OPTIONS;
    if (typeof nodeOptions === "string" && /(^|\s)--inspect(-brk|-wait)?(=|\s|$)/.test(nodeOptions))
      risks.push([
        ["services", svcName, "env", "NODE_OPTIONS"],
        `"${nodeOptions}" opens the Node inspector, which runs any code sent to its port for whoever reaches it on the service's networks; remove it (in dev, debug through services.${svcName}.debugPorts, published on 127.0.0.1 only)`,
      ]);
  }
  const vpnCfg = obj(cfg.vpn);
  if (vpnCfg.enabled === true && !(Array.isArray(vpnCfg.peers) && vpnCfg.peers.length > 0)) {
    risks.push([
      ["vpn", "enabled"],
      "the VPN is on without peers: it opens a UDP port that nobody can use; list the peers or turn the VPN off",
    ]);
  }
  return risks;
}

/** Warnings for dev and test about values prod would refuse, as [key path, message]. */
export function configWarnings(config: EnvironmentConfig): Problem[] {
  return config.name === "prod"
    ? []
    : riskyValues(config as unknown as Record<string, any>).map(([path, message]) => [path, `${message} (prod refuses this)`]);
}

export type EnvironmentConfig = z.output<typeof environmentConfigSchema>;
/** What an environment file writes: defaults (env, features, ...) may be left out. */
export type EnvironmentConfigInput = z.input<typeof environmentConfigSchema>;
export type AppServiceConfig = z.output<typeof appService>;
export type ImageSource = z.output<typeof imageSource>;
export type RuntimeConfig = z.output<typeof runtime>;
export type AppServiceName = string;
