/**
 * Stores whose primary and replica (or whose Sentinel / cluster majority) one apply would replace
 * together, and the targeted applies the review proposes instead (scripts/review/staging.ts).
 * Terraform facts encoded here were checked on Terraform 1.11.4 with terraform_data: -target also
 * applies everything the target depends on (depends_on, references, locals, replace_triggered_by).
 */
import { describe, expect, it } from "vitest";
import { diffStacks, reviewExitCode } from "../../scripts/review/classify";
import { risksSection, summaryLine } from "../../scripts/review/markdown";
import { fileStack, parseStagesFile, stackDigest, STAGES_FILE_VERSION, StagesFileError } from "../../scripts/review/stages-file";
import { closure, dependencyGraph, storesOf } from "../../scripts/review/staging";
import { isSeed, resourcesOf, type TerraformJson } from "../../scripts/review/terraform-json";
import { buildInventory } from "../../scripts/review/inventory";
import { containers, volumes } from "./fixtures";
import { addr, editConfig, sideOf, storePair, storeStack, type StoreOptions } from "./store-fixtures";
import { swarmStack, taskSpec } from "./swarm-fixtures";
import type { Stack } from "./fixtures";

function diff(edit: (after: Stack) => void, options: StoreOptions = {}) {
  const { before, after } = storePair(edit, options);
  return diffStacks("t", before, after);
}

const name = (address: string) => address.split(".")[1]!;

describe("stores in a synthesized stack", () => {
  it("finds Postgres, Redis (with Sentinels) and the RabbitMQ cluster by their service labels; clients and exporters are no members", () => {
    const stores = storesOf(storeStack());
    expect(stores.map((s) => [s.name, s.members.map((m) => `${m.service}:${m.role}`)])).toEqual([
      ["postgres", ["postgres:primary", "postgres-replica-1:replica"]],
      ["rabbitmq", ["rabbitmq-1:peer", "rabbitmq-2:peer", "rabbitmq-3:peer"]],
      [
        "redis",
        ["redis:primary", "redis-replica-1:replica", "redis-sentinel-1:sentinel", "redis-sentinel-2:sentinel", "redis-sentinel-3:sentinel"],
      ],
    ]);
  });

  it("seeds are known by their component label, also when they start once as a one-shot (no start = false)", () => {
    const s = storeStack({ startedSeeds: true });
    const seed = resourcesOf(s).find((r) => r.address === addr("postgres_server", "seed"))!;
    expect(seed.body.start).toBeUndefined();
    expect(isSeed(seed)).toBe(true);
    expect(
      storesOf(s)
        .find((x) => x.name === "postgres")!
        .members.map((m) => m.address),
    ).toEqual([addr("postgres_server", "container"), addr("postgres_replica-1", "container")]);
  });

  it("a Swarm stack has no stores (the data tier stays plain containers)", () => {
    expect(storesOf(swarmStack())).toEqual([]);
  });

  it("-target reach: depends_on, references, locals and replace_triggered_by", () => {
    const graph = dependencyGraph(storeStack() as TerraformJson);
    const reach = closure(graph, [addr("postgres_replica-1", "container")]);
    expect(reach).toContain(addr("postgres_server", "container")); // depends_on
    expect(reach).toContain(addr("postgres_replica-1", "seed"));
    expect(reach).toContain("docker_image.pg");
    expect(reach).toContain("random_password.pw"); // through the seed's upload
    expect(closure(graph, ["docker_container.api"])).toContain("random_password.pw"); // through local.api_db_url
    expect(reach).not.toContain(addr("redis_server", "container"));
  });
});

describe("primary and replica replaced in one apply: staged apply required (exit 4)", () => {
  it("both config files change: the replica depends on the primary, so the primary side goes first", () => {
    const d = diff((s) => {
      editConfig(s, "postgres_server", "max_connections = 200");
      editConfig(s, "postgres_replica-1", "max_connections = 200");
    });
    expect(reviewExitCode([d])).toBe(4);
    expect(d.staged!.conflicts).toEqual([
      "postgres: primary postgres and replica postgres-replica-1 are replaced in the same apply: no copy stays up to serve or take over",
    ]);
    expect(d.staged!.stages.map((s) => ({ targets: s.targets, members: s.members }))).toEqual([
      { targets: sideOf("postgres_server"), members: ["postgres"] },
      { targets: [], members: ["postgres-replica-1"] },
    ]);
    expect(d.staged!.notes.join(" ")).toContain("postgres-replica-1 depends on postgres");
    expect(d.staged!.stages[0]!.why).toBe("replaces postgres (primary); still up: postgres-replica-1");
  });

  it("without that dependency the replica side goes first (stage 1 = replica container, its seed, secrets owner and volumes)", () => {
    const d = diff(
      (s) => {
        editConfig(s, "postgres_server");
        editConfig(s, "postgres_replica-1");
      },
      { replicaDependsOnPrimary: false },
    );
    expect(reviewExitCode([d])).toBe(4);
    expect(d.staged!.stages.map((s) => s.targets)).toEqual([sideOf("postgres_replica-1"), []]);
    expect(d.staged!.notes).toEqual([]);
  });

  it("the same with seeds that start once (identified by label): the seed is a target, never a member", () => {
    const d = diff(
      (s) => {
        editConfig(s, "redis_server");
        editConfig(s, "redis_replica-1");
      },
      { startedSeeds: true, replicaDependsOnPrimary: false },
    );
    expect(d.staged!.stages[0]!.targets).toEqual(sideOf("redis_replica-1"));
    expect(d.staged!.stages.flatMap((s) => s.members)).toEqual(["redis-replica-1", "redis"]);
  });

  it("a Redis image bump: master, replica and all three Sentinels; never both data nodes nor two Sentinels in one stage", () => {
    const d = diff((s) => (s.resource.docker_image!.redis!.name = "redis:7.4.7@sha256:" + "4".repeat(64)));
    expect(reviewExitCode([d])).toBe(4);
    expect(d.staged!.conflicts).toHaveLength(2);
    expect(d.staged!.conflicts[1]).toContain("3 of 3 Sentinels are replaced in the same apply: fewer than 2 stay up");
    expect(d.staged!.stages.map((s) => s.members)).toEqual([
      ["redis"],
      ["redis-replica-1", "redis-sentinel-1"],
      ["redis-sentinel-2"],
      ["redis-sentinel-3"],
    ]);
    expect(d.staged!.stages[1]!.targets).toEqual([...sideOf("redis_replica-1"), ...sideOf("redis_sentinel-1", false)].sort());
    expect(d.staged!.stages[3]!.targets).toEqual([]);
  });

  it("all three RabbitMQ nodes: one node per stage, the last in the full apply", () => {
    const d = diff((s) => (s.resource.docker_image!.rabbit!.name = "rabbitmq:4.1.5@sha256:" + "5".repeat(64)));
    expect(reviewExitCode([d])).toBe(4);
    expect(d.staged!.stages.map((s) => s.members)).toEqual([["rabbitmq-1"], ["rabbitmq-2"], ["rabbitmq-3"]]);
    expect(d.staged!.stages[0]!.targets).toEqual(sideOf("rabbitmq_server-1"));
  });

  it("data loss and both replaced: data loss wins (exit 2), the stages are still reported", () => {
    const d = diff((s) => {
      editConfig(s, "postgres_server");
      editConfig(s, "postgres_replica-1");
      delete volumes(s)[name(addr("rabbitmq_server-1", "data-volume"))];
      const node = containers(s)[name(addr("rabbitmq_server-1", "container"))]!;
      node.volumes = (node.volumes as { container_path: string }[]).filter((v) => v.container_path !== "/data");
    });
    expect(d.dataLoss.length).toBe(1);
    expect(reviewExitCode([d])).toBe(2);
    expect(d.staged!.stages).toHaveLength(2);
  });

  it("the report lists the stages as terraform commands and the summary says so", () => {
    const { before, after } = storePair((s) => {
      editConfig(s, "postgres_server");
      editConfig(s, "postgres_replica-1");
    });
    const d = diffStacks("t", before, after);
    const text = risksSection(d).join("\n");
    expect(text).toContain("### Staged apply required");
    expect(text).toContain(`terraform -chdir=cdktf.out/stacks/t apply \\\n    -target=${addr("postgres_server", "container")}`);
    expect(text).toMatch(/\nterraform -chdir=cdktf\.out\/stacks\/t apply\n```/);
    expect(summaryLine(buildInventory("t", after, []), d)).toMatch(/→ staged apply required \(2 stages\)$/);
  });
});

describe("no staged apply", () => {
  it("only the replica replaced: its downtime as today, no stages", () => {
    const d = diff((s) => editConfig(s, "postgres_replica-1"));
    expect(d.staged).toBeUndefined();
    expect(d.downtime.map((x) => x.service)).toEqual(["postgres-replica-1"]);
    expect(reviewExitCode([d])).toBe(3);
  });

  it("only the primary replaced: as today (downtime of the primary and what depends on it)", () => {
    const d = diff((s) => editConfig(s, "postgres_server"));
    expect(d.staged).toBeUndefined();
    expect(d.downtime.map((x) => x.service)).toContain("postgres");
    expect(d.downtime.map((x) => x.service)).not.toContain("postgres-replica-1");
    expect(reviewExitCode([d])).toBe(3);
  });

  it("in-place changes of both (memory): nothing replaced, safe", () => {
    const d = diff((s) => {
      containers(s)[name(addr("postgres_server", "container"))]!.memory = 512;
      containers(s)[name(addr("postgres_replica-1", "container"))]!.memory = 512;
    });
    expect(d.staged).toBeUndefined();
    expect(reviewExitCode([d])).toBe(0);
  });

  it("one RabbitMQ node or one Sentinel: the majority stays up", () => {
    expect(diff((s) => editConfig(s, "rabbitmq_server-2")).staged).toBeUndefined();
    expect(diff((s) => editConfig(s, "redis_sentinel-1")).staged).toBeUndefined();
  });

  it("a shared network replaced: no stage can keep the members apart; exit 3 and a STORE DOWN warning", () => {
    const d = diff((s) => (s.resource.docker_network!.postgres!.internal = false));
    expect(d.staged!.blocked).toContain("network t-postgres (docker_network.postgres) is replaced");
    expect(d.staged!.stages).toEqual([]);
    expect(d.warnings.join("\n")).toContain("STORE DOWN, cannot be staged: postgres: primary postgres and replica postgres-replica-1");
    expect(reviewExitCode([d])).toBe(3);
  });

  it("the Swarm stack shape is unaffected: a replaced Swarm service stays plain downtime", () => {
    const before = swarmStack();
    const after = swarmStack();
    (taskSpec(after, "api").networks_advanced as Record<string, unknown>[])[0]!.aliases = ["api", "backend"];
    const d = diffStacks("t", before, after);
    expect(d.staged).toBeUndefined();
    expect(reviewExitCode([d])).toBe(3);
  });
});

describe("the stages file", () => {
  const staged = () => {
    const { before, after } = storePair((s) => {
      editConfig(s, "postgres_server");
      editConfig(s, "postgres_replica-1");
    });
    return { after, entry: fileStack("t", after, diffStacks("t", before, after).staged) };
  };

  it("round-trips: digest of the reviewed JSON, targeted stages, the last one full", () => {
    const { after, entry } = staged();
    expect(entry.digest).toBe(stackDigest(JSON.parse(JSON.stringify(after))));
    const parsed = parseStagesFile(JSON.stringify({ version: STAGES_FILE_VERSION, stacks: [entry] }));
    expect(parsed.stacks[0]!.staged).toBe(true);
    expect(parsed.stacks[0]!.stages.map((s) => s.full)).toEqual([false, true]);
  });

  it("a stack without conflicts is written as not staged", () => {
    expect(fileStack("t", storeStack(), undefined)).toMatchObject({ staged: false, stages: [], conflicts: [] });
  });

  it.each([
    [
      "a target with shell syntax",
      (e: Record<string, unknown>) => ((e.stages as { targets: string[] }[])[0]!.targets[0] = "docker_container.x;rm -rf /"),
      /targets: "docker_container.x;rm -rf \/" is not a container or volume address/,
    ],
    [
      "a target that is an option",
      (e: Record<string, unknown>) => ((e.stages as { targets: string[] }[])[0]!.targets[0] = "-destroy"),
      /is not a container or volume address/,
    ],
    [
      "a target of another type",
      (e: Record<string, unknown>) => ((e.stages as { targets: string[] }[])[0]!.targets[0] = "random_password.pw"),
      /is not a container or volume address/,
    ],
    ["a stack name with a path", (e: Record<string, unknown>) => (e.stack = "../prod"), /stack must match/],
    [
      "no full apply at the end",
      (e: Record<string, unknown>) => (e.stages as unknown[]).pop(),
      /at least one targeted stage and the full apply|last stage must be the full apply/,
    ],
    ["stages out of order", (e: Record<string, unknown>) => ((e.stages as { stage: number }[])[0]!.stage = 2), /stage must be 1/],
    ["a bad digest", (e: Record<string, unknown>) => (e.digest = "abc"), /digest must be 64 lowercase hex/],
  ])("refuses %s, naming the key", (_what, edit, message) => {
    const entry = JSON.parse(JSON.stringify(staged().entry)) as Record<string, unknown>;
    edit(entry);
    expect(() => parseStagesFile(JSON.stringify({ version: STAGES_FILE_VERSION, stacks: [entry] }))).toThrow(StagesFileError);
    expect(() => parseStagesFile(JSON.stringify({ version: STAGES_FILE_VERSION, stacks: [entry] }))).toThrow(message);
  });

  it("refuses another version and non-JSON", () => {
    expect(() => parseStagesFile(JSON.stringify({ version: 1, stacks: [] }))).toThrow(/"version" is 1, this script reads version 2/);
    expect(() => parseStagesFile("nope")).toThrow(/is not JSON/);
  });
});
