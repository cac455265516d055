/** The end of a construct test's build(): its stack synthesized, with the construct's own containers and references by name. */
import type { TerraformStack } from "cdktf";
import { synthJson, type Json } from "./test-stack";

export interface SynthConstructOptions {
  /**
   * Some props name the containers otherwise (a cluster, a second role): then `server` and `seed` are
   * undefined instead of failing the build. Off by default, so a missing container fails every test.
   */
  readonly optional?: boolean;
}

/**
 * Synthesizes the stack (see synthJson) and adds the construct's server container (Docker name
 * `name`), its config seed (`<name>-seed`), and `ref`: the reference Terraform writes to the `type`
 * resource whose name is `resourceName`, e.g. `${docker_volume.<logical id>.name}`.
 */
export function synthConstruct(stack: TerraformStack, name: string, opts: SynthConstructOptions = {}) {
  const synth = synthJson(stack);
  const container = opts.optional ? (n: string): Json => synth.containers.find((c) => c.name === n)! : synth.named;
  const ref = (type: string, resourceName: string, attr = "name") => `\${${type}.${synth.key(type, resourceName)}.${attr}}`;
  return { ...synth, server: container(name), seed: container(`${name}-seed`), ref };
}
