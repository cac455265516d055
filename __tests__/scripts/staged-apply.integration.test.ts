/**
 * `npm run apply:staged` as a child process with a fake `terraform` first on PATH that records its
 * argument list (Terraform cannot download providers here): the exact commands in order, the check
 * hook between stages, stopping at a failure, and refusing bad input before anything runs.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { diffStacks } from "../../scripts/review/classify";
import { fileStack, STAGES_FILE_VERSION, type FileStack } from "../../scripts/review/stages-file";
import { editConfig, sideOf, storeStack } from "../review/store-fixtures";

const ROOT = resolve(__dirname, "../..");
const TSX = join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
const TMP = mkdtempSync(join(tmpdir(), "staged-apply-test-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const BIN = join(TMP, "bin");
const LOG = join(TMP, "calls.log");
mkdirSync(BIN, { recursive: true });
// One line per call: the program, then each argument, tab-separated. FAKE_TF_FAIL: exit 7 when the
// arguments contain it.
writeFileSync(
  join(BIN, "terraform"),
  `#!/bin/sh
line="terraform"
for a in "$@"; do line="$line\t$a"; done
printf '%s\\n' "$line" >> "$CALLS_LOG"
if [ -n "$FAKE_TF_FAIL" ]; then case "$*" in *"$FAKE_TF_FAIL"*) exit 7 ;; esac; fi
exit 0
`,
);
chmodSync(join(BIN, "terraform"), 0o755);
const CHECK = join(TMP, "check.sh");
writeFileSync(
  CHECK,
  `#!/bin/sh\nline="check"\nfor a in "$@"; do line="$line\t$a"; done\nprintf '%s\\n' "$line" >> "$CALLS_LOG"\nexit "\${FAKE_CHECK_EXIT:-0}"\n`,
);
chmodSync(CHECK, 0o755);

/** A project folder with cdktf.out/stacks/t/cdk.tf.json and a stages file for it (Redis master, replica and Sentinels replaced: 4 stages). */
function project(name: string, edit: (entry: Record<string, unknown>) => void = () => {}): { cwd: string; stack: FileStack } {
  const cwd = join(TMP, name);
  const before = storeStack();
  const after = storeStack();
  after.resource.docker_image!.redis!.name = "redis:7.4.7@sha256:" + "4".repeat(64);
  editConfig(after, "postgres_server");
  editConfig(after, "postgres_replica-1");
  mkdirSync(join(cwd, "cdktf.out", "stacks", "t"), { recursive: true });
  writeFileSync(join(cwd, "cdktf.out", "stacks", "t", "cdk.tf.json"), JSON.stringify(after, null, 2));
  const stack = fileStack("t", after, diffStacks("t", before, after).staged);
  const entry = JSON.parse(JSON.stringify(stack)) as Record<string, unknown>;
  edit(entry);
  writeFileSync(join(cwd, "stages.json"), JSON.stringify({ version: STAGES_FILE_VERSION, stacks: [entry] }));
  return { cwd, stack };
}

function applyStaged(cwd: string, args: readonly string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [TSX, join(ROOT, "scripts", "staged-apply.ts"), ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, PATH: `${BIN}:${process.env.PATH}`, CALLS_LOG: LOG, ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const calls = (): string[][] =>
  existsSync(LOG)
    ? readFileSync(LOG, "utf8")
        .trimEnd()
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("\t"))
    : [];
const targets = (ts: readonly string[]) => ts.map((t) => `-target=${t}`);

beforeEach(() => rmSync(LOG, { force: true }));

describe("npm run apply:staged", () => {
  it("runs init, each targeted stage in order with the check between, then the full apply", () => {
    const { cwd, stack } = project("ok");
    // Postgres and Redis both conflict: postgres first with the Redis master, then replicas and a Sentinel, ...
    expect(stack.stages.map((s) => s.members)).toEqual([
      ["postgres", "redis"],
      ["postgres-replica-1", "redis-replica-1", "redis-sentinel-1"],
      ["redis-sentinel-2"],
      ["redis-sentinel-3"],
    ]);
    const r = applyStaged(cwd, ["--stack", "t", "--stages", "stages.json", "--auto-approve", "--check", CHECK]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const dir = `-chdir=${join(cwd, "cdktf.out", "stacks", "t")}`;
    const approve = ["-input=false", "-auto-approve"];
    expect(calls()).toEqual([
      ["terraform", dir, "init", "-input=false"],
      ["terraform", dir, "apply", ...approve, ...targets([...sideOf("postgres_server"), ...sideOf("redis_server")].sort())],
      ["check", "t", "1", "4"],
      ["terraform", dir, "apply", ...approve, ...targets(stack.stages[1]!.targets)],
      ["check", "t", "2", "4"],
      ["terraform", dir, "apply", ...approve, ...targets(sideOf("redis_sentinel-2", false))],
      ["check", "t", "3", "4"],
      ["terraform", dir, "apply", ...approve],
    ]);
    expect(r.stdout).toContain("all 4 stages applied");
  });

  it("without --auto-approve terraform asks (no -auto-approve); --skip-init skips init", () => {
    const { cwd } = project("interactive");
    expect(applyStaged(cwd, ["--stack=t", "--stages=stages.json", "--skip-init"]).status).toBe(0);
    const c = calls();
    expect(c).toHaveLength(4);
    expect(c.every((x) => x[2] === "apply" && !x.includes("-auto-approve"))).toBe(true);
  });

  it("stops at a failed stage: exit 2, the full apply never runs", () => {
    const { cwd, stack } = project("fail");
    const r = applyStaged(cwd, ["--stack", "t", "--stages", "stages.json", "--auto-approve"], {
      FAKE_TF_FAIL: stack.stages[1]!.targets[0]!,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("stage 2/4 (terraform apply with");
    expect(r.stderr).toContain("failed (exit 7); later stages did not run");
    expect(calls().map((c) => c[2])).toEqual(["init", "apply", "apply"]);
  });

  it("stops when the check fails after a stage", () => {
    const { cwd } = project("check-fails");
    const r = applyStaged(cwd, ["--stack", "t", "--stages", "stages.json", "--auto-approve", "--check", CHECK], { FAKE_CHECK_EXIT: "3" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("check after stage 1/4");
    expect(calls().map((c) => (c[0] === "check" ? "check" : c[2]))).toEqual(["init", "apply", "check"]);
  });

  it("--dry-run prints the commands and runs nothing", () => {
    const { cwd } = project("dry");
    const r = applyStaged(cwd, ["--stack", "t", "--stages", "stages.json", "--dry-run"]);
    expect(r.status).toBe(0);
    expect(r.stdout.split("\n").filter((l) => l.startsWith("terraform "))).toHaveLength(5);
    expect(calls()).toEqual([]);
  });

  it.each<[string, (e: Record<string, unknown>) => void, string[], RegExp]>([
    [
      "a target with shell syntax",
      (e) => ((e.stages as { targets: string[] }[])[0]!.targets[0] = "docker_container.x$(reboot)"),
      [],
      /is not a container or volume address .*refusing to pass it to terraform/,
    ],
    [
      "a target that is not in the stack",
      (e) => ((e.stages as { targets: string[] }[])[0]!.targets[0] = "docker_container.not_there"),
      [],
      /target docker_container\.not_there is not a resource of .*cdk\.tf\.json; review the stack again/,
    ],
    [
      "a stack the review did not stage",
      (e) => Object.assign(e, { staged: false, stages: [] }),
      [],
      /the review says no staged apply is needed/,
    ],
    [
      "a stack whose stages are blocked",
      (e) => Object.assign(e, { staged: false, stages: [], blocked: "network t-redis is replaced" }),
      [],
      /found no safe stages \(network t-redis is replaced\)/,
    ],
    ["another configuration than the reviewed one", (e) => (e.digest = "0".repeat(64)), [], /is not the configuration the review saw/],
    ["a stack missing from the file", () => {}, ["--stack", "prod"], /has no entry for stack "prod" \(it has: t\)/],
    ["a bad stack name", () => {}, ["--stack", "t;rm"], /--stack "t;rm" must match/],
    ["a missing --stages", () => {}, ["--stages"], /--stages needs a value/],
    ["an unknown option", () => {}, ["--target=docker_container.x"], /unknown option --target=docker_container\.x/],
    ["a check that is not executable", () => {}, ["--check", "stages.json"], /--check stages\.json: not an executable file/],
    ["a pause out of range", () => {}, ["--pause", "-1"], /--pause "-1" must be a whole number of seconds/],
  ])("refuses %s with exit 1 before running terraform", (_what, edit, extra, message) => {
    const { cwd } = project(`bad-${Math.random().toString(36).slice(2)}`, edit);
    const base = ["--stack", "t", "--stages", "stages.json", "--auto-approve"];
    // Later flags win for --stack; --stages alone at the end lacks its value.
    const r = applyStaged(cwd, [...base, ...extra]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(calls()).toEqual([]);
  });

  it("refuses a missing stages file and a stack that was never synthesized", () => {
    const { cwd } = project("missing");
    expect(applyStaged(cwd, ["--stack", "t", "--stages", "nope.json"]).stderr).toContain("--stages nope.json: no such file");
    rmSync(join(cwd, "cdktf.out"), { recursive: true });
    const r = applyStaged(cwd, ["--stack", "t", "--stages", "stages.json"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("synthesize the stack first (npx tsx main.ts t)");
    expect(calls()).toEqual([]);
  });

  it("says so when terraform is not on PATH", () => {
    const { cwd } = project("no-terraform");
    const empty = join(TMP, "empty-bin");
    mkdirSync(empty, { recursive: true });
    const r = spawnSync(process.execPath, [TSX, join(ROOT, "scripts", "staged-apply.ts"), "--stack", "t", "--stages", "stages.json"], {
      cwd,
      encoding: "utf8",
      env: { ...process.env, PATH: empty },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("terraform not found on PATH");
  });
});
