import { Container } from "@cdktf/provider-docker/lib/container";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { Testing, TerraformStack } from "cdktf";
import { describe, expect, it } from "vitest";

describe("cdktf matchers wired into vitest", () => {
  const app = Testing.app();
  const stack = new TerraformStack(app, "m");
  new DockerProvider(stack, "docker", { host: "unix:///var/run/docker.sock" });
  new Container(stack, "c", { name: "x", image: "img", readOnly: true, capabilities: { drop: ["ALL"] } });
  const json = Testing.synth(stack);

  it("finds a resource by partial snake_case properties", () => {
    expect(json).toHaveResourceWithProperties(Container, { name: "x", read_only: true });
    expect(json).toHaveProviderWithProperties(DockerProvider, { host: "unix:///var/run/docker.sock" });
  });

  it("fails when a property differs or the resource is absent", () => {
    expect(json).not.toHaveResourceWithProperties(Container, { name: "y" });
    expect(() => expect(json).toHaveResourceWithProperties(Container, { read_only: false })).toThrow();
  });
});
