import { Image } from "@cdktf/provider-docker/lib/image";
import { Network } from "@cdktf/provider-docker/lib/network";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { Password } from "@cdktf/provider-random/lib/password";
import { TerraformOutput, TerraformStack } from "cdktf";
import { describe, expect, it } from "vitest";
import { canonicalDuration, goDuration } from "../../constructs/kit/durations";
import { GeneratedSecret } from "../../constructs/kit/generated-secret";
import { PlatformNetwork } from "../../constructs/kit/platform-network";
import { projectPath, ServiceImage } from "../../constructs/kit/service-image";
import { ServiceVolume } from "../../constructs/kit/service-volume";
import { testOutdir, testStack } from "../support/test-stack";
import { synthText } from "../support/synth-text";

const OUT = testOutdir("kit-resources-test");

type Json = Record<string, any>;
const stack = (): TerraformStack => testStack(OUT, "dev");
function synth(s: TerraformStack): { text: string; json: Json } {
  const text = synthText(s);
  return { text, json: JSON.parse(text) };
}
const only = (json: Json, type: string): Json => {
  const all = Object.values(json.resource?.[type] ?? {}) as Json[];
  expect(all).toHaveLength(1);
  return all[0]!;
};

const DIGEST_REF = `postgres:17.6-bookworm@sha256:${"f3".repeat(32)}`;

describe("PlatformNetwork", () => {
  it("adds only its network: internal unless it is the way out", () => {
    const s = stack();
    new PlatformNetwork(s, "net", { environment: "dev", purpose: "postgres" });
    new PlatformNetwork(s, "egress", { environment: "dev", purpose: "egress", internal: false });
    const { json } = synth(s);
    expect(Object.keys(json.resource)).toEqual(["docker_network"]);
    const role = (value: string) => [
      { label: "io.updateio.project", value: "updateio" },
      { label: "io.updateio.environment", value: "dev" },
      { label: "io.updateio.role", value },
    ];
    expect(Object.values(json.resource.docker_network)).toEqual([
      { name: "dev-egress", driver: "bridge", internal: false, labels: role("egress") },
      { name: "dev-postgres", driver: "bridge", internal: true, labels: role("postgres") },
    ]);
  });

  it("is an internal bridge named <env>-<purpose> by default, labelled with project, environment and role", () => {
    const s = stack();
    const net = new PlatformNetwork(s, "net", { environment: "test", purpose: "redis" });
    const { text, json } = synth(s);
    expect(text).toHaveResourceWithProperties(Network, { name: "test-redis", driver: "bridge", internal: true });
    expect(only(json, "docker_network").labels).toEqual([
      { label: "io.updateio.project", value: "updateio" },
      { label: "io.updateio.environment", value: "test" },
      { label: "io.updateio.role", value: "redis" },
    ]);
    expect(net.internal).toBe(true);
    expect(net.purpose).toBe("redis");
    expect(net.name).toMatch(/^\$\{TfToken\[/);
  });

  it("is not internal when asked (egress)", () => {
    const s = stack();
    const net = new PlatformNetwork(s, "net", { environment: "dev", purpose: "egress", internal: false });
    expect(synth(s).text).toHaveResourceWithProperties(Network, { name: "dev-egress", internal: false });
    expect(net.internal).toBe(false);
  });

  it("rejects a purpose that is not lowercase-with-dashes, naming it", () => {
    expect(() => new PlatformNetwork(stack(), "net", { environment: "dev", purpose: "Edge_Net" })).toThrow(
      /purpose "Edge_Net" must be lowercase/,
    );
  });
});

describe("ServiceImage", () => {
  it("adds only its image: a pulled one has no build, a built one no registry pull", () => {
    const s = stack();
    new ServiceImage(s, "pulled", { ref: DIGEST_REF });
    new ServiceImage(s, "built", { build: { context: "../updateio/api", tag: "updateio-dev/api:dev" } });
    const { json } = synth(s);
    expect(Object.keys(json.resource)).toEqual(["docker_image"]);
    expect(Object.values(json.resource.docker_image)).toEqual([
      {
        name: "updateio-dev/api:dev",
        keep_locally: true,
        build: {
          builder: "default",
          context: '${abspath(join("/", [path.root, "../../..", "../updateio/api"]))}',
          dockerfile: '${abspath(join("/", [path.root, "../../..", "../updateio/api/Dockerfile"]))}',
          tag: ["updateio-dev/api:dev"],
        },
        triggers: { dockerfile: '${filesha256(abspath(join("/", [path.root, "../../..", "../updateio/api/Dockerfile"])))}' },
      },
      { name: DIGEST_REF, keep_locally: true },
    ]);
  });

  it("pulls a registry reference, keeps it locally and reports whether it is pinned by digest", () => {
    const s = stack();
    const pinned = new ServiceImage(s, "pinned", { ref: DIGEST_REF });
    const tagged = new ServiceImage(s, "tagged", { ref: "redis:7.4.6-alpine" });
    const { text } = synth(s);
    expect(text).toHaveResourceWithProperties(Image, { name: DIGEST_REF, keep_locally: true });
    expect(pinned.pinned).toBe(true);
    expect(pinned.built).toBe(false);
    expect(pinned.ref).toBe(DIGEST_REF);
    expect(tagged.pinned).toBe(false);
    expect(pinned.imageId).toMatch(/^\$\{TfToken\[/);
  });

  it("builds from a project-relative context resolved by Terraform (machine-independent), rebuilding when the Dockerfile changes", () => {
    const s = stack();
    const img = new ServiceImage(s, "built", {
      build: { context: "../updateio/api", dockerfile: "Dockerfile.dev", tag: "updateio-dev/api:dev" },
    });
    const image = only(synth(s).json, "docker_image");
    expect(image.name).toBe("updateio-dev/api:dev");
    expect(image.keep_locally).toBe(true);
    expect(image.build).toEqual({
      builder: "default",
      context: '${abspath(join("/", [path.root, "../../..", "../updateio/api"]))}',
      dockerfile: '${abspath(join("/", [path.root, "../../..", "../updateio/api/Dockerfile.dev"]))}',
      tag: ["updateio-dev/api:dev"],
    });
    expect(image.triggers).toEqual({
      dockerfile: '${filesha256(abspath(join("/", [path.root, "../../..", "../updateio/api/Dockerfile.dev"])))}',
    });
    expect(img.built).toBe(true);
    expect(img.pinned).toBe(false);
    expect(img.ref).toBe("updateio-dev/api:dev");
  });

  it("defaults the Dockerfile name", () => {
    const s = stack();
    new ServiceImage(s, "built", { build: { context: "src", tag: "x:dev" } });
    expect(only(synth(s).json, "docker_image").build.dockerfile).toBe('${abspath(join("/", [path.root, "../../..", "src/Dockerfile"]))}');
  });

  it("requires exactly one of ref and build", () => {
    expect(() => new ServiceImage(stack(), "img", {})).toThrow(/set exactly one of ref .* or build/);
    expect(() => new ServiceImage(stack(), "img", { ref: "a:1", build: { context: "x", tag: "x:1" } })).toThrow(/exactly one/);
  });

  it("projectPath goes three levels up from cdktf.out/stacks/<stack>/ to the project root", () => {
    const s = stack();
    new TerraformOutput(s, "path", { value: projectPath("state/dev.tfstate") });
    expect(synth(s).json.output.path.value).toBe('${abspath(join("/", [path.root, "../../..", "state/dev.tfstate"]))}');
  });
});

describe("ServiceVolume", () => {
  it("adds only its volume: a protected one with prevent_destroy, an ephemeral one labelled and unprotected", () => {
    const s = stack();
    new ServiceVolume(s, "data", { environment: "prod", service: "postgres", purpose: "data", protect: true });
    new ServiceVolume(s, "secrets", { environment: "prod", service: "postgres", purpose: "secrets", ephemeral: true });
    const { json } = synth(s);
    expect(Object.keys(json.resource)).toEqual(["docker_volume"]);
    const labels = [
      { label: "io.updateio.project", value: "updateio" },
      { label: "io.updateio.environment", value: "prod" },
      { label: "io.updateio.service", value: "postgres" },
    ];
    expect(Object.values(json.resource.docker_volume)).toEqual([
      { name: "prod-postgres-data", labels, lifecycle: { prevent_destroy: true } },
      { name: "prod-postgres-secrets", labels: [...labels, { label: "io.updateio.ephemeral", value: "true" }] },
    ]);
  });

  it("is named <env>-<service>-<purpose> and labelled", () => {
    const s = stack();
    const v = new ServiceVolume(s, "data", { environment: "dev", service: "redis", purpose: "data" });
    const { text, json } = synth(s);
    expect(text).toHaveResourceWithProperties(Volume, { name: "dev-redis-data" });
    expect(only(json, "docker_volume").labels).toEqual([
      { label: "io.updateio.project", value: "updateio" },
      { label: "io.updateio.environment", value: "dev" },
      { label: "io.updateio.service", value: "redis" },
    ]);
    expect(v.protected).toBe(false);
    expect(v.ephemeral).toBe(false);
  });

  it("is not protected by default", () => {
    const s = stack();
    new ServiceVolume(s, "data", { environment: "dev", service: "redis", purpose: "data" });
    expect(only(synth(s).json, "docker_volume").lifecycle).toBeUndefined();
  });

  it("gets lifecycle.prevent_destroy when protected", () => {
    const s = stack();
    const v = new ServiceVolume(s, "data", { environment: "prod", service: "postgres", purpose: "data", protect: true });
    expect(only(synth(s).json, "docker_volume").lifecycle).toEqual({ prevent_destroy: true });
    expect(v.protected).toBe(true);
  });

  it("labels ephemeral volumes so the policy knows losing them loses nothing", () => {
    const s = stack();
    new ServiceVolume(s, "cfg", { environment: "dev", service: "edge", purpose: "config", ephemeral: true });
    const v = only(synth(s).json, "docker_volume");
    expect(v.labels).toContainEqual({ label: "io.updateio.ephemeral", value: "true" });
    expect(v.lifecycle).toBeUndefined();
  });

  it("refuses to be both protected and ephemeral", () => {
    expect(
      () => new ServiceVolume(stack(), "v", { environment: "dev", service: "x", purpose: "y", protect: true, ephemeral: true }),
    ).toThrow(/either protected .* or ephemeral/);
  });
});

describe("GeneratedSecret", () => {
  it("adds only its password: letters and digits, the length and keepers asked for", () => {
    const s = stack();
    new GeneratedSecret(s, "secret");
    new GeneratedSecret(s, "rotated", { length: 64, keepers: { rotation: "2025-01" } });
    const { json } = synth(s);
    expect(Object.keys(json.resource)).toEqual(["random_password"]);
    const classes = { min_lower: 2, min_numeric: 2, min_upper: 2, special: false };
    expect(Object.values(json.resource.random_password)).toEqual([
      { length: 64, keepers: { rotation: "2025-01" }, ...classes },
      { length: 32, ...classes },
    ]);
  });

  it("is a 32-character random_password of letters and digits with at least 2 of each class", () => {
    const s = stack();
    new GeneratedSecret(s, "secret");
    expect(synth(s).text).toHaveResourceWithProperties(Password, {
      length: 32,
      special: false,
      min_upper: 2,
      min_lower: 2,
      min_numeric: 2,
    });
  });

  it("exposes the value as a reference to the password, never a literal", () => {
    const s = stack();
    const secret = new GeneratedSecret(s, "secret", { length: 48 });
    new TerraformOutput(s, "value", { value: secret.value, sensitive: true });
    expect(synth(s).json.output.value.value).toBe(`\${random_password.${secret.resource.friendlyUniqueId}.result}`);
  });

  it("passes keepers through (rotation)", () => {
    const s = stack();
    new GeneratedSecret(s, "secret", { keepers: { rotation: "2025-06" } });
    expect(only(synth(s).json, "random_password").keepers).toEqual({ rotation: "2025-06" });
  });

  it("rejects lengths outside 24..256, naming the construct", () => {
    expect(() => new GeneratedSecret(stack(), "short", { length: 16 })).toThrow(
      /^GeneratedSecret dev\/short is invalid:\n {2}- length 16 must be a whole number from 24 to 256$/,
    );
    expect(() => new GeneratedSecret(stack(), "long", { length: 300 })).toThrow(/length 300/);
    expect(() => new GeneratedSecret(stack(), "frac", { length: 32.5 })).toThrow(/length 32.5/);
  });
});

describe("durations (Go canonical form)", () => {
  it.each([
    { seconds: 0, go: "0s" },
    { seconds: 5, go: "5s" },
    { seconds: 60, go: "1m0s" },
    { seconds: 90, go: "1m30s" },
    { seconds: 3600, go: "1h0m0s" },
    { seconds: 3661, go: "1h1m1s" },
  ])("formats $seconds seconds as $go, like Go's time.Duration.String()", ({ seconds, go }) => {
    expect(goDuration(seconds)).toBe(go);
  });

  it("refuses negative and fractional seconds", () => {
    expect(() => goDuration(-1)).toThrow(/duration/);
    expect(() => goDuration(1.5)).toThrow(/duration/);
  });

  it.each([
    { human: "1m", go: "1m0s" },
    { human: "90s", go: "1m30s" },
    { human: "2m", go: "2m0s" },
    { human: "1h", go: "1h0m0s" },
    { human: "1m30s", go: "1m30s" },
  ])("canonicalizes the human spelling $human as $go", ({ human, go }) => {
    expect(canonicalDuration(human)).toBe(go);
  });

  it("rejects spellings that are not durations", () => {
    for (const bad of ["", "1", "1 m", "1.5s", "500ms", "s", "-1s"]) expect(() => canonicalDuration(bad)).toThrow(/is not a duration/);
  });
});
