/**
 * The tests' synthText (support/synth-text.ts) stands in for cdktf's Testing.synth: same text, byte
 * for byte. Here on a stack made of the cases where two serializers part ways; every environment is
 * compared in environments/synth-text.integration.test.ts.
 */
import { Container } from "@cdktf/provider-docker/lib/container";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { Aspects, TerraformLocal, TerraformOutput, TerraformStack, TerraformVariable, Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { synthText } from "./support/synth-text";

function awkwardStack(): TerraformStack {
  const stack = new TerraformStack(Testing.app(), "awkward");
  new DockerProvider(stack, "docker", { host: "unix:///var/run/docker.sock" });
  const name = new TerraformVariable(stack, "name", { type: "string" });
  const c = new Container(stack, "c", {
    name: name.stringValue,
    image: "img",
    env: ["A=${literal}", 'QUOTE="x"', "NL=a\nb", "TAB=\t", "U=\u2028é"],
    labels: [{ label: "z", value: "1" }],
  });
  // Integer-like keys (JSON.stringify would put them first, in numeric order), keys that sort
  // differently by locale and by code unit, "//" below the top, empty containers, undefined.
  c.addOverride("upload", []);
  c.addOverride("extra", {
    "10": 1,
    "9": 2,
    "0": [],
    Z: {},
    a: [[], [{}], null, true, false, -0, 1e21, 0.1, -3.5],
    é: "accent",
    e: "plain",
    B: { "//": { dropped: true }, kept: "%{ if x }y%{ endif }" },
    "with space": undefined,
    '"quoted"': "\\",
  });
  new TerraformLocal(stack, "l", { nested: { deep: [{ "//": "gone", b: 1, a: 2 }] } });
  new TerraformOutput(stack, "o", { value: c.name });
  return stack;
}

describe("synthText", () => {
  it("writes what Testing.synth writes, byte for byte, on the awkward cases", () => {
    const expected = Testing.synth(awkwardStack());
    const actual = synthText(awkwardStack());
    // The cases are in the text: the comparison is not between two empty renders.
    for (const fragment of ['"10": 1', '"0": [\n', '"Z": {\n', '"é": "accent"', '"kept": "%{ if x }y%{ endif }"', '"upload": [\n'])
      expect(expected).toContain(fragment);
    expect(expected).not.toContain('"//"');
    expect(actual).toBe(expected);
  });

  it("invokes the stack's aspects, as Testing.synth does", () => {
    const stack = awkwardStack();
    let visited = 0;
    Aspects.of(stack).add({ visit: () => void visited++ });
    synthText(stack);
    expect(visited).toBeGreaterThan(3);
  });
});
