/**
 * scripts/run-app.cjs, the app command of cdktf.json, on a small project of its own in a temp folder
 * (main.ts, a module that reads a file beside it, a JSON import): it runs main.ts with its
 * arguments, reuses its bundle only while every input is unchanged, rebuilds after any change,
 * refuses a broken source with esbuild's message, and survives two runs at once on an empty cache.
 * The real app's output through it is compared with `npx tsx main.ts` in
 * __tests__/environments/synth-app.integration.test.ts.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const RUNNER = resolve(__dirname, "../../scripts/run-app.cjs");
const DIR = mkdtempSync(join(tmpdir(), "run-app-test-"));
const CACHE = join(DIR, "node_modules", ".cache", "updateio-app");
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

const MESSAGE_TS = `import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import data from "../data.json";

export function message(): string {
  const greeting = readFileSync(join(__dirname, "assets", "greeting.txt"), "utf8").trim();
  return \`\${greeting} from \${basename(__filename)} v\${data.version}\`;
}
`;

function write(file: string, text: string): void {
  mkdirSync(join(DIR, file, ".."), { recursive: true });
  writeFileSync(join(DIR, file), text);
}

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [RUNNER, ...args], { cwd: DIR, encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function manifest(): { bundle: string; inputs: Record<string, string> } {
  return JSON.parse(readFileSync(join(CACHE, "manifest.json"), "utf8"));
}

const manifestTime = () => statSync(join(CACHE, "manifest.json")).mtimeMs;

beforeAll(() => {
  write(
    "main.ts",
    `import { message } from "./lib/message";\nprocess.stdout.write(\`\${message()} \${JSON.stringify(process.argv.slice(2))}\\n\`);\n`,
  );
  write("lib/message.ts", MESSAGE_TS);
  write("lib/assets/greeting.txt", "hello\n");
  write("data.json", `{ "version": 1 }\n`);
});

describe("scripts/run-app.cjs", () => {
  it("builds on the first run and runs main.ts with its arguments; modules keep their own __dirname and __filename", () => {
    const r = run("dev", "two words");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`hello from message.ts v1 ["dev","two words"]\n`);
    expect(Object.keys(manifest().inputs).sort()).toEqual(["data.json", "lib/message.ts", "main.ts"]);
    expect(readdirSync(CACHE).filter((f) => f.endsWith(".cjs"))).toEqual([manifest().bundle]);
  });

  it("reuses the bundle while no input changed (the manifest is not rewritten)", () => {
    const before = manifestTime();
    expect(run().stdout).toBe(`hello from message.ts v1 []\n`);
    expect(manifestTime()).toBe(before);
  });

  it("reads files beside a module at run time, not at build time", () => {
    const before = manifestTime();
    write("lib/assets/greeting.txt", "bonjour\n");
    expect(run().stdout).toBe(`bonjour from message.ts v1 []\n`);
    expect(manifestTime()).toBe(before);
  });

  it("rebuilds when a module changes, and when a JSON input changes", () => {
    const first = manifest().bundle;
    write("lib/message.ts", MESSAGE_TS.replace("${greeting} from", "${greeting}, from"));
    expect(run().stdout).toBe(`bonjour, from message.ts v1 []\n`);
    const second = manifest().bundle;
    expect(second).not.toBe(first);
    write("data.json", `{ "version": 2 }\n`);
    expect(run().stdout).toBe(`bonjour, from message.ts v2 []\n`);
    expect(manifest().bundle).not.toBe(second);
  });

  it("refuses a source esbuild cannot parse, naming the file and line, and runs nothing", () => {
    write("lib/message.ts", `${MESSAGE_TS}\nexport const broken = {;\n`);
    const r = run();
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("Could not build the app from main.ts; nothing was synthesized");
    expect(r.stderr).toMatch(/lib\/message\.ts:10:\d+/);
    write("lib/message.ts", MESSAGE_TS);
    expect(run().stdout).toBe(`bonjour from message.ts v2 []\n`);
  });

  it("rebuilds from a damaged manifest or a missing bundle", () => {
    writeFileSync(join(CACHE, "manifest.json"), "{ not json");
    expect(run().stdout).toBe(`bonjour from message.ts v2 []\n`);
    rmSync(join(CACHE, manifest().bundle));
    expect(run().stdout).toBe(`bonjour from message.ts v2 []\n`);
  });

  it("still runs when the cache cannot be written, and says so", () => {
    rmSync(CACHE, { recursive: true, force: true });
    write("node_modules/.cache/updateio-app", "a file where the cache folder goes\n");
    try {
      const r = run("prod");
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`bonjour from message.ts v2 ["prod"]\n`);
      expect(r.stderr).toMatch(/^run-app: the bundle cache in .* could not be written \(.+\); running without it\n$/);
    } finally {
      rmSync(CACHE, { force: true });
    }
  });

  it("two runs at once on an empty cache both succeed", async () => {
    rmSync(CACHE, { recursive: true, force: true });
    const once = () =>
      new Promise<{ code: number | null; out: string }>((done) => {
        const child = spawn(process.execPath, [RUNNER], { cwd: DIR });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.on("close", (code) => done({ code, out }));
      });
    const results = await Promise.all([once(), once()]);
    for (const r of results) expect(r).toEqual({ code: 0, out: `bonjour from message.ts v2 []\n` });
    expect(readdirSync(CACHE).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});
