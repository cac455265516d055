/**
 * Hostile inputs, second round: values the schema used to accept that then failed the synth with an
 * error naming a construct (a secret's construct id meeting another's, a backing service listed
 * twice, a service named like a store's built-in user), reached another part's credential (a
 * service secret declaring the platform's own Terraform variable), or broke a rendered file's
 * grammar (a database name pg_hba.conf reads as a keyword or SQL as a reserved word, a CIDR Caddy's
 * parser refuses). Each is refused at the config check with its key and the fix; the legitimate
 * values next to them still pass, and still synthesize.
 */
import { TerraformOutput, TerraformVariable, Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { EnvironmentStack } from "../../environments/environment-stack";
import { loadEnvironmentConfig, validateEnvironmentConfig, type EnvironmentName } from "../../environments/load";
import { configWarnings, type EnvironmentConfig } from "../../environments/schema";
import { PLATFORM_OUTPUTS, PLATFORM_VARIABLES } from "../../environments/topology-problems";
import { loadProblems, mutatedConfig, mutatedProblems, problemAt } from "../support/config-problems";
import { buildEnvironment } from "../support/stacks";
import { synthText } from "../support/synth-text";

const VALID: Record<EnvironmentName, EnvironmentConfig> = {
  dev: loadEnvironmentConfig("dev", {}),
  test: loadEnvironmentConfig("test", {}),
  prod: loadEnvironmentConfig("prod", {}),
};

/** A copy of the mini app's entry (no routes) under `name`, using `uses`. */
const addService = (c: any, name: string, uses: string[], change: (svc: any) => void = () => {}) => {
  const svc = structuredClone(c.services["mini-app"]);
  svc.routes = [];
  svc.uses = uses;
  svc.secrets = [];
  change(svc);
  c.services[name] = svc;
};
const generated = (name: string, envVar: string) => ({ name, envVar, generate: { length: 32 } });
const fromVariable = (name: string, envVar: string, variable: string, description = "A token. Set TF_VAR_x.") => ({
  name,
  envVar,
  variable: { name: variable, description },
});

interface Case {
  readonly env: EnvironmentName;
  readonly mutate: (c: any) => void;
  readonly key: string;
  readonly says: RegExp;
}

const CASES: Record<string, Case> = {
  // A service secret declaring a Terraform variable the platform declares gets that variable's value.
  ...Object.fromEntries(
    ["registry_password", "offsite_secret_access_key", "vpn_private_key", "alert_discord_webhook_url"].map((variable) => [
      `secret variable ${variable}`,
      {
        env: "prod",
        mutate: (c: any) => c.services.api.secrets.push(fromVariable("token", "TOKEN_FILE", variable)),
        key: "services.api.secrets.2.variable.name",
        says: /is the platform's own Terraform variable: the service would receive that credential; give the secret a variable of its own, e\.g\. api_token/,
      } satisfies Case,
    ]),
  ),
  ...Object.fromEntries(
    ["count", "for_each", "depends_on", "source"].map((variable) => [
      `secret variable ${variable} (Terraform's own)`,
      {
        env: "dev",
        mutate: (c: any) => c.services.api.secrets.push(fromVariable("token", "TOKEN_FILE", variable)),
        key: "services.api.secrets.2.variable.name",
        says: /is a name Terraform reserves .*; pick another/,
      } satisfies Case,
    ]),
  ),
  ...Object.fromEntries(
    ["api", "postgres", "docker", "internal_endpoints", "grafana_admin_password"].map((variable) => [
      `secret variable ${variable} (a construct of the stack)`,
      {
        env: "dev",
        mutate: (c: any) => c.services["discord-bot"].secrets.push(fromVariable("token", "TOKEN_FILE", variable)),
        key: "services.discord-bot.secrets.1.variable.name",
        says: /is already the name of a service, an output or a platform part of the stack .*; pick another, e\.g\. discord_bot_token/,
      } satisfies Case,
    ]),
  ),
  ...Object.fromEntries(
    [
      ["carriage return", "Bot token.\rSet TF_VAR_x"],
      ["NUL", "Bot\u0000token"],
      ["line separator", "Bot token\u2028Set TF_VAR_x"],
      ["right-to-left override", "Bot token \u202eX_RAV_FT"],
      ["zero-width space", "Bot\u200btoken"],
    ].map(([what, description]) => [
      `secret variable description with a ${what}`,
      {
        env: "prod",
        mutate: (c: any) => c.services.api.secrets.push(fromVariable("token", "TOKEN_FILE", "api_token", description)),
        key: "services.api.secrets.2.variable.description",
        says: /contains a control character .* write the description as one line of plain text .* with visible characters only/,
      } satisfies Case,
    ]),
  ),
  "a route path of 300 characters": {
    env: "prod",
    mutate: (c) => (c.services.api.routes[0].path = `/${"a".repeat(299)}`),
    key: "services.api.routes.0.path",
    says: /must be a URL path of at most 256 characters/,
  },
  "a metrics path of 300 characters": {
    env: "prod",
    mutate: (c) => (c.services.api.metrics = { path: `/${"m".repeat(299)}` }),
    key: "services.api.metrics.path",
    says: /must be a URL path of at most 256 lowercase letters/,
  },
  // Names with no length limit reached file names, Terraform variables and the broker's URLs.
  "a secret name of 64 characters": {
    env: "dev",
    mutate: (c) => c.services.api.secrets.push(generated(`s${"x".repeat(63)}`, "MY_FILE")),
    key: "services.api.secrets.2.name",
    says: /must be a file name in snake_case of at most 63 characters/,
  },
  "a secret's variable of 64 characters": {
    env: "prod",
    mutate: (c) => c.services.api.secrets.push(fromVariable("token", "TOKEN_FILE", `v${"x".repeat(63)}`)),
    key: "services.api.secrets.2.variable.name",
    says: /at most 63 characters/,
  },
  "a secret's envVar of 65 characters": {
    env: "dev",
    mutate: (c) => c.services.api.secrets.push(generated("token", `T${"X".repeat(59)}_FILE`)),
    key: "services.api.secrets.2.envVar",
    says: /ending in _FILE, at most 64 characters/,
  },
  "a RabbitMQ vhost of 64 characters": {
    env: "prod",
    mutate: (c) => (c.rabbitmq.vhost = "v".repeat(64)),
    key: "rabbitmq.vhost",
    says: /at most 63 characters/,
  },
  // Secret files and construct ids
  "a secret named like its connection's file": {
    env: "dev",
    mutate: (c) => c.services.api.secrets.push(generated("database_url", "MY_DB_FILE")),
    key: "services.api.secrets.2.name",
    says: /"database_url" is the secret file the postgres connection gives this service \(uses includes "postgres"\); give the secret another name/,
  },
  "a secret named like the broker's file": {
    env: "prod",
    mutate: (c) => c.services["discord-bot"].secrets.push(fromVariable("amqp_url", "BROKER_FILE", "discord_amqp")),
    key: "services.discord-bot.secrets.1.name",
    says: /"amqp_url" is the secret file the rabbitmq connection gives this service/,
  },
  "two secrets of one name": {
    env: "dev",
    mutate: (c) => c.services.api.secrets.push(generated("token", "A_FILE"), generated("token", "B_FILE")),
    key: "services.api.secrets.3.name",
    says: /"token" is already the name of secrets\[2\] \(both would be \/run\/secrets\/token\); give each secret its own name/,
  },
  "a generated secret whose id is another service's legacy id": {
    env: "prod",
    mutate: (c) => addService(c, "admin", [], (svc) => (svc.secrets = [generated("session_secret", "SESSION_SECRET_FILE")])),
    key: "services.admin.secrets.0.name",
    says: /its construct id "admin-session-secret" \(<service>-<name>\) is also services\.admin-panel\.secrets\.0's; rename one of the secrets/,
  },
  "generated secrets whose ids meet across services": {
    env: "dev",
    mutate: (c) => {
      addService(c, "billing-ui", [], (svc) => (svc.secrets = [generated("key", "KEY_FILE")]));
      addService(c, "billing", [], (svc) => (svc.secrets = [generated("ui_key", "KEY_FILE")]));
    },
    key: "services.billing.secrets.0.name",
    says: /its construct id "billing-ui-key" \(<service>-<name>\) is also services\.billing-ui\.secrets\.0's/,
  },
  "a generated secret whose id is a service's": {
    env: "dev",
    mutate: (c) => {
      addService(c, "billing-ui", []);
      addService(c, "billing", [], (svc) => (svc.secrets = [generated("ui", "UI_FILE")]));
    },
    key: "services.billing.secrets.0.name",
    says: /its construct id "billing-ui" \(<service>-<name>\) is services\.billing-ui's; rename the secret/,
  },
  ...Object.fromEntries(
    ["image", "debug_9229_forward", "metrics_network"].map((name) => [
      `a generated secret named ${name}`,
      {
        env: "dev",
        mutate: (c: any) => c.services.api.secrets.push(generated(name, "X_FILE")),
        key: "services.api.secrets.2.name",
        says: /ends in "-(image|forward|network)", which the platform's images, networks and port forwarders use; rename the secret/,
      } satisfies Case,
    ]),
  ),
  // What a service asks of the data tier
  ...Object.fromEntries(
    ["postgres", "redis", "rabbitmq"].map((store) => [
      `uses ${store} twice`,
      {
        env: "prod",
        mutate: (c: any) => c.services.api.uses.push(store),
        key: "services.api.uses.3",
        says: new RegExp(`"${store}" is listed twice \\(also uses\\[\\d\\]\\); list it once`),
      } satisfies Case,
    ]),
  ),
  "calls a service twice": {
    env: "dev",
    mutate: (c) => c.services["mini-app"].calls.push("api"),
    key: "services.mini-app.calls.1",
    says: /"api" is listed twice \(also calls\[0\]\); list it once: a second entry would attach the same network twice/,
  },
  ...Object.fromEntries(
    ["backup", "monitor", "default", "healthcheck", "replication", "sentinel-peer", "updateio"].map((name) => [
      `a service named ${name} using redis`,
      {
        env: "dev",
        mutate: (c: any) => addService(c, name, ["redis"]),
        key: `services.${name}`,
        says: new RegExp(
          `is a reserved name while it uses redis: an app's Redis user is its service's name, and "${name}" is a built-in Redis user`,
        ),
      } satisfies Case,
    ]),
  ),
  "a service named updateio using rabbitmq": {
    env: "prod",
    mutate: (c) => addService(c, "updateio", ["rabbitmq"], (svc) => (svc.messaging = { publishes: ["updateio.events"], consumes: [] })),
    key: "services.updateio",
    says: /is a reserved name while it uses rabbitmq: an app's broker user is its service's name, and "updateio" is the broker's legacy all-access user; rename the service/,
  },
  "env DEBUG while debug is on": {
    env: "dev",
    mutate: (c) => (c.services.api.env.DEBUG = "express:*"),
    key: "services.api.env.DEBUG",
    says: /is set by the platform \(DEBUG=updateio:\*\) while debug is on, which would silently replace this value; remove it from env, or set debug to false/,
  },
  // The database's name: pg_hba.conf, SQL and the derived role names
  ...Object.fromEntries(
    ["all", "replication", "sameuser", "samerole", "samegroup"].map((name) => [
      `database ${name}`,
      {
        env: "prod",
        mutate: (c: any) => (c.postgres.database = name),
        key: "postgres.database",
        says: /is a keyword of pg_hba\.conf .* would admit the app's roles to every database \(or to replication\)/,
      } satisfies Case,
    ]),
  ),
  ...Object.fromEntries(
    ["postgres", "template0", "template1"].map((name) => [
      `database ${name}`,
      {
        env: "dev",
        mutate: (c: any) => (c.postgres.database = name),
        key: "postgres.database",
        says: /already exists in every new cluster .* so creating it fails on first boot/,
      } satisfies Case,
    ]),
  ),
  ...Object.fromEntries(
    ["select", "user", "table", "order", "current_user", "authorization", "verbose"].map((name) => [
      `database ${name}`,
      {
        env: "test",
        mutate: (c: any) => (c.postgres.database = name),
        key: "postgres.database",
        says: /is a reserved SQL key word, and the init and grant statements name the database unquoted/,
      } satisfies Case,
    ]),
  ),
  "database pgbouncer": {
    env: "prod",
    mutate: (c) => (c.postgres.database = "pgbouncer"),
    key: "postgres.database",
    says: /is PgBouncer's admin console/,
  },
  "database pg_app": {
    env: "dev",
    mutate: (c) => (c.postgres.database = "pg_app"),
    key: "postgres.database",
    says: /makes role names starting with "pg_" \(pg_app_owner, pg_app_app, \.\.\.\), which PostgreSQL reserves/,
  },
  "database of 28 characters": {
    env: "prod",
    mutate: (c) => (c.postgres.database = "d".repeat(28)),
    key: "postgres.database",
    says: /is longer than 27 characters: the roles are named <database>_<purpose> in at most 41 characters/,
  },
  "database of 63 characters": {
    env: "dev",
    mutate: (c) => (c.postgres.database = "d".repeat(63)),
    key: "postgres.database",
    says: /is longer than 27 characters/,
  },
  // Values rendered into the Caddyfile and the build
  ...Object.fromEntries(
    ["10.0.0.0/08", "2001:db8::/032", "fe80::1%eth0/64"].map((cidr) => [
      `adminAllowList ${cidr}`,
      {
        env: "prod",
        mutate: (c: any) => (c.edge.adminAllowList = [cidr]),
        key: "edge.adminAllowList.0",
        says: /is not a CIDR; write an address with a prefix length/,
      } satisfies Case,
    ]),
  ),
  ...Object.fromEntries(
    ["https://-.", "https://a..b", "https://.telegram.org", "https://-x.org"].map((origin) => [
      `frameAncestors ${origin}`,
      {
        env: "prod",
        mutate: (c: any) => (c.services["mini-app"].routes[0].frameAncestors = [origin]),
        key: "services.mini-app.routes.0.frameAncestors.0",
        says: /must be an https origin such as https:\/\/web\.telegram\.org or https:\/\/\*\.telegram\.org/,
      } satisfies Case,
    ]),
  ),
  ...Object.fromEntries(
    ["/etc/passwd", "../api/Dockerfile", "docker/../../Dockerfile"].map((dockerfile) => [
      `dockerfile ${dockerfile}`,
      {
        env: "dev",
        mutate: (c: any) => (c.services.api.image.dockerfile = dockerfile),
        key: "services.api.image.dockerfile",
        says: /leaves the build context; write the Dockerfile's path relative to the context, without a leading "\/" or "\.\." segments/,
      } satisfies Case,
    ]),
  ),
};

describe("hostile config values are refused with their key and the fix (second round)", () => {
  it.each(Object.entries(CASES))("%s", (_name, { env, mutate, key, says }) => {
    expect(problemAt(mutatedProblems(env, VALID[env], mutate), key)).toMatch(says);
  });

  it("a CIDR variable with a leading zero in its prefix length is refused, naming the variable", () => {
    expect(problemAt(loadProblems("prod", { UPDATEIO_PROD_ADMIN_ALLOW: "203.0.113.0/024" }), "UPDATEIO_PROD_ADMIN_ALLOW")).toMatch(
      /entry 1 "203\.0\.113\.0\/024" is not a CIDR/,
    );
  });
});

describe("legitimate values still pass, and synthesize", () => {
  const LEGIT: Record<string, { env: EnvironmentName; mutate: (c: any) => void }> = {
    "one variable shared by two services, a description with quotes-free punctuation": {
      env: "prod",
      mutate: (c) => {
        c.services.api.secrets.push(fromVariable("bot_token", "BOT_TOKEN_FILE", "telegram_bot_token"));
        c.services["mini-app"].secrets.push(
          fromVariable("stripe_key", "STRIPE_KEY_FILE", "mini_app_stripe_key", "Stripe key (live) - TF_VAR_x, 100 chars max."),
        );
      },
    },
    "generated secrets whose ids meet nothing, names of other stores' files": {
      env: "dev",
      mutate: (c) => {
        c.services["mini-app"].secrets = [generated("database_url", "EXTERNAL_DB_FILE"), generated("images_key", "IMAGES_KEY_FILE")];
        addService(c, "billing", ["redis"], (svc) => (svc.secrets = [generated("ui_key", "KEY_FILE")]));
      },
    },
    "a service named like a store's built-in user that does not use that store": {
      env: "dev",
      mutate: (c) => addService(c, "monitor", ["postgres"]),
    },
    "database names of 27 characters, with reserved words inside, and non-reserved key words": {
      env: "prod",
      mutate: (c) => (c.postgres.database = "select_all_from_users_table"),
    },
    "database names that are non-reserved key words": {
      env: "dev",
      mutate: (c) => (c.postgres.database = "users"),
    },
    "CIDRs /0, IPv6, no leading zero; wildcard frame ancestors; a Dockerfile in a subfolder of the context": {
      env: "dev",
      mutate: (c) => {
        c.edge.adminAllowList = ["10.0.0.0/0", "2001:db8::/32", "192.0.2.7/32"];
        c.services["mini-app"].routes[0].frameAncestors = ["https://*.telegram.org", "https://web.telegram.org"];
        c.services.api.image.dockerfile = "./Dockerfile";
      },
    },
    "DEBUG in env where debug is off": {
      env: "prod",
      mutate: (c) => (c.services.api.env.DEBUG = "express:*"),
    },
  };
  it.each(Object.entries(LEGIT))("%s", (_name, { env, mutate }) => {
    expect(mutatedProblems(env, VALID[env], mutate)).toEqual([]);
    const config = validateEnvironmentConfig(mutatedConfig(VALID[env], mutate), env);
    expect(() => synthText(new EnvironmentStack(Testing.app(), env, config))).not.toThrow();
  });
});

describe("the names a service secret's variable may not take follow the stack", () => {
  it("every platform variable and output is listed, and every listed one exists", () => {
    const vars = {
      UPDATEIO_PROD_VPN: "on",
      UPDATEIO_PROD_VPN_KEY: "supplied",
      UPDATEIO_PROD_VPN_PEERS: `alice:${"A".repeat(43)}=:10.13.13.2/32`,
      UPDATEIO_PROD_ALERT_TELEGRAM_CHAT_ID: "-1001234567890",
      UPDATEIO_PROD_ALERT_DISCORD: "on",
      UPDATEIO_PROD_BACKUP_OFFSITE_ENDPOINT: "https://s3.example.com",
      UPDATEIO_PROD_BACKUP_OFFSITE_BUCKET: "updateio-backups",
    };
    const serviceVariables = new Set(
      Object.values(VALID.prod.services).flatMap((s) => s.secrets.flatMap((x) => ("variable" in x ? [x.variable.name] : []))),
    );
    const ids = { variables: new Set<string>(), outputs: new Set<string>() };
    for (const stack of [buildEnvironment("prod", vars), buildEnvironment("dev")])
      for (const child of stack.node.children) {
        if (child instanceof TerraformVariable && !serviceVariables.has(child.node.id)) ids.variables.add(child.node.id);
        if (child instanceof TerraformOutput) ids.outputs.add(child.node.id);
      }
    expect([...ids.variables].sort()).toEqual([...PLATFORM_VARIABLES].sort());
    expect([...ids.outputs].sort()).toEqual([...PLATFORM_OUTPUTS].sort());
  });
});

describe("VPN peers are checked at the config check, naming the variable (they used to fail at synth in VpnGateway)", () => {
  const KEY_A = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
  const KEY_B = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
  const load = (peers: string, extra: Record<string, string> = {}) =>
    loadProblems("prod", {
      UPDATEIO_PROD_VPN: "on",
      UPDATEIO_PROD_VPN_ENDPOINT: "vpn.updateio.app",
      UPDATEIO_PROD_VPN_PEERS: peers,
      ...extra,
    });

  it.each<[string, string, RegExp]>([
    [
      "an address outside the subnet",
      `alice:${KEY_A}:10.13.14.2/32`,
      /vpn\.peers\.0\.allowedIps\): "10\.13\.14\.2\/32" is outside the VPN subnet/,
    ],
    [
      "the server's own address",
      `alice:${KEY_A}:10.13.13.1/32`,
      /vpn\.peers\.0\.allowedIps\): "10\.13\.13\.1\/32" is the server's own address/,
    ],
    ["the network address", `alice:${KEY_A}:10.13.13.0/32`, /vpn\.peers\.0\.allowedIps\): .* network address/],
    [
      "one key for two devices",
      `alice:${KEY_A}:10.13.13.2/32,bob:${KEY_A}:10.13.13.3/32`,
      /vpn\.peers\.1\.publicKey\): is also peers\[0\]'s key/,
    ],
    [
      "one address for two devices",
      `alice:${KEY_A}:10.13.13.2/32,bob:${KEY_B}:10.13.13.2/32`,
      /vpn\.peers\.1\.allowedIps\): .* is also peers\[0\]'s address/,
    ],
    [
      "one name for two devices",
      `alice:${KEY_A}:10.13.13.2/32,alice:${KEY_B}:10.13.13.3/32`,
      /vpn\.peers\.1\.name\): is also peers\[0\]'s name/,
    ],
  ])("refuses %s", (_what, peers, says) => {
    expect(problemAt(load(peers), "UPDATEIO_PROD_VPN_PEERS")).toMatch(says);
  });

  it("refuses a subnet with host bits set, naming vpn.subnet", () => {
    const problems = mutatedProblems("prod", VALID.prod, (c) => {
      c.vpn = { ...c.vpn, enabled: true, endpoint: "vpn.updateio.app", subnet: "10.13.13.1/24" };
    });
    expect(problemAt(problems, "vpn.subnet")).toMatch(
      /"10\.13\.13\.1\/24" has host bits set: write the network address, "10\.13\.13\.0\/24"/,
    );
  });

  it("accepts distinct peers inside the subnet", () => {
    expect(load(`alice:${KEY_A}:10.13.13.2/32,bob:${KEY_B}:10.13.13.3/32`)).toEqual([]);
  });
});

describe("a Node inspector in a service's NODE_OPTIONS: refused in prod, a warning elsewhere", () => {
  const withInspector = (value: string) => (c: any) => {
    c.services.api.env = { ...c.services.api.env, NODE_OPTIONS: value };
  };

  it.each(["--inspect=0.0.0.0:9229", "--max-old-space-size=512 --inspect", "--inspect-brk=9229", "--inspect-wait"])(
    "prod refuses %s",
    (value) => {
      expect(problemAt(mutatedProblems("prod", VALID.prod, withInspector(value)), "services.api.env.NODE_OPTIONS")).toMatch(
        /opens the Node inspector.*prod refuses it/,
      );
    },
  );

  it("dev and test warn, naming the key", () => {
    for (const env of ["dev", "test"] as const) {
      const config = validateEnvironmentConfig(mutatedConfig(VALID[env], withInspector("--inspect=0.0.0.0:9229")), env);
      const warnings = configWarnings(config).map(([path, message]) => `${path.join(".")}: ${message}`);
      expect(
        warnings.find((w) => w.startsWith("services.api.env.NODE_OPTIONS: ")),
        warnings.join("\n"),
      ).toMatch(/prod refuses this/);
    }
  });

  it("other options pass", () => {
    expect(mutatedProblems("prod", VALID.prod, withInspector("--max-old-space-size=512 --enable-source-maps"))).toEqual([]);
  });
});
