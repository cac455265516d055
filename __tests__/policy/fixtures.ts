/**
 * Fixtures for the policy tests: real cdktf stacks with raw provider resources (not the service
 * kit), starting from ONE fully compliant container that each test breaks in one property.
 */
import { Container, type ContainerConfig } from "@cdktf/provider-docker/lib/container";
import { Image } from "@cdktf/provider-docker/lib/image";
import { Network } from "@cdktf/provider-docker/lib/network";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { type App, TerraformStack, Testing } from "cdktf";
import type { Construct } from "constructs";
import { blockingFindings, evaluatePolicy, type Finding } from "../../constructs/policy/policy-aspect";
import type { Environment } from "../../constructs/policy/rules";
import { expect } from "vitest";

export const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;
export const PINNED_IMAGE = `postgres:17.2-bookworm@${DIGEST}`;

export interface Fixture {
  readonly stack: TerraformStack;
  readonly environment: Environment;
  /** Internal network (compliant for data containers). */
  readonly internalNet: Network;
  /** Non-internal network (e.g. the edge network). */
  readonly publicNet: Network;
  /** docker_image pinned by digest. */
  readonly image: Image;
  /** Named volume for the data directory. */
  readonly volume: Volume;
}

export function fixture(environment: Environment = "dev", app: App = Testing.app()): Fixture {
  const stack = new TerraformStack(app, environment);
  new DockerProvider(stack, "docker");
  const internalNet = new Network(stack, "backend-net", { name: `${environment}-backend`, internal: true });
  const publicNet = new Network(stack, "frontend-net", { name: `${environment}-frontend` });
  const image = new Image(stack, "image", { name: PINNED_IMAGE, keepLocally: true });
  // Labelled as the kit labels every volume: volume-sharing reads whose it is from its name and label.
  const volume = new Volume(stack, "db-data", {
    name: `${environment}-db-data`,
    labels: [
      { label: "io.updateio.project", value: "updateio" },
      { label: "io.updateio.environment", value: environment },
      { label: "io.updateio.service", value: "db" },
    ],
    lifecycle: { preventDestroy: true },
  });
  return { stack, environment, internalNet, publicNet, image, volume };
}

/** A docker_image of `name` (pinned by digest unless the name says otherwise). */
export function image(f: Fixture, id: string, name: string): Image {
  return new Image(f.stack, id, { name, keepLocally: true });
}

export const CADDY_IMAGE = `caddy:2.10.2-alpine@${DIGEST}`;
export const SOCKET_PROXY_IMAGE = `tecnativa/docker-socket-proxy:v0.5.0@${DIGEST}`;

export function labels(
  environment: Environment,
  component: string,
  extra: Record<string, string> = {},
): { label: string; value: string }[] {
  return Object.entries({
    "io.updateio.project": "updateio",
    "io.updateio.environment": environment,
    "io.updateio.service": "db",
    "io.updateio.component": component,
    ...extra,
  }).map(([label, value]) => ({ label, value }));
}

/** A container that passes every rule in every environment. */
export function compliantConfig(f: Fixture, name = "db"): ContainerConfig {
  return {
    name: `${f.environment}-${name}`,
    image: f.image.imageId,
    memory: 512,
    cpuPeriod: 100000,
    cpuQuota: 50000,
    ulimit: [{ name: "nproc", soft: 512, hard: 512 }],
    restart: "unless-stopped",
    healthcheck: { test: ["CMD", "pg_isready", "-q"], interval: "30s", timeout: "5s", retries: 3 },
    logDriver: "json-file",
    logOpts: { "max-size": "10m", "max-file": "3" },
    privileged: false,
    capabilities: { drop: ["ALL"] },
    securityOpts: ["no-new-privileges:true"],
    readOnly: true,
    user: "999:999",
    env: ["POSTGRES_USER=app", "POSTGRES_PASSWORD_FILE=/run/secrets/db_password", "PGDATA=/var/lib/postgresql/data"],
    // Its name and service label agree, and only the database mounts the database's volume (volume-sharing).
    labels: labels(f.environment, "data", { "io.updateio.service": name }),
    networksAdvanced: [{ name: f.internalNet.name, aliases: ["db"] }],
    volumes: name === "db" ? [{ volumeName: f.volume.name, containerPath: "/var/lib/postgresql/data" }] : undefined,
  };
}

/** Add the compliant container with some properties replaced (`undefined` removes one). */
export function container(f: Fixture, overrides: Partial<ContainerConfig> = {}, id = "db", scope: Construct = f.stack): Container {
  return new Container(scope, id, { ...compliantConfig(f, id), ...overrides });
}

export function findings(f: Fixture, ruleId?: string): Finding[] {
  const all = evaluatePolicy(f.stack, { environment: f.environment });
  return ruleId === undefined ? all : all.filter((x) => x.ruleId === ruleId);
}

/** An attack on the compliant container, through the escape hatch (addOverride, raw resources on its stack). */
export type Attack = (c: Container, f: Fixture) => void;

/** The attack that overrides one attribute of the container's JSON. */
export const set =
  (path: string, value: unknown): Attack =>
  (c) =>
    c.addOverride(path, value);

/** A fixture whose compliant container `fn` attacked. */
export function attacked(fn: Attack, environment: Environment = "prod"): Fixture {
  const f = fixture(environment);
  fn(container(f), f);
  return f;
}

/** The messages of the error findings of `ruleId` on the fixture's stack. */
export function blockingMessages(f: Fixture, ruleId: string): string[] {
  return blockingFindings(findings(f, ruleId)).map((x) => x.message);
}

/** Findings of one rule for the compliant container with `overrides` applied. */
export function check(ruleId: string, overrides: Partial<ContainerConfig> = {}, environment: Environment = "dev"): Finding[] {
  const f = fixture(environment);
  container(f, overrides);
  return findings(f, ruleId);
}

/** The rule ids of the fixture's blocking findings, each once. */
export const blockingRuleIds = (f: Fixture): string[] => [...new Set(blockingFindings(findings(f)).map((x) => x.ruleId))];

/** The attack produced a blocking finding of `ruleId` (containing `messagePart`); on failure, every blocking message is shown. */
export function expectCaught(f: Fixture, ruleId: string, messagePart?: string): void {
  const messages = blockingMessages(f, ruleId);
  expect(
    messages,
    JSON.stringify(
      blockingFindings(findings(f)).map((x) => x.message),
      null,
      1,
    ),
  ).not.toEqual([]);
  if (messagePart !== undefined) expect(messages.join("\n")).toContain(messagePart);
}
