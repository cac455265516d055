/**
 * EnvironmentStack skips cdktf's preparing resolve (see its prepareStack). That pass only matters
 * for references between stacks, so these tests require: the three environments, built in one app
 * the way main.ts builds them, render the same with cdktf's own prepareStack as without it; and a
 * reference between two stacks does change what cdktf's pass renders (so the first test can fail).
 * In the integration tier: it builds and renders the whole app again (about 1.5 s).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { Network } from "@cdktf/provider-docker/lib/network";
import { App, TerraformOutput, TerraformStack } from "cdktf";
import { afterAll, describe, expect, it } from "vitest";
import { EnvironmentStack } from "../../environments/environment-stack";
import { ENVIRONMENTS, loadEnvironmentConfig } from "../../environments/load";
import { sharedEnvironment } from "../support/stacks";
import { synthText } from "../support/synth-text";

const OUT = mkdtempSync(join(tmpdir(), "prepare-stack-test-"));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

/** What cdktf 0.21's TerraformStack.prepareStack does: the backend check and the preparing resolve. */
const cdktfPrepare = TerraformStack.prototype.prepareStack;

describe("EnvironmentStack.prepareStack", () => {
  it("renders every environment exactly as cdktf's own prepareStack would (no reference between stacks)", () => {
    const app = new App({ outdir: OUT });
    const stacks = ENVIRONMENTS.map((name) => new EnvironmentStack(app, name, loadEnvironmentConfig(name, {})));
    for (const stack of stacks) cdktfPrepare.call(stack);
    for (const stack of stacks) {
      const withCdktfPrepare = synthText(stack);
      expect(withCdktfPrepare, `${stack.node.id} rendered differently after cdktf's preparing resolve`).toBe(
        sharedEnvironment(stack.config.name).text,
      );
    }
  });

  it("keeps the backend check: a stack gets its backend before rendering", () => {
    const app = new App({ outdir: OUT });
    const stack = new EnvironmentStack(app, "dev", loadEnvironmentConfig("dev", {}));
    stack.prepareStack();
    expect(Object.keys(JSON.parse(synthText(stack)).terraform.backend ?? {})).toEqual(["local"]);
  });

  it("a reference between stacks is what cdktf's pass rewrites, so the comparison above would see one", () => {
    const app = new App({ outdir: OUT });
    const origin = new TerraformStack(app, "origin");
    new DockerProvider(origin, "docker", {});
    const net = new Network(origin, "net", { name: "shared" });
    const consumer = new TerraformStack(app, "consumer");
    new DockerProvider(consumer, "docker", {});
    new TerraformOutput(consumer, "net_name", { value: net.name });
    const before = JSON.parse(synthText(consumer));
    expect(before.output.net_name.value).toBe("${docker_network.net.name}");
    cdktfPrepare.call(consumer);
    const after = JSON.parse(synthText(consumer));
    expect(after.output.net_name.value).not.toBe(before.output.net_name.value);
    expect(Object.keys(after.data?.terraform_remote_state ?? {})).toHaveLength(1);
  });
});
