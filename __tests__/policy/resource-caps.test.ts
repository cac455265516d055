/**
 * cpu-cap and process-limit against an attacker: every way of leaving a long-running container
 * without a CPU cap or a process limit, written the way the escape hatch (addOverride) writes it,
 * must produce an error finding; what ulimits-bounded already judges (how high a limit may be,
 * soft above hard) stays its finding, not a second one here.
 */
import type { Container } from "@cdktf/provider-docker/lib/container";
import { TerraformVariable } from "cdktf";
import { describe, expect, it } from "vitest";
import { blockingFindings } from "../../constructs/policy/policy-aspect";
import { sharedEnvironment } from "../support/stacks";
import { container, findings, fixture, type Fixture } from "./fixtures";

type Attack = (c: Container, f: Fixture) => void;
const set =
  (path: string, value: unknown): Attack =>
  (c) =>
    c.addOverride(path, value);
const drop =
  (path: string): Attack =>
  (c) =>
    c.addOverride(path, undefined);

/** Rule ids of the error findings on the compliant container after `attack`. */
function errorsAfter(
  attack: Attack,
  environment: "dev" | "prod" = "prod",
  overrides: Parameters<typeof container>[1] = {},
): { ids: string[]; messages: string[] } {
  const f = fixture(environment);
  attack(container(f, overrides), f);
  const found = blockingFindings(findings(f));
  return { ids: [...new Set(found.map((x) => x.ruleId))], messages: found.map((x) => x.message) };
}

describe("cpu-cap", () => {
  it("is quiet on the compliant container (cpu_period 100000, cpu_quota 50000)", () => {
    expect(errorsAfter(() => {}).ids).toEqual([]);
  });

  it.each([
    ["cpu_quota missing", drop("cpu_quota"), /has no CPU cap \(cpu_quota = unset\)/],
    [
      "cpu_quota and cpu_period missing",
      (c: Container) => (drop("cpu_quota")(c, undefined!), drop("cpu_period")(c, undefined!)),
      /cpu_period and cpu_quota unset/,
    ],
    ["cpu_quota 0", set("cpu_quota", 0), /no CPU cap \(cpu_quota = 0\)/],
    ["cpu_quota -1 (the engine's 'no limit')", set("cpu_quota", -1), /no CPU cap \(cpu_quota = -1\)/],
    ["cpu_quota as a string -1", set("cpu_quota", "-1"), /no CPU cap/],
    ["cpu_quota huge (100 CPUs)", set("cpu_quota", 10_000_000), /100 CPUs, which is effectively unlimited/],
    ["cpu_quota below the kernel's 1 ms", set("cpu_quota", 500), /below the kernel's minimum/],
    ["cpu_quota fractional", set("cpu_quota", 50000.5), /no CPU cap/],
    ["cpu_quota as an expression", set("cpu_quota", "${var.quota}"), /cpu_quota to the expression/],
    ["cpu_period missing", drop("cpu_period"), /cpu_period = unset/],
    ["cpu_period 0", set("cpu_period", 0), /cpu_period = 0/],
    ["cpu_period above 1 s", set("cpu_period", 2_000_000), /cpu_period = 2000000/],
    ["cpu_period as an expression", set("cpu_period", "${local.p}"), /cpu_period to the expression/],
    ["cpus (panics provider 3.6.2)", set("cpus", "0.5"), /panics provider 3.6.2/],
  ] as const)("%s is an error", (_name, attack, message) => {
    const { ids, messages } = errorsAfter(attack as Attack);
    expect(ids).toContain("cpu-cap");
    expect(messages.filter((m) => m.startsWith("[cpu-cap]")).join("\n")).toMatch(message);
  });

  it("catches the missing cap in every environment's pack", () => {
    for (const env of ["dev", "prod"] as const) expect(errorsAfter(drop("cpu_quota"), env).ids).toContain("cpu-cap");
  });
});

describe("process-limit", () => {
  it.each([
    ["no ulimit at all", drop("ulimit"), /has no ulimit nproc/],
    ["only nofile", set("ulimit", [{ name: "nofile", soft: 1024, hard: 1024 }]), /has no ulimit nproc/],
    [
      "NPROC (the engine knows only lower case)",
      set("ulimit", [{ name: "NPROC", soft: 512, hard: 512 }]),
      /names its process limit "NPROC"/,
    ],
    ['" nproc" with a space', set("ulimit", [{ name: " nproc", soft: 512, hard: 512 }]), /names its process limit " nproc"/],
    ["nproc -1 (unlimited)", set("ulimit", [{ name: "nproc", soft: -1, hard: -1 }]), /nproc soft = -1, which is no process limit/],
    [
      'nproc "unlimited"',
      set("ulimit", [{ name: "nproc", soft: "unlimited", hard: "unlimited" }]),
      /"unlimited", which is no process limit/,
    ],
    [
      "nproc hard only unlimited (the process may raise its soft limit)",
      set("ulimit", [{ name: "nproc", soft: 512, hard: -1 }]),
      /hard = -1/,
    ],
    [
      "nproc as an expression",
      set("ulimit", [{ name: "nproc", soft: "${var.n}", hard: "${var.n}" }]),
      /ulimit\[0\]\.soft to the expression/,
    ],
    [
      "nproc twice (which one wins is the engine's choice)",
      set("ulimit", [
        { name: "nproc", soft: 64, hard: 64 },
        { name: "nproc", soft: 60000, hard: 60000 },
      ]),
      /sets ulimit nproc 2 times/,
    ],
  ] as const)("%s is an error", (_name, attack, message) => {
    // Without the fixture's own nproc: addOverride merges a list into the configured one.
    const { ids, messages } = errorsAfter(attack as Attack, "prod", { ulimit: undefined });
    expect(ids).toContain("process-limit");
    expect(messages.filter((m) => m.startsWith("[process-limit]")).join("\n")).toMatch(message);
  });

  it("leaves 'too high' and 'soft above hard' to ulimits-bounded (one finding, not two)", () => {
    for (const ulimit of [[{ name: "nproc", soft: 1_000_000, hard: 1_000_000 }], [{ name: "nproc", soft: 1024, hard: 512 }]]) {
      const { ids } = errorsAfter(set("ulimit", ulimit), "prod", { ulimit: undefined });
      expect(ids).toEqual(["ulimits-bounded"]);
    }
  });

  it("a Terraform variable nobody vouched for is no limit the policy can judge", () => {
    const f = fixture("prod");
    const n = new TerraformVariable(f.stack, "n", { type: "number" });
    container(f, { ulimit: [{ name: "nproc", soft: n.numberValue, hard: n.numberValue }] });
    const found = blockingFindings(findings(f)).filter((x) => x.ruleId === "process-limit");
    expect(found.map((x) => x.message).join("\n")).toMatch(/ulimit\[0\]\.soft to the expression \$\{var\.n\}/);
  });
});

describe("what is exempt, and what cannot claim it", () => {
  const bare = (c: Container) => {
    c.addOverride("ulimit", undefined);
    c.addOverride("cpu_quota", undefined);
    c.addOverride("cpu_period", undefined);
  };
  it("(the helper really strips both)", () => {
    const { ids } = errorsAfter(bare);
    expect(ids).toEqual(expect.arrayContaining(["cpu-cap", "process-limit"]));
  });

  it("a seed (start = false, no restart) needs neither", () => {
    const seed = errorsAfter((c) => {
      bare(c);
      c.addOverride("start", false);
      c.addOverride("restart", undefined);
      c.addOverride("healthcheck", undefined);
      c.addOverride("read_only", false);
    });
    expect(seed.ids).not.toContain("cpu-cap");
    expect(seed.ids).not.toContain("process-limit");
  });

  it("a one-shot job (attach, must_run false, restart no) needs both: it runs the app's image like a service", () => {
    const f = fixture("prod");
    const job = container(f);
    bare(job);
    job.addOverride("attach", true);
    job.addOverride("must_run", false);
    job.addOverride("restart", "no");
    const ids = blockingFindings(findings(f)).map((x) => x.ruleId);
    expect(ids).toEqual(expect.arrayContaining(["cpu-cap", "process-limit"]));
  });

  it.each([
    ["attach with restart always", { attach: true, must_run: false, restart: "always" }],
    ["attach but must_run", { attach: true, must_run: true, restart: "no" }],
    ["must_run false without attach", { must_run: false, restart: "no" }],
    ["attach as an expression", { attach: "${var.a}", must_run: false, restart: "no" }],
  ])("a container dressed as a job (%s) needs both too", (_name, dress) => {
    const { ids } = errorsAfter((c) => {
      bare(c);
      for (const [k, v] of Object.entries(dress)) c.addOverride(k, v);
    });
    expect(ids).toEqual(expect.arrayContaining(["cpu-cap", "process-limit"]));
  });
});

describe("every synthesized stack", () => {
  it.each(["dev", "test", "prod"] as const)("%s: no container that runs lacks a CPU cap or a process limit", (env) => {
    const json = sharedEnvironment(env).json;
    const started = Object.values(json.resource.docker_container as Record<string, Record<string, any>>).filter((c) => c.start !== false);
    expect(started.length).toBeGreaterThan(10);
    for (const c of started) {
      expect(c.cpu_quota, c.name).toBeGreaterThan(0);
      expect(c.cpu_period, c.name).toBe(100000);
      expect(c).not.toHaveProperty("cpus");
      const nproc = (c.ulimit as { name: string; soft: number; hard: number }[]).find((u) => u.name === "nproc");
      expect(nproc?.soft, c.name).toBe(nproc?.hard);
      expect(nproc!.hard, c.name).toBeGreaterThanOrEqual(16);
      expect(nproc!.hard, c.name).toBeLessThanOrEqual(65536);
    }
  });
});
