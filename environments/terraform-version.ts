/**
 * cdktf's version checks (`ValidateBinaryVersion`, added by CloudBackend: Terraform >= 1.1) run
 * `terraform version` synchronously at synth, once per stack that has one: about 50 ms each, after
 * all the construction work. installVersionCheckCache answers them from one run per command, and
 * prefetchTerraformVersion starts that run at once, so it happens beside construction instead.
 * The checks keep cdktf's rules and messages (cdktf/lib/validations/validate-binary-version).
 */
import { exec, execSync } from "node:child_process";

interface BinaryVersionCheck {
  readonly binary: string;
  readonly versionConstraint: string;
  readonly versionCommand: string;
  readonly hint?: string;
}
type Validate = (this: BinaryVersionCheck) => string[];

/** A version command's output, or why it failed. */
type Outcome = { readonly output: string } | { readonly error: unknown };

const outcomes = new Map<string, Outcome>();
const patched = new WeakSet<object>();

/** The messages cdktf's ValidateBinaryVersion.validate gives for an outcome. */
export function versionProblems(check: BinaryVersionCheck, outcome: Outcome): string[] {
  if ("error" in outcome)
    return [`Could not determine version of ${check.binary}, ${check.versionCommand} failed: ${String(outcome.error)}`];
  const version = /\d+\.\d+\.\d+/.exec(outcome.output);
  if (!version) return [`Could not determine version of ${check.binary} (running ${check.versionCommand})`];
  const semver = require("semver") as { satisfies(version: string, range: string): boolean };
  if (!semver.satisfies(version[0], check.versionConstraint))
    return [
      `${check.binary} version ${version[0]} is lower than the required version ${check.versionConstraint} for this construct. ${check.hint || ""}`,
    ];
  return [];
}

/** Makes cdktf's version checks run each command once per process (and use a prefetched run). */
export function installVersionCheckCache(): void {
  const proto = (
    require("cdktf/lib/validations/validate-binary-version") as { ValidateBinaryVersion: { prototype: { validate: Validate } } }
  ).ValidateBinaryVersion.prototype;
  if (patched.has(proto)) return;
  proto.validate = function validate(this: BinaryVersionCheck): string[] {
    let outcome = outcomes.get(this.versionCommand);
    if (outcome === undefined) {
      try {
        outcome = { output: execSync(this.versionCommand, { stdio: "pipe" }).toString() };
      } catch (error) {
        outcome = { error };
      }
      outcomes.set(this.versionCommand, outcome);
    }
    return versionProblems(this, outcome);
  };
  patched.add(proto);
}

/**
 * Starts `terraform version` (the command cdktf's checks run) when one of the stacks has a Terraform
 * Cloud backend (the only check our stacks carry), without waiting for it. Await the promise before
 * synthesizing: it never rejects, and a failed run is left for the check to repeat and report in
 * cdktf's words.
 */
export function prefetchTerraformVersion(configs: readonly { readonly state: { readonly backend: string } }[]): Promise<void> {
  if (!configs.some((c) => c.state.backend === "cloud")) return Promise.resolve();
  // The command exactly as cdktf's ValidateTerraformVersion builds it, so the check finds this run.
  const command = `${(require("cdktf/lib/util") as { terraformBinaryName: string }).terraformBinaryName} version`;
  return new Promise((done) => {
    exec(command, (error, stdout) => {
      if (!error && !outcomes.has(command)) outcomes.set(command, { output: stdout });
      done();
    });
  });
}
