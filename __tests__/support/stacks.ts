import { Testing } from "cdktf";
import { EnvironmentStack } from "../../environments/environment-stack";
import { ENVIRONMENTS, loadEnvironmentConfig, type EnvironmentName } from "../../environments/load";

export interface SynthesizedEnvironment {
  readonly name: EnvironmentName;
  readonly stack: EnvironmentStack;
  /** The stack's Terraform JSON, parsed. */
  readonly json: TerraformJson;
}

export interface TerraformJson {
  resource: Record<string, Record<string, Record<string, any>>>;
  [key: string]: any;
}

/** Synthesizes one environment in-process, with default variables (what a fresh checkout gets). */
export function synthEnvironment(name: EnvironmentName, env: Record<string, string> = {}): SynthesizedEnvironment {
  const app = Testing.app();
  const stack = new EnvironmentStack(app, name, loadEnvironmentConfig(name, env));
  return { name, stack, json: JSON.parse(Testing.synth(stack)) as TerraformJson };
}

export function synthAll(): SynthesizedEnvironment[] {
  return ENVIRONMENTS.map((name) => synthEnvironment(name));
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
