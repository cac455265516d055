/**
 * The Docker CLI for scripts/test-terraform.ts and scripts/e2e.ts, always pointed at the daemon
 * the stack's docker provider uses (its `host`), never at whatever DOCKER_HOST happens to be.
 */
import { firstLine, run, which } from "./process";
import { parseTaskRows, type SwarmInfo, type TaskRow } from "./swarm";

export class Docker {
  private readonly bin: string | undefined = which("docker");

  constructor(readonly host: string) {}

  get installed(): boolean {
    return this.bin !== undefined;
  }

  private docker(args: readonly string[], timeoutSeconds = 120, input?: string) {
    return run(this.bin ?? "docker", ["-H", this.host, ...args], { timeoutSeconds, input });
  }

  /** The engine's version, or why it cannot be reached. */
  async engine(): Promise<{ ok: boolean; version?: string; problem?: string }> {
    if (!this.bin) return { ok: false, problem: "the docker CLI is not installed (apt-get install docker.io)" };
    const r = await this.docker(["info", "--format", "{{.ServerVersion}}"], 30);
    if (r.code === 0 && r.stdout.trim() !== "") return { ok: true, version: r.stdout.trim() };
    return {
      ok: false,
      problem: `no Docker daemon answers at ${this.host}: ${firstLine(r.stderr || r.stdout || r.spawnError || "no output")} (start dockerd, or set UPDATEIO_<ENV>_DOCKER_HOST and synth again)`,
    };
  }

  /** The engine's Swarm membership (docker info .Swarm), or why it could not be read. */
  async swarm(): Promise<{ info?: SwarmInfo; problem?: string }> {
    const r = await this.docker(["info", "--format", "{{json .Swarm}}"], 30);
    if (r.code !== 0) return { problem: firstLine(r.stderr || r.stdout || r.spawnError || "docker info failed") };
    try {
      return { info: JSON.parse(r.stdout) as SwarmInfo };
    } catch {
      return { problem: `docker info printed no Swarm section: ${firstLine(r.stdout)}` };
    }
  }

  /** Names of the Swarm services, secrets or configs on the manager (empty when the list fails). */
  async swarmObjectNames(kind: "service" | "secret" | "config"): Promise<{ names: string[]; problem?: string }> {
    const r = await this.docker([kind, "ls", "--format", "{{.Name}}"], 30);
    if (r.code !== 0) return { names: [], problem: firstLine(r.stderr || r.stdout || r.spawnError || `docker ${kind} ls failed`) };
    return {
      names: r.stdout
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== ""),
    };
  }

  /** Every task of a service, history included (exists: false when there is no such service). */
  async serviceTasks(name: string): Promise<{ exists: boolean; tasks: TaskRow[] }> {
    const r = await this.docker(["service", "ps", "--no-trunc", "--format", "{{json .}}", name], 30);
    if (r.code !== 0) return { exists: false, tasks: [] };
    return { exists: true, tasks: parseTaskRows(r.stdout) };
  }

  /** Running task containers of a Swarm service on this engine (Swarm labels every task container). */
  async taskContainers(service: string): Promise<string[]> {
    return this.containerNames([`label=com.docker.swarm.service.name=${service}`, "status=running"]);
  }

  /**
   * Whether an image is present locally. A "name:tag@sha256:..." reference is looked up as
   * written and, failing that, by "name@sha256:..." (how a pull by digest records it).
   */
  async imagePresent(ref: string): Promise<boolean> {
    if ((await this.docker(["image", "inspect", "--format", "{{.Id}}", ref], 30)).code === 0) return true;
    const byDigest = withoutTag(ref);
    return byDigest !== ref && (await this.docker(["image", "inspect", "--format", "{{.Id}}", byDigest], 30)).code === 0;
  }

  async pull(ref: string, timeoutSeconds = 900): Promise<{ ok: boolean; error?: string }> {
    const r = await this.docker(["pull", "--quiet", ref], timeoutSeconds);
    return r.code === 0
      ? { ok: true }
      : { ok: false, error: r.timedOut ? `timed out after ${timeoutSeconds} s` : firstLine(r.stderr || r.stdout || r.spawnError || "") };
  }

  /** Whether a registry serves the image, without downloading it (docker manifest inspect). */
  async pullable(ref: string): Promise<{ ok: boolean; error?: string }> {
    const r = await this.docker(["manifest", "inspect", ref], 60);
    return r.code === 0 ? { ok: true } : { ok: false, error: firstLine(r.stderr || r.stdout || r.spawnError || "") };
  }

  /** State of one container (exists: false when there is none by that name). */
  async state(name: string): Promise<ContainerState> {
    const r = await this.docker(["inspect", "--type", "container", "--format", "{{json .State}}", name], 30);
    if (r.code !== 0) return { name, exists: false, status: "missing" };
    const s = JSON.parse(r.stdout) as {
      Status: string;
      ExitCode: number;
      Health?: { Status: string; Log?: Array<{ Output: string; ExitCode: number }> };
    };
    const last = s.Health?.Log?.at(-1);
    return {
      name,
      exists: true,
      status: s.Status,
      exitCode: s.ExitCode,
      health: s.Health?.Status,
      lastHealthOutput: last ? `exit ${last.ExitCode}: ${last.Output.trim().slice(0, 300)}` : undefined,
    };
  }

  /** Names of the containers matching `docker ps -a` filters, e.g. ["label=io.updateio.environment=test"]. */
  async containerNames(filters: readonly string[]): Promise<string[]> {
    const r = await this.docker(["ps", "-a", ...filters.flatMap((f) => ["--filter", f]), "--format", "{{.Names}}"], 30);
    return r.code === 0
      ? r.stdout
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l !== "")
      : [];
  }

  async exec(container: string, args: readonly string[], timeoutSeconds = 60) {
    return this.docker(["exec", container, ...args], timeoutSeconds);
  }

  /** The last lines of every task of a service, interleaved (docker service logs). */
  async serviceLogs(service: string, lines = 20): Promise<string> {
    const r = await this.docker(["service", "logs", "--no-trunc", "--tail", String(lines), service], 30);
    return r.output.trim();
  }

  async logs(container: string, lines = 20): Promise<string> {
    const r = await this.docker(["logs", "--tail", String(lines), container], 30);
    return r.output.trim();
  }
}

export interface ContainerState {
  readonly name: string;
  readonly exists: boolean;
  /** created, running, exited, ... or "missing". */
  readonly status: string;
  readonly exitCode?: number;
  /** starting, healthy, unhealthy; undefined without a healthcheck. */
  readonly health?: string;
  readonly lastHealthOutput?: string;
}

/** "name:tag@sha256:d" → "name@sha256:d"; other references unchanged. */
export function withoutTag(ref: string): string {
  const at = ref.indexOf("@");
  if (at < 0) return ref;
  const name = ref.slice(0, at);
  const lastSlash = name.lastIndexOf("/");
  const colon = name.indexOf(":", lastSlash + 1);
  return colon < 0 ? ref : `${name.slice(0, colon)}${ref.slice(at)}`;
}

/** The registry host of an image reference (docker.io for Docker Hub names). */
export function registryOf(ref: string): string {
  const first = ref.split("/")[0]!;
  return ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost") ? first : "docker.io";
}

/** A digest of all zeros: environments/releases.json's placeholder until the release pipeline writes real ones. */
export function isPlaceholderDigest(ref: string): boolean {
  return /@sha256:0{64}$/.test(ref);
}
