/** Expected shapes of synthesized resources that several constructs share, in one place. */

/** A config seed: created so Terraform can upload files into its volumes, never started, no network, nobody. */
export const SEED_CONTAINER = {
  start: false,
  must_run: false,
  network_mode: "none",
  user: "65534:65534",
  capabilities: { drop: ["ALL"] },
  security_opts: ["no-new-privileges:true"],
} as const;

/** The label that marks a volume as rebuilt from the synth on every replace (config, secrets). */
export const EPHEMERAL_LABEL = { label: "io.updateio.ephemeral", value: "true" } as const;

/** The hardening every long-running container of ours has: read-only rootfs, no capabilities, no privilege gain. */
export const HARDENED_CONTAINER = {
  read_only: true,
  capabilities: { drop: ["ALL"] },
  security_opts: ["no-new-privileges:true"],
} as const;

/** Rotated json-file logs: 3 files of 10 MB. */
export const ROTATED_LOGS = { log_driver: "json-file", log_opts: { "max-size": "10m", "max-file": "3" } } as const;

/** Prometheus's scrape config for the API's Swarm tasks: every task found by DNS, relabelled to job "app". */
export const API_SCRAPE_CONFIG = {
  job_name: "app-api",
  metrics_path: "/metrics",
  dns_sd_configs: [{ names: ["tasks.api"], type: "A", port: 3000, refresh_interval: "30s" }],
  relabel_configs: [
    { target_label: "job", replacement: "app" },
    { target_label: "service", replacement: "api" },
  ],
} as const;
