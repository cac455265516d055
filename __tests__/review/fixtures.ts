/**
 * A small hand-made stack in the shape our constructs synthesize: one network, one image, one
 * generated password, a seed carrying a secret file, an "api" service with two replicas that take
 * the seed's files (replace_triggered_by), and a single "db" container with a protected data volume.
 */
import type { ResourceChange, StackDiff } from "../../scripts/review/classify";
import { LABELS, type Body, type TerraformJson } from "../../scripts/review/terraform-json";

export type Stack = TerraformJson & { resource: Record<string, Record<string, Body>> };

const labels = (service: string, component: string, extra: Record<string, string> = {}) =>
  Object.entries({ [LABELS.project]: "updateio", [LABELS.service]: service, [LABELS.component]: component, ...extra }).map(
    ([label, value]) => ({ label, value }),
  );

function container(name: string, service: string, extra: Body = {}): Body {
  return {
    name,
    image: "${docker_image.img.image_id}",
    labels: labels(service, "app"),
    env: ["LOG_LEVEL=info", "PORT=3000"],
    memory: 256,
    memory_swap: 256,
    cpu_shares: 512,
    restart: "unless-stopped",
    read_only: true,
    user: "1000:1000",
    healthcheck: { test: ["CMD", "true"], interval: "30s", timeout: "5s", retries: 3, start_period: "20s" },
    networks_advanced: [{ name: "${docker_network.app.name}", aliases: [service] }],
    ports: [],
    ...extra,
  };
}

/** A fresh copy each call: tests mutate it. */
export function baseStack(): Stack {
  return {
    resource: {
      docker_network: { app: { name: "t-app", driver: "bridge", internal: true, labels: [{ label: LABELS.role, value: "app" }] } },
      docker_image: { img: { name: "ghcr.io/updateio/api:1.0.0@sha256:" + "a".repeat(64), keep_locally: true } },
      random_password: { pw: { "//": { metadata: { path: "t/db-password/password" } }, length: 32, special: false } },
      docker_volume: {
        data: { name: "t-db-data", labels: labels("db", "data"), lifecycle: { prevent_destroy: true } },
        secrets: { name: "t-api-secrets", labels: labels("api", "app", { [LABELS.ephemeral]: "true" }) },
      },
      docker_container: {
        api_seed: {
          name: "t-api-seed",
          image: "${docker_image.img.image_id}",
          labels: labels("api", "seed"),
          start: false,
          must_run: false,
          memory: 16,
          upload: [{ file: "/run/secrets/db_password", content: "${random_password.pw.result}", executable: false }],
          volumes: [{ container_path: "/run/secrets", read_only: false, volume_name: "${docker_volume.secrets.name}" }],
        },
        api_1: container("t-api-1", "api", {
          depends_on: ["docker_container.api_seed", "docker_container.db"],
          lifecycle: { replace_triggered_by: ["docker_container.api_seed"] },
          env: ["LOG_LEVEL=info", "PORT=3000", "DATABASE_URL_FILE=/run/secrets/db_password", "DB=db:5432"],
          volumes: [{ container_path: "/run/secrets", read_only: true, volume_name: "${docker_volume.secrets.name}" }],
        }),
        api_2: container("t-api-2", "api", {
          depends_on: ["docker_container.api_seed", "docker_container.db"],
          lifecycle: { replace_triggered_by: ["docker_container.api_seed"] },
          env: ["LOG_LEVEL=info", "PORT=3000", "DATABASE_URL_FILE=/run/secrets/db_password", "DB=db:5432"],
          volumes: [{ container_path: "/run/secrets", read_only: true, volume_name: "${docker_volume.secrets.name}" }],
        }),
        db: container("t-db", "db", {
          labels: labels("db", "data"),
          volumes: [{ container_path: "/var/lib/db", read_only: false, volume_name: "${docker_volume.data.name}" }],
        }),
      },
    },
  };
}

/** Two fresh copies of a stack: `before` unchanged, `after` with `edit` applied. */
export function pairOf(make: () => Stack, edit: (after: Stack) => void): { before: Stack; after: Stack } {
  const before = make();
  const after = make();
  edit(after);
  return { before, after };
}

/** `before` unchanged, `after` = base with `edit` applied. */
export const pair = (edit: (after: Stack) => void) => pairOf(baseStack, edit);

export const containers = (s: Stack) => s.resource.docker_container!;
export const volumes = (s: Stack) => s.resource.docker_volume!;

/** The change of one resource in a diff (throws, listing what changed, when there is none). */
export function change(d: StackDiff, address: string): ResourceChange {
  const all = [...d.added, ...d.removed, ...d.changed];
  const found = all.find((c) => c.address === address);
  if (!found) throw new Error(`no change for ${address}; have ${all.map((c) => c.address).join(", ") || "none"}`);
  return found;
}

/** Every address a diff touches, sorted. */
export const addresses = (d: StackDiff) => [...d.added, ...d.removed, ...d.changed].map((c) => c.address).sort();
