/**
 * The CPU caps and process limits the kit synthesizes, held on the real Docker engine.
 *
 * The settings come from the synthesized stacks (not written here): the `ulimit nproc` of the
 * long-running non-root container with the smallest budget, and the cpu_period / cpu_quota of the
 * one with the smallest cap. A fork loop runs as an unused non-root uid and stops at the limit while
 * a control with a higher limit goes further; a CPU hog (`yes`) is held to its quota, read from the
 * container's cpuacct cgroup. For Swarm nodes (no ulimits or pids limit for a service in provider
 * 3.6.2), the daemon-level mechanism is shown too: a cgroup parent with pids.max holds a fork loop
 * even as root, which RLIMIT_NPROC exempts.
 *
 * Not shown here: a Swarm service's nano_cpus under a hog. The engine is shared with the other test
 * files, and Swarm membership is engine-wide; nano_cpus becomes the same CFS quota (cpu.cfs_quota_us)
 * this file measures on a container.
 *
 * Every fork loop has a target (twice the limit) and a --pids-limit above it, so a broken limit can
 * never take the host's process table; every name carries this run's prefix and is removed after.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeIf, type Requirement } from "../support/binaries";
import { containersOf, type JsonObject } from "./docker-cli";
import {
  docker,
  dockerDaemonRequirement,
  dockerOk,
  ensureTestImage,
  runPrefix,
  staticBusyboxRequirement,
  synthesizedStack,
} from "./fixtures";

/** A uid no account or other test uses: RLIMIT_NPROC counts every task of the uid on the host. */
const TEST_UID = 47213;
const OTHER_UID = 47214;

function cgroupV1PidsRequirement(): Requirement {
  if (!existsSync("/sys/fs/cgroup/pids/pids.max") && !existsSync("/sys/fs/cgroup/pids")) {
    return {
      available: false,
      reason:
        "no cgroup v1 pids hierarchy at /sys/fs/cgroup/pids (this test reads cgroup v1 files; on cgroup v2 read pids.current/cpu.stat in the unified tree instead)",
    };
  }
  if (process.getuid?.() !== 0) return { available: false, reason: "creating a cgroup parent needs root" };
  return { available: true, reason: "cgroup v1 pids and cpuacct hierarchies writable" };
}

interface Synthesized {
  readonly name: string;
  readonly nproc: number;
  readonly cpuPeriod: number;
  readonly cpuQuota: number;
}

/** Long-running (not seed, not one-shot) non-root containers of every environment, with their limits. */
function synthesizedLimits(): Synthesized[] {
  const out: Synthesized[] = [];
  for (const env of ["dev", "test", "prod"] as const) {
    for (const [, r] of containersOf(synthesizedStack(env))) {
      if (r.start === false || r.attach === true) continue;
      const user = String(r.user ?? "");
      if (/^0*(:|$)/.test(user) || user.startsWith("root")) continue;
      const nproc = (r.ulimit as JsonObject[] | undefined)?.find((u) => u.name === "nproc");
      out.push({
        name: String(r.name),
        nproc: Number(nproc?.hard),
        cpuPeriod: Number(r.cpu_period),
        cpuQuota: Number(r.cpu_quota),
      });
    }
  }
  return out;
}

/** The container's cgroup directory in one v1 hierarchy, from its init process' /proc/<pid>/cgroup. */
async function cgroupDir(container: string, controller: string): Promise<string> {
  const pid = (await dockerOk(["inspect", "--format", "{{.State.Pid}}", container])).trim();
  for (const line of readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n")) {
    const [, controllers, path] = line.split(":");
    if (controllers?.split(",").includes(controller)) {
      const mount = existsSync(`/sys/fs/cgroup/${controller}`) ? `/sys/fs/cgroup/${controller}` : `/sys/fs/cgroup/${controllers}`;
      return `${mount}${path}`;
    }
  }
  throw new Error(`${container} (pid ${pid}) is in no ${controller} cgroup`);
}

const readInt = (file: string) => Number(readFileSync(file, "utf8").trim());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `target` sleeping children in a subshell (busybox sh exits on the first failed fork) and
 * returns how many tasks the container holds once they stop growing.
 */
async function forkLoop(name: string, flags: readonly string[], target: number, image: string): Promise<{ tasks: number; log: string }> {
  const script = `( n=0; while [ $n -lt ${target} ]; do sleep 600 & n=$((n+1)); done; echo "started $n" ) ; echo "loop ended $?"; exec sleep 600`;
  await dockerOk(["run", "-d", "--name", name, ...flags, image, "sh", "-c", script]);
  const pids = `${await cgroupDir(name, "pids")}/pids.current`;
  // The subshell ends at the target or at the first refused fork; a busy host makes that slow.
  let log = "";
  for (let i = 0; i < 240 && !/loop ended/.test(log); i++) {
    await sleep(500);
    const logs = await docker(["logs", name]);
    log = `${logs.stdout}${logs.stderr}`.trim();
  }
  if (!/loop ended/.test(log)) throw new Error(`${name}: the fork loop did not end within 2 minutes (${readInt(pids)} tasks)`);
  return { tasks: readInt(pids), log };
}

async function cpuRate(name: string, seconds: number): Promise<{ cpus: number; throttled: number }> {
  const acct = `${await cgroupDir(name, "cpuacct")}/cpuacct.usage`;
  const stat = `${await cgroupDir(name, "cpu")}/cpu.stat`;
  await sleep(1000);
  const t0 = process.hrtime.bigint();
  const u0 = readInt(acct);
  await sleep(seconds * 1000);
  const u1 = readInt(acct);
  const t1 = process.hrtime.bigint();
  const throttled = Number(/nr_throttled (\d+)/.exec(readFileSync(stat, "utf8"))?.[1] ?? 0);
  return { cpus: (u1 - u0) / Number(t1 - t0), throttled };
}

const busybox = staticBusyboxRequirement();

describeIf([dockerDaemonRequirement(), busybox, cgroupV1PidsRequirement()], "CPU caps and process limits on the engine", () => {
  const prefix = `${runPrefix()}lim-`;
  const parent = `${prefix}parent`;
  const weighted = `${prefix}weighted`;
  let image = "";
  const limits = synthesizedLimits();

  beforeAll(async () => {
    image = await ensureTestImage(busybox.path!);
    const busy = (await docker(["ps", "-q", "--filter", `name=${prefix}`])).stdout.trim();
    expect(busy).toBe("");
    // RLIMIT_NPROC counts the uid host-wide: nothing else may run as it.
    const owners = readdirSync("/proc").filter((p) => /^\d+$/.test(p) && statusUid(p) === TEST_UID);
    expect(owners, `processes already running as uid ${TEST_UID}`).toEqual([]);
  }, 120_000);

  afterAll(async () => {
    const names = (await docker(["ps", "-aq", "--filter", `name=${prefix}`])).stdout.split("\n").filter(Boolean);
    if (names.length > 0) await docker(["rm", "-f", ...names], { timeoutMs: 60_000 });
    // Docker creates the cgroup parent in every hierarchy and leaves it behind.
    for (const h of readdirSync("/sys/fs/cgroup")) {
      for (const name of [parent, weighted]) {
        const dir = `/sys/fs/cgroup/${h}/${name}`;
        if (existsSync(dir)) rmdirSync(dir);
      }
    }
  }, 120_000);

  it("every long-running non-root container of every environment was synthesized with both", () => {
    expect(limits.length).toBeGreaterThan(20);
    for (const l of limits) {
      expect(l.nproc, l.name).toBeGreaterThan(0);
      expect(l.cpuQuota, l.name).toBeGreaterThan(0);
      expect(l.cpuPeriod, l.name).toBeGreaterThan(0);
    }
  });

  it("a fork loop stops at the synthesized nproc, a higher control limit lets it go further, and other uids can still fork", async () => {
    const smallest = [...limits].sort((a, b) => a.nproc - b.nproc)[0]!;
    const limit = smallest.nproc;
    const target = 2 * limit;
    const safety = ["--pids-limit", String(target + 128)];
    const limited = await forkLoop(
      `${prefix}fork`,
      ["--user", `${TEST_UID}:${TEST_UID}`, "--ulimit", `nproc=${limit}:${limit}`, ...safety],
      target,
      image,
    );
    console.log(
      `fork loop as uid ${TEST_UID} under ${smallest.name}'s nproc ${limit}: ${limited.tasks} tasks (${limited.log.replace(/\n/g, " | ")})`,
    );
    // The shell and its children: never more than the limit; close to it (the kernel refused, not the script).
    expect(limited.tasks).toBeLessThanOrEqual(limit);
    expect(limited.tasks).toBeGreaterThanOrEqual(limit - 2);
    expect(limited.log).toMatch(/can't fork|Resource temporarily unavailable/);

    // A second container under the same nproc limit, running `script` as `uid`.
    const shAs = (uid: number, script: string) =>
      docker(["run", "--rm", "--user", `${uid}:${uid}`, "--ulimit", `nproc=${limit}:${limit}`, image, "sh", "-c", script]);
    // The same uid in another container shares the kernel's counter (why the kit sums a uid's budgets) ...
    const same = await shAs(TEST_UID, "sleep 0 & wait; echo ok");
    expect(same.code).not.toBe(0);
    // ... while another uid, and the host, fork as usual.
    const other = await shAs(OTHER_UID, "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0 & done; wait; echo ok");
    expect(other.stdout.trim()).toBe("ok");
    const hostTasks = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).length;
    expect(hostTasks).toBeLessThan(readInt("/proc/sys/kernel/pid_max") / 2);
    await dockerOk(["rm", "-f", `${prefix}fork`]);

    const control = await forkLoop(
      `${prefix}fork-control`,
      ["--user", `${TEST_UID}:${TEST_UID}`, "--ulimit", `nproc=${target + 64}:${target + 64}`, ...safety],
      target,
      image,
    );
    console.log(`control with nproc ${target + 64}: ${control.tasks} tasks`);
    expect(control.tasks).toBeGreaterThan(limit + 10);
    expect(control.tasks).toBeGreaterThanOrEqual(target);
    await dockerOk(["rm", "-f", `${prefix}fork-control`]);
  }, 180_000);

  it("root is exempt from RLIMIT_NPROC (the edge, cAdvisor, the socket proxy run as root), with every capability dropped as the kit drops them: only a pids cgroup holds it", async () => {
    // Why the kit gives every root container one constant nproc (ROOT_NPROC) rather than root's sum.
    const hardened = ["--cap-drop", "ALL", "--security-opt", "no-new-privileges:true"];
    const limited = await forkLoop(
      `${prefix}fork-root`,
      ["--user", "0:0", ...hardened, "--ulimit", "nproc=40:40", "--pids-limit", "300"],
      200,
      image,
    );
    console.log(`fork loop as root under nproc 40: ${limited.tasks} tasks`);
    expect(limited.tasks).toBeGreaterThan(150);
    await dockerOk(["rm", "-f", `${prefix}fork-root`]);
  }, 120_000);

  it("the Swarm node's mechanism: a cgroup parent with pids.max holds a root fork loop for all its containers together", async () => {
    const dir = `/sys/fs/cgroup/pids/${parent}`;
    mkdirSync(dir);
    writeFileSync(`${dir}/pids.max`, "64");
    const a = await forkLoop(`${prefix}parent-a`, ["--user", "0:0", "--cgroup-parent", `/${parent}`, "--pids-limit", "400"], 300, image);
    console.log(`fork loop as root under a cgroup parent with pids.max 64: ${a.tasks} tasks`);
    expect(a.tasks).toBeLessThanOrEqual(64);
    expect(a.tasks).toBeGreaterThanOrEqual(60);
    expect(readInt(`${dir}/pids.current`)).toBeLessThanOrEqual(64);
    // A second container under the same parent gets nothing: the budget is the node's, shared.
    const b = await docker(["run", "--rm", "--cgroup-parent", `/${parent}`, image, "sh", "-c", "sleep 0 & wait; echo ok"]);
    expect(b.stdout.trim()).not.toBe("ok");
    await dockerOk(["rm", "-f", `${prefix}parent-a`]);
  }, 120_000);

  it("a CPU hog is held to the synthesized cap; without it the same hog takes more", async () => {
    const capped = [...limits].sort((a, b) => a.cpuQuota / a.cpuPeriod - b.cpuQuota / b.cpuPeriod)[0]!;
    const cap = capped.cpuQuota / capped.cpuPeriod;
    expect(cap).toBeLessThan(1);
    const hog = ["sh", "-c", "exec yes > /dev/null"];
    // Both hogs run under a cgroup parent with the largest CPU weight, so the other work on a shared
    // host (tests, compilers: load 15 on 2 cores here) cannot mask the cap; the quota is the container's own.
    mkdirSync(`/sys/fs/cgroup/cpu/${weighted}`);
    writeFileSync(`/sys/fs/cgroup/cpu/${weighted}/cpu.shares`, "262144");
    // A still saturated host shows nothing: measure again, up to 3 times.
    let held = { cpus: 0, throttled: 0 };
    let free = { cpus: 0, throttled: 0 };
    for (let attempt = 1; attempt <= 3; attempt++) {
      const name = `${prefix}hog-${attempt}`;
      await dockerOk([
        "run",
        "-d",
        "--cgroup-parent",
        `/${weighted}`,
        "--name",
        name,
        "--cpu-period",
        String(capped.cpuPeriod),
        "--cpu-quota",
        String(capped.cpuQuota),
        image,
        ...hog,
      ]);
      held = await cpuRate(name, 4);
      await dockerOk(["rm", "-f", name]);
      await dockerOk(["run", "-d", "--cgroup-parent", `/${weighted}`, "--name", `${name}-control`, image, ...hog]);
      free = await cpuRate(`${name}-control`, 4);
      await dockerOk(["rm", "-f", `${name}-control`]);
      const load = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
      console.log(
        `attempt ${attempt}: yes under ${capped.name}'s cap of ${cap} CPU: ${held.cpus.toFixed(3)} CPU (${held.throttled} throttled periods); uncapped: ${free.cpus.toFixed(3)} CPU; load ${load}`,
      );
      if (free.cpus > cap * 1.3) break;
      await sleep(5000);
    }
    expect(held.cpus).toBeLessThanOrEqual(cap * 1.2);
    // The same hog without the quota: the cap, not a busy host, is what held it.
    expect(free.cpus, "the host stayed too busy for an uncapped hog to exceed the cap").toBeGreaterThan(cap * 1.3);
    expect(held.cpus).toBeGreaterThan(cap * 0.5);
    expect(held.throttled).toBeGreaterThan(0);
  }, 240_000);
});

function statusUid(pid: string): number | undefined {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
