/**
 * The Swarm resources our test and prod stacks synthesize, on this machine's real Docker engine.
 *
 * Terraform providers cannot be downloaded here, so each docker_network, docker_secret,
 * docker_config and docker_service is translated (./swarm-api.ts) into the Engine API requests
 * kreuzwerker/docker 3.6.2 sends, and the engine's answer is flattened the way the provider reads it
 * back, to find values that would show as a change in every plan. Terraform expressions are evaluated
 * by the harness: random_password results are random stand-ins, references are the IDs and names of
 * the objects it created.
 *
 * Stand-ins: every service image is a busybox image that serves its variant (v1, v2, or "broken",
 * whose /health fails) on $PORT with httpd as the service's user. The synthesized healthcheck runs
 * unchanged: the image's `node` is a shim that understands exactly the synthesized
 * `node -e "fetch('http://127.0.0.1:<port>/health')..."` and fetches the URL with wget. The edge is
 * Debian's caddy in a busybox image, run as the plain container the stack synthesizes, with the
 * Caddyfile the stack renders for it (from the upload of the edge's caddyfile seed).
 *
 * What this machine cannot show: its kernel has no ip_vs (no service VIPs, no routing mesh; the
 * services use dnsrr and the edge resolves tasks.<alias>) and no ESP/GCM, so an encrypted overlay is
 * created and read back but carries no traffic here; one node, so no task moves between nodes.
 *
 * Every name starts with a prefix unique to this run; everything with it is removed afterwards, also
 * when a test fails. The swarm is initialised only if the node is in none, and left only then.
 */
import { Agent, request as httpsRequest } from "node:https";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeIf, requireBinary } from "../support/binaries";
import { type ContainerPlan, type JsonObject } from "./docker-cli";
import {
  docker,
  dockerDaemonRequirement,
  dockerOk,
  EngineSession,
  ensureTestImage,
  providerUploadTar,
  removeByPrefix,
  staticBusyboxRequirement,
  synthesizedStack,
} from "./fixtures";
import {
  acquireSwarm,
  engine,
  engineOk,
  ensureAppImages,
  ensureEdgeImage,
  evaluate,
  evaluateValue,
  formatDiff,
  releaseSwarm,
  removeNetworksByPrefix,
  removeSwarmObjectsByPrefix,
  resourcesOf,
  runningTasks,
  serviceTasks,
  shortDur,
  sleep,
  SwarmDeployment,
  translateSecret,
  translateService,
  type AppVariant,
  type SwarmLease,
  type SwarmStackJson,
  type TaskInfo,
} from "./swarm-api";

const busybox = staticBusyboxRequirement();
const caddy = requireBinary("caddy");
const STAND_IN_TOKENS = { discord_bot_token: "stand-in-discord-token", telegram_bot_token: "123456:stand-in-telegram-token" };

/**
 * Swarm object names are at most 64 characters and our longest secret name is 54, so the run prefix
 * here is short: "u" + 6 hex + "-".
 */
function swarmPrefix(): string {
  return `u${Math.floor(Math.random() * 0xffffff)
    .toString(16)
    .padStart(6, "0")}-`;
}

const stackOf = (env: "test" | "prod") => synthesizedStack(env) as unknown as SwarmStackJson;

function serviceKey(stack: SwarmStackJson, name: string): string {
  const hit = resourcesOf(stack, "docker_service").find(([, r]) => r.name === name);
  if (!hit) throw new Error(`no docker_service named ${name}`);
  return hit[0];
}

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>, everyMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`gave up waiting ${timeoutMs / 1000} s for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
}

/** Waits until a service has `replicas` running tasks (running = healthy, with a healthcheck), all on `image`. */
async function converged(service: string, replicas: number, image: string, timeoutMs: number): Promise<TaskInfo[]> {
  return waitFor(`${service}: ${replicas} running tasks on ${image}`, timeoutMs, async () => {
    const tasks = await serviceTasks(service);
    const wanted = tasks.filter((t) => t.desired === "running");
    const running = runningTasks(tasks);
    return running.length === replicas && wanted.length === replicas && running.every((t) => t.image === image) ? running : undefined;
  });
}

// --- a client that keeps sending requests through the edge ---

interface LoadReport {
  sent: number;
  failed: number;
  failures: string[];
  bodies: Record<string, number>;
  /** Body of the last successful answer. */
  last: string;
}

/**
 * Sends GET / one request after the other (at most one every 20 ms, at most `maxRequests`) to the
 * edge's published HTTPS port with SNI and Host `host`, until stop() is called. A request fails on a
 * network error, a timeout (5 s), a status other than 200 or a body that is not a known variant.
 */
function startLoad(port: number, host: string, maxRequests = 20_000) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const report: LoadReport = { sent: 0, failed: 0, failures: [], bodies: {}, last: "" };
  let stopped = false;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = httpsRequest(
        { host: "127.0.0.1", port, path: "/", servername: host, headers: { Host: host }, rejectUnauthorized: false, agent, timeout: 5000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const body = Buffer.concat(chunks).toString("utf8").trim();
            if (res.statusCode === 200 && (body === "v1" || body === "v2")) {
              report.bodies[body] = (report.bodies[body] ?? 0) + 1;
              report.last = body;
            } else fail(`HTTP ${res.statusCode}: ${body.slice(0, 120)}`);
            resolve();
          });
          res.on("error", (e) => {
            fail(`response: ${e.message}`);
            resolve();
          });
        },
      );
      const fail = (why: string) => {
        report.failed++;
        if (report.failures.length < 20) report.failures.push(`#${report.sent} ${new Date().toISOString()}: ${why}`);
      };
      req.on("timeout", () => req.destroy(new Error("timed out after 5 s")));
      req.on("error", (e) => {
        fail(e.message);
        resolve();
      });
      req.end();
    });
  const done = (async () => {
    while (!stopped && report.sent < maxRequests) {
      const t = Date.now();
      report.sent++;
      await one();
      const wait = 20 - (Date.now() - t);
      if (wait > 0) await sleep(wait);
    }
    agent.destroy();
  })();
  return {
    report,
    async stop(): Promise<LoadReport> {
      stopped = true;
      await done;
      return report;
    },
  };
}

/**
 * Polls the tasks of a service while something happens: the fewest tasks in service (wanted and
 * running; Swarm reports a task with a healthcheck as running only once healthy) and the most
 * running containers (old ones included while they are being stopped).
 */
function watchTasks(service: string) {
  let stopped = false;
  let minInService = Number.POSITIVE_INFINITY;
  let maxRunning = 0;
  let samples = 0;
  const done = (async () => {
    while (!stopped) {
      const tasks = await serviceTasks(service);
      minInService = Math.min(minInService, runningTasks(tasks).length);
      maxRunning = Math.max(maxRunning, tasks.filter((t) => t.state === "running").length);
      samples++;
      await sleep(250);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      return { minInService, maxRunning, samples };
    },
  };
}

// --- the translator on its own (no engine needed) ---

describe("swarm-api translator", () => {
  const stack = () => stackOf("test");
  const ctx = (st: SwarmStackJson) =>
    new SwarmDeployment(st, { prefix: "t-", image: () => "stand-in:v1", variables: STAND_IN_TOKENS }).context();
  /** A deployment whose referenced objects all "exist" (fake IDs), to translate without an engine. */
  const offline = (st: SwarmStackJson) => {
    const c = ctx(st);
    return { ...c, object: (type: string, key: string, attr: string) => `${attr === "id" ? "id" : "name"}-of-${type}.${key}` };
  };
  const mutatedApi = (change: (r: JsonObject) => void): SwarmStackJson => {
    const copy = structuredClone(stack()) as SwarmStackJson;
    change(copy.resource!.docker_service![serviceKey(copy, "test-api")]!);
    return copy;
  };
  const containerSpec = (r: JsonObject) => (r.task_spec as JsonObject).container_spec as JsonObject;

  it("builds the ServiceSpec createServiceSpec sends: secret references with names, 0400, all four restart fields, durations in ns, networks by ID, fields the SDK always fills", () => {
    const st = stack();
    const plan = translateService(st, serviceKey(st, "test-api"), offline(st));
    const tt = plan.spec.TaskTemplate as JsonObject;
    const cs = tt.ContainerSpec as JsonObject;
    expect(cs.Image).toBe("stand-in:v1");
    expect(cs.Isolation).toBe("default");
    expect(cs.DNSConfig).toEqual({});
    expect(cs.StopGracePeriod).toBe(30e9);
    expect(cs.User).toBe("1000:1000");
    expect(cs.CapabilityDrop).toEqual(["ALL"]);
    for (const sec of cs.Secrets as JsonObject[]) {
      expect(sec.SecretName).toMatch(/^name-of-docker_secret\./);
      expect(sec.File).toMatchObject({ UID: "1000", GID: "1000", Mode: 0o400 });
    }
    expect(tt.RestartPolicy).toEqual({ Condition: "any", Delay: 5e9, MaxAttempts: 0, Window: 120e9 });
    expect(tt.Placement).toEqual({});
    for (const n of tt.Networks as JsonObject[]) expect(n.Target).toMatch(/^id-of-docker_network\./);
    expect(plan.spec.UpdateConfig).toMatchObject({ Parallelism: 1, FailureAction: "rollback", Order: "start-first", MaxFailureRatio: 0 });
    expect(plan.spec.EndpointSpec).toEqual({ Mode: "dnsrr" });
  });

  it("throws on settings it does not know, on tmpfs_options (which crash provider 3.6.2), on bad durations and on secret data that is not base64", () => {
    const key = serviceKey(stack(), "test-api");
    const t = (st: SwarmStackJson) => () => translateService(st, key, offline(st));
    expect(t(mutatedApi((r) => (r.converge_config = { timeout: "3m" })))).toThrow(/converge_config: is not translated/);
    expect(t(mutatedApi((r) => (containerSpec(r).hosts = [{ host: "x", ip: "10.0.0.1" }])))).toThrow(
      /container_spec\.hosts: is not translated/,
    );
    expect(t(mutatedApi((r) => ((containerSpec(r).mounts as JsonObject[])[0]!.tmpfs_options = { size_bytes: 1 })))).toThrow(
      /crashes provider 3\.6\.2/,
    );
    expect(t(mutatedApi((r) => ((r.update_config as JsonObject).monitor = "110")))).toThrow(/not a Go duration/);
    const st = structuredClone(stack()) as SwarmStackJson;
    const [secretKey, secret] = resourcesOf(st, "docker_secret").find(([, r]) =>
      /^\$\{base64encode\(random_password\.[^.]+\.result\)\}$/.test(String(r.data)),
    )!;
    const password = /random_password\.[^.]+\.result/.exec(String(secret.data))![0];
    expect(translateSecret(st, "docker_secret", secretKey, offline(st)).plaintext).toMatch(/^[A-Za-z0-9]{16,}$/);
    secret.data = "not base64!";
    expect(() => translateSecret(st, "docker_secret", secretKey, offline(st))).toThrow(/is not standard base64/);
    // A bare 64-character random_password result happens to be valid base64: the provider stores 48
    // decoded bytes instead of the password. The plan has no plaintext then, which the engine proof rejects.
    secret.data = `\${${password}}`;
    const bare = translateSecret(st, "docker_secret", secretKey, offline(st));
    expect(bare.plaintext).toBeUndefined();
    expect(bare.bytes.length).toBe((bare.data.length / 4) * 3);
  });

  it("evaluates the Terraform expressions our stacks use, and refuses others", () => {
    const st = stack();
    const c = offline(st);
    expect(evaluate("t", '${join("", ["a-", substr(sha256("x"), 0, 12)])}', c)).toBe(
      `a-${createHash("sha256").update("x").digest("hex").slice(0, 12)}`,
    );
    expect(evaluate("t", '${base64encode("pa ss")}', c)).toBe(Buffer.from("pa ss").toString("base64"));
    expect(evaluate("t", '${urlencode("a b/c~")}', c)).toBe("a+b%2Fc~");
    expect(evaluate("t", "x-$${literal}-%%{y}", c)).toBe("x-${literal}-%{y}");
    expect(evaluateValue("t", "${self.exit_code == 0}", { ...c, self: { exit_code: 1 } })).toBe(false);
    expect(evaluateValue("t", "${self.exit_code == 0}", { ...c, self: { exit_code: 0 } })).toBe(true);
    expect(() => evaluate("t", '${upper("x")}', c)).toThrow(/function upper\(\) is not evaluated/);
    expect(() => evaluate("t", "%{ if true }x%{ endif }", c)).toThrow(/directives/);
    // A local with a generated password inside a URL, as the secrets use them.
    const [localName] = Object.keys(st.locals ?? {});
    expect(localName).toBeDefined();
    expect(evaluate("t", `\${local.${localName}}`, c)).not.toMatch(/\$\{/);
  });

  it("reads durations back like the provider's shortDur", () => {
    expect([0, 5e9, 60e9, 90e9, 110e9, 120e9, 3600e9, 5400e9].map(shortDur)).toEqual([
      "0s",
      "5s",
      "1m",
      "1m30s",
      "1m50s",
      "2m",
      "1h",
      "1h30m",
    ]);
  });
});

describeIf(
  [requireBinary("docker"), dockerDaemonRequirement(), busybox, caddy],
  "synthesized Swarm services, secrets and overlay networks on the real Docker engine",
  () => {
    const prefix = swarmPrefix();
    let lease: SwarmLease | undefined;
    let images: Record<AppVariant, string>;
    let edgeImage = "";
    let baseImage = "";
    /** The test stack, deployed once by the first proof and used by the later ones. */
    let testDeployment: SwarmDeployment | undefined;

    beforeAll(async () => {
      baseImage = await ensureTestImage(busybox.path!);
      images = await ensureAppImages(baseImage);
      edgeImage = await ensureEdgeImage(baseImage, caddy.path!);
      lease = await acquireSwarm();
      console.log(
        `[swarm] prefix ${prefix}; swarm ${lease.initialised ? "initialised by this test (--advertise-addr 127.0.0.1)" : "already active, used as is"}`,
      );
    }, 300_000);

    afterAll(async () => {
      try {
        await removeSwarmObjectsByPrefix(prefix);
        await removeByPrefix(prefix);
        const left = await removeNetworksByPrefix(prefix);
        if (left.length > 0) console.warn(`[swarm] networks not removed: ${left.join(", ")}`);
      } finally {
        const { left } = await releaseSwarm(lease);
        if (left) console.log("[swarm] left the swarm this test initialised");
      }
    }, 300_000);

    /** Synthesized image reference → stand-in; anything not listed runs v1. */
    const imageByRef = new Map<string, string>();
    const imageFor = (_address: string, ref: string) => imageByRef.get(ref) ?? images.v1;

    async function deploy(env: "test" | "prod", envPrefix: string): Promise<{ deployment: SwarmDeployment; seconds: number }> {
      const deployment = new SwarmDeployment(stackOf(env), { prefix: envPrefix, image: imageFor, variables: STAND_IN_TOKENS });
      const t0 = Date.now();
      await deployment.createAll();
      await Promise.all(deployment.services.map((s) => converged(s.name, s.replicas, images.v1, 120_000)));
      return { deployment, seconds: (Date.now() - t0) / 1000 };
    }

    /** Each secret file in a running task holds the evaluated value, readable by the service's uid only. */
    async function secretFilesOf(deployment: SwarmDeployment, service: string): Promise<{ file: string; ok: boolean; stat: string }[]> {
      const plan = deployment.services.find((s) => s.name === service)!;
      const [task] = runningTasks(await serviceTasks(service));
      const secrets = (((plan.spec.TaskTemplate as JsonObject).ContainerSpec as JsonObject).Secrets ?? []) as {
        File: { Name: string };
        SecretID: string;
      }[];
      const out = [];
      for (const s of secrets) {
        const expected = deployment.secrets.find((p) => deployment.createdObject(p.address)?.id === s.SecretID)!;
        const cat = await docker(["exec", task!.containerId, "cat", s.File.Name]);
        const stat = (await docker(["exec", task!.containerId, "stat", "-c", "%a %u %g", s.File.Name])).stdout.trim();
        // The value the stack meant (base64encode's argument), not merely what the provider decoded.
        out.push({ file: s.File.Name, ok: expected.plaintext !== undefined && cat.code === 0 && cat.stdout === expected.plaintext, stat });
      }
      return out;
    }

    for (const env of ["test", "prod"] as const) {
      const encryptedNote =
        env === "prod"
          ? "; encrypted overlays are accepted and settle through ignore_changes on options (this kernel has no ESP/GCM: they carry no traffic here)"
          : "";
      it(`${env}: the engine accepts every docker_network, docker_secret, docker_config and docker_service, every service converges to its replicas of healthy tasks, and the read-back equals what was synthesized${encryptedNote}`, async () => {
        const stack = stackOf(env);
        const counts = Object.fromEntries(
          ["docker_network", "docker_secret", "docker_config", "docker_service"].map((t) => [t, resourcesOf(stack, t).length]),
        );
        expect(counts.docker_service).toBeGreaterThan(0);
        const envPrefix = env === "test" ? prefix : `${prefix}p`;
        const { deployment, seconds } = await deploy(env, envPrefix);
        const replicas = deployment.services.map((s) => `${s.name.slice(envPrefix.length)}=${s.replicas}`).join(", ");
        console.log(
          `[swarm] ${env}: created ${JSON.stringify(counts)}; all services healthy at full strength after ${seconds.toFixed(1)} s (${replicas})`,
        );

        for (const s of deployment.services) {
          const running = runningTasks(await serviceTasks(s.name));
          expect(running.length, s.name).toBe(s.replicas);
          expect(new Set(running.map((t) => t.image)), s.name).toEqual(new Set([images.v1]));
        }
        // What the tasks see: each secret file holds the plaintext (data went through base64encode and
        // the provider's decode), mode 0400, owned by the service's uid.
        for (const s of deployment.services) {
          const files = await secretFilesOf(deployment, s.name);
          for (const f of files)
            expect({ service: s.name, ...f }).toEqual({ service: s.name, file: f.file, ok: true, stat: "400 1000 1000" });
        }

        const { diffs, pendingNetworks } = await deployment.readBackDiffs();
        expect(pendingNetworks).toEqual([]);
        const planDiffs = diffs.filter((d) => !d.ignoredBy);
        const settled = diffs.filter((d) => d.ignoredBy);
        console.log(
          `[swarm] ${env}: read-back differences that would show in every plan: ${planDiffs.length === 0 ? "none" : `\n  ${planDiffs.map(formatDiff).join("\n  ")}`}`,
        );
        if (settled.length > 0)
          console.log(`[swarm] ${env}: differences covered by lifecycle.ignore_changes:\n  ${settled.map(formatDiff).join("\n  ")}`);
        expect(planDiffs.map(formatDiff)).toEqual([]);

        const encrypted = deployment.networks.filter(
          (n) => (n.configured.options as Record<string, string> | undefined)?.encrypted !== undefined,
        );
        if (env === "prod") {
          expect(encrypted.length).toBeGreaterThan(0);
          // The engine adds the VXLAN id: without ignore_changes each encrypted network would be replaced on every apply.
          for (const n of encrypted) {
            expect(n.ignoreChanges, n.address).toContain("options");
            expect(
              settled.some((d) => d.address === n.address && d.field === "options"),
              n.address,
            ).toBe(true);
          }
        } else {
          expect(encrypted).toEqual([]);
        }

        if (env === "test") {
          // Control: the comparison finds what the provider would show as a change. A copy of the api
          // with three known mistakes (networks by name, a restart delay left out, a monitor written as
          // "110s"), at 0 replicas, must show exactly those three.
          const apiKey = serviceKey(stack, "test-api");
          const control = structuredClone(stack) as SwarmStackJson;
          const r = structuredClone(control.resource!.docker_service![apiKey]!);
          control.resource!.docker_service!.control = r;
          r.name = "test-control";
          (r.mode as JsonObject).replicated = { replicas: 0 };
          const ts = r.task_spec as JsonObject;
          ts.networks_advanced = (ts.networks_advanced as JsonObject[])
            .slice(0, 1)
            .map((n) => ({ ...n, name: String(n.name).replace(/\.id\}$/, ".name}") }));
          delete (ts.restart_policy as JsonObject).delay;
          (r.update_config as JsonObject).monitor = "110s";
          deployment.stack = control;
          await deployment.createService("control");
          deployment.stack = stack;
          const controlDiffs = (await deployment.readBackDiffs()).diffs.filter(
            (d) => d.address === "docker_service.control" && !d.ignoredBy,
          );
          console.log(`[swarm] control (three known mistakes): \n  ${controlDiffs.map(formatDiff).join("\n  ")}`);
          expect(controlDiffs.map((d) => d.field).sort()).toEqual([
            "task_spec.networks_advanced",
            "task_spec.restart_policy.delay",
            "update_config.monitor",
          ]);
          expect(controlDiffs.find((d) => d.field === "update_config.monitor")).toMatchObject({ synthesized: "110s", readBack: "1m50s" });
          expect(controlDiffs.find((d) => d.field === "task_spec.restart_policy.delay")).toMatchObject({ synthesized: "", readBack: "0s" });
          await engineOk("DELETE", `/services/${prefix}test-control`);
          deployment.forget("docker_service.control");
          testDeployment = deployment;
        } else {
          await removeSwarmObjectsByPrefix(envPrefix);
          await removeNetworksByPrefix(envPrefix);
        }
      }, 300_000);
    }

    // --- proofs 2-5 run on the test stack deployed above, behind the edge the stack synthesizes ---

    interface Edge {
      port: number;
      host: string;
      session: EngineSession;
      plan: ContainerPlan;
    }
    let edge: Promise<Edge> | undefined;

    async function deployedTest(): Promise<SwarmDeployment> {
      if (!testDeployment) testDeployment = (await deploy("test", prefix)).deployment;
      return testDeployment;
    }

    /**
     * The edge as the test stack synthesizes it (plain container, its overlay networks, the Caddyfile
     * from its seed's upload, published ports moved to ephemeral loopback ports), running Debian's caddy.
     */
    function ensureEdge(): Promise<Edge> {
      edge ??= startEdge();
      return edge;
    }

    async function startEdge(): Promise<Edge> {
      const deployment = await deployedTest();
      const session = new EngineSession(synthesizedStack("test"), prefix, baseImage);
      session.adoptNetworks(deployment.networks.map((n) => n.name));
      const seed = session.plan("test-edge-caddyfile-seed");
      const caddyfile = seed.uploads.find((u) => u.file === "/etc/caddy/Caddyfile");
      expect(caddyfile, "the edge's caddyfile seed uploads /etc/caddy/Caddyfile").toBeDefined();
      // The api site proxies to the api's tasks by Swarm DNS (the service's alias on the edge network).
      const site = caddyfile!.content.split(/\n(?=\S)/).find((block) => /dynamic a tasks\.api \d+ \{\s*refresh 1s\s*\}/.test(block));
      expect(site, "a Caddyfile site with `dynamic a tasks.api <port> { refresh 1s }`").toBeDefined();
      const host = site!.split(/\s/)[0]!;
      const plan = session.plan("test-edge", {
        image: edgeImage,
        command: ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"],
        ports: "loopback-ephemeral",
      });
      expect(plan.createArgs.slice(-6)).toEqual(["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]);
      await session.prepare([seed, plan]);
      await session.create(seed);
      for (const u of seed.uploads) {
        const content = evaluate(`${seed.address}.upload[${u.file}]`, u.content, deployment.context());
        await dockerOk(["cp", "-", `${seed.name}:/`], { input: providerUploadTar(u.file, content, u.executable) });
      }
      await session.create(plan);
      // Each overlay attachment of a plain container waits for the swarm manager (5-7 s per network
      // measured here); under load the engine can give up ("attaching to network failed ... context
      // deadline exceeded"), so the start is retried and the attempts are reported.
      const started = Date.now();
      const attempts: string[] = [];
      for (;;) {
        const r = await docker(["start", plan.name], { timeoutMs: 180_000 });
        if (r.code === 0) break;
        attempts.push(r.stderr.trim());
        if (attempts.length >= 3) throw new Error(`the edge did not start: ${attempts.join(" | ")}`);
      }
      console.log(
        `[swarm] edge container on ${plan.networks.length} overlay networks started in ${((Date.now() - started) / 1000).toFixed(1)} s${attempts.length > 0 ? ` after ${attempts.length} failed attempt(s): ${attempts.join(" | ")}` : ""}`,
      );
      const port = Number((await dockerOk(["port", plan.name, "443/tcp"])).trim().split("\n")[0]!.split(":").pop());
      // Ready when a request through the edge reaches the api.
      await waitFor(`the edge (${host}) to answer from the api`, 120_000, async () => {
        const probe = startLoad(port, host, 1);
        const r = await probe.stop();
        return r.failed === 0 && r.sent === 1 ? true : undefined;
      });
      console.log(
        `[swarm] edge: caddy with the synthesized Caddyfile, ${host} on 127.0.0.1:${port} (HTTPS, Caddy's local CA), upstream dynamic a tasks.api`,
      );
      return { port, host, session, plan };
    }

    /** The test stack with the api's image reference replaced (what a release changes in the JSON). */
    function withApiImage(stack: SwarmStackJson, ref: string): SwarmStackJson {
      const copy = structuredClone(stack) as SwarmStackJson;
      const api = copy.resource!.docker_service![serviceKey(copy, "test-api")]!;
      ((api.task_spec as JsonObject).container_spec as JsonObject).image = ref;
      return copy;
    }

    const releaseRef = (n: number) => `ghcr.io/updateio/api:0.0.${n}@sha256:${String(n).repeat(64).slice(0, 64)}`;

    async function apiService(deployment: SwarmDeployment) {
      const name = `${prefix}test-api`;
      const s = await engineOk<any>("GET", `/services/${name}`);
      const plan = deployment.services.find((p) => p.name === name)!;
      return {
        name,
        key: serviceKey(deployment.stack, "test-api"),
        replicas: plan.replicas,
        spec: s.Spec,
        version: s.Version.Index as number,
        updateStatus: s.UpdateStatus as { State: string; Message: string } | undefined,
      };
    }

    it("rolling update: the api goes to a new image (start-first) while a client sends requests through the edge without pause: 0 failed, never fewer healthy tasks than replicas", async () => {
      const deployment = await deployedTest();
      const { port, host } = await ensureEdge();
      const before = await apiService(deployment);
      expect(before.spec.UpdateConfig.Order).toBe("start-first");
      const oldImage = before.spec.TaskTemplate.ContainerSpec.Image as string;
      const load = startLoad(port, host);
      const watch = watchTasks(before.name);
      await sleep(3000);
      const ref = releaseRef(2);
      imageByRef.set(ref, images.v2);
      deployment.stack = withApiImage(deployment.stack, ref);
      const t0 = Date.now();
      await deployment.updateService(before.key);
      await converged(before.name, before.replicas, images.v2, 240_000);
      const seconds = (Date.now() - t0) / 1000;
      await sleep(3000);
      const tasks = await watch.stop();
      const report = await load.stop();
      const after = await apiService(deployment);
      console.log(
        `[swarm] rolling update ${oldImage} → ${images.v2}: ${report.sent} requests sent, ${report.failed} failed (answers: ${JSON.stringify(report.bodies)}); ` +
          `all ${before.replicas} tasks on the new image ${seconds.toFixed(1)} s after the update; tasks in service (healthy, wanted) never fewer than ${tasks.minInService}, up to ${tasks.maxRunning} running at once (start-first), ${tasks.samples} samples; update state ${after.updateStatus?.State}`,
      );
      if (report.failures.length > 0) console.log(`[swarm] failures:\n  ${report.failures.join("\n  ")}`);
      expect(report.failed).toBe(0);
      expect(report.sent).toBeGreaterThan(100);
      expect(tasks.minInService).toBeGreaterThanOrEqual(before.replicas);
      expect(tasks.maxRunning).toBeGreaterThan(before.replicas);
      expect(report.bodies.v1 ?? 0).toBeGreaterThan(0);
      expect(report.last).toBe("v2");
      expect(after.spec.TaskTemplate.ContainerSpec.Image).toBe(images.v2);
    }, 400_000);

    it("automatic rollback: an update to an image whose health endpoint fails is rolled back by the engine (failure_action rollback); 0 failed requests; the api ends on the old image", async () => {
      const deployment = await deployedTest();
      const { port, host } = await ensureEdge();
      const before = await apiService(deployment);
      const oldImage = before.spec.TaskTemplate.ContainerSpec.Image as string;
      expect(before.spec.UpdateConfig.FailureAction).toBe("rollback");
      const goodStack = deployment.stack;
      const load = startLoad(port, host);
      const watch = watchTasks(before.name);
      await sleep(3000);
      const ref = releaseRef(3);
      imageByRef.set(ref, images.broken);
      deployment.stack = withApiImage(goodStack, ref);
      const t0 = Date.now();
      await deployment.updateService(before.key);
      const state = await waitFor(
        "the engine to roll the api back",
        400_000,
        async () => {
          const s = await apiService(deployment);
          if (!/^rollback_(started|completed)$/.test(s.updateStatus?.State ?? "")) return undefined;
          const tasks = await serviceTasks(before.name);
          const brokenWanted = tasks.filter((t) => t.image === images.broken && t.desired === "running");
          const running = runningTasks(tasks);
          return brokenWanted.length === 0 && running.length === before.replicas && running.every((t) => t.image === oldImage)
            ? s
            : undefined;
        },
        2000,
      );
      const seconds = (Date.now() - t0) / 1000;
      await sleep(3000);
      const tasks = await watch.stop();
      const report = await load.stop();
      const brokenTasks = (await serviceTasks(before.name)).filter((t) => t.image === images.broken);
      console.log(
        `[swarm] automatic rollback: update to ${images.broken} → engine state "${state.updateStatus?.State}" (${state.updateStatus?.Message}); back on ${oldImage} with ${before.replicas} healthy tasks ${seconds.toFixed(1)} s after the update; ` +
          `broken tasks: ${brokenTasks.map((t) => `${t.state}${t.error ? ` (${t.error})` : ""}`).join(", ")}; ${report.sent} requests sent, ${report.failed} failed (answers: ${JSON.stringify(report.bodies)}); tasks in service never fewer than ${tasks.minInService}`,
      );
      if (report.failures.length > 0) console.log(`[swarm] failures:\n  ${report.failures.join("\n  ")}`);
      // The broken image was really started, and never became healthy.
      expect(brokenTasks.length).toBeGreaterThan(0);
      expect(brokenTasks.every((t) => t.state !== "running")).toBe(true);
      expect(report.failed).toBe(0);
      expect(report.sent).toBeGreaterThan(100);
      expect(report.bodies).not.toHaveProperty("broken");
      expect(tasks.minInService).toBeGreaterThanOrEqual(before.replicas);
      expect(state.spec.TaskTemplate.ContainerSpec.Image).toBe(oldImage);
      // Terraform's configuration still names the broken image: the next plan shows the difference.
      deployment.stack = goodStack;
    }, 500_000);

    it("secret rotation: a new secret version (new content-derived name, created before the old one is removed) reaches every task with 0 failed requests; the old one can then be removed; the file is 0400, owned by the service's uid, unreadable for another uid", async () => {
      const deployment = await deployedTest();
      const { port, host } = await ensureEdge();
      const api = await apiService(deployment);
      const stack = deployment.stack;
      const secretKey = resourcesOf(stack, "docker_secret").find(([k]) => /^api_service_secret-session_secret_/.test(k))![0];
      const secret = stack.resource!.docker_secret![secretKey]!;
      expect(secret.lifecycle).toEqual({ create_before_destroy: true });
      const password = /random_password\.([A-Za-z0-9_-]+)\.result/.exec(String(secret.data))![1]!;
      const oldObject = deployment.createdObject(`docker_secret.${secretKey}`)!;
      const fileName = "/run/secrets/session_secret";

      const load = startLoad(port, host);
      await sleep(3000);
      // terraform apply -replace=random_password.<x>: a new value, so a new name; the new secret
      // is created first (create_before_destroy), the service updated, then the old one destroyed.
      const newValue = deployment.rotatePassword(password);
      const newPlan = await deployment.createSecret("docker_secret", secretKey);
      expect(newPlan.name).not.toBe(oldObject.name);
      const newObject = deployment.createdObject(`docker_secret.${secretKey}`)!;
      // Still used by the service: the engine refuses to remove it (hence create_before_destroy).
      const early = await engine("DELETE", `/secrets/${oldObject.id}`);
      expect(early.status).toBeGreaterThanOrEqual(400);
      expect((early.body as { message?: string })?.message).toMatch(/in use/);
      const t0 = Date.now();
      await deployment.updateService(api.key);
      const running = await waitFor("every api task on the new secret", 240_000, async () => {
        const tasks = await serviceTasks(api.name);
        const run = runningTasks(tasks);
        const wanted = tasks.filter((t) => t.desired === "running");
        return run.length === api.replicas &&
          wanted.length === api.replicas &&
          run.every((t) => t.secretIds.includes(newObject.id) && !t.secretIds.includes(oldObject.id))
          ? run
          : undefined;
      });
      const seconds = (Date.now() - t0) / 1000;
      const removed = await engine("DELETE", `/secrets/${oldObject.id}`);
      await sleep(2000);
      const report = await load.stop();

      const files = [];
      for (const t of running) {
        const own = await docker(["exec", t.containerId, "cat", fileName]);
        const stat = (await docker(["exec", t.containerId, "stat", "-c", "%a %u %g", fileName])).stdout.trim();
        const other = await docker(["exec", "--user", "65534:65534", t.containerId, "cat", fileName]);
        // Root inside the task has no CAP_DAC_OVERRIDE either (cap_drop ALL).
        const root = await docker(["exec", "--user", "0:0", t.containerId, "cat", fileName]);
        files.push({
          task: t.id.slice(0, 12),
          own: own.code === 0 && own.stdout === newValue,
          stat,
          other: `${other.code} ${other.stderr.trim()}`,
          root: `${root.code} ${root.stderr.trim()}`,
        });
      }
      console.log(
        `[swarm] secret rotation ${oldObject.name} → ${newPlan.name}: removing the old one while in use → ${early.status} (${JSON.stringify((early.body as { message?: string })?.message)}); ` +
          `every task on the new secret ${seconds.toFixed(1)} s after the update; then removing it → ${removed.status}; ${report.sent} requests sent, ${report.failed} failed; files: ${JSON.stringify(files)}`,
      );
      if (report.failures.length > 0) console.log(`[swarm] failures:\n  ${report.failures.join("\n  ")}`);
      expect(report.failed).toBe(0);
      expect(report.sent).toBeGreaterThan(100);
      expect(removed.status).toBe(204);
      expect(files.length).toBe(api.replicas);
      for (const f of files) {
        expect(f.own, f.task).toBe(true);
        expect(f.stat, f.task).toBe("400 1000 1000");
        expect(f.other, f.task).toMatch(/^1 .*Permission denied/);
        expect(f.root, f.task).toMatch(/^1 .*Permission denied/);
      }
    }, 400_000);

    it("failed migration: the one-shot migration container exits 1 (its postcondition stops the apply before the api service update it depends on); the api service is untouched and requests keep succeeding", async () => {
      const deployment = await deployedTest();
      const { port, host } = await ensureEdge();
      const stack = deployment.stack;
      const api = await apiService(deployment);
      const apiResource = stack.resource!.docker_service![api.key]!;
      const [migrationKey, migration] = resourcesOf(stack, "docker_container").find(([, r]) => r.name === "test-api-migrate")!;
      // In the synthesized JSON: the api service waits for the migration, which must exit 0.
      expect(apiResource.depends_on).toContain(`docker_container.${migrationKey}`);
      expect(migration.attach).toBe(true);
      expect(migration.must_run).toBe(false);
      const post = ((migration.lifecycle as JsonObject).postcondition as JsonObject[]) ?? [];
      expect(post.map((p) => p.condition)).toEqual(["${self.exit_code == 0}"]);

      const tasksBefore = runningTasks(await serviceTasks(api.name))
        .map((t) => t.id)
        .sort();
      const load = startLoad(port, host);
      await sleep(3000);
      // The job as synthesized (its network is the postgres overlay, attachable), failing on purpose.
      const { session } = await ensureEdge();
      const job = session.plan("test-api-migrate", { command: ["sh", "-c", "echo 'stand-in migration: failing on purpose' >&2; exit 1"] });
      await session.prepare([job]);
      await session.create(job);
      const run = await docker(["start", "--attach", job.name], { timeoutMs: 180_000 });
      expect(run.stderr, "the job ran (its overlay attachment did not fail)").toContain("stand-in migration: failing on purpose");
      const exitCode = Number((await dockerOk(["inspect", "--format", "{{.State.ExitCode}}", job.name])).trim());
      const holds = evaluateValue(`docker_container.${migrationKey}.lifecycle.postcondition[0]`, String(post[0]!.condition), {
        ...deployment.context(),
        self: { exit_code: exitCode },
      });
      // Terraform stops here: the api docker_service (depends_on the job) is not updated.
      await sleep(5000);
      const report = await load.stop();
      const after = await apiService(deployment);
      const tasksAfter = runningTasks(await serviceTasks(api.name))
        .map((t) => t.id)
        .sort();
      console.log(
        `[swarm] failed migration: job exit code ${exitCode} (stderr "${run.stderr.trim()}"), postcondition ${post[0]!.condition} → ${holds}; api service version ${api.version} → ${after.version}, ` +
          `tasks unchanged: ${JSON.stringify(tasksAfter) === JSON.stringify(tasksBefore)}; ${report.sent} requests sent, ${report.failed} failed (answers: ${JSON.stringify(report.bodies)})`,
      );
      expect(exitCode).toBe(1);
      expect(holds).toBe(false);
      expect(after.version).toBe(api.version);
      expect(tasksAfter).toEqual(tasksBefore);
      expect(report.failed).toBe(0);
      expect(report.sent).toBeGreaterThan(100);
    }, 300_000);
  },
);
