/**
 * Bench workload for `npm run bench` (scripts/bench.ts), section 3: the real app (dev, test and prod
 * EnvironmentStacks, built exactly as main.ts builds them) with every stack's app services
 * multiplied by BENCH_SCALE (1 = the real app, 10 = 50 app services per stack, 50 = 250).
 *
 * Each extra service is a copy of one of the five real services (round robin) wired the way
 * EnvironmentStack wires the original, on the stack's runtime (containers in dev, Swarm in test and
 * prod): its own image, its own secrets (random_password or a sensitive variable, as the original;
 * a seed container on the container runtime, docker_secrets on Swarm), the data tier's connections
 * (networks, settings, credentials, readiness) and networks of its own like the original's: a
 * route network towards the edge, an egress network, a caller network towards the API. Copies
 * publish no debug ports (two containers cannot bind the same host port), get no Caddy route (the
 * edge proxy is built inside EnvironmentStack from the five known services) and the API does not
 * join their caller networks.
 *
 * Run like the app itself (`npx tsx scripts/bench/scaled-app.ts` with CDKTF_OUTDIR set). When
 * BENCH_REPORT names a file, the in-process figures are written there as JSON; nothing is printed.
 * Source maps are off, as in main.ts; BENCH_SOURCEMAPS=1 leaves them on (for a what-if).
 */
import { writeFileSync } from "node:fs";
import { App, type ITerraformDependable, TerraformResource, TerraformVariable } from "cdktf";
import { GeneratedSecret } from "../../constructs/kit/generated-secret";
import { PlatformNetwork } from "../../constructs/kit/platform-network";
import type { SecretFile } from "../../constructs/kit/service-spec";
import { SwarmRuntime } from "../../constructs/kit/swarm-runtime";
import { UpdateioService, type ServiceUse } from "../../constructs/app/updateio-service";
import { EnvironmentStack } from "../../environments/environment-stack";
import { ENVIRONMENTS, loadEnvironmentConfig } from "../../environments/load";
import type { EnvironmentConfig } from "../../environments/schema";

type ServiceKey = keyof EnvironmentConfig["services"];

/** The five real services, in EnvironmentStack's order, with the DNS names it gives them. */
const KINDS: readonly { key: ServiceKey; service: string }[] = [
  { key: "api", service: "api" },
  { key: "discordBot", service: "discord-bot" },
  { key: "telegramBot", service: "telegram-bot" },
  { key: "adminPanel", service: "admin-panel" },
  { key: "miniApp", service: "mini-app" },
];

/** Number of app services per stack at a multiplier (the five real ones included). */
export function appServicesPerStack(multiplier: number): number {
  return KINDS.length * multiplier;
}

class ScaledEnvironmentStack extends EnvironmentStack {
  /** The runtime EnvironmentStack gives the real services (undefined: plain containers). */
  private readonly appRuntime: SwarmRuntime | undefined;

  constructor(scope: App, id: string, config: EnvironmentConfig, multiplier: number) {
    super(scope, id, config);
    const rt = config.runtime;
    this.appRuntime =
      rt.kind === "swarm"
        ? new SwarmRuntime({ placementConstraints: rt.placementConstraints, updateDelaySeconds: rt.updateDelaySeconds })
        : undefined;
    const extra = appServicesPerStack(multiplier) - KINDS.length;
    for (let i = 0; i < extra; i++) this.addCopy(KINDS[i % KINDS.length]!, Math.floor(i / KINDS.length) + 2);
  }

  /** Copy number `n` (2, 3, ...) of one real service, wired as EnvironmentStack wires the original. */
  private addCopy(kind: { key: ServiceKey; service: string }, n: number): void {
    const config = this.config;
    const env = config.name;
    const s = config.services;
    const service = `${kind.service}-x${n}`;
    // Networks of the copy's own, as EnvironmentStack gives each real service (pairs, not shared ones).
    const own = (purpose: string, internal = true) =>
      new PlatformNetwork(this, `${purpose}-network`, { environment: env, purpose, internal });
    const routeNet = () => own(`edge-${service}`);
    const egressNet = () => own(`egress-${service}`, false);
    const callerNet = () => own(`api-${service}`);
    const publicUrl = (host: string) => (config.edge.httpsPort === 443 ? `https://${host}` : `https://${host}:${config.edge.httpsPort}`);
    const apiUrlEnv = { API_INTERNAL_URL: `http://api:${s.api.port}`, API_PUBLIC_URL: publicUrl(config.hosts.api) };
    const generated = (name: string, envVar: string, length: number): SecretFile => ({
      name,
      value: new GeneratedSecret(this, `${service}-${name.replace(/_/g, "-")}`, { length }).value,
      envVar,
    });
    const token = (name: string, envVar: string): SecretFile => ({
      name,
      value: new TerraformVariable(this, `${service.replace(/-/g, "_")}_${name}`, {
        type: "string",
        sensitive: true,
        nullable: false,
        description: `Bench copy ${service}: ${name}.`,
        default: env === "dev" ? "dev-placeholder-set-TF_VAR_to-connect" : undefined,
      }).stringValue,
      envVar,
    });

    let uses: ServiceUse[] = [];
    let networks: { network: PlatformNetwork }[] = [];
    let secrets: SecretFile[] = [];
    let extraEnv: Record<string, string> = apiUrlEnv;
    let dependsOn: readonly ITerraformDependable[] | undefined;
    switch (kind.key) {
      case "api":
        uses = [{ target: this.postgres }, { target: this.redis }, { target: this.rabbitmq }];
        networks = [{ network: routeNet() }];
        secrets = [generated("session_secret", "SESSION_SECRET_FILE", 64), generated("encryption_key", "ENCRYPTION_KEY_FILE", 64)];
        extraEnv = { MINI_APP_URL: publicUrl(config.hosts.miniApp), ADMIN_URL: publicUrl(config.hosts.admin) };
        dependsOn = this.migrations.containers;
        break;
      case "discordBot":
        uses = [{ target: this.redis }, { target: this.rabbitmq }];
        networks = [{ network: egressNet() }, { network: callerNet() }];
        secrets = [token("discord_bot_token", "DISCORD_BOT_TOKEN_FILE")];
        break;
      case "telegramBot": {
        const webhook = s.telegramBot.mode === "webhook";
        uses = [{ target: this.redis }, { target: this.rabbitmq }];
        networks = [{ network: egressNet() }, { network: callerNet() }, ...(webhook ? [{ network: routeNet() }] : [])];
        secrets = [token("telegram_bot_token", "TELEGRAM_BOT_TOKEN_FILE")];
        if (webhook) secrets.push(generated("telegram_webhook_secret", "TELEGRAM_WEBHOOK_SECRET_FILE", 48));
        extraEnv = {
          ...apiUrlEnv,
          TELEGRAM_MODE: s.telegramBot.mode,
          MINI_APP_URL: publicUrl(config.hosts.miniApp),
          ...(webhook ? { TELEGRAM_WEBHOOK_URL: `${publicUrl(config.hosts.api)}${s.telegramBot.webhookPath}` } : {}),
        };
        break;
      }
      case "adminPanel":
        networks = [{ network: routeNet() }, { network: callerNet() }];
        secrets = [generated("session_secret", "SESSION_SECRET_FILE", 64)];
        break;
      case "miniApp":
        networks = [{ network: routeNet() }, { network: callerNet() }];
        break;
    }
    const original = s[kind.key];
    new UpdateioService(this, service, {
      environment: env,
      logLevel: config.logLevel,
      debug: config.debug,
      service,
      // No debug ports on copies: the host port is the original's.
      config: { ...original, debugPorts: [] },
      uses,
      networks,
      secrets,
      env: extraEnv,
      dependsOn,
      runtime: this.appRuntime,
      // As EnvironmentStack: the bots hold one gateway or polling session each.
      exclusive: kind.key === "discordBot" || (kind.key === "telegramBot" && s.telegramBot.mode !== "webhook"),
    });
  }
}

function main(): void {
  const loaded = performance.now(); // process start → every module loaded (node + tsx boot, imports)
  // As main.ts does: no source mapping of cdktf's per-token stack traces (BENCH_SOURCEMAPS=1 to price it).
  if (process.env.BENCH_SOURCEMAPS !== "1") process.setSourceMapsEnabled(false);
  const multiplier = Number(process.env.BENCH_SCALE ?? "1");
  if (!Number.isInteger(multiplier) || multiplier < 1)
    throw new Error(`BENCH_SCALE must be a whole number ≥ 1, got ${process.env.BENCH_SCALE}`);

  let t = performance.now();
  const configs = ENVIRONMENTS.map((name) => loadEnvironmentConfig(name));
  const configMs = performance.now() - t;

  t = performance.now();
  const app = new App();
  for (const config of configs) new ScaledEnvironmentStack(app, config.name, config, multiplier);
  const constructMs = performance.now() - t;

  t = performance.now();
  app.synth();
  const synthMs = performance.now() - t;

  const report = process.env.BENCH_REPORT;
  if (report) {
    const resources = app.node.findAll().filter((c): c is TerraformResource => TerraformResource.isTerraformResource(c));
    writeFileSync(
      report,
      JSON.stringify({
        multiplier,
        stacks: configs.length,
        appServicesPerStack: appServicesPerStack(multiplier),
        resources: resources.length,
        containers: resources.filter((r) => r.terraformResourceType === "docker_container").length,
        loadMs: loaded,
        configMs,
        constructMs,
        synthMs,
        maxRssMb: process.resourceUsage().maxRSS / 1024,
      }),
    );
  }
}

main();
