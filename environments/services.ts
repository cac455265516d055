import type { EnvironmentConfigInput } from "./schema";

export type ServiceInput = EnvironmentConfigInput["services"][string];
type Image = ServiceInput["image"];

/** What differs per environment: images, sizes, hosts, and how Telegram reaches the bot. */
export interface ServiceCatalogueOptions {
  /** The image of a service, by name (dev: built from its source folder; test/prod: the released digest). */
  readonly image: (service: string) => Image;
  /** Replicas, memory and CPU shares of a service, by name. */
  readonly size: (service: string) => Pick<ServiceInput, "replicas" | "memoryMb" | "cpuShares">;
  readonly hosts: { readonly api: string; readonly admin: string; readonly miniApp: string };
  /** The environment's base domain, for the host of a new route, e.g. `status.${domain}`. */
  readonly domain: string;
  /** Public URL of a host, with the edge's HTTPS port when it is not 443. */
  readonly publicUrl: (host: string) => string;
  /** Settings every service gets, e.g. NODE_ENV. */
  readonly env: Readonly<Record<string, string>>;
  /** polling: the bot calls getUpdates (one consumer); webhook: Telegram calls us through the edge. */
  readonly telegramMode: "polling" | "webhook";
  /** Dev: the API's inspector port on 127.0.0.1 and its debug routes. @default false */
  readonly debug?: boolean;
}

/** Telegram's allowed frame ancestors for mini apps (web and desktop clients). */
export const TELEGRAM_FRAME_ANCESTORS = ["https://web.telegram.org", "https://*.telegram.org"];
export const TELEGRAM_WEBHOOK_PATH = "/telegram/webhook";

/**
 * The UpdateIO services, one entry each, for every environment. A new service is one more entry
 * here (and its released image in releases.json); each environment only chooses images and sizes.
 */
export function updateioServices(o: ServiceCatalogueOptions): Record<string, ServiceInput> {
  const entry = (name: string, port: number, rest: Partial<ServiceInput> = {}): ServiceInput => ({
    image: o.image(name),
    ...o.size(name),
    port,
    // The service contract: every UpdateIO service serves Prometheus metrics on its port.
    metrics: { path: "/metrics" },
    ...rest,
    env: { ...o.env, ...rest.env },
  });
  const apiUrl = o.publicUrl(o.hosts.api);
  const webhook = o.telegramMode === "webhook";
  return {
    api: entry("api", 3000, {
      uses: ["postgres", "redis", "rabbitmq"],
      messaging: { publishes: ["updateio.events", "updateio.commands"], consumes: ["updates.fetch"] },
      routes: [{ host: o.hosts.api }],
      secrets: [
        { name: "session_secret", envVar: "SESSION_SECRET_FILE", generate: { length: 64 } },
        { name: "encryption_key", envVar: "ENCRYPTION_KEY_FILE", generate: { length: 64 } },
      ],
      env: { MINI_APP_URL: o.publicUrl(o.hosts.miniApp), ADMIN_URL: o.publicUrl(o.hosts.admin) },
      ...(o.debug ? { debugPorts: [9229], features: { debugRoutes: true } } : {}),
    }),
    "discord-bot": entry("discord-bot", 3001, {
      uses: ["redis", "rabbitmq"],
      messaging: { publishes: ["updateio.commands"], consumes: ["notifications.discord"] },
      calls: ["api"],
      // The Discord gateway is on the internet.
      egress: true,
      secrets: [
        {
          name: "discord_bot_token",
          envVar: "DISCORD_BOT_TOKEN_FILE",
          variable: {
            name: "discord_bot_token",
            description: "Discord bot token (Discord developer portal). Set TF_VAR_discord_bot_token or the workspace variable.",
          },
        },
      ],
      // One gateway session per token: an update must not run the old and new bot side by side.
      exclusive: true,
      env: { API_PUBLIC_URL: apiUrl },
    }),
    "telegram-bot": entry("telegram-bot", 3002, {
      uses: ["redis", "rabbitmq"],
      messaging: { publishes: ["updateio.commands"], consumes: ["notifications.telegram"] },
      calls: ["api"],
      egress: true,
      routes: webhook ? [{ host: o.hosts.api, path: TELEGRAM_WEBHOOK_PATH }] : [],
      secrets: [
        {
          name: "telegram_bot_token",
          envVar: "TELEGRAM_BOT_TOKEN_FILE",
          variable: {
            name: "telegram_bot_token",
            description: "Telegram bot token from @BotFather. Set TF_VAR_telegram_bot_token or the workspace variable.",
          },
        },
        // Telegram echoes this in X-Telegram-Bot-Api-Secret-Token; letters and digits are within its allowed set.
        ...(webhook ? [{ name: "telegram_webhook_secret", envVar: "TELEGRAM_WEBHOOK_SECRET_FILE", generate: { length: 48 } }] : []),
      ],
      // Telegram allows one getUpdates consumer; webhooks are plain HTTP and can overlap.
      exclusive: !webhook,
      env: {
        API_PUBLIC_URL: apiUrl,
        TELEGRAM_MODE: o.telegramMode,
        MINI_APP_URL: o.publicUrl(o.hosts.miniApp),
        ...(webhook ? { TELEGRAM_WEBHOOK_URL: `${apiUrl}${TELEGRAM_WEBHOOK_PATH}` } : {}),
      },
    }),
    "admin-panel": entry("admin-panel", 3003, {
      calls: ["api"],
      routes: [{ host: o.hosts.admin, adminOnly: true }],
      secrets: [{ name: "session_secret", envVar: "SESSION_SECRET_FILE", generate: { length: 64 } }],
      env: { API_PUBLIC_URL: apiUrl },
    }),
    "mini-app": entry("mini-app", 3004, {
      calls: ["api"],
      routes: [{ host: o.hosts.miniApp, frameAncestors: TELEGRAM_FRAME_ANCESTORS }],
      env: { API_PUBLIC_URL: apiUrl },
    }),
  };
}
