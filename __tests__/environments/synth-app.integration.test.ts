import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");

it("the app command synthesizes all three stacks with default variables, silently", () => {
  const out = mkdtempSync(join(tmpdir(), "updateio-synth-"));
  try {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("UPDATEIO_")));
    const run = spawnSync("npx", ["tsx", "main.ts"], { cwd: ROOT, env: { ...env, CDKTF_OUTDIR: out }, encoding: "utf8", timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    // cdktf prints its own warnings (e.g. about escape sequences in function calls) on stderr: none expected.
    expect(run.stderr).toBe("");
    for (const stack of ["dev", "test", "prod"]) expect(existsSync(join(out, "stacks", stack, "cdk.tf.json")), stack).toBe(true);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

/** Every file under `dir`, relative path → content. */
function tree(dir: string, prefix = ""): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = join(prefix, entry.name);
    if (entry.isDirectory()) for (const [k, v] of tree(dir, rel)) out.set(k, v);
    else out.set(rel, readFileSync(join(dir, rel), "utf8"));
  }
  return out;
}

it("cdktf.json's app command (a cached bundle, scripts/run-app.cjs) writes exactly what `npx tsx main.ts` writes", () => {
  const app = (JSON.parse(readFileSync(join(ROOT, "cdktf.json"), "utf8")) as { app: string }).app;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("UPDATEIO_")));
  const dirs: string[] = [];
  try {
    const synth = (command: string) => {
      const out = mkdtempSync(join(tmpdir(), "updateio-synth-"));
      dirs.push(out);
      // As cdktf runs it: through a shell, in the app's folder.
      const run = spawnSync("sh", ["-c", command], { cwd: ROOT, env: { ...env, CDKTF_OUTDIR: out }, encoding: "utf8", timeout: 60_000 });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).toBe("");
      return tree(out);
    };
    const viaTsx = synth("npx tsx main.ts");
    const viaApp = synth(app);
    expect([...viaApp.keys()].sort()).toEqual([...viaTsx.keys()].sort());
    expect(viaApp.size).toBeGreaterThan(3);
    for (const [file, text] of viaTsx) expect(viaApp.get(file), file).toBe(text);
    // Arguments reach main.ts: one stack selected.
    const devOnly = synth(`${app} dev`);
    expect([...devOnly.keys()].filter((f) => f.endsWith("cdk.tf.json"))).toEqual([join("stacks", "dev", "cdk.tf.json")]);
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
