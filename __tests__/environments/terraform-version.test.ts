/**
 * versionProblems (environments/terraform-version.ts) must say what cdktf's ValidateBinaryVersion says
 * for the same command output: compared here with cdktf's own check, which this tier leaves unpatched.
 */
import { execSync } from "node:child_process";
import { ValidateBinaryVersion } from "cdktf/lib/validations/validate-binary-version";
import { describe, expect, it } from "vitest";
import { versionProblems } from "../../environments/terraform-version";

function both(constraint: string, command: string, hint?: string) {
  const check = new ValidateBinaryVersion("terraform", constraint, command, hint);
  let outcome: { output: string } | { error: unknown };
  try {
    outcome = { output: execSync(command, { stdio: "pipe" }).toString() };
  } catch (error) {
    outcome = { error };
  }
  const fields = { binary: "terraform", versionConstraint: constraint, versionCommand: command, hint };
  return { cdktf: check.validate(), ours: versionProblems(fields, outcome) };
}

describe("versionProblems", () => {
  it.each([
    [">=1.1", "echo Terraform v1.9.8", "needs 1.1"],
    [">=1.1", "echo Terraform v1.0.11", "The cloud block is only supported for Terraform >=1.1."],
    [">=1.5", "echo Terraform v1.4.7 on linux_amd64", undefined],
    [">=1.1", "echo Terraform development build", undefined],
    [">=1.1", "echo 'licence refused' >&2; exit 3", undefined],
  ])("%s with `%s`: the same problems as cdktf's check", (constraint, command, hint) => {
    const { cdktf, ours } = both(constraint, command, hint);
    expect(ours).toEqual(cdktf);
  });

  it("passes a new enough version and refuses an old one (the comparison above is not of two empty lists)", () => {
    expect(both(">=1.1", "echo Terraform v1.9.8").ours).toEqual([]);
    expect(both(">=1.1", "echo Terraform v1.0.11").ours).toHaveLength(1);
  });
});
