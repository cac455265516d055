/**
 * scripts/run-app.cjs, the app command of cdktf.json, on a small project of its own in a temp folder
 * (main.ts, a module that reads a file beside it, a JSON import, later a package): it runs main.ts
 * with its arguments, reuses its bundle only while every input is unchanged, rebuilds after any
 * change (a package too: an edit by hand, or a new version whose files keep npm's fixed dates),
 * refuses a broken source with esbuild's message, survives two runs at once on an empty cache, and
 * keeps V8's code cache only for a bundle it belongs to and only after a successful run.
 * The real app's output through it is compared with `npx tsx main.ts` in
 * __tests__/environments/synth-app.integration.test.ts.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
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
  return runWith({}, ...args);
}

function runWith(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, [RUNNER, ...args], {
    cwd: DIR,
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, NODE_OPTIONS: "", ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function manifest(): {
  bundle: string;
  inputs: Record<string, string>;
  packages: Record<string, string>;
  packageJsons: Record<string, string>;
} {
  return JSON.parse(readFileSync(join(CACHE, "manifest.json"), "utf8"));
}

const manifestTime = () => statSync(join(CACHE, "manifest.json")).mtimeMs;
/** The current bundle's code caches (one per set of node flags). */
const codeCaches = () => {
  const stem = manifest().bundle.replace(/\.cjs$/, ".");
  return readdirSync(CACHE)
    .filter((f) => f.startsWith(stem) && f.endsWith(".v8cache"))
    .map((f) => join(CACHE, f));
};
const codeCache = () => {
  const all = codeCaches();
  expect(all).toHaveLength(1);
  return all[0]!;
};

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

  it("bundles the packages main.ts imports, recording each file's size and mtime and each package.json's hash", () => {
    write("node_modules/greeter/package.json", `{ "name": "greeter", "version": "1.0.0", "main": "index.js" }\n`);
    write("node_modules/greeter/index.js", `exports.shout = (s) => s.toUpperCase();\n`);
    write("main.ts", `import { shout } from "greeter";\nprocess.stdout.write(shout("hi") + "\\n");\n`);
    const r = run();
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("HI\n");
    const m = manifest();
    expect(Object.keys(m.inputs)).toEqual(["main.ts"]);
    expect(Object.keys(m.packages)).toEqual(["node_modules/greeter/index.js"]);
    expect(Object.keys(m.packageJsons)).toEqual(["node_modules/greeter/package.json"]);
    // The package's code is in the bundle itself.
    expect(readFileSync(join(CACHE, m.bundle), "utf8")).toContain("toUpperCase");
    const before = manifestTime();
    expect(run().stdout).toBe("HI\n");
    expect(manifestTime()).toBe(before);
  });

  it("rebuilds when a package file is edited by hand", () => {
    const first = manifest().bundle;
    write("node_modules/greeter/index.js", `exports.shout = (s) => s.toUpperCase() + "!";\n`);
    expect(run().stdout).toBe("HI!\n");
    expect(manifest().bundle).not.toBe(first);
  });

  it("rebuilds for a new package version even when its files keep the same size and date (npm's fixed mtime)", () => {
    const file = join(DIR, "node_modules/greeter/index.js");
    const fixed = new Date("1985-10-26T08:15:00Z");
    utimesSync(file, fixed, fixed);
    run();
    const first = manifest().bundle;
    // Same size, same mtime, other content: only the package.json tells the versions apart.
    write("node_modules/greeter/index.js", `exports.shout = (s) => s.toUpperCase() + "?";\n`);
    utimesSync(file, fixed, fixed);
    write("node_modules/greeter/package.json", `{ "name": "greeter", "version": "1.0.1", "main": "index.js" }\n`);
    expect(run().stdout).toBe("HI?\n");
    expect(manifest().bundle).not.toBe(first);
  });

  it("writes V8's code cache after a successful run and reuses it untouched", () => {
    rmSync(CACHE, { recursive: true, force: true });
    expect(run().stdout).toBe("HI?\n");
    const cache = codeCache();
    expect(statSync(cache).size).toBeGreaterThan(0);
    const before = statSync(cache).mtimeMs;
    expect(run().stdout).toBe("HI?\n");
    expect(statSync(cache).mtimeMs).toBe(before);
  });

  it("runs from source when V8 refuses a damaged code cache, and replaces it", () => {
    const junk = Buffer.from("not a code cache at all");
    writeFileSync(codeCache(), junk);
    const r = run();
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("HI?\n");
    expect(readFileSync(codeCache()).equals(junk)).toBe(false);
  });

  it("keeps one code cache per set of node flags (cdktf synth adds --max-old-space-size), each untouched by the other", () => {
    const plain = codeCache();
    const before = statSync(plain).mtimeMs;
    expect(runWith({ NODE_OPTIONS: "--max-old-space-size=4096" }).stdout).toBe("HI?\n");
    expect(codeCaches()).toHaveLength(2);
    const other = codeCaches().find((f) => f !== plain)!;
    const otherBefore = statSync(other).mtimeMs;
    expect(run().stdout).toBe("HI?\n");
    expect(runWith({ NODE_OPTIONS: "--max-old-space-size=4096" }).stdout).toBe("HI?\n");
    expect(statSync(plain).mtimeMs).toBe(before);
    expect(statSync(other).mtimeMs).toBe(otherBefore);
  });

  it("writes no code cache after a failed run", () => {
    write("main.ts", `import { shout } from "greeter";\nprocess.stdout.write(shout("no") + "\\n");\nprocess.exitCode = 3;\n`);
    const r = run();
    expect(r.status).toBe(3);
    expect(r.stdout).toBe("NO?\n");
    expect(codeCaches()).toEqual([]);
  });

  it("runs an import() of a node built-in, as a require (a script run from V8's code cache has no loader for import())", () => {
    write("main.ts", `void import("node:os").then((os) => process.stdout.write(typeof os.cpus + "\\n"));\n`);
    const r = run();
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("function\n");
    expect(readFileSync(join(CACHE, manifest().bundle), "utf8")).not.toContain("import(");
    expect(codeCaches()).toHaveLength(1);
    expect(run().stdout).toBe("function\n");
  });

  it("removes bundles older than ten minutes with their code caches, and keeps the current one", () => {
    const old = new Date(Date.now() - 11 * 60 * 1000);
    for (const name of ["main-0123456789abcdef.cjs", "main-0123456789abcdef.0a1b2c3d.v8cache"]) {
      writeFileSync(join(CACHE, name), "old\n");
      utimesSync(join(CACHE, name), old, old);
    }
    write("main.ts", `import { shout } from "greeter";\nprocess.stdout.write(shout("yes") + "\\n");\n`);
    expect(run().stdout).toBe("YES?\n");
    const left = readdirSync(CACHE).filter((f) => f.startsWith("main-"));
    expect(left).not.toContain("main-0123456789abcdef.cjs");
    expect(left).not.toContain("main-0123456789abcdef.0a1b2c3d.v8cache");
    expect(left).toContain(manifest().bundle);
  });
});
