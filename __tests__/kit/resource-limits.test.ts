/**
 * CPU caps and process limits: every started container gets a CFS quota (cpu_period + cpu_quota,
 * never `cpus`) and `ulimit nproc`; the nproc value is the sum of the budgets of every workload of
 * the stack that shares its user's kernel counter (a uid, or all named users together), Swarm tasks
 * included; environments override the per-component sizes with setResourceLimits.
 */
import { TerraformStack } from "cdktf";
import { describe, expect, it } from "vitest";
import { poolLimit, processPool, ROOT_NPROC } from "../../constructs/kit/container-runtime";
import { GeneratedSecret } from "../../constructs/kit/generated-secret";
import { HardenedService, setResourceLimits, type HardenedServiceProps } from "../../constructs/kit/hardened-service";
import { PlatformNetwork, setNetworkDefaults } from "../../constructs/kit/platform-network";
import { RESOURCE_LIMITS, ROOT_USER, SECURE_DEFAULTS } from "../../constructs/kit/secure-defaults";
import { ServiceImage } from "../../constructs/kit/service-image";
import { SwarmRuntime } from "../../constructs/kit/swarm-runtime";
import { errorOf } from "../support/helpers";
import { serviceProps, WORKER_IMAGE } from "../support/construct-kit-service";
import { buildEnvironment } from "../support/stacks";
import { testOutdir, testStack } from "../support/test-stack";
import { synthText } from "../support/synth-text";

const OUT = testOutdir("resource-limits-test");

type Json = Record<string, any>;

function fixture(opts: { overlay?: boolean } = {}) {
  const stack = testStack(OUT, "dev");
  if (opts.overlay) setNetworkDefaults(stack, { driver: "overlay" });
  const network = new PlatformNetwork(stack, "net", { environment: "dev", purpose: "backend" });
  const image = new ServiceImage(stack, "image", { ref: WORKER_IMAGE });
  const add = (id: string, overrides: Partial<HardenedServiceProps> = {}) =>
    new HardenedService(stack, id, serviceProps({ environment: "dev", service: id, image, network }, overrides));
  return { stack, add };
}

function synth(stack: TerraformStack): Json {
  return JSON.parse(synthText(stack));
}
const container = (json: Json, name: string): Json => {
  const c = Object.values(json.resource.docker_container as Record<string, Json>).find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
};
const nproc = (c: Json) => c.ulimit.find((u: Json) => u.name === "nproc");
/** The nproc of every started root container of a synthesized stack, by name. */
const rootLimits = (json: Json): Map<string, number> =>
  new Map(
    Object.values(json.resource.docker_container as Record<string, Json>)
      .filter((c) => ROOT_USER.test(String(c.user)) && c.start !== false)
      .map((c) => [c.name as string, nproc(c).hard as number]),
  );
const label = (c: Json, key: string) => c.labels.find((l: Json) => l.label === key)?.value;

describe("CPU cap on containers", () => {
  it("caps a container at its component's CPUs with a CFS quota per 100 ms, next to its cpu_shares, and never uses `cpus`", () => {
    const f = fixture();
    f.add("api");
    f.add("worker", { component: "job", oneShot: true, relax: { healthcheck: "a one-shot job", "restart-policy": "a one-shot job" } });
    const json = synth(f.stack);
    const api = container(json, "dev-api");
    expect(api.cpu_period).toBe(100000);
    expect(api.cpu_quota).toBe(RESOURCE_LIMITS.app.cpus * 100000);
    expect(api.cpu_shares).toBe(512);
    expect(api).not.toHaveProperty("cpus");
    // One-shot jobs are capped too (the job component's half CPU).
    expect(container(json, "dev-worker").cpu_quota).toBe(50000);
  });

  it("takes an explicit cpus prop, and labels the cap so a new one replaces the container (the provider ignores quota edits)", () => {
    const f = fixture();
    f.add("api", { cpus: 0.25 });
    const c = container(synth(f.stack), "dev-api");
    expect(c.cpu_quota).toBe(25000);
    expect(label(c, "io.updateio.cpu-quota")).toBe("25000/100000");
    const keys = c.labels.map((l: Json) => l.label);
    expect(keys).toEqual([...keys].sort());
  });

  it("caps the secrets owner job and leaves the never-started seed alone", () => {
    const f = fixture();
    const secret = new GeneratedSecret(f.stack, "pw", { length: 32 });
    f.add("api", { secrets: [{ name: "db_password", value: secret.value }] });
    const json = synth(f.stack);
    const owner = container(json, "dev-api-secrets-owner");
    expect(owner.cpu_quota).toBe(25000);
    expect(nproc(owner)).toBeDefined();
    const seed = container(json, "dev-api-seed");
    expect(seed.cpu_quota).toBeUndefined();
    expect(seed.ulimit).toBeUndefined();
  });
});

describe("process limit (ulimit nproc) per user pool", () => {
  it("gives every container of one uid the sum of their budgets, rounded up to a power of two (the kernel counts the uid, not the container)", () => {
    const f = fixture();
    f.add("api", { user: "1000:1000", replicas: 2 });
    f.add("bot", { user: "1000:1000", processes: 100 });
    f.add("exporter", { user: "65534:65534", component: "observability" });
    const json = synth(f.stack);
    const sum = 2 * RESOURCE_LIMITS.app.processes + 100;
    expect(poolLimit(sum)).toBe(2048);
    for (const name of ["dev-api-1", "dev-api-2", "dev-bot"])
      expect(nproc(container(json, name))).toEqual({ name: "nproc", soft: 2048, hard: 2048 });
    expect(nproc(container(json, "dev-exporter")).hard).toBe(RESOURCE_LIMITS.observability.processes);
  });

  it("pools every named user with uid 999 (names resolve inside each image; postgres, redis and rabbitmq are 999)", () => {
    expect(processPool("postgres")).toBe(processPool("redis:redis"));
    // The off-host copies run as 999 by number: the same kernel counter as the databases.
    expect(processPool("999:999")).toBe(processPool("postgres"));
    expect(processPool("999:1000")).toBe(processPool("rabbitmq"));
    expect(processPool("1000:1000")).toBe("uid 1000");
    expect(processPool("01000")).toBe("uid 1000");
    expect(processPool("1000")).not.toBe(processPool("postgres"));
    // Root by name is uid 0 in every image, not a named user of 999's pool.
    expect(processPool("root")).toBe(processPool("0:0"));
    expect(processPool("root:root")).toBe("uid 0");
    expect(processPool("000")).toBe("uid 0");
    const f = fixture();
    f.add("db", { user: "postgres", component: "data", processes: 300 });
    f.add("cache", { user: "redis", component: "data", processes: 64 });
    const json = synth(f.stack);
    // 300 + 64 = 364, rounded up.
    expect(nproc(container(json, "dev-db")).hard).toBe(512);
    expect(nproc(container(json, "dev-cache")).hard).toBe(512);
    // A job of 999 by number adds to the same pool: 364 + 200 = 564.
    const g = fixture();
    g.add("db", { user: "postgres", component: "data", processes: 300 });
    g.add("cache", { user: "redis", component: "data", processes: 64 });
    g.add("copy", { user: "999:999", component: "job", processes: 200 });
    const withCopy = synth(g.stack);
    for (const name of ["dev-db", "dev-cache", "dev-copy"]) expect(nproc(container(withCopy, name)).hard).toBe(1024);
  });

  it("gives every root container the constant ROOT_NPROC, whatever root's budgets add up to (the kernel does not apply it to uid 0)", () => {
    const withProxy = () => {
      const f = fixture();
      f.add("proxy", {
        user: "0:0",
        component: "observability",
        processes: 64,
        relax: { "non-root": "binds a port below 1024 in its image" },
      });
      return f;
    };
    const json = synth(withProxy().stack);
    expect(nproc(container(json, "dev-proxy"))).toEqual({ name: "nproc", soft: ROOT_NPROC, hard: ROOT_NPROC });
    // A root job whose budget alone is above the constant leaves the proxy's ulimit as it was: no replacement.
    const g = withProxy();
    g.add("chown", {
      user: "0:0",
      component: "job",
      processes: 3 * ROOT_NPROC,
      relax: { "non-root": "gives files to the service's user" },
    });
    const withJob = synth(g.stack);
    for (const name of ["dev-proxy", "dev-chown"]) expect(nproc(container(withJob, name)).hard).toBe(ROOT_NPROC);
    // Another uid's pool still grows with its sum.
    g.add("worker", { user: "1000:1000", processes: 3000 });
    expect(nproc(container(synth(g.stack), "dev-worker")).hard).toBe(4096);
  });

  it("prod: a new root job leaves the edge's and every other root container's nproc as it was", () => {
    const before = rootLimits(synth(buildEnvironment("prod")));
    const stack = buildEnvironment("prod");
    const network = new PlatformNetwork(stack, "extra-net", { environment: "prod", purpose: "extra" });
    const image = new ServiceImage(stack, "extra-image", { ref: WORKER_IMAGE });
    new HardenedService(
      stack,
      "extra-root-job",
      serviceProps(
        { environment: "prod", service: "extra", image, network },
        { component: "observability", user: "0:0", processes: 4096, relax: { "non-root": "reads files that only root may read" } },
      ),
    );
    const after = rootLimits(synth(stack));
    expect(after.get("prod-extra")).toBe(ROOT_NPROC);
    expect(before.get("prod-edge")).toBe(ROOT_NPROC);
    for (const [name, value] of before) expect(after.get(name), name).toBe(value);
  });

  it("caps a pool at the policy's nproc bound (65536), however many containers share the uid", () => {
    expect(poolLimit(65536)).toBe(65536);
    expect(poolLimit(65537)).toBe(65536);
    expect(poolLimit(128 * 512 + 1)).toBe(65536);
    expect(poolLimit(40000)).toBe(65536);
    expect(poolLimit(30000)).toBe(32768);
  });

  it("counts Swarm tasks (replicas × budget) into their uid's pool: they may run on the manager next to a job of that uid", () => {
    const f = fixture({ overlay: true });
    const pinned = new ServiceImage(f.stack, "pinned", { ref: WORKER_IMAGE, pull: false });
    f.add("api", { image: pinned, user: "1000:1000", replicas: 3, runtime: new SwarmRuntime() });
    f.add("migrate", {
      user: "1000:1000",
      component: "job",
      oneShot: true,
      relax: { healthcheck: "a one-shot job", "restart-policy": "a one-shot job" },
    });
    const json = synth(f.stack);
    const service = Object.values(json.resource.docker_service as Record<string, Json>)[0]!;
    expect(service.task_spec.resources.limits.nano_cpus).toBe(1e9);
    // No ulimits for a service in provider 3.6.2: nothing synthesized there.
    expect(JSON.stringify(service)).not.toMatch(/ulimit|pids/);
    expect(nproc(container(json, "dev-migrate")).hard).toBe(poolLimit(3 * RESOURCE_LIMITS.app.processes + RESOURCE_LIMITS.job.processes));
  });

  it("rounds to a power of two, so one more small job of a uid leaves the others' ulimit (a replacing attribute) as it was", () => {
    expect([1, 2, 3, 64, 65, 364, 512, 513, 6272, 6400].map(poolLimit)).toEqual([1, 2, 4, 64, 128, 512, 512, 1024, 8192, 8192]);
    const limitOfDb = (withJob: boolean) => {
      const f = fixture();
      f.add("db", { user: "postgres", component: "data", processes: 300 });
      if (withJob)
        f.add("dump", {
          user: "postgres",
          component: "job",
          processes: 64,
          oneShot: true,
          relax: { healthcheck: "a one-shot job", "restart-policy": "a one-shot job" },
        });
      return nproc(container(synth(f.stack), "dev-db")).hard;
    };
    expect(limitOfDb(true)).toBe(limitOfDb(false));
  });

  it("rejects a process budget out of bounds, naming the prop", () => {
    const f = fixture();
    expect(errorOf(() => f.add("api", { processes: 0 }))).toMatch(/processes: 0 must be a whole number of processes from 8 to 8192/);
    expect(errorOf(() => f.add("api2", { processes: 1.5 }))).toMatch(/processes: 1.5/);
    expect(errorOf(() => f.add("api3", { processes: 100000 }))).toMatch(/processes: 100000/);
    expect(errorOf(() => f.add("api4", { cpus: 0 }))).toMatch(/cpus: 0 must be a number of CPUs from 0.01 to 64/);
  });
});

describe("setResourceLimits: an environment's sizes per component", () => {
  it("overrides the defaults for the services below the scope; an explicit prop still wins", () => {
    const f = fixture();
    setResourceLimits(f.stack, { app: { cpus: 2 }, data: { processes: 64 } });
    f.add("api");
    f.add("pinned-cpu", { cpus: 0.5 });
    f.add("db", { component: "data", user: "70:70" });
    const json = synth(f.stack);
    expect(container(json, "dev-api").cpu_quota).toBe(200000);
    expect(nproc(container(json, "dev-api")).hard).toBe(poolLimit(2 * RESOURCE_LIMITS.app.processes));
    expect(container(json, "dev-pinned-cpu").cpu_quota).toBe(50000);
    expect(container(json, "dev-db").cpu_quota).toBe(RESOURCE_LIMITS.data.cpus * SECURE_DEFAULTS.cpuPeriodUs);
    expect(nproc(container(json, "dev-db")).hard).toBe(64);
  });

  it("refuses an unknown component or a size out of bounds, listing each", () => {
    const f = fixture();
    const limits = { app: { cpus: 100 }, data: { processes: -1 }, gpu: {} } as Parameters<typeof setResourceLimits>[1];
    const message = errorOf(() => setResourceLimits(f.stack, limits));
    expect(message).toMatch(/app.cpus: 100 must be a number of CPUs from 0.01 to 64/);
    expect(message).toMatch(/data.processes: -1/);
    expect(message).toMatch(/gpu: is not a component/);
  });
});
