/**
 * `npm run review` as a child process on two hand-made synth outputs (temp folders shaped like
 * cdktf.out): the exit code says whether a change section contains data loss (2) or downtime (3).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { baseStack, containers, volumes, type Stack } from "./fixtures";
import { swarmStack, taskSpec } from "./swarm-fixtures";
import { addr, editConfig, sideOf, storeStack } from "./store-fixtures";

const ROOT = resolve(__dirname, "../..");
const TMP = mkdtempSync(join(tmpdir(), "review-cli-test-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** A cdktf.out-like folder with one stack "t" (no manifest: the CLI reads stacks/<name>/cdk.tf.json). */
function synthDir(name: string, stack: Stack): string {
  const dir = join(TMP, name);
  mkdirSync(join(dir, "stacks", "t"), { recursive: true });
  writeFileSync(join(dir, "stacks", "t", "cdk.tf.json"), JSON.stringify(stack));
  return dir;
}

const TSX = join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");

/** Runs the CLI the way `npm run review` does (tsx scripts/review.ts). */
function review(args: readonly string[], env: NodeJS.ProcessEnv = process.env): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [TSX, join(ROOT, "scripts", "review.ts"), ...args], { cwd: ROOT, encoding: "utf8", env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("exit code", () => {
  const before = synthDir("before", baseStack());

  it("2 when a change section contains data loss (a data volume removed)", () => {
    const after = baseStack();
    delete volumes(after).data;
    containers(after).db!.volumes = [];
    const out = join(TMP, "out-loss");
    const r = review(["--from", synthDir("loss", after), "--against", before, "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/^t: .*1 data loss.*→ DATA LOSS/m);
    const report = readFileSync(join(out, "t.md"), "utf8");
    expect(report).toContain("**DATA LOSS**: t-db-data");
    expect(r.stdout).toContain("# Review: stack `t`");
  });

  it("0 when nothing is lost (memory raised in place), with one summary line per stack and the comment's path", () => {
    const after = baseStack();
    containers(after).db!.memory = 1024;
    const r = review(["--from", synthDir("in-place", after), "--against", before, "--out", join(TMP, "out-ok"), "--quiet"]);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(2);
    expect(r.stdout.trim().split("\n")[1]).toMatch(/^pull-request comment: .*pull-request-comment\.md$/);
    expect(r.stdout).toMatch(/^t: .*1 changed \(0 replaced, 1 in place\); 0 data loss, 0 service\(s\) down → safe/);
  });

  it("3 when a Swarm service is replaced (downtime, nothing lost); the report names the ForceNew value", () => {
    const swarmBefore = synthDir("swarm-before", swarmStack());
    const after = swarmStack();
    (taskSpec(after, "api").networks_advanced as Record<string, unknown>[])[0]!.aliases = ["api", "backend"];
    const out = join(TMP, "out-swarm");
    const r = review(["--from", synthDir("swarm-after", after), "--against", swarmBefore, "--out", out, "--quiet"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(3);
    expect(r.stdout).toMatch(/^t: .*1 changed \(1 replaced, 0 in place\); 0 data loss, 1 service\(s\) down → downtime/m);
    const report = readFileSync(join(out, "t.md"), "utf8");
    expect(report).toContain("**DOWNTIME**: api: its Swarm service is replaced (destroyed, then created), all 2 tasks stop");
    expect(report).toContain("ForceNew in 3.6.2: networks_advanced");
  });

  it("4 when a store's primary and replica are replaced together: stages printed (also with --quiet) and written by --stages-json", () => {
    const storeBefore = synthDir("store-before", storeStack());
    const after = storeStack();
    editConfig(after, "postgres_server");
    editConfig(after, "postgres_replica-1");
    const out = join(TMP, "out-store");
    const stagesFile = join(TMP, "stages", "stages.json");
    const r = review([
      "--from",
      synthDir("store-after", after),
      "--against",
      storeBefore,
      "--out",
      out,
      "--quiet",
      "--stages-json",
      stagesFile,
    ]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(4);
    expect(r.stdout).toMatch(/^t: .*→ staged apply required \(2 stages\)/m);
    expect(r.stdout).toContain(
      `stage 1: terraform -chdir=cdktf.out/stacks/t apply ${sideOf("postgres_server")
        .map((t) => `-target=${t}`)
        .join(" ")}\n`,
    );
    expect(r.stdout).toMatch(/stage 2: terraform -chdir=cdktf\.out\/stacks\/t apply\n/);
    const file = JSON.parse(readFileSync(stagesFile, "utf8")) as {
      version: number;
      stacks: { stack: string; staged: boolean; stages: { targets: string[]; full: boolean }[] }[];
    };
    expect(file.version).toBe(2);
    expect(file.stacks).toHaveLength(1);
    expect(file.stacks[0]).toMatchObject({ stack: "t", staged: true });
    expect(file.stacks[0]!.stages.map((s) => [s.targets, s.full])).toEqual([
      [sideOf("postgres_server"), false],
      [[], true],
    ]);
    expect(readFileSync(join(out, "t.md"), "utf8")).toContain("### Staged apply required");
  });

  it("2 when the same change also loses data: data loss wins over the staged apply", () => {
    const storeBefore = synthDir("store-before-2", storeStack());
    const after = storeStack();
    editConfig(after, "postgres_server");
    editConfig(after, "postgres_replica-1");
    delete after.resource.docker_volume![addr("rabbitmq_server-1", "data-volume").split(".")[1]!];
    const stagesFile = join(TMP, "stages-loss.json");
    const r = review([
      "--from",
      synthDir("store-loss", after),
      "--against",
      storeBefore,
      "--out",
      join(TMP, "out-store-loss"),
      "--quiet",
      "--stages-json",
      stagesFile,
    ]);
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/→ DATA LOSS; staged apply required \(2 stages\)/);
    expect((JSON.parse(readFileSync(stagesFile, "utf8")) as { stacks: { staged: boolean }[] }).stacks[0]!.staged).toBe(true);
  });

  it("--stages-json writes staged: false when nothing needs stages, and needs a comparison", () => {
    const stagesFile = join(TMP, "stages-none.json");
    const after = baseStack();
    containers(after).db!.memory = 1024;
    expect(
      review([
        "--from",
        synthDir("in-place-2", after),
        "--against",
        before,
        "--out",
        join(TMP, "out-none"),
        "--quiet",
        "--stages-json",
        stagesFile,
      ]).status,
    ).toBe(0);
    expect((JSON.parse(readFileSync(stagesFile, "utf8")) as { stacks: { staged: boolean; stages: unknown[] }[] }).stacks[0]).toMatchObject({
      staged: false,
      stages: [],
    });
    const alone = review(["--from", before, "--stages-json", stagesFile]);
    expect(alone.status).toBe(1);
    expect(alone.stderr).toContain("--stages-json needs --against <dir> or --against-git <ref>");
  });

  it("0 without a comparison, and no pull-request comment", () => {
    expect(review(["--from", before, "--out", join(TMP, "out-plain"), "--quiet"]).status).toBe(0);
    expect(existsSync(join(TMP, "out-plain", "pull-request-comment.md"))).toBe(false);
  });

  it("with a comparison, writes the pull-request comment: the verdict table and the risks", () => {
    const after = baseStack();
    delete volumes(after).data;
    containers(after).db!.volumes = [];
    const out = join(TMP, "out-comment");
    const r = review(["--from", synthDir("comment", after), "--against", before, "--out", out, "--quiet"]);
    expect(r.status).toBe(2);
    expect(r.stdout).toContain(`pull-request comment: ${join(out, "pull-request-comment.md")}`);
    const comment = readFileSync(join(out, "pull-request-comment.md"), "utf8");
    expect(comment).toMatch(/^# Infrastructure review against `.*before`\n/);
    expect(comment).toContain("| t | DATA LOSS | 0 added, 1 removed");
    expect(comment).toContain("**DATA LOSS**: t-db-data");
    expect(comment).not.toContain("Left out");
  });

  it("1 on errors: an unknown option, a folder that is no synth output", () => {
    const unknown = review(["--frm", before]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain("unknown option --frm");
    const missing = review(["--from", join(TMP, "nowhere"), "--out", join(TMP, "out-err")]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("is not a cdktf.out folder");
  });

  it("says so in the report when `dot` is missing (PATH without graphviz), and writes no SVG", () => {
    const out = join(TMP, "out-nodot");
    // An empty PATH: node is started by its absolute path, and `dot` cannot be found.
    const emptyBin = join(TMP, "empty-bin");
    mkdirSync(emptyBin, { recursive: true });
    const r = review(["--from", before, "--out", out, "--quiet"], { ...process.env, PATH: emptyBin });
    expect(r.status).toBe(0);
    expect(readFileSync(join(out, "t.md"), "utf8")).toContain("No SVG: Graphviz `dot` is not installed");
    expect(existsSync(join(out, "t.svg"))).toBe(false);
  });
});

describe("without --from: the app synthesized in this process", () => {
  // The review's own flags must not reach the app as stack names, and the review must wait for the
  // app's asynchronous synth before it reads the output (both broke `npm run review` in CI).
  it("0 with flags: every stack synthesized and reported", () => {
    const out = join(TMP, "out-in-process");
    const r = review(["--quiet", "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    for (const stack of ["dev", "test", "prod"]) {
      expect(r.stdout).toMatch(new RegExp(`^${stack}: \\d+ services`, "m"));
      expect(readFileSync(join(out, `${stack}.md`), "utf8")).toContain(`# Review: stack \`${stack}\``);
    }
  }, 120_000);
});
