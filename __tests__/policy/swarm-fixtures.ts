/**
 * Swarm fixtures: ONE compliant docker_service (the shape test and prod synthesize for the app
 * services), with its docker_secret, docker_config and overlay network, as raw provider resources.
 */
import { Config } from "@cdktf/provider-docker/lib/config";
import { Network } from "@cdktf/provider-docker/lib/network";
import { Secret } from "@cdktf/provider-docker/lib/secret";
import { Service, type ServiceConfig } from "@cdktf/provider-docker/lib/service";
import { Password } from "@cdktf/provider-random/lib/password";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { Fn } from "cdktf";
import { DIGEST, fixture, labels, type Fixture } from "./fixtures";
import type { Environment } from "../../constructs/policy/rules";

export const APP_IMAGE = `registry.example/updateio/api:1.2.3@${DIGEST}`;

export interface SwarmFixture extends Fixture {
  readonly overlay: Network;
  readonly secret: Secret;
  readonly config: Config;
  readonly password: Password;
}

export function swarmFixture(environment: Environment = "prod"): SwarmFixture {
  const f = fixture(environment);
  new RandomProvider(f.stack, "random");
  const overlay = new Network(f.stack, "app-net", {
    name: `${environment}-app`,
    driver: "overlay",
    attachable: true,
    internal: true,
    ...(environment === "prod" ? { options: { encrypted: "" }, lifecycle: { ignoreChanges: ["options"] } } : {}),
  });
  const password = new Password(f.stack, "session", { length: 48, special: false });
  const secret = new Secret(f.stack, "session-secret", {
    name: Fn.join("", [`${environment}-api-session_secret-`, Fn.substr(Fn.sha256(password.result), 0, 12)]),
    data: Fn.base64encode(password.result),
    lifecycle: { createBeforeDestroy: true },
  });
  const config = new Config(f.stack, "app-config", {
    name: `${environment}-api-app.json-0123456789ab`,
    data: Buffer.from('{"log":"info"}').toString("base64"),
    lifecycle: { createBeforeDestroy: true },
  });
  return { ...f, overlay, secret, config, password };
}

export const serviceLabels = (environment: Environment, component = "app") =>
  labels(environment, component).map((l) => (l.label === "io.updateio.service" ? { ...l, value: "api" } : l));

/** A docker_service that passes every rule in every environment. */
export function compliantServiceConfig(f: SwarmFixture): ServiceConfig {
  const l = serviceLabels(f.environment);
  return {
    name: `${f.environment}-api`,
    labels: l,
    mode: { replicated: { replicas: 2 } },
    taskSpec: {
      containerSpec: {
        image: APP_IMAGE,
        env: { PORT: "3000", SESSION_SECRET_FILE: "/run/secrets/session_secret" },
        user: "1000:1000",
        readOnly: true,
        capDrop: ["ALL"],
        mounts: [
          { target: "/tmp", type: "tmpfs" },
          { target: "/home/node", type: "tmpfs" },
        ],
        secrets: [
          {
            secretId: f.secret.id,
            secretName: f.secret.name,
            fileName: "/run/secrets/session_secret",
            fileUid: "1000",
            fileGid: "1000",
            fileMode: 256,
          },
        ],
        configs: [
          {
            configId: f.config.id,
            configName: f.config.name,
            fileName: "/etc/api/app.json",
            fileUid: "1000",
            fileGid: "1000",
            fileMode: 292,
          },
        ],
        healthcheck: { test: ["CMD", "node", "-e", "process.exit(0)"], interval: "15s", timeout: "5s", retries: 3, startPeriod: "30s" },
        stopGracePeriod: "30s",
        labels: l,
      },
      resources: { limits: { memoryBytes: 536870912, nanoCpus: 1000000000 }, reservation: { memoryBytes: 134217728 } },
      restartPolicy: { condition: "any", delay: "5s", maxAttempts: 0, window: "2m" },
      networksAdvanced: [{ name: f.overlay.id, aliases: ["api"] }],
      logDriver: { name: "json-file", options: { "max-file": "3", "max-size": "10m" } },
    },
    updateConfig: {
      parallelism: 1,
      delay: "5s",
      failureAction: "rollback",
      monitor: "1m30s",
      maxFailureRatio: "0.0",
      order: "start-first",
    },
    rollbackConfig: { parallelism: 1, delay: "0s", failureAction: "pause", monitor: "1m30s", maxFailureRatio: "0.0", order: "start-first" },
    endpointSpec: { mode: "dnsrr" },
  };
}

export function service(f: SwarmFixture, overrides: Partial<ServiceConfig> = {}, id = "api"): Service {
  return new Service(f.stack, id, { ...compliantServiceConfig(f), ...overrides });
}

/** A Swarm fixture whose compliant service `fn` attacked. */
export function attackedService(fn: (s: Service, f: SwarmFixture) => void, environment: Environment = "prod"): SwarmFixture {
  const f = swarmFixture(environment);
  fn(service(f), f);
  return f;
}
