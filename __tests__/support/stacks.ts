import { Testing } from "cdktf";
import { EnvironmentStack } from "../../environments/environment-stack";
import { loadEnvironmentConfig, type EnvironmentName } from "../../environments/load";

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
 * Synthesizes one environment in-process, with default variables (what a fresh checkout gets).
 * Testing.synth runs no validations (prod's CloudBackend would run `terraform version`). Pass an
 * outdir the caller removes: Testing.app() otherwise leaves a temp dir behind per call.
 */
export function synthEnvironment(name: EnvironmentName, env: Record<string, string> = {}, outdir?: string): SynthesizedEnvironment {
  const app = Testing.app(outdir === undefined ? {} : { outdir });
  const stack = new EnvironmentStack(app, name, loadEnvironmentConfig(name, env));
  const text = Testing.synth(stack);
  return { name, stack, text, json: JSON.parse(text) as TerraformJson };
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
