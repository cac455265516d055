import { Container } from "@cdktf/provider-docker/lib/container";
import { TerraformStack, TerraformVariable } from "cdktf";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { GRAFANA_MOUNTS, GRAFANA_SECRETS, GrafanaServer, type GrafanaServerProps } from "../../constructs/observability/grafana-server";
import { PlatformNetwork } from "../../constructs/kit/platform-network";
import { blockingFindings, evaluatePolicy } from "../../constructs/policy/policy-aspect";
import { PostgresCluster } from "../../constructs/postgres/postgres-cluster";
import { alertRules, isSecretReference, renderGrafanaAlerting } from "../../constructs/observability/renderers/alert-rules";
import { renderCaddyfile } from "../../constructs/edge/renderers/caddyfile";
import { renderGrafanaRoleSql } from "../../constructs/postgres/renderers/postgres-grafana";
import {
  GRAFANA_PATHS,
  grafanaEnv,
  renderDashboardProvider,
  renderDashboards,
  renderDatasources,
} from "../../constructs/observability/renderers/grafana";
import { errorOf } from "../support/helpers";
import { synthConstruct } from "../support/construct-harness";
import { POSTGRES_IMAGE } from "../support/construct-images";
import { testOutdir, testStack, type Json } from "../support/test-stack";
import { HARDENED_CONTAINER, ROTATED_LOGS } from "../support/synth-expectations";
import { synthText } from "../support/synth-text";

const OUT = testOutdir("grafana-server-test");

const IMAGE = `grafana/grafana:12.1.1@sha256:${"9a".repeat(32)}`;
const RULES = alertRules({ environment: "prod", expectedServices: ["api"] });

interface Ctx {
  stack: TerraformStack;
  monitoring: PlatformNetwork;
  edge: PlatformNetwork;
  egress: PlatformNetwork;
  postgresNet: PlatformNetwork;
  cluster: PostgresCluster;
  botToken: string;
  webhookUrl: string;
}

function build(env: "dev" | "prod", overrides: (ctx: Ctx) => Partial<GrafanaServerProps> = () => ({})) {
  const stack = testStack(OUT, env);
  const monitoring = new PlatformNetwork(stack, "monitoring-network", { environment: env, purpose: "monitoring" });
  const edge = new PlatformNetwork(stack, "edge-network", { environment: env, purpose: "edge" });
  const egress = new PlatformNetwork(stack, "egress-network", { environment: env, purpose: "egress", internal: false });
  const postgresNet = new PlatformNetwork(stack, "postgres-grafana-network", { environment: env, purpose: "postgres-grafana" });
  const cluster = new PostgresCluster(stack, "postgres", {
    environment: env,
    image: POSTGRES_IMAGE,
    memoryMb: 512,
    readOnlyClientNetworks: [postgresNet],
  });
  const botToken = new TerraformVariable(stack, "alert_telegram_bot_token", { type: "string", sensitive: true }).stringValue;
  const webhookUrl = new TerraformVariable(stack, "alert_discord_webhook_url", { type: "string", sensitive: true }).stringValue;
  const ctx: Ctx = { stack, monitoring, edge, egress, postgresNet, cluster, botToken, webhookUrl };
  const grafana = new GrafanaServer(stack, "grafana", {
    environment: env,
    image: IMAGE,
    rootUrl: "https://grafana.updateio.app",
    exposure: { mode: "edge", edgeNetwork: edge },
    monitoringNetwork: monitoring,
    postgres: { cluster, network: postgresNet, passwordAt: { scope: stack, id: "postgres-grafana-password" } },
    alerting: { telegram: { botToken, chatId: "-1001234567890" }, discord: { webhookUrl } },
    egressNetwork: egress,
    rules: RULES,
    protectData: env === "prod",
    ...overrides(ctx),
  });
  const synth = synthConstruct(stack, `${env}-grafana`);
  const uploads = new Map<string, string>((synth.seed.upload as Json[]).map((u) => [u.file as string, u.content as string]));
  return { stack, grafana, ...synth, uploads, ctx };
}

describe("GrafanaServer", () => {
  const { stack, grafana, text, json, key, ref, server, seed, uploads } = build("prod");
  const provisioning = [...uploads.entries()].filter(([file]) => !file.startsWith("/run/secrets/"));

  it("declares its server, seed, secrets owner and data volume, and adds its role to the cluster handed to it", () => {
    const names = (Object.values(json.resource.docker_container) as Json[])
      .map((c) => c.name as string)
      .filter((n) => n.startsWith("prod-grafana"));
    expect(names.sort()).toEqual(["prod-grafana", "prod-grafana-secrets-owner", "prod-grafana-seed"]);
    expect(Object.values(json.resource.docker_volume).filter((v) => (v as Json).name === "prod-grafana-data")).toHaveLength(1);
    expect(grafana.postgresRole.name).toBe("updateio_grafana");
    expect(grafana.postgresRole.login).toMatchObject({
      host: "postgres",
      port: 5432,
      database: "updateio_grafana",
      role: "updateio_grafana",
    });
    expect(grafana.postgresRole.passwordSecret.node.path).toBe("prod/postgres-grafana-password");
    expect(seed.upload.map((u: Json) => u.file).sort()).toEqual([...uploads.keys()].sort());
  });

  it("runs hardened: read-only rootfs as the image's uid 472 (gid 0), every capability dropped, limits, log rotation", () => {
    expect(text).toHaveResourceWithProperties(Container, {
      ...HARDENED_CONTAINER,
      ...ROTATED_LOGS,
      name: "prod-grafana",
      user: "472:0",
      privileged: false,
      memory: 512,
      memory_swap: 512,
      cpu_shares: 512,
      restart: "unless-stopped",
    });
    expect(server.entrypoint).toBeUndefined(); // the image's /run.sh
    expect(server.healthcheck).toEqual({
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:3000/api/health"],
      interval: "30s",
      timeout: "5s",
      retries: 3,
      start_period: "2m0s",
    });
    expect(server.wait).toBe(true);
  });

  it("uploads exactly the renderers' output, at the paths grafanaEnv and the dashboard provider expect", () => {
    const expected = new Map<string, string>([
      [
        `${GRAFANA_PATHS.provisioning}/datasources/datasources.yaml`,
        renderDatasources({
          postgres: {
            address: "postgres:5432",
            database: "updateio_grafana",
            user: "updateio_grafana",
            passwordFile: "/run/secrets/grafana_postgres_password",
          },
        }),
      ],
      [`${GRAFANA_PATHS.provisioning}/dashboards/dashboards.yaml`, renderDashboardProvider()],
      [
        `${GRAFANA_PATHS.provisioning}/alerting/alerting.yaml`,
        renderGrafanaAlerting({
          rules: RULES,
          telegram: { botToken: "$__file{/run/secrets/telegram_bot_token}", chatId: "-1001234567890" },
          discord: { webhookUrl: "$__file{/run/secrets/discord_webhook_url}" },
        }),
      ],
      ...Object.entries(renderDashboards({ environment: "prod" })).map(
        ([name, content]) => [`${GRAFANA_PATHS.dashboards}/${name}`, content] as [string, string],
      ),
    ]);
    expect(new Map(provisioning)).toEqual(expected);
    expect(grafana.files.datasources).toBe(expected.get(`${GRAFANA_PATHS.provisioning}/datasources/datasources.yaml`));
    expect(grafana.files.alerting).toBe(expected.get(`${GRAFANA_PATHS.provisioning}/alerting/alerting.yaml`));
    // Provisioning reads GF_PATHS_PROVISIONING; the provider reads the mounted dashboards directory.
    expect(server.env).toContain(`GF_PATHS_PROVISIONING=${GRAFANA_PATHS.provisioning}`);
    expect(parse(grafana.files.dashboardProvider).providers[0].options.path).toBe(GRAFANA_MOUNTS.dashboards);
    // Terraform would treat "${" and "%{" in the content as a template: the files carry neither.
    for (const [, content] of provisioning) expect(content).not.toMatch(/[$%]\{/);
  });

  it("mounts each provisioning subdirectory and the dashboards read-only, leaving the rest of /etc/grafana to the image", () => {
    const mounts = (server.volumes as Json[]).map((v) => [v.container_path, v.read_only]);
    expect(mounts).toEqual([
      ["/run/secrets", true],
      ["/etc/grafana/provisioning/datasources", true],
      ["/etc/grafana/provisioning/dashboards", true],
      ["/etc/grafana/provisioning/alerting", true],
      ["/etc/grafana/dashboards", true],
      ["/var/lib/grafana", false],
    ]);
    expect(mounts.map(([p]) => p)).not.toContain(GRAFANA_PATHS.provisioning);
    expect(mounts.map(([p]) => p)).not.toContain("/etc/grafana");
    expect(server.volumes).toContainEqual({
      volume_name: ref("docker_volume", "prod-grafana-data"),
      container_path: "/var/lib/grafana",
      read_only: false,
    });
    expect(json.resource.docker_volume[key("docker_volume", "prod-grafana-data")].lifecycle).toEqual({ prevent_destroy: true });
  });

  it("delivers every secret as a file: env carries only *__FILE paths, provisioning only $__file{} references", () => {
    const env = server.env as string[];
    expect(env).toContain("GF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/grafana_admin_password");
    expect(env).toContain("GF_SECURITY_SECRET_KEY__FILE=/run/secrets/grafana_secret_key");
    for (const entry of env) expect(entry).not.toMatch(/\$\{|random_password|var\./);
    expect(JSON.stringify(server.command)).not.toMatch(/\$\{/);

    const secretFiles = [...uploads.keys()].filter((f) => f.startsWith("/run/secrets/")).sort();
    expect(secretFiles).toEqual(
      Object.values(GRAFANA_SECRETS)
        .map((n) => `/run/secrets/${n}`)
        .sort(),
    );
    const passwordRef = (prefix: string) => {
      const ids = Object.keys(json.resource.random_password).filter((k) => k.startsWith(prefix));
      expect(ids).toHaveLength(1);
      return `\${random_password.${ids[0]}.result}`;
    };
    expect(uploads.get("/run/secrets/grafana_admin_password")).toBe(passwordRef("grafana_admin-password_"));
    expect(uploads.get("/run/secrets/grafana_secret_key")).toBe(passwordRef("grafana_secret-key_"));
    expect(uploads.get("/run/secrets/grafana_postgres_password")).toBe(passwordRef("postgres-grafana-password_"));
    expect(json.resource.random_password[passwordRef("grafana_secret-key_").split(".")[1]!].length).toBe(48);
    expect(uploads.get("/run/secrets/telegram_bot_token")).toBe("${var.alert_telegram_bot_token}");
    expect(uploads.get("/run/secrets/discord_webhook_url")).toBe("${var.alert_discord_webhook_url}");

    const datasources = parse(grafana.files.datasources);
    const pg = datasources.datasources.find((d: Json) => d.uid === "postgres-readonly");
    expect(pg.secureJsonData).toEqual({ password: "$__file{/run/secrets/grafana_postgres_password}" });
    expect(pg.user).toBe("updateio_grafana");
    expect(pg.jsonData.database).toBe("updateio_grafana");
    const alerting = parse(grafana.files.alerting);
    const settings = alerting.contactPoints.flatMap((c: Json) => c.receivers.map((r: Json) => r.settings));
    expect(settings).toEqual([
      { bottoken: "$__file{/run/secrets/telegram_bot_token}", chatid: "-1001234567890" },
      { url: "$__file{/run/secrets/discord_webhook_url}" },
    ]);
    expect(isSecretReference(settings[0].bottoken)).toBe(true);
    expect(isSecretReference(settings[1].url)).toBe(true);
    for (const [, content] of provisioning) expect(content).not.toMatch(/random_password|var\.alert|TfToken/);
  });

  it("sets the grafanaEnv settings; the COOKIE-named one goes on the command line (the kit refuses secret-looking names)", () => {
    const expected = grafanaEnv({ rootUrl: "https://grafana.updateio.app" });
    const { GF_SECURITY_COOKIE_SECURE: cookieSecure, ...rest } = expected;
    expect(server.env).toEqual(
      Object.entries(rest)
        .map(([k, v]) => `${k}=${v}`)
        .sort(),
    );
    expect(server.command).toEqual([`cfg:security.cookie_secure=${cookieSecure}`]);
    expect(cookieSecure).toBe("true");
    expect(grafana.rootUrl).toBe("https://grafana.updateio.app/");
    const local = build("dev", ({ egress }) => ({
      rootUrl: "http://127.0.0.1:3000",
      exposure: { mode: "localhost", port: 3000 },
      publishNetwork: egress,
    }));
    expect(local.server.command).toEqual(["cfg:security.cookie_secure=false"]);
  });

  it("edge mode publishes nothing and joins the monitoring, postgres, edge and (for alerts) egress networks", () => {
    expect(server.ports ?? []).toEqual([]);
    expect(server.networks_advanced).toEqual(
      ["prod-monitoring", "prod-postgres-grafana", "prod-edge", "prod-egress"].map((n) => ({
        name: ref("docker_network", n),
        aliases: ["grafana"],
      })),
    );
    expect(grafana.upstreams()).toEqual(["grafana:3000"]);
    expect(grafana.edgeRoute()).toEqual({
      host: "grafana.updateio.app",
      upstreams: ["grafana:3000"],
      healthPath: "/api/health",
      adminOnly: true,
    });
    expect(grafana.host).toBe("grafana");
    expect(grafana.port).toBe(3000);
    expect(grafana.scrapeTarget).toEqual({ job: "grafana", targets: ["grafana:3000"] });
    // The route renders in the edge's Caddyfile behind the admin allow-list.
    const caddyfile = renderCaddyfile({
      tls: { mode: "internal" },
      httpPort: 80,
      httpsPort: 443,
      healthPort: 8099,
      adminAllowList: ["10.8.0.0/16"],
      hsts: true,
      routes: [grafana.edgeRoute()],
    });
    expect(caddyfile).toContain("grafana.updateio.app {");
    expect(caddyfile).toContain("reverse_proxy grafana:3000");
    expect(caddyfile).toContain("not remote_ip 10.8.0.0/16");
  });

  it("without alerting channels it has no route out: no egress network, no channel secrets", () => {
    const b = build("dev", () => ({ alerting: undefined }));
    expect(b.server.networks_advanced.map((n: Json) => n.name)).toEqual(
      ["dev-monitoring", "dev-postgres-grafana", "dev-edge"].map((n) => b.ref("docker_network", n)),
    );
    expect([...b.uploads.keys()].filter((f) => f.startsWith("/run/secrets/")).sort()).toEqual([
      "/run/secrets/grafana_admin_password",
      "/run/secrets/grafana_postgres_password",
      "/run/secrets/grafana_secret_key",
    ]);
    expect(parse(b.grafana.files.alerting).contactPoints).toBeUndefined();
  });

  it("localhost mode publishes only 127.0.0.1:<port>, through the non-internal publish network", () => {
    const b = build("dev", ({ egress }) => ({
      rootUrl: "http://127.0.0.1:3300",
      exposure: { mode: "localhost", port: 3300 },
      publishNetwork: egress,
      alerting: undefined,
    }));
    expect(b.server.ports).toEqual([{ internal: 3000, external: 3300, ip: "127.0.0.1", protocol: "tcp" }]);
    expect(b.server.networks_advanced.map((n: Json) => n.name)).toEqual(
      ["dev-monitoring", "dev-postgres-grafana", "dev-egress"].map((n) => b.ref("docker_network", n)),
    );
    expect(b.server.env).toContain("GF_SERVER_ROOT_URL=http://127.0.0.1:3300/");
    expect(() => b.grafana.edgeRoute()).toThrow(/needs exposure "edge"/);
    // publish and egress networks may be the same: joined once
    const c = build("dev", ({ egress }) => ({
      rootUrl: "http://127.0.0.1:3300",
      exposure: { mode: "localhost", port: 3300 },
      publishNetwork: egress,
    }));
    expect(c.server.networks_advanced.map((n: Json) => n.name)).toEqual(
      ["dev-monitoring", "dev-postgres-grafana", "dev-egress"].map((n) => c.ref("docker_network", n)),
    );
    const policy = blockingFindings(evaluatePolicy(b.stack, { environment: "dev" })).filter((f) => f.constructPath.includes("grafana"));
    expect(policy.map((f) => f.message)).toEqual([]);
  });

  it("passes the policy pack for prod (edge mode) with zero blocking findings; localhost mode would not", () => {
    const findings = blockingFindings(evaluatePolicy(stack, { environment: "prod" })).filter((f) => f.constructPath.includes("grafana"));
    expect(findings.map((f) => f.message)).toEqual([]);
    const local = build("prod", ({ egress }) => ({
      rootUrl: "http://127.0.0.1:3000",
      exposure: { mode: "localhost", port: 3000 },
      publishNetwork: egress,
    }));
    const localFindings = blockingFindings(evaluatePolicy(local.stack, { environment: "prod" })).filter((f) =>
      f.constructPath.includes("grafana"),
    );
    expect(localFindings.map((f) => f.ruleId)).toEqual(["published-ports"]);
  });

  it("supports a sub-path root URL in the edge route", () => {
    const b = build("dev", () => ({ rootUrl: "https://ops.updateio.app/grafana/" }));
    expect(b.grafana.edgeRoute()).toEqual({
      host: "ops.updateio.app",
      path: "/grafana/*",
      upstreams: ["grafana:3000"],
      healthPath: "/grafana/api/health",
      adminOnly: true,
    });
    expect(b.server.env).toContain("GF_SERVER_SERVE_FROM_SUB_PATH=true");
  });

  it("adds its own Postgres role to a cluster built before it (with replicas): its own role and database on the read-only endpoint, the password the cluster delivers", () => {
    const stack = testStack(OUT, "test");
    const readNet = new PlatformNetwork(stack, "postgres-grafana-network", { environment: "test", purpose: "postgres-grafana" });
    const role = "updateio_grafana";
    const cluster = new PostgresCluster(stack, "postgres", {
      environment: "test",
      image: POSTGRES_IMAGE,
      memoryMb: 512,
      replicas: 1,
      readOnlyClientNetworks: [readNet],
    });
    new GrafanaServer(stack, "grafana", {
      environment: "test",
      image: IMAGE,
      rootUrl: "https://grafana.updateio.test",
      exposure: { mode: "edge", edgeNetwork: new PlatformNetwork(stack, "edge-network", { environment: "test", purpose: "edge" }) },
      monitoringNetwork: new PlatformNetwork(stack, "monitoring-network", { environment: "test", purpose: "monitoring" }),
      postgres: { cluster, network: readNet },
      rules: RULES,
    });
    const j: Json = JSON.parse(synthText(stack));
    const uploadsOf = (name: string) =>
      new Map<string, string>(
        ((Object.values(j.resource.docker_container) as Json[]).find((c) => c.name === name)!.upload as Json[]).map((u) => [
          u.file,
          u.content,
        ]),
      );
    const grafanaFiles = uploadsOf("test-grafana-seed");
    const pgFiles = uploadsOf("test-postgres-seed");
    const ds = parse(grafanaFiles.get(`${GRAFANA_PATHS.provisioning}/datasources/datasources.yaml`)!).datasources.find(
      (d: Json) => d.uid === "postgres-readonly",
    );
    expect({ url: ds.url, user: ds.user, database: ds.jsonData.database }).toEqual({ url: "postgres-ro:5432", user: role, database: role });
    // The same generated password, as a file on both sides; never in the provisioning file.
    expect(grafanaFiles.get("/run/secrets/grafana_postgres_password")).toMatch(
      /^\$\{random_password\.postgres_role-updateio_grafana-password_[0-9A-F]+\.result\}$/,
    );
    expect(pgFiles.get("/run/secrets/postgres_updateio_grafana_password")).toBe(grafanaFiles.get("/run/secrets/grafana_postgres_password"));
    expect(ds.secureJsonData).toEqual({ password: "$__file{/run/secrets/grafana_postgres_password}" });
    // The role's first-boot SQL and its pg_hba line come with the cluster (the replica joins Grafana's network as postgres-ro).
    expect(pgFiles.get("/docker-entrypoint-initdb.d/20-updateio-grafana.sql")).toBe(
      renderGrafanaRoleSql({ role, database: role, passwordFile: "/run/secrets/postgres_updateio_grafana_password" }),
    );
    expect(pgFiles.get("/etc/postgresql/pg_hba.conf")).toMatch(/^host +updateio_grafana +updateio_grafana +samenet +scram-sha-256$/m);
  });

  it("rejects invalid props, naming each prop and the fix, all at once", () => {
    const message = errorOf(() =>
      build("dev", ({ edge, cluster }) => ({
        rootUrl: "http://grafana.updateio.app",
        exposure: { mode: "edge", edgeNetwork: edge },
        publishNetwork: edge,
        postgres: { cluster, network: edge, role: "Bad Role" },
        alerting: { telegram: { botToken: "123:abc", chatId: "chat" } },
        egressNetwork: undefined,
        rules: [],
        memoryMb: 64,
      })),
    );
    expect(message).toMatch(/^GrafanaServer dev\/grafana is invalid:$/m);
    expect(message).toMatch(
      /^  - postgres\.network: the "edge" network is not one of the cluster's readOnlyClientNetworks, .*\(fix: pass it in the cluster's readOnlyClientNetworks too\)$/m,
    );
    expect(message).toMatch(
      /^  - postgres\.role: PostgresCluster dev\/postgres: addRole: name "Bad Role" must be a lowercase SQL identifier/m,
    );
    expect(message).toMatch(/^  - alerting\.telegram\.botToken: is a literal; .*\(fix: pass a sensitive Terraform variable's value/m);
    expect(message).toMatch(/^  - memoryMb: 64 must be a whole number of MiB ≥ 256/m);
    expect(message).toMatch(/^  - publishNetwork: is only used with exposure\.mode "localhost"/m);
    expect(message).toMatch(/^  - egressNetwork: is required when an alerting channel is configured/m);
    expect(message).toMatch(
      /^  - rootUrl: "http:\/\/grafana\.updateio\.app" uses http on a non-loopback host: serve it through the edge proxy/m,
    );
    expect(message).toMatch(/^  - alerting\.telegram\.chatId: "chat" is not a chat id/m);
    expect(message).toMatch(/^  - rules: is empty: pass alertRules/m);

    expect(message.match(/^  - rootUrl:/gm)).toHaveLength(1);
    const loopbackBehindEdge = errorOf(() => build("dev", () => ({ rootUrl: "http://127.0.0.1:3000" })));
    expect(loopbackBehindEdge).toMatch(/^  - rootUrl: "http:\/\/127\.0\.0\.1:3000" must be https behind the edge, which terminates TLS/m);

    const local = errorOf(() =>
      build("dev", () => ({ rootUrl: "http://127.0.0.1:3000", exposure: { mode: "localhost", port: 3001 }, alerting: undefined })),
    );
    expect(local).toMatch(/^  - rootUrl: port 3000 differs from exposure\.port 3001.*\(fix: "http:\/\/127\.0\.0\.1:3001"\)$/m);
    expect(local).toMatch(
      /^  - publishNetwork: is required with exposure "localhost": Docker publishes no port of a container on internal networks only \(fix: pass the egress network\)$/m,
    );
    const internalPublish = errorOf(() =>
      build("dev", ({ edge }) => ({
        rootUrl: "http://127.0.0.1:3000",
        exposure: { mode: "localhost", port: 3000 },
        publishNetwork: edge,
        alerting: undefined,
      })),
    );
    expect(internalPublish).toMatch(/^  - publishNetwork: the "edge" network is internal, so Docker would publish nothing/m);
  });
});
