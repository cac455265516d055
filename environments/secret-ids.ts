/**
 * Construct ids of the app services' generated secrets. Their own module because the config check
 * (environments/topology-problems.ts) computes them too: ids share the stack's one namespace, so two
 * that meet, or one that meets a service's or a network's, fail the synth.
 */

/**
 * Ids two secrets had before services became a map: kept, because a new id is a new
 * random_password (every admin session, or Telegram's webhook secret, would change on apply).
 */
const SECRET_IDS: Record<string, string> = {
  "admin-panel/session_secret": "admin-session-secret",
  "telegram-bot/telegram_webhook_secret": "telegram-webhook-secret",
};

/** Construct id of a generated secret: `<service>-<name>`, e.g. api-session-secret. */
export function secretId(service: string, name: string): string {
  return SECRET_IDS[`${service}/${name}`] ?? `${service}-${name.replace(/_/g, "-")}`;
}
