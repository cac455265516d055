/**
 * Suppressions as construct metadata, recorded through the contract (what constructs call) and read
 * by the policy aspect: the same semantics as suppressPolicy, which is a thin wrapper over it.
 */
import { Construct } from "constructs";
import { describe, expect, it } from "vitest";
import { PolicySuppressions, SUPPRESSION_METADATA_TYPE, ValidationError } from "../../constructs/contract/index";
import { evaluatePolicy, suppressPolicy, suppressionsOf } from "../../constructs/policy/policy-aspect";
import { container, findings, fixture } from "./fixtures";

const REASON = "postgres entrypoint needs root to chown PGDATA, then drops to uid 999";

describe("PolicySuppressions (contract)", () => {
  it("records each suppression as construct metadata, which the aspect honours", () => {
    const f = fixture();
    const svc = new Construct(f.stack, "svc");
    container(f, { user: "root", memory: undefined }, "db", svc);
    PolicySuppressions.addResourceSuppressions(svc, [
      { id: "non-root", reason: REASON, image: "docker.io/library/postgres:17" },
      { id: "memory-limit", reason: `  ${REASON}  ` },
    ]);
    expect(svc.node.metadata.filter((m) => m.type === SUPPRESSION_METADATA_TYPE).map((m) => m.data)).toEqual([
      { rule: "non-root", reason: REASON, image: "postgres" },
      { rule: "memory-limit", reason: REASON },
    ]);
    expect(PolicySuppressions.of(svc)).toEqual([
      { rule: "non-root", reason: REASON, image: "postgres" },
      { rule: "memory-limit", reason: REASON },
    ]);
    const found = findings(f).filter((x) => x.constructPath === "dev/svc/db");
    expect(found.map((x) => [x.ruleId, x.suppressed])).toEqual([
      ["memory-limit", { reason: REASON, scopePath: "dev/svc" }],
      ["non-root", { reason: REASON, scopePath: "dev/svc" }],
    ]);
    expect(suppressionsOf(f.stack)).toEqual([
      { ruleId: "non-root", reason: REASON, constructPath: "dev/svc", image: "postgres" },
      { ruleId: "memory-limit", reason: REASON, constructPath: "dev/svc" },
    ]);
  });

  it("is what suppressPolicy records", () => {
    const f = fixture();
    const c = container(f);
    suppressPolicy(c, "read-only-rootfs", REASON, { image: "postgres:17" });
    expect(PolicySuppressions.of(c)).toEqual([{ rule: "read-only-rootfs", reason: REASON, image: "postgres" }]);
    expect(() => PolicySuppressions.addResourceSuppressions(c, [{ id: "read-only-rootfs", reason: REASON }])).toThrow(/already suppressed/);
  });

  it.each([
    [{ id: "memory", reason: REASON }, /unknown rule id "memory".*Known rule ids: .*memory-limit.*image-digest/],
    [{ id: "memory-limit", reason: "too short" }, /written reason of at least 10 characters/],
    [{ id: "memory-limit", reason: REASON, image: "" }, /image must be an image repository/],
    // appliesTo: only on a rule whose findings name a subject, written as the rule reports it.
    [
      { id: "memory-limit", reason: REASON, appliesTo: ["/proc"] },
      /this rule names none \(rules that do: no-host-paths, no-docker-socket, volume-sharing\)/,
    ],
    [{ id: "no-host-paths", reason: REASON, appliesTo: [] }, /appliesTo must list 1 to 16 host paths/],
    [{ id: "no-host-paths", reason: REASON, appliesTo: "/proc" as unknown as string[] }, /appliesTo must list 1 to 16 host paths/],
    [{ id: "no-host-paths", reason: REASON, appliesTo: Array.from({ length: 17 }, (_, i) => `/p${i}`) }, /appliesTo must list 1 to 16/],
    [{ id: "no-host-paths", reason: REASON, appliesTo: ["/proc/"] }, /appliesTo holds "\/proc\/", not host paths/],
    [{ id: "no-host-paths", reason: REASON, appliesTo: ["proc"] }, /appliesTo holds "proc"/],
    [{ id: "no-host-paths", reason: REASON, appliesTo: ["//proc"] }, /appliesTo holds "\/\/proc"/],
    [{ id: "no-host-paths", reason: REASON, appliesTo: ["/sys/../etc"] }, /appliesTo holds "\/sys\/..\/etc"/],
    [{ id: "no-host-paths", reason: REASON, appliesTo: ["/./proc"] }, /appliesTo holds "\/.\/proc"/],
    [{ id: "no-host-paths", reason: REASON, appliesTo: ["/proc\n/etc"] }, /appliesTo holds "\/proc\\n\/etc"/],
    [{ id: "no-host-paths", reason: REASON, appliesTo: [42 as unknown as string] }, /appliesTo holds 42/],
    [{ id: "no-docker-socket", reason: REASON, appliesTo: ["/", "/"] }, /appliesTo lists "\/" more than once/],
    // volume-sharing's subjects are the access of a mount, spelled exactly as the rule reports it.
    [
      { id: "volume-sharing", reason: REASON, appliesTo: ["/proc"] },
      /appliesTo holds "\/proc", not volume accesses as the rule reports them: write "read-only" or "read-write"/,
    ],
    [{ id: "volume-sharing", reason: REASON, appliesTo: ["ro"] }, /appliesTo holds "ro"/],
    [{ id: "volume-sharing", reason: REASON, appliesTo: ["Read-Only"] }, /appliesTo holds "Read-Only"/],
    [{ id: "volume-sharing", reason: REASON, appliesTo: ["read-only "] }, /appliesTo holds "read-only "/],
    [{ id: "volume-sharing", reason: REASON, appliesTo: ["read-only\n"] }, /appliesTo holds "read-only\\n"/],
    [{ id: "volume-sharing", reason: REASON, appliesTo: ["*"] }, /appliesTo holds "\*"/],
    [{ id: "volume-sharing", reason: REASON, appliesTo: ["read-only", "read-only"] }, /appliesTo lists "read-only" more than once/],
    [{ id: "no-host-paths", reason: REASON, appliesTo: ["read-only"] }, /appliesTo holds "read-only", not host paths/],
  ])("refuses %j", (suppression, message) => {
    const f = fixture();
    const c = container(f);
    expect(() => PolicySuppressions.addResourceSuppressions(c, [suppression])).toThrow(message);
    expect(() => PolicySuppressions.addResourceSuppressions(c, [suppression])).toThrow(ValidationError);
    expect(PolicySuppressions.of(c)).toEqual([]);
  });

  it("refuses a stack or app, and records nothing when one entry of a call is refused", () => {
    const f = fixture();
    expect(() => PolicySuppressions.addResourceSuppressions(f.stack, [{ id: "memory-limit", reason: REASON }])).toThrow(/per construct/);
    expect(() => PolicySuppressions.addResourceSuppressions(f.stack.node.root, [{ id: "memory-limit", reason: REASON }])).toThrow(
      /per construct/,
    );
    const c = container(f);
    expect(() =>
      PolicySuppressions.addResourceSuppressions(c, [
        { id: "memory-limit", reason: REASON },
        { id: "memory-limit", reason: "the same rule twice in one call" },
      ]),
    ).toThrow(/already suppressed/);
    expect(PolicySuppressions.of(c)).toEqual([]);
  });

  it("checks metadata written past the API as it reads it: a forged entry fails the evaluation instead of suppressing", () => {
    const f = fixture();
    const c = container(f, { user: "root" });
    c.node.addMetadata(SUPPRESSION_METADATA_TYPE, { rule: "non-root", reason: "ok" });
    expect(() => evaluatePolicy(f.stack, { environment: "dev" })).toThrow(/written reason of at least 10 characters/);

    const g = fixture();
    container(g, { user: "root" });
    g.stack.node.addMetadata(SUPPRESSION_METADATA_TYPE, { rule: "non-root", reason: REASON });
    expect(() => evaluatePolicy(g.stack, { environment: "dev" })).toThrow(/per construct/);
  });
});
