/**
 * Expressions: which forms the policy judges by themselves, and vouching for the rest.
 */
import { Container } from "@cdktf/provider-docker/lib/container";
import { TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { describe, expect, it } from "vitest";
import { applyPolicy, blockingFindings, vouchForExpression } from "../../constructs/policy/policy-aspect";
import { isExpression, judgeUser, normalizeHostPath, relativeHostPath, unwrapLiteral } from "../../constructs/policy/rules";
import { container, findings, fixture, type Fixture } from "./fixtures";
import { synthText } from "../support/synth-text";

/** The rule ids of the stack's error findings, sorted. */
const blockingRuleIds = (f: Fixture) =>
  blockingFindings(findings(f))
    .map((x) => x.ruleId)
    .sort();

describe("normalisers", () => {
  it.each([
    ["${true}", true],
    ["${ false }", false],
    ['${"0"}', "0"],
    ["${0}", 0],
    ["${-1.5}", -1.5],
  ])("unwrapLiteral(%j)", (text, value) => expect(unwrapLiteral(text)).toEqual({ value }));
  it.each(["${var.x}", "${true && var.x}", '${"a${var.x}"}', "plain"])("unwrapLiteral(%j) is no literal", (text) =>
    expect(unwrapLiteral(text)).toBeUndefined(),
  );

  it.each([
    ["/var/./run", "/run"],
    ["/var//run/", "/run"],
    ["/var/run/../run/docker.sock", "/run/docker.sock"],
    ["/../../etc", "/etc"],
    ["  /srv/x/  ", "/srv/x"],
  ])("normalizeHostPath(%j) = %j", (p, expected) => expect(normalizeHostPath(p)).toBe(expected));

  it.each([
    ["0", "root"],
    ["0000:1", "root"],
    ["root:root", "root"],
    ["  0", "root"],
    ["toor", "unknown"],
    ["1000:0", "non-root"],
  ])("judgeUser(%j) is %s", (user, kind) => expect(judgeUser(user).kind).toBe(kind));

  it.each([
    ["${var.x}", true],
    ["a ${var.x} b", true],
    ["%{ if var.x }y%{ endif }", true],
    ["$${HOME}", false],
    ["$$${x}", false],
    ["%%{ not a directive }", false],
    ["$$${x} ${var.y}", true],
  ])("isExpression(%j) = %s", (text, expected) => expect(isExpression(text)).toBe(expected));

  it("relativeHostPath parses the dev source form", () =>
    expect(relativeHostPath('${abspath(join("/", [path.root, "../../..", "../updateio/api"]))}')).toEqual({ up: 4, tail: "updateio/api" }));
});

describe("accepted reference forms", () => {
  it("references to declared resources at their attribute pass", () => {
    const f = fixture("prod");
    container(f);
    expect(findings(f, "no-unjudged-expressions")).toEqual([]);
  });
  it("a reference of the right form to an undeclared resource does not", () => {
    const f = fixture("prod");
    container(f).addOverride("volumes", [{ volume_name: "${docker_volume.ghost.name}", container_path: "/x" }]);
    expect(findings(f, "no-unjudged-expressions")).toHaveLength(1);
  });
  it("a reference at an attribute where that form does not belong does not", () => {
    const f = fixture("prod");
    container(f).addOverride("user", "${docker_network.backend-net.name}");
    expect(findings(f, "no-unjudged-expressions")).toHaveLength(1);
  });
});

describe("vouchForExpression", () => {
  const REASON = "the memory variable is validated by the configuration schema (64..4096 MB)";

  function vouched(reason = REASON) {
    const f = fixture("prod");
    const v = new TerraformVariable(f.stack, "memory", { type: "number" });
    const c = container(f, { memory: v.numberValue });
    vouchForExpression(c, "memory", reason);
    return { f, c };
  }

  it("makes the rules accept that expression, and is reported like a suppression", () => {
    const { f } = vouched();
    const all = findings(f);
    expect(blockingFindings(all)).toEqual([]);
    expect(all).toEqual([
      expect.objectContaining({
        ruleId: "no-unjudged-expressions",
        suppressed: { reason: REASON, scopePath: "prod/db" },
        message: expect.stringMatching(
          /^\[no-unjudged-expressions\] vouched: the memory variable .* \(expression: memory = \$\{var\.memory\}; vouched on prod\/db\)$/,
        ),
      }),
    ]);
  });

  it("shows up as an info annotation through the aspect", () => {
    const { f, c } = vouched();
    applyPolicy(f.stack, { environment: "prod" });
    synthText(f.stack);
    expect(c.node.metadata.filter((m) => m.type.startsWith("@cdktf/")).map((m) => m.type)).toEqual(["@cdktf/info"]);
  });

  it("covers only that attribute", () => {
    const { f, c } = vouched();
    c.addOverride("user", "${var.user}");
    expect(blockingRuleIds(f)).toEqual(["no-unjudged-expressions", "non-root"]);
  });

  it("never covers a literal wrapped in an expression", () => {
    const f = fixture("prod");
    const c = container(f);
    c.addOverride("memory", "${0}");
    vouchForExpression(c, "memory", REASON);
    expect(blockingRuleIds(f)).toEqual(["memory-limit", "no-unjudged-expressions"]);
  });

  it("takes list attributes with [] for any position", () => {
    const f = fixture("dev");
    const v = new TerraformVariable(f.stack, "src", { type: "string" });
    const c = container(f, { volumes: [{ hostPath: v.stringValue, containerPath: "/src", readOnly: true }] });
    expect(blockingRuleIds(f)).toContain("no-host-paths");
    vouchForExpression(c, "volumes[].host_path", "the source directory variable is validated by the schema to lie under /srv/updateio");
    expect(blockingFindings(findings(f))).toEqual([]);
  });

  it.each([
    ["a stack", (f: ReturnType<typeof fixture>) => f.stack, "memory", REASON, /on the resource itself/],
    ["a plain construct", (f: ReturnType<typeof fixture>) => new Construct(f.stack, "svc"), "memory", REASON, /on the resource itself/],
    ["a wildcard path", (f: ReturnType<typeof fixture>) => container(f), "*", REASON, /not an attribute path/],
    ["an empty path", (f: ReturnType<typeof fixture>) => container(f), "", REASON, /not an attribute path/],
    ["a short reason", (f: ReturnType<typeof fixture>) => container(f), "memory", "trust me", /at least 10 characters/],
  ] as const)("rejects %s", (_name, scope, path, reason, error) => {
    const f = fixture();
    expect(() => vouchForExpression(scope(f), path, reason)).toThrow(error);
  });

  it("rejects a second vouch for the same attribute", () => {
    const f = fixture();
    const c: Container = container(f);
    vouchForExpression(c, "memory", REASON);
    expect(() => vouchForExpression(c, "memory", REASON)).toThrow(/already vouched/);
  });
});
