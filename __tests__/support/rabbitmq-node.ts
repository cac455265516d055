/** The environment for tests that run Debian's rabbitmq-server as an unprivileged node on loopback. */
import { spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { requireBinary } from "./binaries";
import type { RabbitUsersScriptInput } from "../../constructs/rabbitmq/renderers/rabbitmq-users";

export interface RabbitNodeEnvInput {
  /** RABBITMQ_BASE: logs, pid file and crash dump go below it. */
  readonly dir: string;
  readonly node: string;
  readonly home: string;
  /** conf.d directory (RABBITMQ_CONFIG_FILES). */
  readonly configFiles: string;
  readonly enabledPluginsFile: string;
  readonly distPort: number;
  readonly epmdPort: number;
  /** @default <dir>/mnesia */
  readonly mnesia?: string;
}

/**
 * The environment that keeps a node to its own folder and ports: every default file path points into
 * `dir` (the "no-*" ones do not exist, so the Debian defaults under /etc are never read).
 */
export function rabbitNodeEnv(i: RabbitNodeEnvInput): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HOME: i.home,
    ERL_EPMD_PORT: String(i.epmdPort),
    RABBITMQ_NODENAME: i.node,
    RABBITMQ_BASE: i.dir,
    RABBITMQ_MNESIA_BASE: i.mnesia ?? join(i.dir, "mnesia"),
    RABBITMQ_LOG_BASE: join(i.dir, "log"),
    RABBITMQ_CONFIG_FILE: join(i.dir, "no-main-config"),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(i.dir, "no-advanced.config"),
    RABBITMQ_CONF_ENV_FILE: join(i.dir, "no-rabbitmq-env.conf"),
    RABBITMQ_CONFIG_FILES: i.configFiles,
    RABBITMQ_ENABLED_PLUGINS_FILE: i.enabledPluginsFile,
    RABBITMQ_DIST_PORT: String(i.distPort),
    RABBITMQ_PID_FILE: join(i.dir, "rabbit.pid"),
    ERL_CRASH_DUMP: join(i.dir, "erl_crash.dump"),
  };
}

/** Debian keeps rabbitmq-server and rabbitmqctl off PATH, under /usr/lib/rabbitmq/bin. */
export function rabbitBin(name: string): string {
  const debian = `/usr/lib/rabbitmq/bin/${name}`;
  return existsSync(debian) ? debian : (requireBinary(name).path ?? name);
}

/** Runs rabbitmqctl against `node`: its exit status and its stdout and stderr together. */
export function rabbitCtl(
  node: string,
  env: NodeJS.ProcessEnv,
  args: readonly string[],
  timeoutMs: number,
): { status: number | null; out: string } {
  const r = spawnSync(rabbitBin("rabbitmqctl"), ["-n", node, ...args], { env, encoding: "utf8", timeout: timeoutMs });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Polls `ready` every 500 ms; false when the node's process exits first or `timeoutMs` passes. */
export async function waitForRabbitNode(node: ChildProcess, ready: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ready()) return true;
    if (node.exitCode !== null) return false;
    await sleep(500);
  }
  return false;
}

/** Runs `shutdown` (rabbitmqctl shutdown), waits up to `waitMs` for the process, then kills its process group. */
export async function stopRabbitNode(node: ChildProcess, shutdown: () => void, waitMs: number): Promise<void> {
  shutdown();
  const exited = () => node.exitCode !== null || node.signalCode !== null;
  for (let waited = 0; waited < waitMs && !exited(); waited += 100) await sleep(100);
  if (exited()) return;
  try {
    process.kill(-node.pid!, "SIGKILL");
  } catch {
    // already gone
  }
}

/**
 * Runs RabbitBroker's users job script (`<files>/sync-users.sh`, as rendered) against `node`, as the
 * job container does: its own HOME (it installs the cookie itself), the files in `files`
 * (rabbitmq_users, expected-permissions.tsv) instead of /run/secrets and /etc/rabbitmq-users.
 * `overrides` replace any of the script's settings (e.g. a wrong cookie file).
 */
export function runRabbitUsersJob(input: {
  readonly node: string;
  /** The node's environment (its epmd port): the CLI finds the node through it. */
  readonly env: NodeJS.ProcessEnv;
  readonly files: string;
  readonly home: string;
  readonly cookieFile: string;
  readonly overrides?: NodeJS.ProcessEnv;
}): { status: number | null; out: string } {
  const r = spawnSync("sh", [join(input.files, "sync-users.sh")], {
    env: {
      ...input.env,
      HOME: input.home,
      RABBITMQ_NODES: input.node,
      RABBITMQ_COOKIE_FILE: input.cookieFile,
      USERS_FILE: join(input.files, "rabbitmq_users"),
      EXPECTED_FILE: join(input.files, "expected-permissions.tsv"),
      RABBITMQCTL: rabbitBin("rabbitmqctl"),
      WAIT_SECONDS: "30",
      ...input.overrides,
    },
    encoding: "utf8",
    timeout: 180_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** RabbitBroker's users job script input, as the stacks render it (one node; `nodes` and `vhost` vary per test). */
export const RABBIT_USERS_SCRIPT_INPUT: RabbitUsersScriptInput = {
  nodes: ["rabbit@rabbitmq"],
  cookieFile: "/run/secrets/erlang_cookie",
  usersFile: "/run/secrets/rabbitmq_users",
  expectedFile: "/etc/rabbitmq-users/expected-permissions.tsv",
  vhost: "updateio-dev",
  keepUsers: ["updateio"],
  waitSeconds: 180,
};
