import { Testing } from "cdktf";
import { EnvironmentStack } from "../../environments/environment-stack";
import { loadEnvironmentConfig, type EnvironmentName } from "../../environments/load";
import { synthText } from "./synth-text";
import { scratchDir } from "./temp-dirs";

export interface SynthesizedEnvironment {
  readonly name: EnvironmentName;
  readonly stack: EnvironmentStack;
  /** The stack's Terraform JSON, as text and parsed. */
  readonly text: string;
  readonly json: TerraformJson;
}

export interface TerraformJson {
  resource: Record<string, Record<string, Record<string, any>>>;
  [key: string]: any;
}

/**
 * Synthesizes one environment in-process (synthText, like Testing.synth, runs no validations:
 * prod's CloudBackend would run `terraform version`). Without an outdir, the app's goes under the
 * run's scratch root (__tests__/setup.ts). Always a fresh app and stack; see
 * sharedEnvironment for the cached one.
 */
export function synthEnvironment(name: EnvironmentName, env: Record<string, string> = {}, outdir?: string): SynthesizedEnvironment {
  return synthesize(name, env, outdir);
}

/**
 * One environment with the given variables (none: what a fresh checkout gets), synthesized once
 * per worker and shared by every test file that asks for the same (the unit project runs with
 * isolate: false): a full environment takes about half a second, and several files want the same
 * few. Read-only: the JSON is deep-frozen, so a test that writes into it fails instead of leaking
 * into the next file, and the stack must not be changed either (no new constructs, aspects or
 * metadata). A test that compares two syntheses, or needs files in an outdir, uses synthEnvironment.
 */
export function sharedEnvironment(name: EnvironmentName, variables: Readonly<Record<string, string>> = {}): SynthesizedEnvironment {
  const key = `${name} ${JSON.stringify(Object.entries(variables).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
  let shared = defaults.get(key);
  if (shared === undefined) {
    shared = synthesize(name, { ...variables }, sharedOutdir());
    deepFreeze(shared.json);
    defaults.set(key, shared);
  }
  return shared;
}

/**
 * Builds one environment's stack without synthesizing it: enough for what the constructors record
 * (the config warnings annotated on the stack), at about half the cost of a synthesis.
 */
export function buildEnvironment(name: EnvironmentName, env: Record<string, string> = {}, outdir?: string): EnvironmentStack {
  return new EnvironmentStack(Testing.app(outdir === undefined ? {} : { outdir }), name, loadEnvironmentConfig(name, env));
}

function synthesize(name: EnvironmentName, env: Record<string, string>, outdir?: string): SynthesizedEnvironment {
  const stack = buildEnvironment(name, env, outdir);
  const text = synthText(stack);
  return { name, stack, text, json: JSON.parse(text) as TerraformJson };
}

/**
 * The default of each environment, and the configurations that add the most tokens and lazy values:
 * what the tests that compare two ways of rendering (fast resolve, synthText) render both ways.
 */
export const RENDER_CASES: readonly (readonly [EnvironmentName, Readonly<Record<string, string>>])[] = [
  ["dev", {}],
  ["dev", { UPDATEIO_DEV_OBSERVABILITY: "full" }],
  ["dev", { UPDATEIO_DEV_OBSERVABILITY: "off", UPDATEIO_DEV_NETWORK_POOL: "docker" }],
  ["test", {}],
  ["prod", {}],
  [
    "prod",
    {
      UPDATEIO_PROD_BACKUP_OFFSITE_ENDPOINT: "https://s3.eu-central-1.amazonaws.com",
      UPDATEIO_PROD_BACKUP_OFFSITE_BUCKET: "updateio-backups",
      UPDATEIO_PROD_BACKUP_OFFSITE_REGION: "eu-central-1",
      UPDATEIO_PROD_ALERT_TELEGRAM_CHAT_ID: "-1001234567890",
      UPDATEIO_PROD_ALERT_DISCORD: "1",
    },
  ],
];

const defaults = new Map<string, SynthesizedEnvironment>();
let outdirOfDefaults: string | undefined;

/** One temp dir per worker for the shared stacks, removed when the worker exits. */
function sharedOutdir(): string {
  outdirOfDefaults ??= scratchDir("updateio-shared-stacks-");
  return outdirOfDefaults;
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
}

/** Upload content of a file path across the stack's containers (seed uploads). */
export function uploadedFile(json: TerraformJson, path: string): string | undefined {
  for (const container of Object.values(json.resource.docker_container ?? {})) {
    for (const upload of (container.upload ?? []) as { file: string; content: string }[]) {
      if (upload.file === path) return upload.content;
    }
  }
  return undefined;
}

/** The resource of `type` whose `name` attribute is `name` (undefined when there is none). */
export function resourceNamed(json: TerraformJson, type: string, name: string): Record<string, any> | undefined {
  return Object.values(json.resource[type] ?? {}).find((r) => r.name === name);
}

/** Names of the networks in `networks_advanced` entries (a `${docker_network.<key>.id|name}` reference resolved to its name). */
export function attachedNetworkNames(json: TerraformJson, attachments: readonly { name: string }[]): string[] {
  return attachments.map((n) => {
    const key = /^\$\{docker_network\.([^.]+)\.(?:id|name)\}$/.exec(n.name)?.[1];
    return key ? json.resource.docker_network![key]!.name : n.name;
  });
}
