/**
 * Suppressions limited to subjects (`appliesTo`, cdk-nag's granular suppressions): cAdvisor's
 * no-host-paths suppression covers the three host paths its reason names, node-exporter's
 * no-docker-socket suppression covers host / only. Each attack adds one more bind to the real
 * container of the real prod stack; before the limit, the image-limited suppression covered it.
 */
import type { TerraformStack } from "cdktf";
import { TerraformResource } from "cdktf";
import { describe, expect, it } from "vitest";
import { evaluatePolicy, suppressionsOf, type Finding } from "../../constructs/policy/policy-aspect";
import { buildEnvironment } from "../support/stacks";

type Bind = { host_path: string; container_path: string; read_only: boolean };

/** The real prod stack with `extra` binds added to the container at `path` (as an escape-hatch override would add them). */
function withBinds(path: string, extra: Bind[]): { stack: TerraformStack; found: Finding[] } {
  const stack = buildEnvironment("prod");
  const container = stack.node.findAll().find((c) => c.node.path === `prod/${path}`);
  if (!container || !TerraformResource.isTerraformResource(container)) throw new Error(`no resource at prod/${path}`);
  // cdktf merges an overriding list into the synthesized one: these binds come after the container's own.
  container.addOverride("volumes", extra);
  return { stack, found: evaluatePolicy(stack, { environment: "prod" }) };
}

const blocking = (found: Finding[], rule: string, path: string) =>
  found.filter((f) => f.ruleId === rule && !f.suppressed && f.severity === "error" && f.constructPath === `prod/${path}`);
const suppressed = (found: Finding[], rule: string, path: string) =>
  found.filter((f) => f.ruleId === rule && f.suppressed && f.constructPath === `prod/${path}`);

const CADVISOR = "exporters/cadvisor/container";
const NODE_EXPORTER = "exporters/node-exporter/container";
const ro = (host: string, at = "/x"): Bind => ({ host_path: host, container_path: at, read_only: true });

describe("cAdvisor's no-host-paths suppression covers /proc, /sys and /var/lib/docker/image only", () => {
  it("is recorded with those three paths, and covers exactly its three binds as built", () => {
    const stack = buildEnvironment("prod");
    const s = suppressionsOf(stack).find((x) => x.ruleId === "no-host-paths" && x.constructPath === `prod/exporters/cadvisor`);
    expect(s?.appliesTo).toEqual(["/proc", "/var/lib/docker/image", "/sys"]);
    const found = evaluatePolicy(stack, { environment: "prod" });
    expect(suppressed(found, "no-host-paths", CADVISOR)).toHaveLength(3);
    expect(blocking(found, "no-host-paths", CADVISOR)).toEqual([]);
  });

  it.each([
    ["/etc (the host's accounts and keys)", "/etc", "/etc"],
    ["/proc/1/root (the host's / through procfs)", "/proc/1/root", "/proc/1/root"],
    ["/sys/../etc (normalized: /etc)", "/sys/../etc", "/etc"],
    ["/var/lib/docker (every volume, not only the layer database)", "/var/lib/docker", "/var/lib/docker"],
    ["/root/.ssh", "/root/.ssh", "/root/.ssh"],
  ])("a further read-only bind of %s is caught", (_what, host, normalized) => {
    const { found } = withBinds(CADVISOR, [ro(host)]);
    const caught = blocking(found, "no-host-paths", CADVISOR);
    expect(caught).toHaveLength(1);
    expect(caught[0]!.message).toContain(`(${normalized}, read-only)`);
    expect(caught[0]!.message).toContain('covers only image gcr.io/cadvisor/cadvisor, and only "/proc", "/var/lib/docker/image", "/sys"');
    // The three binds it was built with stay covered.
    expect(suppressed(found, "no-host-paths", CADVISOR)).toHaveLength(3);
  });

  it("a further bind of / is caught by no-docker-socket (it holds the socket), which cAdvisor has no suppression of", () => {
    const { found } = withBinds(CADVISOR, [ro("/")]);
    expect(blocking(found, "no-docker-socket", CADVISOR).map((f) => f.message)).toEqual([expect.stringContaining('mounts "/" (/)')]);
  });

  it("the same path written another way (/proc/, //sys) is the same path, and stays covered", () => {
    const { found } = withBinds(CADVISOR, [ro("/proc/", "/y"), ro("//sys", "/z")]);
    expect(blocking(found, "no-host-paths", CADVISOR)).toEqual([]);
    expect(suppressed(found, "no-host-paths", CADVISOR)).toHaveLength(5);
  });
});

describe("node-exporter's no-docker-socket suppression covers host / only", () => {
  it("covers its bind of / as built", () => {
    const found = evaluatePolicy(buildEnvironment("prod"), { environment: "prod" });
    expect(suppressed(found, "no-docker-socket", NODE_EXPORTER)).toHaveLength(1);
    expect(blocking(found, "no-docker-socket", NODE_EXPORTER)).toEqual([]);
  });

  it.each([
    ["the socket itself", "/var/run/docker.sock"],
    ["/var/run, which holds it", "/var/run"],
    ["/run, which holds it", "/run"],
  ])("a further read-only bind of %s is caught", (_what, host) => {
    const { found } = withBinds(NODE_EXPORTER, [ro(host)]);
    const caught = blocking(found, "no-docker-socket", NODE_EXPORTER);
    expect(caught).toHaveLength(1);
    expect(caught[0]!.message).toContain(`"${host}"`);
    expect(caught[0]!.message).toContain('and only "/"');
  });
});
