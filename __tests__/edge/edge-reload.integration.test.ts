/**
 * The edge's Caddyfile reload on the real Docker engine: dev's edge, its Caddyfile seed, and its
 * reload job and seed, translated from the synthesized stack (../engine/docker-cli.ts) with every
 * setting as synthesized (read-only rootfs, capabilities, memory, no network for the job), run on
 * the busybox test image with Debian's caddy binary. The seeds are replaced as Terraform replaces
 * them when a route is added, and the job then loads the new Caddyfile into the same running edge.
 *
 * Debian's caddy is 2.6.2 and the stacks pin 2.10.2; both take `admin unix//<path>` and
 * `caddy reload --address unix//<path>`.
 */
import { connect } from "node:tls";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeIf, requireBinary } from "../support/binaries";
import { synthWithStatusPage } from "../support/status-page";
import { literal, type ContainerPlan, type StackJson } from "../engine/docker-cli";
import {
  docker,
  dockerDaemonRequirement,
  dockerOk,
  EngineSession,
  ensureTestImage,
  providerUploadTar,
  runPrefix,
  staticBusyboxRequirement,
} from "../engine/fixtures";
import { ensureEdgeImage } from "../engine/swarm-api";

const busybox = staticBusyboxRequirement();
const caddy = requireBinary("caddy");
const NEW_HOST = "status.updateio.localhost";

/** Whether the edge completes a TLS handshake for `servername` (Caddy's internal CA issues one per configured host). */
function handshakes(port: number, servername: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false, timeout: 3000 }, () => {
      socket.end();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
    socket.on("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function eventually(what: string, check: () => Promise<boolean>, seconds = 20): Promise<void> {
  for (let i = 0; i < seconds * 2; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what}: not within ${seconds}s`);
}

describeIf([requireBinary("docker"), dockerDaemonRequirement(), busybox, caddy], "the edge's Caddyfile reload on the Docker engine", () => {
  const prefix = `${runPrefix()}rld-`;
  let image = "";
  let before: EngineSession;
  let after: EngineSession;
  let edge: ContainerPlan;
  let httpsPort = 0;

  /** The seed as Terraform makes it: created, never started, each upload copied in as the provider does. */
  const createSeed = async (session: EngineSession, name: string, edit: (content: string) => string = (c) => c) => {
    const seed = session.plan(name);
    await docker(["rm", "-f", seed.name]);
    await session.create(seed);
    for (const u of seed.uploads)
      await dockerOk(["cp", "-", `${seed.name}:/`], {
        input: providerUploadTar(u.file, edit(literal(`${seed.name} ${u.file}`, u.content)), u.executable),
      });
  };
  /** The reload job (a new container each run, as replace_triggered_by makes it): its exit code and logs. */
  const runJob = async (session: EngineSession, extraFlags: readonly string[] = []) => {
    const job = session.plan("dev-edge-reload", { command: ["sh", "/etc/edge-reload/reload.sh"], extraFlags });
    await docker(["rm", "-f", job.name]);
    await session.create(job);
    await dockerOk(["start", job.name]);
    const code = (await dockerOk(["wait", job.name], { timeoutMs: 120_000 })).trim();
    const logs = await docker(["logs", job.name]);
    const [state] = await session.inspect([job.name]);
    return { code, logs: logs.stdout + logs.stderr, job, state };
  };
  const publishedHttpsPort = async () => Number((await dockerOk(["port", edge.name, "443/tcp"])).trim().split(":").pop());
  const edgeState = async () => {
    const [c] = await before.inspect([edge.name]);
    return c as unknown as { State: { Pid: number; StartedAt: string; Status: string }; RestartCount: number };
  };

  beforeAll(async () => {
    image = await ensureEdgeImage(await ensureTestImage(busybox.path!), caddy.path!);
    const variables = { UPDATEIO_DEV_OBSERVABILITY: "full" };
    before = new EngineSession(synthWithStatusPage("dev", { statusPage: false, variables }).json as unknown as StackJson, prefix, image);
    after = new EngineSession(
      synthWithStatusPage("dev", { statusPage: false, variables, apiHosts: [NEW_HOST] }).json as unknown as StackJson,
      prefix,
      image,
    );
    edge = before.plan("dev-edge", {
      command: ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"],
      ports: "loopback-ephemeral",
    });
    const job = before.plan("dev-edge-reload", { command: ["true"] });
    await before.prepare([edge, job, before.plan("dev-edge-caddyfile-seed"), before.plan("dev-edge-reload-seed")]);
    await createSeed(before, "dev-edge-caddyfile-seed");
    await createSeed(before, "dev-edge-reload-seed");
    await before.create(edge);
    await before.start(edge);
    httpsPort = await publishedHttpsPort();
    await eventually(
      "the edge turns healthy",
      async () => (await edgeState()).State.Status === "running" && (await handshakes(httpsPort, "api.updateio.localhost")),
    );
  }, 300_000);
  afterAll(async () => {
    await before?.cleanup();
  }, 120_000);

  it("the first run (nothing changed) exits 0 as synthesized: no network, read-only, every capability dropped, within its memory", async () => {
    const { code, logs, state } = await runJob(before);
    expect(code, logs).toBe("0");
    expect(logs).toMatch(/edge-reload: the edge loaded \/etc\/caddy\/Caddyfile/);
    const s = state as unknown as {
      HostConfig: { NetworkMode: string; ReadonlyRootfs: boolean; CapDrop: string[]; Memory: number };
      State: { OOMKilled: boolean };
    };
    expect(s.HostConfig).toMatchObject({ NetworkMode: "none", ReadonlyRootfs: true, CapDrop: ["ALL"] });
    expect(s.HostConfig.Memory).toBe(96 * 1024 * 1024);
    expect(s.State.OOMKilled).toBe(false);
    expect(await handshakes(httpsPort, NEW_HOST)).toBe(false);
  }, 120_000);

  it("a new route: the replaced seeds and a new job run load it into the same edge process, which then serves the new host", async () => {
    const { Pid, StartedAt } = (await edgeState()).State;
    await createSeed(after, "dev-edge-caddyfile-seed");
    await createSeed(after, "dev-edge-reload-seed");
    const { code, logs } = await runJob(after);
    expect(code, logs).toBe("0");
    await eventually(`the edge completes a handshake for ${NEW_HOST}`, () => handshakes(httpsPort, NEW_HOST));
    expect(await handshakes(httpsPort, "api.updateio.localhost")).toBe(true);
    const now = (await edgeState()).State;
    expect({ Pid: now.Pid, StartedAt: now.StartedAt }).toEqual({ Pid, StartedAt });
  }, 120_000);

  it("a Caddyfile caddy refuses fails the job, naming the file, and the edge keeps serving its previous configuration", async () => {
    const { Pid } = (await edgeState()).State;
    // An unclosed block at the end: caddy's adapter refuses the whole file.
    const broken = (c: string) => (c.includes(NEW_HOST) ? `${c}\nbroken.updateio.localhost {\n` : c);
    await createSeed(after, "dev-edge-caddyfile-seed", broken);
    await createSeed(after, "dev-edge-reload-seed", broken);
    const { code, logs } = await runJob(after);
    expect(code).toBe("1");
    expect(logs).toMatch(/FAILED: caddy refused \/etc\/caddy\/Caddyfile \(the edge keeps its previous configuration\)/);
    expect(await handshakes(httpsPort, NEW_HOST)).toBe(true);
    expect((await edgeState()).State.Pid).toBe(Pid);
  }, 120_000);

  it("a live file that is not the job's own copy fails before anything is loaded", async () => {
    await createSeed(after, "dev-edge-caddyfile-seed");
    await createSeed(after, "dev-edge-reload-seed", (c) => c.replace(NEW_HOST, "other.updateio.localhost"));
    const { code, logs } = await runJob(after);
    expect(code).toBe("1");
    expect(logs).toMatch(/FAILED: \/etc\/caddy\/Caddyfile differs from the Caddyfile this job expects/);
  }, 120_000);

  it("with the edge stopped, the job waits for the socket and then fails naming it", async () => {
    await createSeed(after, "dev-edge-reload-seed");
    await dockerOk(["stop", edge.name]);
    try {
      const { code, logs } = await runJob(after, ["--env", "WAIT_SECONDS=4"]);
      expect(code).toBe("1");
      expect(logs).toMatch(/FAILED: the edge's admin socket \/run\/caddy-admin\/admin\.sock does not answer after 4s/);
    } finally {
      await dockerOk(["start", edge.name]);
    }
    // A restart publishes a new ephemeral host port.
    httpsPort = await publishedHttpsPort();
    await eventually("the restarted edge serves", () => handshakes(httpsPort, NEW_HOST));
    const { code, logs } = await runJob(after);
    expect(code, logs).toBe("0");
  }, 180_000);
});
