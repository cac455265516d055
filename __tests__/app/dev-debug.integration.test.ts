/**
 * Dev's debugger is on the app process, not on npm or tsx's watcher: the reference service's dev
 * command (`npm run dev` = `tsx watch ${INSPECT_ADDRESS:+--inspect=$INSPECT_ADDRESS} src/main.ts`)
 * runs on this machine's Node with the API container's environment and secret files from the
 * synthesized dev stack. Only PORT and INSPECT_ADDRESS's port are free ports here (and its host
 * 127.0.0.1, not the container's 0.0.0.0), and the file settings point at a temp directory. The
 * backing services' names do not resolve here: the service starts without them (it connects lazily).
 *
 * The control case runs the old way (NODE_OPTIONS=--inspect) and must land the inspector on npm,
 * so the assertions can tell the two apart.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeIf, requireBinary } from "../support/binaries";
import { freePorts } from "../support/helpers";
import { synthEnvironment, type TerraformJson } from "../support/stacks";
import { Proc, until, writeSecret } from "../examples/servers";
import { container, containerApp } from "../examples/stack-settings";

const ROOT = resolve(__dirname, "../..");
const SERVICE_DIR = join(ROOT, "examples/reference-service");
const MAIN = join(SERVICE_DIR, "src/main.ts");
const AS_ROOT = process.getuid?.() === 0;

/** The pid listening on 127.0.0.1/0.0.0.0:`port` (ss -ltnp), or undefined. */
function listener(port: number): number | undefined {
  const out = spawnSync("ss", ["-Hltnp", `sport = :${port}`], { encoding: "utf8" }).stdout ?? "";
  const m = /pid=(\d+)/.exec(out);
  return m ? Number(m[1]) : undefined;
}

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
const parentOf = (pid: number) => Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);

interface Run {
  readonly proc: Proc;
  readonly appPort: number;
  readonly inspectPort: number;
}

describeIf(
  [requireBinary("npm"), requireBinary("ss"), ...(AS_ROOT ? [requireBinary("setpriv")] : [])],
  "dev debugger: the inspector is on the app process (reference service, dev stack's environment)",
  () => {
    const dir = mkdtempSync(join(tmpdir(), "updateio-dev-debug-"));
    // uid 1000 must reach the secret files below it.
    chmodSync(dir, 0o755);
    let json: TerraformJson;
    let devCommand: string[];
    let stackEnv: Record<string, string>;
    const runs: Proc[] = [];

    beforeAll(() => {
      json = synthEnvironment("dev", {}, join(dir, "out")).json;
      devCommand = container(json, "dev-api").command as string[];
      stackEnv = { ...containerApp(json, "dev-api").env };
    }, 120_000);

    afterAll(async () => {
      for (const p of runs) {
        // The whole group: npm, its shell, the watcher and the app.
        try {
          process.kill(-p.child.pid!, "SIGKILL");
        } catch {
          // already gone
        }
      }
      rmSync(dir, { recursive: true, force: true });
    });

    /** Starts the stack's dev command in the service folder (the container's /app) as uid 1000 with the container's environment. */
    async function start(name: string, overrides: (env: Record<string, string>, inspect: string) => Record<string, string>): Promise<Run> {
      const app = containerApp(json, "dev-api");
      const [appPort, inspectPort] = await freePorts(2);
      const home = join(dir, name, "home");
      const secrets = join(dir, name, "secrets");
      mkdirSync(home, { recursive: true });
      mkdirSync(secrets, { recursive: true });
      if (AS_ROOT) chownSync(home, 1000, 1000);
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(app.env)) {
        if (k.endsWith("_FILE")) {
          const path = join(secrets, v.replace(/^\/run\/secrets\//, ""));
          writeSecret(path, app.files[v] ?? "", { uid: 1000, gid: 1000, mode: 0o400 });
          env[k] = path;
        } else env[k] = v;
      }
      env.PORT = String(appPort);
      const full = {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: home,
        ...overrides(env, `127.0.0.1:${inspectPort!}`),
      };
      const [cmd, ...args] = devCommand;
      const proc = AS_ROOT
        ? new Proc(name, dir, "setpriv", ["--reuid=1000", "--regid=1000", "--clear-groups", "--", cmd!, ...args], {
            env: full,
            cwd: SERVICE_DIR,
            detached: true,
          })
        : new Proc(name, dir, cmd!, args, { env: full, cwd: SERVICE_DIR, detached: true });
      runs.push(proc);
      await until(
        `${name}: the app answers on its port and something listens on the inspector port`,
        async () => {
          if (!proc.running) throw new Error(`${name} exited:\n${proc.output()}`);
          // Any answer: /health is 503 while the backing services (unreachable here) are down.
          const answers = await fetch(`http://127.0.0.1:${appPort}/health`).then(
            () => true,
            () => false,
          );
          return answers && listener(inspectPort!) !== undefined;
        },
        90_000,
        250,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n${proc.output().slice(-3000)}`);
      });
      return { proc, appPort: appPort!, inspectPort: inspectPort! };
    }

    it("the stack hands the API INSPECT_ADDRESS (not NODE_OPTIONS) and runs npm run dev", () => {
      expect(stackEnv.INSPECT_ADDRESS).toBe("0.0.0.0:9229");
      expect(stackEnv.NODE_OPTIONS).toBeUndefined();
      expect(devCommand).toEqual(["npm", "run", "dev"]);
      const script = JSON.parse(readFileSync(join(SERVICE_DIR, "package.json"), "utf8")).scripts.dev as string;
      expect(script).toContain("--inspect=$INSPECT_ADDRESS");
    });

    it("GET /json/list names src/main.ts, and the pid on the inspector port is the app's (not npm's, not the watcher's), after a reload too", async () => {
      const run = await start("inspect-address", (env, inspect) => ({ ...env, INSPECT_ADDRESS: inspect }));
      const targets = (await (await fetch(`http://127.0.0.1:${run.inspectPort}/json/list`)).json()) as { url: string; title: string }[];
      expect(targets).toHaveLength(1);
      expect(targets[0]!.url).toBe(`file://${MAIN}`);
      const inspector = listener(run.inspectPort)!;
      const app = listener(run.appPort)!;
      expect(inspector).toBe(app);
      const npm = run.proc.child.pid!;
      expect(inspector).not.toBe(npm);
      // The app's parent is tsx's watcher, whose command line is "tsx watch"; the app's is node with src/main.ts.
      expect(cmdline(parentOf(inspector))).toMatch(/tsx watch/);
      expect(cmdline(inspector)).toMatch(/src\/main\.ts$/);
      expect(cmdline(inspector)).not.toMatch(/npm-cli|tsx watch/);

      // A source change restarts the app: the inspector comes back on the new process.
      const now = new Date();
      utimesSync(join(SERVICE_DIR, "src/log.ts"), now, now);
      await until(
        "the app restarted with the inspector",
        () => {
          const pid = listener(run.inspectPort);
          return pid !== undefined && pid !== inspector && pid === listener(run.appPort);
        },
        60_000,
        250,
      );
      expect(run.proc.output()).not.toMatch(/address already in use/);
    }, 180_000);

    it("control: NODE_OPTIONS=--inspect (the old way) lands on npm and the app's inspector fails", async () => {
      const run = await start("node-options", ({ INSPECT_ADDRESS: _, ...env }, inspect) => ({
        ...env,
        NODE_OPTIONS: `--inspect=${inspect}`,
      }));
      const targets = (await (await fetch(`http://127.0.0.1:${run.inspectPort}/json/list`)).json()) as { url: string }[];
      expect(targets[0]!.url).not.toBe(`file://${MAIN}`);
      expect(listener(run.inspectPort)).toBe(run.proc.child.pid);
      expect(listener(run.inspectPort)).not.toBe(listener(run.appPort));
      await until("the app reports the port taken", () => /address already in use/.test(run.proc.output()), 20_000, 200);
    }, 180_000);
  },
);
