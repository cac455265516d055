/**
 * Provider-free checks of synthesized strings with the real Terraform CLI: every string becomes a
 * local, its references to the stack are stubbed, and `terraform validate` parses it as a template.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A reference or function call into the stack (what cdktf writes). Anything else inside `${...}`
 * is left for Terraform to parse, so an unescaped shell expansion fails as it would in a real run.
 */
const REFERENCE = /^(?:(?:docker_[a-z_]+|random_[a-z_]+|var|self|local|path|terraform)\.|[a-z][a-z0-9_]*\()/;

/** Replaces each real reference (`${` not escaped as `$${`) by one Terraform can resolve offline. */
export function stubReferences(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    if (text.startsWith("$${", i) || text.startsWith("%%{", i)) {
      out += text.slice(i, i + 3);
      i += 3;
    } else if (text.startsWith("${", i)) {
      let depth = 1;
      let j = i + 2;
      while (j < text.length && depth > 0) {
        if (text[j] === "{") depth++;
        else if (text[j] === "}") depth--;
        j++;
      }
      const inner = text.slice(i + 2, j - 1);
      out += REFERENCE.test(inner) ? "${local.stub}" : text.slice(i, j);
      i = j;
    } else {
      out += text[i];
      i++;
    }
  }
  return out;
}

/** Every string anywhere in a JSON value. */
export function strings(value: unknown, into: string[] = []): string[] {
  if (typeof value === "string") into.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, into);
  else if (value !== null && typeof value === "object") for (const v of Object.values(value)) strings(v, into);
  return into;
}

/** `terraform init -backend=false` + `validate` of the values as locals, in `dir`. */
export function validateTemplates(dir: string, values: readonly string[]): { status: number | null; output: string } {
  const locals: Record<string, string> = { stub: "x" };
  values.forEach((v, i) => (locals[`s${i}`] = stubReferences(v)));
  writeFileSync(join(dir, "main.tf.json"), JSON.stringify({ locals }));
  // No CLI config of this machine's (it may name a missing file), no providers: init works offline.
  const env = { ...process.env, TF_CLI_CONFIG_FILE: "/dev/null", TF_IN_AUTOMATION: "1" };
  const init = spawnSync("terraform", ["init", "-backend=false", "-input=false", "-no-color"], { cwd: dir, env, encoding: "utf8" });
  if (init.status !== 0) return { status: init.status, output: init.stdout + init.stderr };
  const r = spawnSync("terraform", ["validate", "-no-color"], { cwd: dir, env, encoding: "utf8" });
  return { status: r.status, output: r.stdout + r.stderr };
}
