/**
 * Values that differ per machine come from environment variables. This file is the one list of
 * them (README documents the same list): each read records a problem instead of throwing, so that
 * a bad variable is reported together with every other configuration error.
 */
export interface VariableProblem {
  readonly variable: string;
  readonly message: string;
}

export const VARIABLES = {
  UPDATEIO_DOCKER_HOST: "Docker daemon for the stack (unix://, tcp:// or ssh:// URL).",
  UPDATEIO_DOMAIN: "Base domain of test/prod; hosts are api.<domain>, admin.<domain>, app.<domain>.",
  UPDATEIO_ACME_EMAIL: "Contact email of the ACME (Let's Encrypt) account in prod.",
  UPDATEIO_ACME_CA: "ACME directory URL (for example Let's Encrypt staging) in prod.",
  UPDATEIO_ADMIN_ALLOW: "Comma-separated CIDRs allowed on admin surfaces.",
  UPDATEIO_EDGE_HTTP_PORT: "Host port for the edge's HTTP listener.",
  UPDATEIO_EDGE_HTTPS_PORT: "Host port for the edge's HTTPS listener.",
  UPDATEIO_SOURCE_ROOT: "Dev: folder holding the UpdateIO service sources (api/, discord-bot/, ...), relative to this project.",
  UPDATEIO_TFC_HOSTNAME: "Terraform Cloud host for prod state.",
  UPDATEIO_TFC_ORGANIZATION: "Terraform Cloud organization for prod state.",
  UPDATEIO_TFC_WORKSPACE: "Terraform Cloud workspace for the prod stack.",
  UPDATEIO_BACKUP_OFFSITE_ENDPOINT: "test/prod: S3-compatible endpoint for the off-host backup copy (with UPDATEIO_BACKUP_OFFSITE_BUCKET; keys are the Terraform variables offsite_access_key_id/offsite_secret_access_key).",
  UPDATEIO_BACKUP_OFFSITE_BUCKET: "test/prod: existing bucket for the off-host backup copy.",
  UPDATEIO_BACKUP_OFFSITE_PROVIDER: "rclone s3 provider of the off-host bucket (AWS, Minio, Cloudflare, Other).",
  UPDATEIO_BACKUP_OFFSITE_REGION: "Region of the off-host bucket (e.g. eu-central-1).",
  UPDATEIO_ALERT_TELEGRAM_CHAT_ID: "Telegram chat id Grafana sends alerts to (bot token: Terraform variable alert_telegram_bot_token).",
  UPDATEIO_ALERT_DISCORD: "Set to 1 to send alerts to Discord (webhook URL: Terraform variable alert_discord_webhook_url).",
  UPDATEIO_GRAFANA_EXPOSE: "dev/test: \"edge\" (https://grafana.<domain>, admin allow-list) or \"localhost\" (http://127.0.0.1:3000).",
  UPDATEIO_VPN: "Set to 1 to run the WireGuard gateway for operators (admin panel, Grafana, RabbitMQ management).",
  UPDATEIO_VPN_ENDPOINT: "Public host name of the Docker host for the VPN client templates.",
  UPDATEIO_VPN_PEERS: "Comma-separated VPN peers as name:publicKey:address, e.g. alice-laptop:<wg pubkey>:10.13.13.2/32.",
  UPDATEIO_VPN_KEY: "\"generated\" (default: made in the container) or \"supplied\" (TF_VAR_vpn_private_key).",
  UPDATEIO_API_IMAGE: "test/prod: API image override (name:tag@sha256:...).",
  UPDATEIO_DISCORD_BOT_IMAGE: "test/prod: Discord bot image override.",
  UPDATEIO_TELEGRAM_BOT_IMAGE: "test/prod: Telegram bot image override.",
  UPDATEIO_ADMIN_PANEL_IMAGE: "test/prod: admin panel image override.",
  UPDATEIO_MINI_APP_IMAGE: "test/prod: mini app image override.",
} as const;

export type VariableName = keyof typeof VARIABLES;

export class Variables {
  readonly problems: VariableProblem[] = [];

  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {
    for (const name of Object.keys(env)) {
      if (name.startsWith("UPDATEIO_") && !(name in VARIABLES)) {
        this.report(name, `is not a variable this project reads; known: ${Object.keys(VARIABLES).join(", ")}`);
      }
    }
  }

  string(name: VariableName, fallback: string): string {
    const value = this.env[name];
    return value === undefined || value.trim() === "" ? fallback : value.trim();
  }

  port(name: VariableName, fallback: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw.trim() === "") return fallback;
    const value = /^\d{1,5}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (!(value >= 1 && value <= 65535)) {
      this.report(name, `"${raw}" is not a port; set a whole number between 1 and 65535`);
      return fallback;
    }
    return value;
  }

  /** An environment may read a variable more than once; its problem is reported once. */
  private report(variable: string, message: string): void {
    if (!this.problems.some((p) => p.variable === variable && p.message === message)) this.problems.push({ variable, message });
  }

  list(name: VariableName, fallback: string[]): string[] {
    const raw = this.env[name];
    if (raw === undefined || raw.trim() === "") return fallback;
    return raw.split(",").map((item) => item.trim()).filter((item) => item.length > 0);
  }
}
