/**
 * Hostile inputs, third round: values from the configuration (or an UPDATEIO_* variable) that the
 * check accepted and that then broke the consuming server's grammar, reached another
 * environment's data, or made a rendered file read differently from what it is.
 *
 * Routes that got through, and the place that now refuses each:
 *   - postgres.settings.synchronous_standby_names outside PostgreSQL's own grammar ("xa b", "(a)",
 *     "first", "a,,b", "0 (a)", " "): the character allow-list took them, the server refuses the
 *     settings file (FATAL "invalid value for parameter", so a restarted primary never comes back);
 *     and FIRST/ANY n with n above the names listed, which makes every commit wait forever
 *                      → synchronousStandbyNamesProblem (constructs/postgres/renderers/postgres-settings.ts),
 *                        through postgresSettingsProblems at the config check and in every settings renderer
 *   - postgres string settings (log_line_prefix) with a bidi override, a zero-width character, a
 *     line separator or a C1 control: every server log line would read differently from what it is
 *                      → normalizePostgresSetting (same file), the free-text rule of the config check
 *   - postgres.offsite.prefix with "." or ".." segments: rclone's S3 client resolves them, so test's
 *     "test/../prod/postgres" copies test's dumps and WAL into prod's prefix
 *                      → BACKUP_PATTERNS.offsitePrefix (constructs/kit/scheduled-backup-script.ts), which
 *                        OFFSITE_PATTERNS and every store's off-host copy use
 *   - postgres.offsite.prefix under another environment's <env>/ or on another store's <env>/<store>
 *     (the one bucket every store of every environment copies to)
 *                      → crossFieldProblems (environments/schema.ts)
 *   - edge.tls.email / UPDATEIO_PROD_ACME_EMAIL with a dot at the start or end of the part before
 *     the @, or two dots in a row: the Caddyfile takes it, the ACME CA refuses the contact, and
 *     Caddy gets no certificate   → edge.tls.email in environments/schema.ts
 *   - runtime.networkPool (UPDATEIO_DEV_NETWORK_POOL) holding the VPN subnet: a stack network would
 *     take VPN peers' addresses             → crossFieldProblems (environments/schema.ts), cidrsOverlap
 *   - UPDATEIO_<ENV>_BACKUP_OFFSITE_BUCKET names S3 refuses ("a..b", "a.-b", an IP address, xn--,
 *     -s3alias): the copy fails at its first run, days after the apply
 *                      → BACKUP_PATTERNS.offsiteBucket (constructs/kit/scheduled-backup-script.ts)
 *
 * The legitimate values next to each still pass; __tests__/config/hostile-renderers.integration.test.ts
 * shows the refused values on the real PostgreSQL and on rclone against an S3 server.
 */
import { describe, expect, it } from "vitest";
import { loadEnvironmentConfig, validateEnvironmentConfig, type EnvironmentName } from "../../environments/load";
import type { EnvironmentConfig } from "../../environments/schema";
import {
  renderOffsiteScript,
  renderPostgresSettingsFile,
  splitPostgresSettings,
  synchronousStandbyNamesProblem,
} from "../../constructs/postgres";
import { configProblems, loadProblems, mutatedProblems, problemAt } from "../support/config-problems";

const OFFSITE = (env: "test" | "prod") => ({
  [`UPDATEIO_${env.toUpperCase()}_BACKUP_OFFSITE_ENDPOINT`]: "https://s3.example.com",
  [`UPDATEIO_${env.toUpperCase()}_BACKUP_OFFSITE_BUCKET`]: "updateio-backups",
});
const VALID: Record<EnvironmentName, EnvironmentConfig> = {
  dev: loadEnvironmentConfig("dev", {}),
  test: loadEnvironmentConfig("test", OFFSITE("test")),
  prod: loadEnvironmentConfig("prod", OFFSITE("prod")),
};

const setting = (name: string, value: string) => (c: any) => (c.postgres.settings = { ...c.postgres.settings, [name]: value });
const prefix = (value: string) => (c: any) => (c.postgres.offsite.prefix = value);

interface Case {
  readonly env: EnvironmentName;
  readonly mutate: (c: any) => void;
  readonly key: string;
  readonly says: RegExp;
}

const SYNTAX =
  /which PostgreSQL refuses \(a server started with it exits, a reload keeps the old value\); write standby names separated by commas/;
const INVISIBLE =
  /contains a line separator or an invisible bidi\/zero-width character \(U\+[0-9A-F]{4}\), .*; write it with visible characters only/;
const DOT_SEGMENT =
  /without "\." or "\.\." segments \(the S3 client resolves them: test\/\.\.\/prod\/postgres writes into prod\/postgres\)/;

const CASES: Record<string, Case> = {
  ...Object.fromEntries(
    [
      ["a name then a word", "xa b", /has "b" after the end of the list/],
      ["a bare parenthesis", "(a)", /has "\(" where a standby name belongs/],
      ["the key word FIRST alone", "first", /expects a number after FIRST/],
      ["ANY without a number", "ANY (a, b)", /expects a number after ANY/],
      ["an empty name", "a,,b", /has "," where a standby name belongs/],
      ["a trailing comma", "a,", /ends where a standby name belongs/],
      ["zero standbys", "0 (a)", /asks for 0 synchronous standbys/],
      ["an unclosed list", "FIRST 1 (a, b", /lacks the closing "\)"/],
      ["only spaces", "   ", /ends where a standby name belongs/],
      ["a key word as a name", "ANY 1 (first)", /has "first" where a standby name belongs/],
    ].map(([what, value, says]) => [
      `synchronous_standby_names: ${what as string}`,
      {
        env: "prod",
        mutate: setting("synchronous_standby_names", value as string),
        key: "postgres.settings.synchronous_standby_names",
        says: new RegExp(`${(says as RegExp).source}.*${SYNTAX.source}`),
      } satisfies Case,
    ]),
  ),
  ...Object.fromEntries(
    [
      ["FIRST 2 of one name", "FIRST 2 (postgres_replica_1)"],
      ["ANY 3 of two names", "ANY 3 (postgres_replica_1, postgres_replica_2)"],
      ["2 of one name", "2 (a)"],
    ].map(([what, value]) => [
      `synchronous_standby_names: ${what}`,
      {
        env: "dev",
        mutate: setting("synchronous_standby_names", value!),
        key: "postgres.settings.synchronous_standby_names",
        says: /asks for \d synchronous standbys among \d name\(s\): every commit would wait forever/,
      } satisfies Case,
    ]),
  ),
  ...Object.fromEntries(
    [
      ["right-to-left override", "%m [%p] \u202e"],
      ["right-to-left isolate", "%m \u2067[%p]"],
      ["zero-width space", "%m\u200b "],
      ["line separator", "%m\u2028[%p] "],
      ["paragraph separator", "%m\u2029"],
      ["byte order mark", "\ufeff%m "],
      ["next line (C1 control)", "%m\u0085"],
    ].map(([what, value]) => [
      `log_line_prefix with a ${what}`,
      { env: "prod", mutate: setting("log_line_prefix", value!), key: "postgres.settings.log_line_prefix", says: INVISIBLE } satisfies Case,
    ]),
  ),
  ...Object.fromEntries(
    ["test/../prod/postgres", "./test/postgres", "test/./postgres", "..", "test/postgres/..", "test/.", "."].map((value) => [
      `offsite prefix ${value}`,
      { env: "test", mutate: prefix(value), key: "postgres.offsite.prefix", says: DOT_SEGMENT } satisfies Case,
    ]),
  ),
  "offsite prefix under prod, in test": {
    env: "test",
    mutate: prefix("prod/postgres"),
    key: "postgres.offsite.prefix",
    says: /"prod\/postgres" is under prod\/, where the prod environment's backups go: .*; start it with test\/, e.g\. test\/postgres/,
  },
  "offsite prefix under dev, in prod": {
    env: "prod",
    mutate: prefix("dev/x"),
    key: "postgres.offsite.prefix",
    says: /is under dev\/, where the dev environment's backups go/,
  },
  ...Object.fromEntries(
    ["prod/redis", "prod/rabbitmq", "prod/grafana/old", "prod/edge"].map((value) => [
      `offsite prefix ${value} (another store's)`,
      {
        env: "prod",
        mutate: prefix(value),
        key: "postgres.offsite.prefix",
        says: /is prod\/(redis|rabbitmq|grafana|edge), or under it, where the \1 backups are copied: the two stores' files would mix; pick a prefix of its own, e\.g\. prod\/postgres/,
      } satisfies Case,
    ]),
  ),
  ...Object.fromEntries(
    [".ops@updateio.app", "ops.@updateio.app", "ops..acme@updateio.app"].map((email) => [
      `ACME email ${email}`,
      {
        env: "prod",
        mutate: (c: any) => (c.edge.tls.email = email),
        key: "edge.tls.email",
        says: /starts or ends its part before the @ with a dot, or has two dots in a row: the ACME CA refuses such a contact, so Caddy would get no certificate/,
      } satisfies Case,
    ]),
  ),
};

const STANDBYS: Record<string, Case> = Object.fromEntries(
  (
    [
      ["prod", "a, b"],
      ["prod", "ANY 2 (postgres_replica_1, postgres_replica_2)"],
      ["prod", "2 (*)"],
      ["dev", "*"],
      ["dev", "postgres_replica_1"],
    ] as const
  ).map(([env, value]) => [
    `synchronous_standby_names ${JSON.stringify(value)} in ${env}, which no standby (or too few) of the cluster matches`,
    {
      env,
      mutate: setting("synchronous_standby_names", value),
      key: "postgres.settings.synchronous_standby_names",
      says: /every commit would wait forever; name them as postgres_replica_1, \.\.\., or raise postgres\.replicas/,
    } satisfies Case,
  ]),
);

describe("hostile config values are refused with their key and the fix (third round)", () => {
  it.each(Object.entries(STANDBYS))("%s", (_name, { env, mutate, key, says }) => {
    expect(problemAt(mutatedProblems(env, VALID[env], mutate), key)).toMatch(says);
  });

  it.each(Object.entries(CASES))("%s", (_name, { env, mutate, key, says }) => {
    expect(problemAt(mutatedProblems(env, VALID[env], mutate), key)).toMatch(says);
  });

  it("UPDATEIO_PROD_ACME_EMAIL with a leading dot is refused, naming the variable", () => {
    expect(problemAt(loadProblems("prod", { UPDATEIO_PROD_ACME_EMAIL: ".ops@updateio.app" }), "UPDATEIO_PROD_ACME_EMAIL")).toMatch(
      /ACME CA refuses such a contact/,
    );
  });
});

describe("the VPN subnet and dev's network pool", () => {
  it("a pool that holds the VPN subnet is refused, naming the variable", () => {
    const lines = loadProblems("dev", { UPDATEIO_DEV_VPN: "on", UPDATEIO_DEV_NETWORK_POOL: "10.13.0.0/16" });
    expect(problemAt(lines, "UPDATEIO_DEV_NETWORK_POOL")).toMatch(
      /"10\.13\.0\.0\/16" overlaps the VPN subnet "10\.13\.13\.0\/24": a network of the stack would take addresses of VPN peers/,
    );
  });

  it.each(["10.14.0.0/16", "172.16.0.0/16", "docker"])("pool %s beside the default VPN subnet passes", (pool) => {
    expect(loadProblems("dev", { UPDATEIO_DEV_VPN: "on", UPDATEIO_DEV_NETWORK_POOL: pool })).toEqual([]);
  });
});

describe("off-host bucket names S3 refuses (the first copy would fail days after the apply)", () => {
  it.each(["a..b", "a.-b", "a-.b", "192.168.1.1", "xn--backups", "backups-s3alias", "backups--ol-s3", "ab", "-backups", "Backups"])(
    "UPDATEIO_PROD_BACKUP_OFFSITE_BUCKET=%s is refused, naming the variable",
    (bucket) => {
      const line = problemAt(
        loadProblems("prod", { ...OFFSITE("prod"), UPDATEIO_PROD_BACKUP_OFFSITE_BUCKET: bucket }),
        "UPDATEIO_PROD_BACKUP_OFFSITE_BUCKET",
      );
      expect(line).toMatch(/write an existing S3 bucket name: 3-63 lowercase letters, digits and dashes in dot-separated labels/);
    },
  );

  it.each(["updateio-backups", "my.backups.eu", "a1b", "b".repeat(63), "1.2.3.4.5"])("%s passes", (bucket) => {
    expect(loadProblems("prod", { ...OFFSITE("prod"), UPDATEIO_PROD_BACKUP_OFFSITE_BUCKET: bucket })).toEqual([]);
  });
});

describe("the renderers refuse the same values themselves", () => {
  it("the settings renderers refuse a synchronous_standby_names PostgreSQL would refuse, or one no commit can satisfy", () => {
    for (const value of ["xa b", "ANY 2 (a)"]) {
      expect(() => splitPostgresSettings({ synchronous_standby_names: value })).toThrow(/synchronous_standby_names: "/);
      expect(() =>
        renderPostgresSettingsFile({ restart: {}, reload: { synchronous_standby_names: value }, includeFile: "/d/postgresql.conf" }),
      ).toThrow(/synchronous_standby_names: "/);
    }
    expect(() =>
      renderPostgresSettingsFile({ restart: {}, reload: { log_line_prefix: "%m \u202e" }, includeFile: "/d/postgresql.conf" }),
    ).toThrow(/log_line_prefix: .*U\+202E/);
  });

  it("the off-host script refuses a prefix with a dot segment", () => {
    const input = {
      endpoint: "https://s3.example.com",
      bucket: "updateio-backups",
      prefix: "test/../prod/postgres",
      accessKeyIdFile: "/run/secrets/offsite_access_key_id",
      secretAccessKeyFile: "/run/secrets/offsite_secret_access_key",
    };
    expect(() => renderOffsiteScript(input)).toThrow(
      /offsite\.prefix: "test\/\.\.\/prod\/postgres" must be path segments .*without "\." or "\.\." segments/,
    );
    expect(renderOffsiteScript({ ...input, prefix: "test/postgres.v2/x" })).toContain("test/postgres.v2/x");
  });
});

describe("legitimate values still pass", () => {
  const LEGIT: Record<string, { env: EnvironmentName; mutate: (c: any) => void }> = {
    ...Object.fromEntries(
      [
        "",
        "*",
        "postgres_replica_1",
        "postgres_replica_1, b",
        "b ,postgres_replica_1",
        "FIRST 1 (postgres_replica_1, postgres_replica_2)",
        "ANY 1 (POSTGRES_REPLICA_1,b)",
        "1(postgres_replica_1)",
        "1 (*)",
        "FIRST 1 (a, *)",
        "first_x, postgres_replica_1",
      ].map((value) => [
        `synchronous_standby_names ${JSON.stringify(value)}`,
        { env: "prod", mutate: setting("synchronous_standby_names", value) },
      ]),
    ),
    "log_line_prefix with quotes, backslashes, # ; and non-ASCII text": {
      env: "prod",
      mutate: setting("log_line_prefix", "%m [%p] it's \\ #; Grüße — 你好 %q%u@%d "),
    },
    ...Object.fromEntries(
      [
        "test/postgres",
        "test",
        "test/postgres-v2",
        "test/pg.v1/x",
        "backups/test",
        "Prod/postgres",
        "test/redis-old",
        "test/postgres..x",
      ].map((value) => [`offsite prefix ${value} in test`, { env: "test", mutate: prefix(value) }]),
    ),
    "offsite prefix prod/postgres in prod": { env: "prod", mutate: prefix("prod/postgres") },
    ...Object.fromEntries(
      ["ops+acme@updateio.app", "first.last@updateio.app", "-ops_1@updateio.app", "o.p.s@mail.updateio.app"].map((email) => [
        `ACME email ${email}`,
        { env: "prod", mutate: (c: any) => (c.edge.tls.email = email) },
      ]),
    ),
  };
  it.each(Object.entries(LEGIT))("%s", (_name, { env, mutate }) => {
    expect(mutatedProblems(env, VALID[env], mutate)).toEqual([]);
  });

  it("the parser agrees with PostgreSQL on the cases the integration test runs", () => {
    expect(synchronousStandbyNamesProblem("FIRST 1 (a, b)")).toBeUndefined();
    expect(synchronousStandbyNamesProblem("a b")).toMatch(/PostgreSQL refuses/);
    // PostgreSQL's grammar takes these; the config check then asks that they name this cluster's standbys.
    for (const value of ["a, b", "a ,b", "any 2 (a, b, c)", "2 (a, b)", "1(a)", "FIRST 3 (a, *)", "1, 2", "first_x, any_y"])
      expect(synchronousStandbyNamesProblem(value), value).toBeUndefined();
  });

  it("the bases load, offsite included", () => {
    for (const env of ["test", "prod"] as const) {
      expect(VALID[env].postgres.offsite?.bucket).toBe("updateio-backups");
      expect(configProblems(() => validateEnvironmentConfig(VALID[env], env))).toEqual([]);
    }
  });
});
