/**
 * Known causes of Terraform errors in what this project synthesizes, so a failure says what to
 * change and where, not only what Terraform printed.
 */
import type { TerraformDiagnostic } from "./terraform";

export function knownCauses(diagnostics: readonly TerraformDiagnostic[]): string[] {
  const causes: string[] = [];
  if (diagnostics.some((d) => (d.location ?? "").includes("replace_triggered_by") && /Invalid (character|expression)/.test(d.summary))) {
    causes.push(
      'cause: cdktf 0.21 writes lifecycle.replaceTriggeredBy given a resource object as "${docker_container.x}", which Terraform rejects ' +
        "(replace_triggered_by takes bare references; hashicorp/terraform-cdk#3196, unfixed in 0.21). Fix in constructs/kit/container-runtime.ts: " +
        'replaceTriggeredBy: [`${seed.terraformResourceType}.${seed.friendlyUniqueId}`] (a plain string is written as is: "docker_container.x").',
    );
  }
  if (diagnostics.some((d) => /filesha256|no file exists|no such file or directory/.test(`${d.summary} ${d.detail}`))) {
    causes.push(
      "cause: a file the configuration hashes is missing: dev builds its images from UPDATEIO_DEV_SOURCE_ROOT/<service>/Dockerfile when that is set (synth checks they exist, so the file went missing after synth), else from examples/reference-service.",
    );
  }
  return causes;
}
