/**
 * Every string in a synthesized stack is a Terraform template: a literal `${` or `%{` (a shell
 * expansion in an uploaded script, say) must be escaped or Terraform refuses the whole stack at
 * validate. Providers cannot be installed here, so `terraform validate` runs on a provider-free
 * copy: each string becomes a local value, with each real reference `${...}` replaced by
 * `${local.stub}`, and Terraform's own parser reads the rest.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../environments/load";
import { describeIfBinary } from "../support/binaries";
import { synthEnvironment } from "../support/stacks";
import { strings, validateTemplates as validate } from "../support/terraform-templates";

describeIfBinary("terraform", "synthesized strings parse as Terraform templates (terraform validate, provider-free)", () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), "tf-templates-"));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("the harness fails on an unescaped shell expansion and passes once it is escaped", () => {
    expect(validate(tempDir(), ["echo ${HOME:=/root}"]).output).toMatch(/Extra characters after interpolation expression/);
    expect(validate(tempDir(), ["echo $${HOME:=/root} ${random_password.x.result}"]).status).toBe(0);
  });

  // terraform init reads the whole configuration before it installs providers: a configuration it
  // refuses (e.g. "${docker_container.x}" in lifecycle.replace_triggered_by, hashicorp/terraform-cdk#3196)
  // fails there. With no registry here, init then stops at the provider download, which is fine.
  for (const env of ENVIRONMENTS) {
    it(`${env}: terraform init accepts the synthesized configuration (up to installing providers)`, () => {
      const dir = tempDir();
      const { text } = synthEnvironment(env, {}, tempDir());
      writeFileSync(join(dir, "cdk.tf.json"), text);
      const r = spawnSync("terraform", ["init", "-backend=false", "-input=false", "-no-color"], {
        cwd: dir,
        env: { ...process.env, TF_CLI_CONFIG_FILE: "/dev/null", TF_IN_AUTOMATION: "1" },
        encoding: "utf8",
        timeout: 120_000,
      });
      const output = r.stdout + r.stderr;
      const errors = [...output.matchAll(/^Error: (.+)$/gm)].map((m) => m[1]!);
      const providerOnly = errors.every((e) => /provider|registry/i.test(e));
      expect({
        status: r.status === 0 ? "ok" : providerOnly ? "stopped at providers" : "configuration refused",
        errors: providerOnly ? [] : errors,
      }).toMatchObject({ errors: [] });
    }, 120_000);
  }

  for (const env of ENVIRONMENTS) {
    it(`${env}: every string of every resource, local and output (uploaded scripts and configs included)`, () => {
      const out = tempDir();
      const { json } = synthEnvironment(
        env,
        env === "dev"
          ? {}
          : {
              [`UPDATEIO_${env.toUpperCase()}_BACKUP_OFFSITE_ENDPOINT`]: "https://s3.example.com",
              [`UPDATEIO_${env.toUpperCase()}_BACKUP_OFFSITE_BUCKET`]: "updateio-backups",
            },
        out,
      );
      const values = strings([json.resource, json.locals ?? {}, json.output]);
      expect(values.some((v) => v.includes("$${BACKUP_ROOT"))).toBe(true);
      const r = validate(tempDir(), values);
      expect(r.status, r.output).toBe(0);
    }, 60_000);
  }
});
