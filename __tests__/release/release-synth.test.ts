/**
 * The bar a release must clear: test and prod synthesized from a releases file the pin writer wrote
 * (a temp copy; the committed file keeps its placeholders) deploy real digests and raise no
 * placeholder warning. Also the registry credentials and test's state off the laptop.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildEnvironment, sharedEnvironment, synthEnvironment, type TerraformJson } from "../support/stacks";
import { refOf, releasedFixture, SERVICES } from "./fixtures";
import { loadProblems } from "../support/config-problems";

const fixture = releasedFixture();
afterAll(() => rmSync(fixture.dir, { recursive: true, force: true }));

const warningsOf = (stack: ReturnType<typeof buildEnvironment>) =>
  stack.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data));
const PLACEHOLDER_WARNING = /releases\.json still holds placeholder digests/;

/** Image of each docker_service, by the service's name without the environment. */
function serviceImages(json: TerraformJson, env: string): Record<string, string> {
  return Object.fromEntries(
    Object.values(json.resource.docker_service ?? {}).map((s: any) => [
      String(s.name).replace(`${env}-`, ""),
      s.task_spec.container_spec.image,
    ]),
  );
}

const problems = (env: "test" | "prod", vars: Record<string, string>): string[] => loadProblems(env, vars);

describe.each(["test", "prod"] as const)("%s from a releases file written by release:pins", (env) => {
  const key = `UPDATEIO_${env.toUpperCase()}_RELEASES_FILE`;
  const released = synthEnvironment(env, { [key]: fixture.file });

  it("raises no placeholder-digest warning, and deploys the pinned digests", () => {
    expect(warningsOf(released.stack).filter((w) => PLACEHOLDER_WARNING.test(w))).toEqual([]);
    expect(serviceImages(released.json, env)).toEqual(Object.fromEntries(SERVICES.map((s) => [s, refOf("ghcr.io", s)])));
  });

  it("while the committed placeholders still raise it", () => {
    expect(warningsOf(buildEnvironment(env, {})).some((w) => PLACEHOLDER_WARNING.test(w))).toBe(true);
  });

  it("configures the provider's registry_auth from two sensitive variables without default; services carry no auth block", () => {
    expect(released.json.provider.docker).toEqual([
      {
        host: "unix:///var/run/docker.sock",
        registry_auth: [{ address: "ghcr.io", username: "${var.registry_username}", password: "${var.registry_password}" }],
      },
    ]);
    for (const name of ["registry_username", "registry_password"]) {
      expect(released.json.variable[name]).toMatchObject({ type: "string", sensitive: true, nullable: false });
      expect(released.json.variable[name]).not.toHaveProperty("default");
    }
    // provider 3.6.2 falls back to the provider's registry_auth by image host; a service auth block would replace the service when it changes.
    for (const s of Object.values(released.json.resource.docker_service ?? {})) expect(s).not.toHaveProperty("auth");
    expect(Object.keys(released.json.resource.docker_service ?? {})).toHaveLength(SERVICES.length);
  });

  it("takes the registry host from UPDATEIO_<ENV>_REGISTRY, allow-listed", () => {
    const other = buildEnvironment(env, { [`UPDATEIO_${env.toUpperCase()}_REGISTRY`]: "registry.example.com:5000" });
    expect(other.config.registry).toEqual({ host: "registry.example.com:5000" });
    for (const bad of ["https://ghcr.io", "ghcr.io/updateio", 'ghcr.io"', "${var.x}", "GHCR.IO", "ghcr"])
      expect(problems(env, { [`UPDATEIO_${env.toUpperCase()}_REGISTRY`]: bad })).toEqual([
        expect.stringMatching(
          new RegExp(
            `^UPDATEIO_${env.toUpperCase()}_REGISTRY \\(environment variable\\): .* is refused; write a registry host such as ghcr.io`,
          ),
        ),
      ]);
  });

  it("refuses a releases file that is missing, unsafe to name, or holds a bad pin, naming the variable", () => {
    expect(problems(env, { [key]: "/nonexistent/releases.json" })).toEqual([
      expect.stringMatching(new RegExp(`^${key} \\(environment variable\\): cannot read "/nonexistent/releases.json" as JSON`)),
    ]);
    expect(problems(env, { [key]: "releases.json;rm -rf" })[0]).toMatch(
      new RegExp(`^${key} \\(environment variable\\): .* is refused; a path here may hold`),
    );
    const bad = join(fixture.dir, `bad-${env}.json`);
    writeFileSync(bad, JSON.stringify({ version: "1", images: { api: 'ghcr.io/updateio/api:${file("/etc/passwd")}', extra: "x" } }));
    const lines = problems(env, { [key]: bad });
    expect(lines).toContainEqual(expect.stringMatching(/images\.api: .* is refused; write <registry>\/<name>:<version>@sha256:<64 hex>/));
    expect(lines).toContainEqual(expect.stringMatching(/images\.extra: not a service of the catalogue/));
  });
});

describe("dev needs no registry credentials", () => {
  it("has no registry_auth and no registry variables", () => {
    const dev = sharedEnvironment("dev");
    expect(dev.json.provider.docker).toEqual([{ host: "unix:///var/run/docker.sock" }]);
    expect(Object.keys(dev.json.variable ?? {}).filter((v) => v.startsWith("registry_"))).toEqual([]);
  });
});

describe("test's state", () => {
  it("stays local by default (synth needs nothing)", () => {
    expect(buildEnvironment("test", {}).config.state).toEqual({ backend: "local", path: "state/test.tfstate" });
  });

  it("moves to a Terraform Cloud workspace when UPDATEIO_TEST_TFC_* names one", () => {
    const test = synthEnvironment("test", { UPDATEIO_TEST_TFC_WORKSPACE: "updateio-test-eu" });
    expect(test.json.terraform.cloud).toEqual({
      hostname: "app.terraform.io",
      organization: "updateio",
      workspaces: { name: "updateio-test-eu" },
    });
    expect(test.json.terraform.backend).toBeUndefined();
    expect(buildEnvironment("test", { UPDATEIO_TEST_TFC_ORGANIZATION: "acme" }).config.state).toEqual({
      backend: "cloud",
      hostname: "app.terraform.io",
      organization: "acme",
      workspace: "updateio-test",
    });
    expect(problems("test", { UPDATEIO_TEST_TFC_WORKSPACE: "a b" })[0]).toMatch(
      /^UPDATEIO_TEST_TFC_WORKSPACE \(environment variable\): "a b" is refused; write a Terraform Cloud workspace name/,
    );
  });
});
