import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Container } from "@cdktf/provider-docker/lib/container";
import { App, Aspects } from "cdktf";
import { Construct, type IConstruct } from "constructs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  PolicyAspect,
  applyPolicy,
  blockingFindings,
  evaluatePolicy,
  suppressPolicy,
  suppressionsOf,
} from "../../constructs/policy/policy-aspect";
import { container, findings, fixture, image } from "./fixtures";
import { synthText } from "../support/synth-text";

const REASON = "postgres entrypoint needs root to chown PGDATA, then drops to uid 999";

function annotations(c: IConstruct, type?: string) {
  return c.node.metadata.filter((m) => (type ? m.type === type : m.type.startsWith("@cdktf/")));
}

describe("suppressPolicy", () => {
  it("silences exactly that rule on that construct and everything below it, and records the reason", () => {
    const f = fixture();
    const svc = new Construct(f.stack, "svc");
    const inside = container(f, { memory: undefined, user: "root" }, "inside", svc);
    const nested = new Construct(svc, "nested");
    container(f, { memory: undefined }, "deeper", nested);
    container(f, { memory: undefined }, "outside");
    suppressPolicy(svc, "memory-limit", REASON);

    const all = findings(f);
    const memory = all.filter((x) => x.ruleId === "memory-limit");
    expect(memory.map((x) => [x.constructPath, x.suppressed?.reason])).toEqual([
      ["dev/svc/inside", REASON],
      ["dev/svc/nested/deeper", REASON],
      ["dev/outside", undefined],
    ]);
    expect(memory[0]!.suppressed!.scopePath).toBe("dev/svc");
    expect(memory[0]!.message).toMatch(/^\[memory-limit\] suppressed: postgres entrypoint needs root/);
    // other rules on the same construct still fire
    expect(all.filter((x) => x.constructPath === inside.node.path && !x.suppressed).map((x) => x.ruleId)).toEqual(["non-root"]);
    expect(blockingFindings(all).map((x) => `${x.ruleId} ${x.constructPath}`)).toEqual([
      "non-root dev/svc/inside",
      "memory-limit dev/outside",
    ]);
  });

  it("is listed by suppressionsOf for the scope and its parents", () => {
    const f = fixture();
    const svc = new Construct(f.stack, "svc");
    const c = container(f, {}, "db", svc);
    suppressPolicy(c, "non-root", REASON);
    const expected = [{ ruleId: "non-root", reason: REASON, constructPath: "dev/svc/db" }];
    expect(suppressionsOf(c)).toEqual(expected);
    expect(suppressionsOf(f.stack)).toEqual(expected);
    expect(suppressionsOf(f.internalNet)).toEqual([]);
  });

  it("rejects an unknown rule id, naming the known ones", () => {
    const f = fixture();
    expect(() => suppressPolicy(container(f), "memory", REASON)).toThrow(
      /unknown rule id "memory".*Known rule ids: .*memory-limit.*image-digest/,
    );
  });

  it.each(["", "   ", "legacy", "too short"])("rejects the reason %j", (reason) => {
    const f = fixture();
    expect(() => suppressPolicy(container(f), "memory-limit", reason)).toThrow(/written reason of at least 10 characters/);
  });

  it("cannot be borrowed by a resource that claims another construct's path in its metadata", () => {
    const f = fixture();
    const svc = new Construct(f.stack, "svc");
    const legit = container(f, {}, "legit", svc);
    suppressPolicy(svc, "no-docker-socket", "the socket proxy of this construct reads the socket, read-only");
    // A raw resource injected through the stack's escape hatch, with metadata naming the suppressed construct.
    f.stack.addOverride("resource.docker_container.evil", {
      ...JSON.parse(
        JSON.stringify(
          (f.stack.toTerraform() as { resource: Record<string, Record<string, unknown>> }).resource.docker_container![
            legit.friendlyUniqueId
          ],
        ),
      ),
      "//": { metadata: { path: legit.node.path, uniqueId: legit.friendlyUniqueId } },
      name: "evil",
      volumes: [{ host_path: "/var/run/docker.sock", container_path: "/s" }],
    });
    const evil = findings(f).filter((x) => x.resourceName === "evil");
    // Binding the socket read-write also makes its gid (non-root), the bind's mode and its healthcheck command (host-binds-confined) findings.
    expect(evil.map((x) => [x.ruleId, x.suppressed === undefined])).toEqual([
      ["non-root", true],
      ["no-docker-socket", true],
      ["host-binds-confined", true],
      ["host-binds-confined", true],
    ]);
    expect(evil[0]!.constructPath).toBe("dev (docker_container.evil, not made by a construct)");
  });

  it("can be limited to an image repository: it then covers only a resource that runs that image", () => {
    const f = fixture();
    const svc = new Construct(f.stack, "svc");
    const pg = container(f, { user: "root" }, "pg", svc);
    const other = container(f, { user: "root", image: image(f, "alpine", `alpine:3.20@sha256:${"c".repeat(64)}`).imageId }, "other", svc);
    suppressPolicy(svc, "non-root", REASON, { image: "docker.io/library/postgres:17" });
    const byPath = (c: IConstruct) => findings(f).filter((x) => x.constructPath === c.node.path && x.ruleId === "non-root");
    expect(byPath(pg).map((x) => x.suppressed?.reason)).toEqual([REASON]);
    expect(byPath(other).map((x) => x.suppressed)).toEqual([undefined]);
    expect(byPath(other)[0]!.message).toContain("(the suppression on dev/svc covers only image postgres)");
    expect(suppressionsOf(svc)).toEqual([{ ruleId: "non-root", reason: REASON, constructPath: "dev/svc", image: "postgres" }]);
  });

  it("rejects stack-wide suppressions and double suppressions", () => {
    const f = fixture();
    expect(() => suppressPolicy(f.stack, "memory-limit", REASON)).toThrow(/per construct/);
    const c = container(f);
    suppressPolicy(c, "memory-limit", REASON);
    expect(() => suppressPolicy(c, "memory-limit", "another reason, long enough")).toThrow(/already suppressed/);
  });
});

describe("the policy aspect", () => {
  it("annotates the offending resource: error, warning, and info with the reason when suppressed", () => {
    const f = fixture("dev");
    const c = container(f, { memory: undefined, image: "postgres:17.2", readOnly: false });
    suppressPolicy(c, "read-only-rootfs", "image writes its pid file into / at start");
    applyPolicy(f.stack, { environment: "dev" });
    synthText(f.stack); // invokes aspects, ignores annotations

    const byType = (t: string) => annotations(c, t).map((m) => String(m.data));
    expect(byType("@cdktf/error")).toEqual([expect.stringMatching(/^\[memory-limit\] .* — .*\. Fix: /)]);
    expect(byType("@cdktf/warn")).toEqual([expect.stringMatching(/^\[image-digest\] container "dev-db" uses image "postgres:17.2"/)]);
    expect(byType("@cdktf/info")).toEqual([
      '[read-only-rootfs] suppressed: image writes its pid file into / at start (finding: container "dev-db" has a writable root filesystem (read_only not true); suppressed on dev/db)',
    ]);
    // no stack trace: it would only point into the aspect
    expect(annotations(c).every((m) => m.trace === undefined)).toBe(true);
    // nothing lands on compliant resources
    expect(annotations(f.internalNet)).toEqual([]);
    expect(annotations(f.stack)).toEqual([]);
  });

  it("annotates only once even when the stack is synthesized again", () => {
    const f = fixture();
    const c = container(f, { memory: undefined });
    applyPolicy(f.stack, { environment: "dev" });
    applyPolicy(f.stack, { environment: "dev" }); // idempotent
    synthText(f.stack);
    synthText(f.stack);
    expect(annotations(c)).toHaveLength(1);
    expect(Aspects.of(f.stack).all.filter((a) => a instanceof PolicyAspect)).toHaveLength(1);
    expect(() => applyPolicy(f.stack, { environment: "prod" })).toThrow(/already applied for "dev"/);
  });

  it("sees changes made by aspects added before it (it evaluates after they visited every node)", () => {
    const f = fixture();
    const c = container(f, { memory: undefined });
    Aspects.of(f.stack).add({
      visit: (node) => {
        if (node instanceof Container) node.memory = 128;
      },
    });
    applyPolicy(f.stack, { environment: "dev" });
    synthText(f.stack);
    expect(annotations(c)).toEqual([]);
  });

  it("evaluatePolicy agrees with what the aspect annotates", () => {
    const f = fixture("prod");
    container(f, { ports: [{ internal: 5432, external: 5432, ip: "127.0.0.1" }], user: "0:0" });
    const expected = evaluatePolicy(f.stack, { environment: "prod" }).map((x) => x.message);
    applyPolicy(f.stack, { environment: "prod" });
    synthText(f.stack);
    const annotated = f.stack.node.findAll().flatMap((n) => annotations(n).map((m) => String(m.data)));
    expect(annotated).toEqual(expected);
    expect(expected).toHaveLength(2);
  });

  it("rejects an unknown environment", () => {
    const f = fixture();
    expect(() => applyPolicy(f.stack, { environment: "staging" as "dev" })).toThrow(/one of dev, test, prod/);
  });
});

describe("app.synth() with the policy applied", () => {
  const ENV = "CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS";
  let outdir: string;
  let saved: string | undefined;
  beforeEach(() => {
    outdir = fs.mkdtempSync(path.join(os.tmpdir(), "policy-synth-"));
    saved = process.env[ENV];
    delete process.env[ENV]; // read by the TerraformStack constructor
  });
  afterEach(() => {
    if (saved === undefined) delete process.env[ENV];
    else process.env[ENV] = saved;
    fs.rmSync(outdir, { recursive: true, force: true });
  });

  function build(memory: number | undefined): App {
    const app = new App({ outdir, stackTraces: false });
    const f = fixture("dev", app);
    container(f, { memory });
    applyPolicy(f.stack, { environment: "dev" });
    return app;
  }

  it("throws when an error annotation is present (a thrown Error, not a process exit), before writing the stack", () => {
    const app = build(undefined);
    expect(() => app.synth()).toThrow(/Encountered Annotations with level "ERROR":\n\[dev\/db\] \[memory-limit\]/);
    expect(fs.existsSync(path.join(outdir, "stacks", "dev", "cdk.tf.json"))).toBe(false);
    expect(fs.existsSync(path.join(outdir, "manifest.json"))).toBe(false);
  });

  it("succeeds and writes the stack when compliant", () => {
    const app = build(512);
    app.synth();
    expect(fs.existsSync(path.join(outdir, "stacks", "dev", "cdk.tf.json"))).toBe(true);
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, "manifest.json"), "utf8"));
    expect(manifest.stacks.dev.annotations).toEqual([]);
  });

  it(`with ${ENV} set (what \`cdktf synth\` does) writes everything and leaves the error in manifest.json for the CLI`, () => {
    process.env[ENV] = "true";
    const app = build(undefined);
    app.synth();
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, "manifest.json"), "utf8"));
    expect(manifest.stacks.dev.annotations).toEqual([
      expect.objectContaining({ constructPath: "dev/db", level: "@cdktf/error", message: expect.stringMatching(/^\[memory-limit\]/) }),
    ]);
  });
});
