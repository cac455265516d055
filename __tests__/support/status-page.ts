import { Testing } from "cdktf";
import { EnvironmentStack } from "../../environments/environment-stack";
import { loadEnvironmentConfig, validateEnvironmentConfig, type EnvironmentName } from "../../environments/load";
import { sharedEnvironment, type TerraformJson } from "./stacks";
import { synthText } from "./synth-text";

/**
 * The add-a-service runbook's example: a status page on its own host, using Postgres and Redis and
 * calling the API. Adding it is this one entry in `services`; nothing else changes.
 */
export function statusPageEntry(env: EnvironmentName) {
  const released = { kind: "registry" as const, ref: `ghcr.io/updateio/status-page:1.0.0@sha256:${"ab".repeat(32)}` };
  // Synth checks that a build context exists: the reference service stands in for ../updateio/status-page.
  const built = { kind: "build" as const, context: "examples/reference-service", devCommand: ["npm", "run", "dev"] };
  const domain = { dev: "updateio.localhost", test: "updateio.test", prod: "updateio.app" }[env];
  return {
    image: env === "dev" ? built : released,
    replicas: env === "prod" ? 2 : 1,
    memoryMb: 128,
    cpuShares: 256,
    port: 3005,
    uses: ["postgres", "redis"],
    routes: [{ host: `status.${domain}` }],
    calls: ["api"],
  };
}

export interface SynthOptions {
  /** Add the status page. @default true */
  readonly statusPage?: boolean;
  /** How the API's callers reach it (its `inbound`). @default as configured ("per-caller") */
  readonly apiInbound?: "per-caller" | "shared";
  /** UPDATEIO_* variables the environment is loaded with. @default {} */
  readonly variables?: Readonly<Record<string, string>>;
  /** More hosts routed to the API, after its own. @default [] */
  readonly apiHosts?: readonly string[];
  /** How the edge reaches the routed services (edge.appNetwork). @default as configured ("per-service") */
  readonly edgeAppNetwork?: "per-service" | "shared";
  /** Edits each configured service's entry first (the options above apply after it). @default none */
  readonly editService?: (name: string, entry: Record<string, unknown>) => Record<string, unknown>;
}

/**
 * One environment with the status page added, synthesized in-process (the policy pack runs at synth).
 * Without it and with no other option, that is the environment as configured: the shared one, read-only.
 */
export function synthWithStatusPage(env: EnvironmentName, options: SynthOptions = {}): { stack: EnvironmentStack; json: TerraformJson } {
  const { statusPage, ...others } = options;
  if (statusPage === false && Object.values(others).every((v) => v === undefined)) return sharedEnvironment(env);
  const base = loadEnvironmentConfig(env, { ...options.variables });
  const edit = options.editService ?? ((_: string, entry: Record<string, unknown>) => entry);
  const services: Record<string, unknown> = Object.fromEntries(Object.entries(base.services).map(([name, s]) => [name, edit(name, s)]));
  if (options.statusPage ?? true) services["status-page"] = statusPageEntry(env);
  if (options.apiInbound) services.api = { ...(services.api as typeof base.services.api), inbound: options.apiInbound };
  if (options.apiHosts) {
    const api = services.api as typeof base.services.api;
    services.api = { ...api, routes: [...(api.routes ?? []), ...options.apiHosts.map((host) => ({ host }))] };
  }
  const edge = options.edgeAppNetwork ? { ...base.edge, appNetwork: options.edgeAppNetwork } : base.edge;
  const config = validateEnvironmentConfig({ ...base, services, edge }, env);
  const stack = new EnvironmentStack(Testing.app(), env, config);
  return { stack, json: JSON.parse(synthText(stack)) as TerraformJson };
}
