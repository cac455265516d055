/**
 * A small hand-made Swarm stack in the shape the swarm runtime synthesizes for test and prod
 * (written from the planned JSON, not from the constructs, so these tests do not wait for them):
 * attachable overlay networks (edge encrypted, options ignored), a generated password delivered as
 * a content-named docker_secret, a docker_config, an "api" docker_service with 2 replicas
 * (start-first) that depends on a one-shot migration container, a "bot" docker_service with 1
 * replica (stop-first), and a plain "db" container with a protected volume on the app overlay.
 */
import { LABELS, type Body } from "../../scripts/review/terraform-json";
import { pairOf, type Stack } from "./fixtures";

export const labels = (service: string, component: string) => [
  { label: LABELS.component, value: component },
  { label: LABELS.environment, value: "t" },
  { label: LABELS.project, value: "updateio" },
  { label: LABELS.service, value: service },
];

export const DIGEST = "b".repeat(64);

function swarmService(
  service: string,
  extra: { replicas: number; order: string; networks: Body[]; secrets?: Body[]; configs?: Body[] },
): Body {
  return {
    name: `t-${service}`,
    labels: labels(service, "app"),
    mode: { replicated: { replicas: extra.replicas } },
    task_spec: {
      container_spec: {
        image: `registry.example/updateio/${service}:1.2.3@sha256:${DIGEST}`,
        env: { PORT: "3000", LOG_LEVEL: "info", SESSION_SECRET_FILE: "/run/secrets/session_secret", DB: "db:5432" },
        user: "1000:1000",
        read_only: true,
        cap_drop: ["ALL"],
        mounts: [
          { target: "/home/node", type: "tmpfs" },
          { target: "/tmp", type: "tmpfs" },
        ],
        ...(extra.secrets ? { secrets: extra.secrets } : {}),
        ...(extra.configs ? { configs: extra.configs } : {}),
        healthcheck: { test: ["CMD", "node", "-e", "process.exit(0)"], interval: "15s", timeout: "5s", retries: 3, start_period: "30s" },
        stop_grace_period: "30s",
        labels: labels(service, "app"),
      },
      resources: { limits: { memory_bytes: 536870912, nano_cpus: 1000000000 }, reservation: { memory_bytes: 134217728 } },
      restart_policy: { condition: "any", delay: "5s", max_attempts: 0, window: "2m" },
      networks_advanced: extra.networks,
      log_driver: { name: "json-file", options: { "max-file": "3", "max-size": "10m" } },
    },
    update_config: {
      parallelism: 1,
      delay: "5s",
      failure_action: "rollback",
      monitor: "1m50s",
      max_failure_ratio: "0.0",
      order: extra.order,
    },
    rollback_config: {
      parallelism: 1,
      delay: "0s",
      failure_action: "pause",
      monitor: "1m50s",
      max_failure_ratio: "0.0",
      order: extra.order,
    },
    endpoint_spec: { mode: "dnsrr" },
  };
}

const network = (purpose: string, internal: boolean, encrypted: boolean): Body => ({
  name: `t-${purpose}`,
  driver: "overlay",
  attachable: true,
  internal,
  labels: [{ label: LABELS.role, value: purpose }],
  ...(encrypted ? { options: { encrypted: "" }, lifecycle: { ignore_changes: ["options"] } } : {}),
});

export const SECRET_NAME_EXPRESSION = '${join("", ["t-api-session_secret-", substr(sha256(random_password.session.result), 0, 12)])}';
export const CONFIG_CONTENT = "listen: 0.0.0.0:3000\\nupstream: db:5432\\n";

/** A fresh copy each call: tests mutate it. */
export function swarmStack(): Stack {
  return {
    resource: {
      docker_network: { edge: network("edge", true, true), app: network("app", true, false), egress: network("egress", false, false) },
      docker_image: { db: { name: `postgres:17.2-bookworm@sha256:${"c".repeat(64)}`, keep_locally: true } },
      random_password: { session: { "//": { metadata: { path: "t/session/password" } }, length: 48, special: false } },
      docker_secret: {
        session: {
          name: SECRET_NAME_EXPRESSION,
          data: "${base64encode(random_password.session.result)}",
          labels: labels("api", "app").slice(1),
          lifecycle: { create_before_destroy: true },
        },
      },
      docker_config: {
        api_conf: {
          name: "t-api-app.yaml-0123456789ab",
          data: `\${base64encode("${CONFIG_CONTENT}")}`,
          lifecycle: { create_before_destroy: true },
        },
      },
      docker_volume: { data: { name: "t-db-data", labels: labels("db", "data"), lifecycle: { prevent_destroy: true } } },
      docker_container: {
        migrate: {
          name: "t-api-migrate",
          image: `registry.example/updateio/api:1.2.3@sha256:${DIGEST}`,
          labels: labels("api-migrate", "job"),
          restart: "no",
          must_run: false,
          attach: true,
          networks_advanced: [{ name: "${docker_network.app.name}", aliases: ["api-migrate"] }],
        },
        db: {
          name: "t-db",
          image: "${docker_image.db.image_id}",
          labels: labels("db", "data"),
          restart: "unless-stopped",
          memory: 512,
          user: "999:999",
          read_only: true,
          networks_advanced: [{ name: "${docker_network.app.name}", aliases: ["db"] }],
          volumes: [{ container_path: "/var/lib/postgresql/data", read_only: false, volume_name: "${docker_volume.data.name}" }],
        },
      },
      docker_service: {
        api: {
          ...swarmService("api", {
            replicas: 2,
            order: "start-first",
            networks: [
              { name: "${docker_network.edge.id}", aliases: ["api"] },
              { name: "${docker_network.app.id}", aliases: ["api"] },
            ],
            secrets: [
              {
                secret_id: "${docker_secret.session.id}",
                secret_name: "${docker_secret.session.name}",
                file_name: "/run/secrets/session_secret",
                file_uid: "1000",
                file_gid: "1000",
                file_mode: 256,
              },
            ],
            configs: [
              {
                config_id: "${docker_config.api_conf.id}",
                config_name: "${docker_config.api_conf.name}",
                file_name: "/etc/api/app.yaml",
                file_uid: "1000",
                file_gid: "1000",
                file_mode: 292,
              },
            ],
          }),
          depends_on: ["docker_container.migrate"],
        },
        bot: swarmService("bot", {
          replicas: 1,
          order: "stop-first",
          networks: [
            { name: "${docker_network.egress.id}", aliases: ["bot"] },
            { name: "${docker_network.app.id}", aliases: ["bot"] },
          ],
        }),
      },
    },
  };
}

export const swarmPair = (edit: (after: Stack) => void) => pairOf(swarmStack, edit);

export const services = (s: Stack) => s.resource.docker_service!;
export const taskSpec = (s: Stack, name: string) => services(s)[name]!.task_spec as Body;
export const containerSpec = (s: Stack, name: string) => taskSpec(s, name).container_spec as Body;
