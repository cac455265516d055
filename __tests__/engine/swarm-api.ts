/**
 * Translates the synthesized Swarm resources (docker_network, docker_secret, docker_config,
 * docker_service; Terraform JSON, snake_case keys) into the Engine API requests kreuzwerker/docker
 * 3.6.2 sends for them (resource_docker_*_funcs.go, createServiceSpec and its create* helpers), and
 * flattens what the engine returns the way the provider's Read does (flatten*, shortDur, one-decimal
 * max_failure_ratio, network options as returned), so a test can list every value that would show as
 * a change in every plan.
 *
 * How the provider fills a request, and why the translation mirrors it:
 * - The SDK hands the provider every attribute of a block, unset ones as zero values or schema
 *   defaults, so an unset restart_policy.delay is sent as 0, an unset isolation as "default", an
 *   unset placement as an empty object and the healthcheck and dns_config as objects even if empty.
 * - Durations go through time.ParseDuration with the error ignored (a bad one is sent as 0): here
 *   parseGoDuration throws instead.
 * - Secret and config `data` is decoded with standard base64, the error ignored: here a value that
 *   does not decode throws.
 *
 * Terraform expressions are evaluated here (random_password results are stand-in random values,
 * references to created objects are their real IDs and names). Anything the translator does not know
 * throws, so a new setting cannot go untested. Substituted on purpose: the image (a local stand-in),
 * and every object name gets the run's prefix.
 */
import { createHash, randomBytes, randomInt } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseGoDuration, goDurationString, UntranslatableError, type JsonObject } from "./docker-cli";
import { docker, dockerOk, ustar, type TarEntry } from "./fixtures";

// --- the Engine API over the unix socket ---

/** The API version provider 3.6.2 negotiates with Docker 20.10. */
export const API_VERSION = "v1.41";

function socketPath(): string {
  const host = process.env.DOCKER_HOST;
  if (host === undefined || host === "") return "/var/run/docker.sock";
  if (!host.startsWith("unix://")) throw new Error(`DOCKER_HOST=${host}: the swarm tests talk to a unix socket only`);
  return host.slice("unix://".length);
}

export interface EngineResponse {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

/** One Engine API call; JSON in and out. Never throws on an HTTP error status. */
export function engine(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<EngineResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), "utf8");
    const req = request(
      {
        socketPath: socketPath(),
        method,
        path: `/${API_VERSION}${path}`,
        headers: { ...(payload ? { "Content-Type": "application/json", "Content-Length": String(payload.length) } : {}), ...headers },
        timeout: 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = undefined;
          try {
            parsed = text === "" ? undefined : JSON.parse(text);
          } catch {
            parsed = text;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer from the engine in 60 s`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** An Engine API call that must answer 2xx; the error carries the engine's message. */
export async function engineOk<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
  const r = await engine(method, path, body, headers);
  if (r.status < 200 || r.status > 299) {
    const msg = (r.body as { message?: string } | undefined)?.message ?? r.text;
    throw new EngineError(`${method} ${path} → ${r.status}: ${msg}`, r.status, msg);
  }
  return r.body as T;
}

export class EngineError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly engineMessage: string,
  ) {
    super(message);
    this.name = "EngineError";
  }
}

/** X-Registry-Auth as the provider sends it without registry credentials: base64url of "{}". */
const EMPTY_REGISTRY_AUTH = Buffer.from("{}").toString("base64url");

// --- a Swarm shared by the engine test files ---

const LEASES = join(tmpdir(), "updateio-test-swarm");
/** Set on the node when a test ran `docker swarm init`, so only a swarm the tests made is ever left. */
export const TEST_SWARM_LABEL = "io.updateio.test-swarm";

async function withLeaseLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(LEASES, { recursive: true });
  const lock = join(LEASES, "lock");
  for (let i = 0; ; i++) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "owner"), String(process.pid));
      break;
    } catch {
      if (i > 600) throw new Error(`${lock} is held for more than 60 s; remove it if no test is running`);
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

const pidAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

export interface SwarmLease {
  readonly id: string;
  /** Whether this lease ran `docker swarm init`. */
  readonly initialised: boolean;
}

/**
 * Makes sure this node is a Swarm manager (`docker swarm init --advertise-addr 127.0.0.1` if it is in
 * no swarm) and records a lease, so test files running at the same time share one swarm.
 */
export async function acquireSwarm(): Promise<SwarmLease> {
  return withLeaseLock(async () => {
    const state = (await dockerOk(["info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}"])).trim();
    let initialised = false;
    if (state.startsWith("inactive")) {
      await dockerOk(["swarm", "init", "--advertise-addr", "127.0.0.1"], { timeoutMs: 60_000 });
      const nodeId = (await dockerOk(["info", "--format", "{{.Swarm.NodeID}}"])).trim();
      await dockerOk(["node", "update", "--label-add", `${TEST_SWARM_LABEL}=true`, nodeId]);
      initialised = true;
    } else if (state !== "active true") {
      throw new Error(`this node's swarm state is "${state}"; the tests need a manager (or no swarm at all, then they make one)`);
    }
    const id = `${process.pid}-${randomBytes(4).toString("hex")}`;
    writeFileSync(join(LEASES, `lease-${id}`), "");
    return { id, initialised };
  });
}

/** Drops the lease; the last one out leaves the swarm, and only if a test made it. */
export async function releaseSwarm(lease: SwarmLease | undefined): Promise<{ left: boolean }> {
  if (!lease) return { left: false };
  return withLeaseLock(async () => {
    rmSync(join(LEASES, `lease-${lease.id}`), { force: true });
    const others = readdirSync(LEASES).filter((f) => f.startsWith("lease-") && pidAlive(Number(f.slice(6).split("-")[0])));
    if (others.length > 0) return { left: false };
    // Under load the manager can answer late ("context deadline exceeded"): a few tries each.
    let labels: Record<string, string> | undefined;
    for (let i = 0; i < 3 && labels === undefined; i++) {
      const r = await docker(["node", "inspect", "self", "--format", "{{json .Spec.Labels}}"]);
      if (r.code === 0) labels = (JSON.parse(r.stdout || "{}") ?? {}) as Record<string, string>;
      else await sleep(3000);
    }
    if (labels === undefined)
      throw new Error("cannot read this node's labels to decide whether the tests made the swarm; leave it by hand if they did");
    if (!labels[TEST_SWARM_LABEL]) return { left: false };
    for (let i = 0; ; i++) {
      const r = await docker(["swarm", "leave", "--force"], { timeoutMs: 60_000 });
      if (r.code === 0) break;
      if (i >= 2) throw new Error(`docker swarm leave --force failed: ${r.stderr.trim()}`);
      await sleep(5000);
    }
    try {
      rmdirSync(LEASES);
    } catch {
      /* another file may have started meanwhile */
    }
    return { left: true };
  });
}

// --- Terraform expressions ---

export type TfValue = string | number | boolean | TfValue[];

export interface EvalContext {
  /** Locals, variables and random_password settings are read from it. */
  readonly stack: SwarmStackJson;
  randomPassword(key: string): string;
  variable(name: string): string;
  /** `<type>.<key>.<attr>` of an object the harness created (docker_secret.x.id, docker_network.x.id, ...). */
  object(type: string, key: string, attr: string): string;
  /** Attributes of `self` (postconditions). */
  readonly self?: Record<string, TfValue>;
}

export interface SwarmStackJson {
  readonly resource?: Record<string, Record<string, JsonObject>>;
  readonly locals?: Record<string, unknown>;
  readonly variable?: Record<string, JsonObject>;
}

/** Evaluates a Terraform template string ("text ${expr} text") with the functions our stacks use. */
export function evaluate(where: string, template: string, ctx: EvalContext): string {
  const v = new Expr(where, template, ctx).template();
  if (typeof v !== "string") throw new UntranslatableError(where, `evaluates to ${JSON.stringify(v)}, not a string`);
  return v;
}

/** Evaluates "${expr}" and returns the value (bool for conditions). */
export function evaluateValue(where: string, template: string, ctx: EvalContext): TfValue {
  return new Expr(where, template, ctx).template();
}

class Expr {
  private pos = 0;
  constructor(
    private readonly where: string,
    private readonly src: string,
    private readonly ctx: EvalContext,
    private readonly depth = 0,
  ) {
    if (depth > 20) throw new UntranslatableError(where, "locals nest more than 20 deep");
  }

  private fail(msg: string): never {
    throw new UntranslatableError(this.where, `${msg} at offset ${this.pos} of ${JSON.stringify(this.src)}`);
  }

  /** A whole string as a template; a lone "${expr}" keeps the expression's type. */
  template(): TfValue {
    const parts = this.templateParts(false);
    if (parts.length === 1 && typeof parts[0] !== "string") return parts[0]!.value;
    return parts.map((p) => (typeof p === "string" ? p : asString(this.where, p.value))).join("");
  }

  private templateParts(inQuotes: boolean): (string | { value: TfValue })[] {
    const parts: (string | { value: TfValue })[] = [];
    let text = "";
    while (this.pos < this.src.length) {
      const rest = this.src.slice(this.pos);
      if (inQuotes && rest[0] === '"') break;
      if (rest.startsWith("$${")) {
        text += "${";
        this.pos += 3;
      } else if (rest.startsWith("%%{")) {
        text += "%{";
        this.pos += 3;
      } else if (rest.startsWith("%{")) {
        this.fail("template directives (%{...}) are not evaluated by this harness");
      } else if (rest.startsWith("${")) {
        if (text) parts.push(text);
        text = "";
        this.pos += 2;
        const value = this.expr();
        this.ws();
        if (this.src[this.pos] !== "}") this.fail('expected "}"');
        this.pos++;
        parts.push({ value });
      } else if (inQuotes && rest[0] === "\\") {
        const c = rest[1];
        const map: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\" };
        if (c === undefined || !(c in map)) this.fail(`unknown escape \\${c}`);
        text += map[c]!;
        this.pos += 2;
      } else {
        text += rest[0];
        this.pos++;
      }
    }
    if (text || parts.length === 0) parts.push(text);
    return parts;
  }

  private ws(): void {
    while (/\s/.test(this.src[this.pos] ?? "")) this.pos++;
  }

  private expr(): TfValue {
    const left = this.primary();
    this.ws();
    if (this.src.startsWith("==", this.pos)) {
      this.pos += 2;
      const right = this.primary();
      return JSON.stringify(left) === JSON.stringify(right);
    }
    return left;
  }

  private primary(): TfValue {
    this.ws();
    const c = this.src[this.pos];
    if (c === '"') {
      this.pos++;
      const parts = this.templateParts(true);
      if (this.src[this.pos] !== '"') this.fail("unterminated string");
      this.pos++;
      return parts.map((p) => (typeof p === "string" ? p : asString(this.where, p.value))).join("");
    }
    if (c === "[") {
      this.pos++;
      return this.list("]");
    }
    const num = /^-?\d+(\.\d+)?/.exec(this.src.slice(this.pos));
    if (num) {
      this.pos += num[0].length;
      return Number(num[0]);
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(this.src.slice(this.pos));
    if (!ident) this.fail("expected an expression");
    this.pos += ident[0].length;
    if (this.src[this.pos] === "(") {
      this.pos++;
      return this.call(ident[0], this.list(")"));
    }
    const path = [ident[0]];
    while (this.src[this.pos] === ".") {
      this.pos++;
      const next = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(this.src.slice(this.pos));
      if (!next) this.fail("expected an attribute name");
      this.pos += next[0].length;
      path.push(next[0]);
    }
    return this.reference(path);
  }

  /** Comma-separated expressions up to `close` (a trailing comma allowed), past the opening bracket. */
  private list(close: "]" | ")"): TfValue[] {
    const items: TfValue[] = [];
    this.ws();
    while (this.src[this.pos] !== close) {
      items.push(this.expr());
      this.ws();
      if (this.src[this.pos] === ",") this.pos++;
      else if (this.src[this.pos] !== close) this.fail(`expected "," or "${close}"`);
      this.ws();
    }
    this.pos++;
    return items;
  }

  private call(name: string, args: TfValue[]): TfValue {
    const s = (i: number) => asString(`${this.where}: ${name}() argument ${i + 1}`, args[i]);
    const arity = (n: number) => {
      if (args.length !== n) this.fail(`${name}() takes ${n} arguments, got ${args.length}`);
    };
    switch (name) {
      case "base64encode":
        arity(1);
        return Buffer.from(s(0), "utf8").toString("base64");
      case "sha256":
        arity(1);
        return createHash("sha256").update(s(0), "utf8").digest("hex");
      case "urlencode":
        arity(1);
        return goQueryEscape(s(0));
      case "join": {
        arity(2);
        const list = args[1];
        if (!Array.isArray(list)) this.fail("join() wants a list");
        return list.map((x, i) => asString(`${this.where}: join() item ${i}`, x)).join(s(0));
      }
      case "substr": {
        arity(3);
        const chars = [...s(0)];
        const offset = Number(args[1]);
        const length = Number(args[2]);
        if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(length)) this.fail("substr() offset/length unsupported");
        return chars.slice(offset, length < 0 ? undefined : offset + length).join("");
      }
      default:
        this.fail(`function ${name}() is not evaluated by this harness; teach __tests__/engine/swarm-api.ts what Terraform returns for it`);
    }
  }

  private reference(path: string[]): TfValue {
    const [root, a, b] = path;
    const want = (n: number) => {
      if (path.length !== n) this.fail(`reference ${path.join(".")} is not understood`);
    };
    switch (root) {
      case "random_password":
        want(3);
        if (b !== "result") this.fail(`random_password.${a}.${b}: only .result is evaluated`);
        return this.ctx.randomPassword(a!);
      case "var":
        want(2);
        return this.ctx.variable(a!);
      case "local": {
        want(2);
        const local = this.ctx.stack.locals?.[a!];
        if (typeof local !== "string") this.fail(`local.${a} is not a string local of this stack`);
        return new Expr(`${this.where} → local.${a}`, local, this.ctx, this.depth + 1).template();
      }
      case "self": {
        want(2);
        const v = this.ctx.self?.[a!];
        if (v === undefined) this.fail(`self.${a} is not known here`);
        return v;
      }
      case "docker_secret":
      case "docker_config":
      case "docker_network":
        want(3);
        return this.ctx.object(root, a!, b!);
      default:
        this.fail(`reference ${path.join(".")} is not evaluated by this harness`);
    }
  }
}

function asString(where: string, v: TfValue | undefined): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw new UntranslatableError(where, `expected a string, got ${JSON.stringify(v)}`);
}

/** Go's url.QueryEscape, which Terraform's urlencode uses. */
function goQueryEscape(s: string): string {
  let out = "";
  for (const byte of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === " ") out += "+";
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

const ALNUM = { lower: "abcdefghijklmnopqrstuvwxyz", upper: "ABCDEFGHIJKLMNOPQRSTUVWXYZ", numeric: "0123456789" };
const RANDOM_SPECIAL_DEFAULT = "!@#$%&*()-_=+[]{}<>:?";

/** A stand-in result for a random_password resource, honouring its length and character classes. */
export function standInPassword(where: string, r: JsonObject): string {
  for (const k of Object.keys(r)) {
    if (
      ![
        "length",
        "special",
        "upper",
        "lower",
        "numeric",
        "min_lower",
        "min_upper",
        "min_numeric",
        "min_special",
        "override_special",
        "keepers",
        "lifecycle",
      ].includes(k)
    ) {
      throw new UntranslatableError(`${where}.${k}`, "is not understood by the stand-in random_password");
    }
  }
  const length = r.length as number;
  if (!Number.isInteger(length) || length < 1) throw new UntranslatableError(`${where}.length`, `${JSON.stringify(r.length)}`);
  const classes: [string, number][] = [];
  if (r.lower !== false) classes.push([ALNUM.lower, (r.min_lower as number) ?? 0]);
  if (r.upper !== false) classes.push([ALNUM.upper, (r.min_upper as number) ?? 0]);
  if (r.numeric !== false) classes.push([ALNUM.numeric, (r.min_numeric as number) ?? 0]);
  if (r.special !== false) classes.push([(r.override_special as string) ?? RANDOM_SPECIAL_DEFAULT, (r.min_special as number) ?? 0]);
  const all = classes.map(([c]) => c).join("");
  const chars: string[] = [];
  for (const [set, min] of classes) for (let i = 0; i < min; i++) chars.push(set[randomInt(set.length)]!);
  while (chars.length < length) chars.push(all[randomInt(all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join("");
}

/** Go's base64.StdEncoding.DecodeString (padding required; \r and \n ignored). */
export function goStdBase64Decode(s: string): Buffer | undefined {
  const clean = s.replace(/[\r\n]/g, "");
  if (clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) return undefined;
  const b = Buffer.from(clean, "base64");
  // Non-canonical trailing bits decode in Node but not in Go.
  return b.toString("base64") === clean ? b : undefined;
}

// --- Go durations as the provider reads Swarm ones back ---

/** The provider's shortDur: Duration.String() without a trailing "0s" after minutes or "0m" after hours. */
export function shortDur(ns: number): string {
  let s = goDurationString(ns);
  if (s.endsWith("m0s")) s = s.slice(0, -2);
  if (s.endsWith("h0m")) s = s.slice(0, -2);
  return s;
}

// --- translation: synthesized JSON → Engine API requests ---

export interface CreatedObject {
  readonly id: string;
  readonly name: string;
}

export interface TranslateContext extends EvalContext {
  /** Prefix for every object name. */
  readonly prefix: string;
  /** The local image that stands in for a synthesized image reference. */
  image(address: string, synthesized: string): string;
}

export interface NetworkPlan {
  readonly address: string;
  readonly key: string;
  readonly name: string;
  /** POST /networks/create body, as the provider's NetworkCreate sends it. */
  readonly request: JsonObject;
  /** The attributes as configured, with the provider's defaults (what Terraform compares state to). */
  readonly configured: JsonObject;
  readonly ignoreChanges: readonly string[];
}

export interface SecretPlan {
  readonly address: string;
  readonly key: string;
  readonly kind: "docker_secret" | "docker_config";
  readonly name: string;
  /** The evaluated `data` attribute (base64 text) and the bytes the provider sends. */
  readonly data: string;
  readonly bytes: Buffer;
  /** The value a task should read: the argument of base64encode(), when data is `${base64encode(...)}`. */
  readonly plaintext?: string;
  readonly request: JsonObject;
  readonly createBeforeDestroy: boolean;
}

export interface ServicePlan {
  readonly address: string;
  readonly key: string;
  readonly name: string;
  /** POST /services/create body (swarm.ServiceSpec as createServiceSpec fills it). */
  readonly spec: JsonObject;
  /** The evaluated resource, in the shape the provider's Read writes to state (for the comparison). */
  readonly configured: JsonObject;
  readonly replicas: number;
  readonly dependsOn: readonly string[];
  /** What was substituted, for the test output. */
  readonly notes: readonly string[];
}

const TF_META = new Set(["depends_on", "lifecycle", "count", "for_each", "provider"]);

function only(where: string, o: JsonObject, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k) && !TF_META.has(k)) {
      throw new UntranslatableError(
        `${where}.${k}`,
        "is not translated yet; teach __tests__/engine/swarm-api.ts what provider 3.6.2 sends for it",
      );
    }
  }
}

function block(where: string, v: unknown): JsonObject | undefined {
  if (v === undefined) return undefined;
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) return undefined;
  if (list.length !== 1 || typeof list[0] !== "object" || list[0] === null) throw new UntranslatableError(where, "expected one block");
  return list[0] as JsonObject;
}

function blocks(where: string, v: unknown): JsonObject[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new UntranslatableError(where, "expected a list of blocks");
  return v.map((x, i) => {
    if (typeof x !== "object" || x === null || Array.isArray(x)) throw new UntranslatableError(`${where}[${i}]`, "expected a block");
    return x as JsonObject;
  });
}

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);

function intOf(where: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (!isInt(v)) throw new UntranslatableError(where, `expected a whole number, got ${JSON.stringify(v)}`);
  return v;
}

function boolOf(where: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") throw new UntranslatableError(where, `expected a boolean, got ${JSON.stringify(v)}`);
  return v;
}

function lifecycleOf(where: string, r: JsonObject): { ignoreChanges: string[]; createBeforeDestroy: boolean } {
  const l = block(`${where}.lifecycle`, r.lifecycle);
  if (!l) return { ignoreChanges: [], createBeforeDestroy: false };
  only(`${where}.lifecycle`, l, [
    "ignore_changes",
    "create_before_destroy",
    "prevent_destroy",
    "replace_triggered_by",
    "postcondition",
    "precondition",
  ]);
  const ic = l.ignore_changes;
  return {
    ignoreChanges: ic === undefined ? [] : ic === "all" ? ["all"] : (ic as string[]),
    createBeforeDestroy: l.create_before_destroy === true,
  };
}

/** A label set ([{label, value}]) as a map, evaluated. */
function labelMap(where: string, v: unknown, ctx: EvalContext): Record<string, string> {
  const out: Record<string, string> = {};
  blocks(where, v).forEach((l, i) => {
    only(`${where}[${i}]`, l, ["label", "value"]);
    out[evaluate(`${where}[${i}].label`, String(l.label), ctx)] = evaluate(`${where}[${i}].value`, String(l.value), ctx);
  });
  return out;
}

function strMap(where: string, v: unknown, ctx: EvalContext): Record<string, string> {
  if (v === undefined) return {};
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new UntranslatableError(where, "expected a map");
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, evaluate(`${where}["${k}"]`, String(x), ctx)]));
}

function strList(where: string, v: unknown, ctx: EvalContext): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new UntranslatableError(where, "expected a list");
  return v.map((x, i) => {
    if (typeof x !== "string") throw new UntranslatableError(`${where}[${i}]`, "expected a string");
    return evaluate(`${where}[${i}]`, x, ctx);
  });
}

function strOf(where: string, v: unknown, ctx: EvalContext, dflt = ""): string {
  if (v === undefined) return dflt;
  if (typeof v !== "string") throw new UntranslatableError(where, `expected a string, got ${JSON.stringify(v)}`);
  return evaluate(where, v, ctx);
}

const sortedEntries = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export function resourcesOf(stack: SwarmStackJson, type: string): [string, JsonObject][] {
  return Object.entries(stack.resource?.[type] ?? {});
}

/** docker_network → POST /networks/create, as resourceDockerNetworkCreate fills network.CreateOptions. */
export function translateNetwork(stack: SwarmStackJson, key: string, ctx: TranslateContext): NetworkPlan {
  const address = `docker_network.${key}`;
  const r = stack.resource?.docker_network?.[key];
  if (!r) throw new UntranslatableError(address, "no such resource");
  only(address, r, ["name", "driver", "internal", "attachable", "labels", "options"]);
  const at = (k: string) => `${address}.${k}`;
  const name = ctx.prefix + strOf(at("name"), r.name, ctx);
  const labels = labelMap(at("labels"), r.labels, ctx);
  const driver = strOf(at("driver"), r.driver, ctx);
  const options = r.options === undefined ? undefined : strMap(at("options"), r.options, ctx);
  const internal = boolOf(at("internal"), r.internal, false);
  const attachable = boolOf(at("attachable"), r.attachable, false);
  // GetOk: zero values are not set. The Go client (API < 1.44) adds CheckDuplicate.
  const req: JsonObject = { Name: name, CheckDuplicate: true };
  if (driver) req.Driver = driver;
  if (options && Object.keys(options).length > 0) req.Options = options;
  if (internal) req.Internal = true;
  if (attachable) req.Attachable = true;
  if (Object.keys(labels).length > 0) req.Labels = labels;
  const configured: JsonObject = {
    name,
    labels: sortedEntries(labels),
    internal,
    attachable,
    ingress: false,
    ipv6: false,
    ipam_driver: "default",
    ipam_options: {},
  };
  if (driver) configured.driver = driver;
  if (options !== undefined) configured.options = sortedEntries(options);
  return { address, key, name, request: req, configured, ignoreChanges: lifecycleOf(address, r).ignoreChanges };
}

/** docker_secret / docker_config → POST /secrets/create or /configs/create. */
export function translateSecret(
  stack: SwarmStackJson,
  kind: "docker_secret" | "docker_config",
  key: string,
  ctx: TranslateContext,
): SecretPlan {
  const address = `${kind}.${key}`;
  const r = stack.resource?.[kind]?.[key];
  if (!r) throw new UntranslatableError(address, "no such resource");
  // docker_config has no labels in 3.6.2.
  only(address, r, kind === "docker_secret" ? ["name", "data", "labels"] : ["name", "data"]);
  const name = ctx.prefix + strOf(`${address}.name`, r.name, ctx);
  const data = strOf(`${address}.data`, r.data, ctx);
  const bytes = goStdBase64Decode(data);
  if (!bytes) {
    throw new UntranslatableError(
      `${address}.data`,
      `is not standard base64; the provider ignores the decode error and stores whatever part decoded (wrap the value in base64encode())`,
    );
  }
  const wrapped = typeof r.data === "string" ? /^\$\{base64encode\((.*)\)\}$/s.exec(r.data) : null;
  const plaintext = wrapped ? evaluate(`${address}.data`, `\${${wrapped[1]}}`, ctx) : undefined;
  const request: JsonObject = {
    Name: name,
    Labels: kind === "docker_secret" && r.labels !== undefined ? labelMap(`${address}.labels`, r.labels, ctx) : null,
    Data: bytes.toString("base64"),
  };
  return { address, key, kind, name, data, bytes, plaintext, request, createBeforeDestroy: lifecycleOf(address, r).createBeforeDestroy };
}

const SERVICE_KEYS = ["name", "labels", "mode", "task_spec", "update_config", "rollback_config", "endpoint_spec"];
const TASK_KEYS = [
  "container_spec",
  "resources",
  "restart_policy",
  "placement",
  "force_update",
  "runtime",
  "networks_advanced",
  "log_driver",
];
const CONTAINER_KEYS = [
  "image",
  "labels",
  "command",
  "args",
  "hostname",
  "env",
  "dir",
  "user",
  "groups",
  "read_only",
  "mounts",
  "stop_signal",
  "stop_grace_period",
  "healthcheck",
  "secrets",
  "configs",
  "isolation",
  "sysctl",
  "cap_add",
  "cap_drop",
];
const UPDATE_DEFAULTS = {
  parallelism: 1,
  delay: "0s",
  failure_action: "pause",
  monitor: "5s",
  max_failure_ratio: "0.0",
  order: "stop-first",
};

/** docker_service → swarm.ServiceSpec exactly as createServiceSpec builds it, plus the configured values. */
export function translateService(stack: SwarmStackJson, key: string, ctx: TranslateContext): ServicePlan {
  const address = `docker_service.${key}`;
  const r = stack.resource?.docker_service?.[key];
  if (!r) throw new UntranslatableError(address, "no such resource");
  const at = (k: string) => `${address}.${k}`;
  only(address, r, SERVICE_KEYS);
  const notes: string[] = [];
  const name = ctx.prefix + strOf(at("name"), r.name, ctx);
  const labels = labelMap(at("labels"), r.labels, ctx);
  const configured: JsonObject = { name };
  if (r.labels !== undefined) configured.labels = sortedEntries(labels);

  // mode
  const modeB = block(at("mode"), r.mode);
  let replicas = 1;
  const mode: JsonObject = {};
  if (modeB) {
    only(at("mode"), modeB, ["replicated", "global"]);
    const rep = block(at("mode.replicated"), modeB.replicated);
    if (rep) {
      only(at("mode.replicated"), rep, ["replicas"]);
      replicas = intOf(at("mode.replicated.replicas"), rep.replicas, 1);
      mode.Replicated = { Replicas: replicas };
    }
    if (boolOf(at("mode.global"), modeB.global, false)) mode.Global = {};
    configured.mode = { ...(rep ? { replicated: { replicas } } : {}), global: modeB.global === true };
  }

  // task_spec
  const ts = block(at("task_spec"), r.task_spec);
  if (!ts) throw new UntranslatableError(at("task_spec"), "is required");
  only(at("task_spec"), ts, TASK_KEYS);
  const cs = block(at("task_spec.container_spec"), ts.container_spec);
  if (!cs) throw new UntranslatableError(at("task_spec.container_spec"), "is required");
  const c = (k: string) => at(`task_spec.container_spec.${k}`);
  only(at("task_spec.container_spec"), cs, CONTAINER_KEYS);

  const synthesizedImage = strOf(c("image"), cs.image, ctx);
  const image = ctx.image(address, synthesizedImage);
  notes.push(`image ${synthesizedImage} replaced by ${image} (sent without resolving a registry digest)`);
  const cLabels = labelMap(c("labels"), cs.labels, ctx);
  const command = strList(c("command"), cs.command, ctx);
  const args = strList(c("args"), cs.args, ctx);
  const env = strMap(c("env"), cs.env, ctx);
  const groups = strList(c("groups"), cs.groups, ctx);
  const capAdd = strList(c("cap_add"), cs.cap_add, ctx);
  const capDrop = strList(c("cap_drop"), cs.cap_drop, ctx);
  const sysctl = strMap(c("sysctl"), cs.sysctl, ctx);
  const isolation = strOf(c("isolation"), cs.isolation, ctx, "default");

  const mounts = blocks(c("mounts"), cs.mounts).map((m, i) => {
    const w = `${c("mounts")}[${i}]`;
    if (m.tmpfs_options !== undefined)
      throw new UntranslatableError(
        `${w}.tmpfs_options`,
        "crashes provider 3.6.2 (the SDK fills size_bytes as int, the provider asserts int64)",
      );
    only(w, m, ["target", "source", "type", "read_only"]);
    const type = strOf(`${w}.type`, m.type, ctx);
    if (!/^(bind|volume|tmpfs)$/.test(type))
      throw new UntranslatableError(`${w}.type`, `"${type}" is refused by the provider's validation`);
    return {
      target: strOf(`${w}.target`, m.target, ctx),
      source: strOf(`${w}.source`, m.source, ctx),
      type,
      read_only: boolOf(`${w}.read_only`, m.read_only, false),
    };
  });

  const hcB = block(c("healthcheck"), cs.healthcheck);
  let healthcheck: JsonObject = {};
  let hcConfigured: JsonObject | undefined;
  if (hcB) {
    only(c("healthcheck"), hcB, ["test", "interval", "timeout", "start_period", "retries"]);
    const d = (k: string) => strOf(c(`healthcheck.${k}`), hcB[k], ctx, "0s");
    const test = strList(c("healthcheck.test"), hcB.test, ctx);
    const retries = intOf(c("healthcheck.retries"), hcB.retries, 0);
    healthcheck = omitZero({
      Test: test,
      Interval: parseGoDuration(c("healthcheck.interval"), d("interval")),
      Timeout: parseGoDuration(c("healthcheck.timeout"), d("timeout")),
      StartPeriod: parseGoDuration(c("healthcheck.start_period"), d("start_period")),
      Retries: retries,
    });
    hcConfigured = { test, interval: d("interval"), timeout: d("timeout"), start_period: d("start_period"), retries };
  }

  const refs = (kind: "secrets" | "configs") =>
    blocks(c(kind), cs[kind]).map((s, i) => {
      const w = `${c(kind)}[${i}]`;
      const idKey = kind === "secrets" ? "secret_id" : "config_id";
      const nameKey = kind === "secrets" ? "secret_name" : "config_name";
      only(w, s, [idKey, nameKey, "file_name", "file_uid", "file_gid", "file_mode"]);
      return {
        [idKey]: strOf(`${w}.${idKey}`, s[idKey], ctx),
        [nameKey]: strOf(`${w}.${nameKey}`, s[nameKey], ctx),
        file_name: strOf(`${w}.file_name`, s.file_name, ctx),
        file_uid: strOf(`${w}.file_uid`, s.file_uid, ctx, "0"),
        file_gid: strOf(`${w}.file_gid`, s.file_gid, ctx, "0"),
        file_mode: intOf(`${w}.file_mode`, s.file_mode, 0o444),
      } as Record<string, string | number>;
    });
  const secrets = refs("secrets");
  const configs = refs("configs");

  const stopGrace = cs.stop_grace_period === undefined ? "" : strOf(c("stop_grace_period"), cs.stop_grace_period, ctx);
  const containerSpec: JsonObject = omitZero({
    Image: image,
    Labels: cLabels,
    Command: command,
    Args: args,
    Hostname: strOf(c("hostname"), cs.hostname, ctx),
    Env: Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .sort(),
    Dir: strOf(c("dir"), cs.dir, ctx),
    User: strOf(c("user"), cs.user, ctx),
    Groups: groups,
    StopSignal: strOf(c("stop_signal"), cs.stop_signal, ctx),
    ReadOnly: boolOf(c("read_only"), cs.read_only, false),
    Mounts: mounts.map((m) => omitZero({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.read_only })),
    Secrets: secrets.map((s) => ({
      File: { Name: s.file_name, UID: s.file_uid, GID: s.file_gid, Mode: s.file_mode },
      SecretID: s.secret_id,
      SecretName: s.secret_name,
    })),
    Configs: configs.map((s) => ({
      File: { Name: s.file_name, UID: s.file_uid, GID: s.file_gid, Mode: s.file_mode },
      ConfigID: s.config_id,
      ConfigName: s.config_name,
    })),
    Isolation: isolation,
    Sysctls: sysctl,
    CapabilityAdd: capAdd,
    CapabilityDrop: capDrop,
  });
  // Pointers the provider always sets: an unset stop_grace_period is sent as 0 (no graceful stop).
  containerSpec.StopGracePeriod = stopGrace === "" ? 0 : parseGoDuration(c("stop_grace_period"), stopGrace);
  containerSpec.Healthcheck = healthcheck;
  containerSpec.DNSConfig = {};

  const csConfigured: JsonObject = {
    image,
    labels: sortedEntries(cLabels),
    command,
    args,
    hostname: containerSpec.Hostname ?? "",
    env: sortedEntries(env),
    dir: containerSpec.Dir ?? "",
    user: containerSpec.User ?? "",
    groups,
    read_only: containerSpec.ReadOnly === true,
    mounts: sortSet(mounts),
    stop_signal: containerSpec.StopSignal ?? "",
    hosts: [],
    secrets: sortSet(secrets),
    configs: sortSet(configs),
    isolation,
    sysctl: sortedEntries(sysctl),
    cap_add: capAdd,
    cap_drop: capDrop,
    privileges: [],
  };
  if (stopGrace !== "") csConfigured.stop_grace_period = stopGrace;
  if (hcConfigured) csConfigured.healthcheck = hcConfigured;
  const taskConfigured: JsonObject = { container_spec: csConfigured };
  const taskTemplate: JsonObject = { ContainerSpec: containerSpec };

  // resources (Optional+Computed; limits and reservation inside are plain Optional)
  const resB = block(at("task_spec.resources"), ts.resources);
  if (resB) {
    only(at("task_spec.resources"), resB, ["limits", "reservation"]);
    const res: JsonObject = {};
    const resConfigured: JsonObject = {};
    // The CPU and memory of the limits or reservation block.
    const amounts = (name: "limits" | "reservation", b: JsonObject) => {
      only(at(`task_spec.resources.${name}`), b, ["nano_cpus", "memory_bytes"]);
      return {
        nano_cpus: intOf(at(`task_spec.resources.${name}.nano_cpus`), b.nano_cpus, 0),
        memory_bytes: intOf(at(`task_spec.resources.${name}.memory_bytes`), b.memory_bytes, 0),
      };
    };
    const lim = block(at("task_spec.resources.limits"), resB.limits);
    if (lim) {
      const l = amounts("limits", lim);
      res.Limits = { NanoCPUs: l.nano_cpus, MemoryBytes: l.memory_bytes };
      resConfigured.limits = l;
    } else resConfigured.limits = null;
    const resv = block(at("task_spec.resources.reservation"), resB.reservation);
    if (resv) {
      const l = { ...amounts("reservation", resv), generic_resources: [] };
      res.Reservations = { NanoCPUs: l.nano_cpus, MemoryBytes: l.memory_bytes };
      resConfigured.reservation = l;
    } else resConfigured.reservation = null;
    taskTemplate.Resources = res;
    taskConfigured.resources = resConfigured;
  } else {
    taskTemplate.Resources = {};
  }

  // restart_policy: all four fields always sent (an unset duration as 0).
  const rpB = block(at("task_spec.restart_policy"), ts.restart_policy);
  if (rpB) {
    only(at("task_spec.restart_policy"), rpB, ["condition", "delay", "max_attempts", "window"]);
    const w = (k: string) => at(`task_spec.restart_policy.${k}`);
    const rp = {
      condition: strOf(w("condition"), rpB.condition, ctx),
      delay: strOf(w("delay"), rpB.delay, ctx),
      max_attempts: intOf(w("max_attempts"), rpB.max_attempts, 0),
      window: strOf(w("window"), rpB.window, ctx),
    };
    const dur = (k: "delay" | "window") => (rp[k] === "" ? 0 : parseGoDuration(w(k), rp[k]));
    taskTemplate.RestartPolicy = omitZero({ Condition: rp.condition }) as JsonObject;
    Object.assign(taskTemplate.RestartPolicy as JsonObject, { Delay: dur("delay"), MaxAttempts: rp.max_attempts, Window: dur("window") });
    taskConfigured.restart_policy = rp;
  } else {
    taskTemplate.RestartPolicy = {};
  }

  const plB = block(at("task_spec.placement"), ts.placement);
  if (plB) {
    only(at("task_spec.placement"), plB, ["constraints", "prefs", "max_replicas"]);
    const constraints = strList(at("task_spec.placement.constraints"), plB.constraints, ctx);
    const prefs = strList(at("task_spec.placement.prefs"), plB.prefs, ctx);
    const maxReplicas = intOf(at("task_spec.placement.max_replicas"), plB.max_replicas, 0);
    taskTemplate.Placement = omitZero({
      Constraints: constraints,
      Preferences: prefs.map((p) => ({ Spread: { SpreadDescriptor: p } })),
      MaxReplicas: maxReplicas,
    });
    taskConfigured.placement = { constraints: [...constraints].sort(), prefs: [...prefs].sort(), max_replicas: maxReplicas };
  } else {
    taskTemplate.Placement = {};
  }
  if (ts.force_update !== undefined) {
    taskTemplate.ForceUpdate = intOf(at("task_spec.force_update"), ts.force_update, 0);
    taskConfigured.force_update = taskTemplate.ForceUpdate;
  } else taskTemplate.ForceUpdate = 0;
  if (ts.runtime !== undefined) {
    taskTemplate.Runtime = strOf(at("task_spec.runtime"), ts.runtime, ctx);
    taskConfigured.runtime = taskTemplate.Runtime;
  }

  const nets = blocks(at("task_spec.networks_advanced"), ts.networks_advanced).map((n, i) => {
    const w = at(`task_spec.networks_advanced[${i}]`);
    only(w, n, ["name", "aliases", "driver_opts"]);
    return {
      name: strOf(`${w}.name`, n.name, ctx),
      aliases: strList(`${w}.aliases`, n.aliases, ctx).sort(),
      driver_opts: strList(`${w}.driver_opts`, n.driver_opts, ctx).sort(),
    };
  });
  taskTemplate.Networks = nets.map((n) =>
    omitZero({
      Target: n.name,
      Aliases: n.aliases,
      DriverOpts: Object.fromEntries(n.driver_opts.map((o) => [o.split("=")[0]!, o.split("=").slice(1).join("=")])),
    }),
  );
  taskConfigured.networks_advanced = sortSet(nets);

  const ldB = block(at("task_spec.log_driver"), ts.log_driver);
  if (ldB) {
    only(at("task_spec.log_driver"), ldB, ["name", "options"]);
    const ld = {
      name: strOf(at("task_spec.log_driver.name"), ldB.name, ctx),
      options: sortedEntries(strMap(at("task_spec.log_driver.options"), ldB.options, ctx)),
    };
    taskTemplate.LogDriver = omitZero({ Name: ld.name, Options: ld.options });
    taskConfigured.log_driver = ld;
  } else taskConfigured.log_driver = null;
  configured.task_spec = taskConfigured;

  const updateLike = (k: "update_config" | "rollback_config") => {
    const b = block(at(k), r[k]);
    if (!b) return { spec: undefined, configured: null };
    only(at(k), b, Object.keys(UPDATE_DEFAULTS));
    const v = {
      parallelism: intOf(at(`${k}.parallelism`), b.parallelism, UPDATE_DEFAULTS.parallelism),
      delay: strOf(at(`${k}.delay`), b.delay, ctx, UPDATE_DEFAULTS.delay),
      failure_action: strOf(at(`${k}.failure_action`), b.failure_action, ctx, UPDATE_DEFAULTS.failure_action),
      monitor: strOf(at(`${k}.monitor`), b.monitor, ctx, UPDATE_DEFAULTS.monitor),
      max_failure_ratio: strOf(at(`${k}.max_failure_ratio`), b.max_failure_ratio, ctx, UPDATE_DEFAULTS.max_failure_ratio),
      order: strOf(at(`${k}.order`), b.order, ctx, UPDATE_DEFAULTS.order),
    };
    const ratio = Number(v.max_failure_ratio);
    if (!Number.isFinite(ratio)) throw new UntranslatableError(at(`${k}.max_failure_ratio`), `"${v.max_failure_ratio}" is not a number`);
    const spec = omitZero({
      Parallelism: v.parallelism,
      Delay: parseGoDuration(at(`${k}.delay`), v.delay),
      FailureAction: v.failure_action,
      Monitor: parseGoDuration(at(`${k}.monitor`), v.monitor),
      MaxFailureRatio: Math.fround(ratio),
      Order: v.order,
    });
    spec.Parallelism = v.parallelism;
    spec.MaxFailureRatio = Math.fround(ratio);
    return { spec, configured: v };
  };
  const upd = updateLike("update_config");
  const rb = updateLike("rollback_config");
  configured.update_config = upd.configured;
  configured.rollback_config = rb.configured;

  const epB = block(at("endpoint_spec"), r.endpoint_spec);
  const endpointSpec: JsonObject = {};
  if (epB) {
    only(at("endpoint_spec"), epB, ["mode", "ports"]);
    const epConfigured: JsonObject = {};
    if (epB.mode !== undefined) {
      endpointSpec.Mode = strOf(at("endpoint_spec.mode"), epB.mode, ctx);
      epConfigured.mode = endpointSpec.Mode;
    }
    const ports = blocks(at("endpoint_spec.ports"), epB.ports).map((p, i) => {
      const w = at(`endpoint_spec.ports[${i}]`);
      only(w, p, ["name", "protocol", "target_port", "published_port", "publish_mode"]);
      return {
        name: strOf(`${w}.name`, p.name, ctx),
        protocol: strOf(`${w}.protocol`, p.protocol, ctx, "tcp"),
        target_port: intOf(`${w}.target_port`, p.target_port, 0),
        published_port: intOf(`${w}.published_port`, p.published_port, 0),
        publish_mode: strOf(`${w}.publish_mode`, p.publish_mode, ctx, "ingress"),
      };
    });
    if (ports.length > 0)
      endpointSpec.Ports = ports.map((p) =>
        omitZero({
          Name: p.name,
          Protocol: p.protocol,
          TargetPort: p.target_port,
          PublishedPort: p.published_port,
          PublishMode: p.publish_mode,
        }),
      );
    epConfigured.ports = ports;
    configured.endpoint_spec = epConfigured;
  }

  const spec: JsonObject = {
    Name: name,
    Labels: Object.keys(labels).length > 0 ? labels : null,
    TaskTemplate: taskTemplate,
    Mode: mode,
    EndpointSpec: endpointSpec,
  };
  if (upd.spec) spec.UpdateConfig = upd.spec;
  if (rb.spec) spec.RollbackConfig = rb.spec;

  const dependsOn = r.depends_on === undefined ? [] : (r.depends_on as string[]);
  return { address, key, name, spec, configured, replicas, dependsOn, notes };
}

/** Drops Go zero values the way `json:",omitempty"` does (empty strings, 0, false, empty lists and maps). */
function omitZero(o: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === "" || v === 0 || v === false || v === undefined || v === null) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0) continue;
    out[k] = v;
  }
  return out;
}

/** Where a Swarm secret or config lands in the task (its File block), as the provider flattens it. */
function fileTarget(file: any): JsonObject {
  return { file_name: file?.Name ?? "", file_uid: file?.UID ?? "", file_gid: file?.GID ?? "", file_mode: file?.Mode ?? 0 };
}

/** A Terraform set as a list in a stable order. */
function sortSet<T>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0));
}

// --- read-back: what the provider's Read writes to state ---

/** docker_network read-back (resourceDockerNetworkReadRefreshFunc). */
export function flattenNetwork(n: any): { state: JsonObject; pending: boolean } {
  const options = (n.Options ?? {}) as Record<string, string>;
  return {
    state: {
      name: n.Name,
      labels: sortedEntries(n.Labels ?? {}),
      driver: n.Driver,
      internal: n.Internal === true,
      attachable: n.Attachable === true,
      ingress: n.Ingress === true,
      ipv6: n.EnableIPv6 === true,
      ipam_driver: n.IPAM?.Driver ?? "",
      ipam_options: sortedEntries(n.IPAM?.Options ?? {}),
      options: sortedEntries(options),
    },
    // The provider tests Scope == "overlay", which the engine never reports (overlays are "swarm"), so
    // this never waits in practice; kept to mirror the provider.
    pending: n.Scope === "overlay" && Object.keys(options).length === 0,
  };
}

/** docker_service read-back (resourceDockerServiceReadRefreshFunc and the flatten* functions). */
export function flattenService(s: any): JsonObject {
  const spec = s.Spec;
  const tt = spec.TaskTemplate ?? {};
  const cs = tt.ContainerSpec ?? {};
  const labelsOf = (m: Record<string, string> | null | undefined) => sortedEntries(m ?? {});
  const env: Record<string, string> = {};
  for (const e of (cs.Env ?? []) as string[]) {
    if (e.length > 0) {
      const [k, ...rest] = e.split("=");
      env[k!] = rest.join("=");
    }
  }
  const hc = cs.Healthcheck;
  const containerSpec: JsonObject = {
    image: cs.Image ?? "",
    labels: labelsOf(cs.Labels),
    command: cs.Command ?? [],
    args: cs.Args ?? [],
    hostname: cs.Hostname ?? "",
    env: sortedEntries(env),
    dir: cs.Dir ?? "",
    user: cs.User ?? "",
    groups: cs.Groups ?? [],
    read_only: cs.ReadOnly === true,
    mounts: sortSet(
      ((cs.Mounts ?? []) as any[]).map((m) => {
        const o: JsonObject = { target: m.Target, source: m.Source ?? "", type: m.Type, read_only: m.ReadOnly === true };
        if (m.BindOptions) o.bind_options = [{ propagation: m.BindOptions.Propagation }];
        if (m.VolumeOptions) o.volume_options = [m.VolumeOptions];
        if (m.TmpfsOptions) o.tmpfs_options = [{ size_bytes: m.TmpfsOptions.SizeBytes ?? 0, mode: m.TmpfsOptions.Mode ?? 0 }];
        return o;
      }),
    ),
    stop_signal: cs.StopSignal ?? "",
    hosts: cs.Hosts ?? [],
    secrets: sortSet(
      ((cs.Secrets ?? []) as any[]).map((x) => ({
        secret_id: x.SecretID,
        secret_name: x.SecretName ?? "",
        ...fileTarget(x.File),
      })),
    ),
    configs: sortSet(
      ((cs.Configs ?? []) as any[]).map((x) => ({
        config_id: x.ConfigID,
        config_name: x.ConfigName ?? "",
        ...fileTarget(x.File),
      })),
    ),
    isolation: cs.Isolation ?? "",
    sysctl: sortedEntries(cs.Sysctls ?? {}),
    cap_add: cs.CapabilityAdd ?? [],
    cap_drop: cs.CapabilityDrop ?? [],
    privileges: cs.Privileges ? [cs.Privileges] : [],
  };
  if (cs.StopGracePeriod !== undefined && cs.StopGracePeriod !== null) containerSpec.stop_grace_period = shortDur(cs.StopGracePeriod);
  if (hc)
    containerSpec.healthcheck = {
      test: hc.Test ?? [],
      interval: shortDur(hc.Interval ?? 0),
      timeout: shortDur(hc.Timeout ?? 0),
      start_period: shortDur(hc.StartPeriod ?? 0),
      retries: hc.Retries ?? 0,
    };
  const task: JsonObject = { container_spec: containerSpec };
  if (tt.Resources) {
    task.resources = {
      limits: tt.Resources.Limits
        ? { nano_cpus: tt.Resources.Limits.NanoCPUs ?? 0, memory_bytes: tt.Resources.Limits.MemoryBytes ?? 0 }
        : null,
      reservation: tt.Resources.Reservations
        ? {
            nano_cpus: tt.Resources.Reservations.NanoCPUs ?? 0,
            memory_bytes: tt.Resources.Reservations.MemoryBytes ?? 0,
            generic_resources: [],
          }
        : null,
    };
  }
  if (tt.RestartPolicy) {
    const rp = tt.RestartPolicy;
    task.restart_policy = {
      condition: rp.Condition ?? "",
      delay: rp.Delay === undefined ? "" : shortDur(rp.Delay),
      max_attempts: rp.MaxAttempts ?? 0,
      window: rp.Window === undefined ? "" : shortDur(rp.Window),
    };
  }
  if (tt.Placement) {
    task.placement = {
      constraints: [...(tt.Placement.Constraints ?? [])].sort(),
      prefs: ((tt.Placement.Preferences ?? []) as any[]).map((p) => p.Spread?.SpreadDescriptor).sort(),
      max_replicas: tt.Placement.MaxReplicas ?? 0,
    };
  }
  task.force_update = tt.ForceUpdate ?? 0;
  task.runtime = tt.Runtime ?? "";
  task.networks_advanced = sortSet(
    ((tt.Networks ?? []) as any[]).map((n) => ({
      name: n.Target,
      aliases: [...(n.Aliases ?? [])].sort(),
      driver_opts: Object.entries((n.DriverOpts ?? {}) as Record<string, string>)
        .map(([k, v]) => `${k}=${v}`)
        .sort(),
    })),
  );
  task.log_driver = tt.LogDriver ? { name: tt.LogDriver.Name, options: sortedEntries(tt.LogDriver.Options ?? {}) } : null;
  const upd = (u: any) =>
    u
      ? {
          parallelism: u.Parallelism ?? 0,
          delay: shortDur(u.Delay ?? 0),
          failure_action: u.FailureAction ?? "",
          monitor: shortDur(u.Monitor ?? 0),
          max_failure_ratio: (u.MaxFailureRatio ?? 0).toFixed(1),
          order: u.Order ?? "",
        }
      : null;
  // endpoint_spec comes from Endpoint (the applied one) when it has a mode, else from the spec.
  const ep = s.Endpoint?.Spec?.Mode
    ? { spec: s.Endpoint.Spec, ports: s.Endpoint.Ports }
    : { spec: spec.EndpointSpec ?? {}, ports: spec.EndpointSpec?.Ports };
  return {
    name: spec.Name,
    labels: labelsOf(spec.Labels),
    mode: {
      ...(spec.Mode?.Replicated ? { replicated: { replicas: spec.Mode.Replicated.Replicas ?? 0 } } : {}),
      global: spec.Mode?.Global !== undefined && spec.Mode?.Global !== null,
    },
    task_spec: task,
    update_config: upd(spec.UpdateConfig),
    rollback_config: upd(spec.RollbackConfig),
    endpoint_spec: {
      mode: ep.spec.Mode ?? "",
      ports: ((ep.ports ?? []) as any[]).map((p) => ({
        name: p.Name ?? "",
        protocol: p.Protocol ?? "",
        target_port: p.TargetPort ?? 0,
        published_port: p.PublishedPort ?? 0,
        publish_mode: p.PublishMode ?? "",
      })),
    },
  };
}

/** Map attributes (compared as a whole, both sides sorted by key). */
const MAP_FIELDS = new Set(["labels", "env", "options", "sysctl", "ipam_options"]);

export interface ReadBackDiff {
  readonly address: string;
  readonly field: string;
  readonly synthesized: unknown;
  readonly readBack: unknown;
  /** Set when lifecycle.ignore_changes covers the field (no plan diff, but recorded). */
  readonly ignoredBy?: string;
}

export const formatDiff = (d: ReadBackDiff) =>
  `${d.address}: ${d.field}: synthesized ${JSON.stringify(d.synthesized)}, read back ${JSON.stringify(d.readBack)}${d.ignoredBy ? ` (settled by lifecycle.ignore_changes ${d.ignoredBy})` : ""}`;

/**
 * Every configured attribute whose read-back differs. Only attributes present in `configured` are
 * compared: the translators leave out what is Computed and unset, and fill in schema defaults.
 */
export function compareReadBack(
  address: string,
  configured: JsonObject,
  state: JsonObject,
  ignoreChanges: readonly string[] = [],
): ReadBackDiff[] {
  const out: ReadBackDiff[] = [];
  const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === "object" && !Array.isArray(v);
  const walk = (path: string, want: unknown, got: unknown) => {
    // Blocks: only the attributes the translator put in `configured`; maps and lists compare whole.
    if (isObject(want) && isObject(got) && !MAP_FIELDS.has(path.split(".").pop() ?? "")) {
      for (const k of Object.keys(want)) walk(path ? `${path}.${k}` : k, want[k], got[k]);
      return;
    }
    if (JSON.stringify(want ?? null) !== JSON.stringify(got ?? null)) {
      const top = path.split(".")[0]!;
      const ignored = ignoreChanges.includes("all")
        ? "all"
        : ignoreChanges.find((i) => i === top || path === i || path.startsWith(`${i}.`));
      out.push({ address, field: path, synthesized: want, readBack: got, ...(ignored ? { ignoredBy: `[${ignored}]` } : {}) });
    }
  };
  walk("", configured, state);
  return out;
}

// --- a deployment: the objects of one stack under one prefix ---

export interface DeployOptions {
  readonly prefix: string;
  /** Local image for a service (by address and synthesized reference). */
  readonly image: (address: string, synthesized: string) => string;
  /** Values for Terraform variables without defaults (the bot tokens). */
  readonly variables?: Record<string, string>;
}

/** Creates networks, secrets, configs and services of a synthesized stack through the Engine API. */
export class SwarmDeployment {
  private readonly created = new Map<string, CreatedObject>();
  private readonly passwords = new Map<string, string>();
  readonly networks: NetworkPlan[] = [];
  readonly secrets: SecretPlan[] = [];
  readonly services: ServicePlan[] = [];

  constructor(
    public stack: SwarmStackJson,
    readonly options: DeployOptions,
  ) {}

  get prefix(): string {
    return this.options.prefix;
  }

  /** The evaluation context; `overrides` replace random_password results (a rotated secret). */
  context(self?: Record<string, TfValue>): TranslateContext {
    return {
      stack: this.stack,
      prefix: this.prefix,
      image: this.options.image,
      self,
      randomPassword: (key) => {
        let v = this.passwords.get(key);
        if (v === undefined) {
          const r = this.stack.resource?.random_password?.[key];
          if (!r) throw new UntranslatableError(`random_password.${key}`, "is not in this stack");
          v = standInPassword(`random_password.${key}`, r);
          this.passwords.set(key, v);
        }
        return v;
      },
      variable: (name) => {
        const given = this.options.variables?.[name];
        if (given !== undefined) return given;
        const dflt = this.stack.variable?.[name]?.default;
        if (typeof dflt === "string") return dflt;
        throw new UntranslatableError(`var.${name}`, "has no default; the test must give a value");
      },
      object: (type, key, attr) => {
        const o = this.created.get(`${type}.${key}`);
        if (!o) throw new UntranslatableError(`${type}.${key}`, "is referenced before the harness created it");
        if (attr === "id") return o.id;
        if (attr === "name") return o.name;
        throw new UntranslatableError(`${type}.${key}.${attr}`, "only .id and .name are evaluated");
      },
    };
  }

  /** A new stand-in result for one random_password (what `terraform apply -replace` would give). */
  rotatePassword(key: string): string {
    this.passwords.delete(key);
    return this.context().randomPassword(key);
  }

  /** Drops an object the test removed itself from the books. */
  forget(address: string): void {
    this.created.delete(address);
    for (const list of [this.networks, this.secrets, this.services] as { address: string }[][]) {
      const i = list.findIndex((p) => p.address === address);
      if (i >= 0) list.splice(i, 1);
    }
  }

  createdObject(address: string): CreatedObject | undefined {
    return this.created.get(address);
  }

  async createNetwork(key: string): Promise<NetworkPlan> {
    const plan = translateNetwork(this.stack, key, this.context());
    const res = await engineOk<{ Id: string }>("POST", "/networks/create", plan.request);
    this.created.set(plan.address, { id: res.Id, name: plan.name });
    this.networks.push(plan);
    return plan;
  }

  async createSecret(kind: "docker_secret" | "docker_config", key: string): Promise<SecretPlan> {
    const plan = translateSecret(this.stack, kind, key, this.context());
    const res = await engineOk<{ ID: string }>("POST", kind === "docker_secret" ? "/secrets/create" : "/configs/create", plan.request);
    this.created.set(plan.address, { id: res.ID, name: plan.name });
    // A new version of the same resource (create_before_destroy) replaces the old one in the books.
    const old = this.secrets.findIndex((p) => p.address === plan.address);
    if (old >= 0) this.secrets.splice(old, 1);
    this.secrets.push(plan);
    return plan;
  }

  /** Creates the service as resourceDockerServiceCreate does (without the client-side digest lookup). */
  async createService(key: string): Promise<ServicePlan & { id: string; warnings: string[] }> {
    const plan = translateService(this.stack, key, this.context());
    const res = await engineOk<{ ID: string; Warnings?: string[] | null }>("POST", "/services/create", plan.spec, {
      "X-Registry-Auth": EMPTY_REGISTRY_AUTH,
    });
    this.created.set(plan.address, { id: res.ID, name: plan.name });
    this.services.push(plan);
    return { ...plan, id: res.ID, warnings: res.Warnings ?? [] };
  }

  /** Updates the service from the (changed) stack as resourceDockerServiceUpdate does. */
  async updateService(key: string): Promise<ServicePlan & { warnings: string[] }> {
    const plan = translateService(this.stack, key, this.context());
    const o = this.created.get(plan.address);
    if (!o) throw new Error(`${plan.address} was not created`);
    const current = await engineOk<any>("GET", `/services/${o.id}`);
    const res = await engineOk<{ Warnings?: string[] | null }>(
      "POST",
      `/services/${o.id}/update?version=${current.Version.Index}`,
      plan.spec,
      { "X-Registry-Auth": EMPTY_REGISTRY_AUTH },
    );
    const i = this.services.findIndex((s) => s.address === plan.address);
    if (i >= 0) this.services[i] = plan;
    return { ...plan, warnings: res.Warnings ?? [] };
  }

  async removeSecret(kind: "docker_secret" | "docker_config", key: string): Promise<EngineResponse> {
    const o = this.created.get(`${kind}.${key}`);
    if (!o) throw new Error(`${kind}.${key} was not created`);
    return engine("DELETE", `/${kind === "docker_secret" ? "secrets" : "configs"}/${o.id}`);
  }

  /** Everything of this stack: networks first, then secrets and configs, then services (in stack order). */
  async createAll(): Promise<void> {
    for (const [key] of resourcesOf(this.stack, "docker_network")) await this.createNetwork(key);
    for (const [key] of resourcesOf(this.stack, "docker_secret")) await this.createSecret("docker_secret", key);
    for (const [key] of resourcesOf(this.stack, "docker_config")) await this.createSecret("docker_config", key);
    for (const [key] of resourcesOf(this.stack, "docker_service")) await this.createService(key);
  }

  /** The read-back of every created object compared with the synthesized values. */
  async readBackDiffs(): Promise<{ diffs: ReadBackDiff[]; pendingNetworks: string[] }> {
    const diffs: ReadBackDiff[] = [];
    const pendingNetworks: string[] = [];
    for (const n of this.networks) {
      const o = this.created.get(n.address)!;
      const { state, pending } = flattenNetwork(await engineOk("GET", `/networks/${o.id}`));
      if (pending) pendingNetworks.push(n.address);
      diffs.push(...compareReadBack(n.address, n.configured, state, n.ignoreChanges));
    }
    for (const s of this.secrets) {
      const o = this.created.get(s.address)!;
      const got = await engineOk<any>("GET", `/${s.kind === "docker_secret" ? "secrets" : "configs"}/${o.id}`);
      // Secrets: Read sets the name only (the data is not exposed). Configs: name and data, re-encoded.
      const configured: JsonObject = { name: s.name };
      const state: JsonObject = { name: got.Spec.Name };
      if (s.kind === "docker_config") {
        configured.data = s.data;
        state.data = got.Spec.Data ?? "";
      }
      diffs.push(...compareReadBack(s.address, configured, state));
    }
    for (const p of this.services) {
      const o = this.created.get(p.address)!;
      diffs.push(...compareReadBack(p.address, p.configured, flattenService(await engineOk("GET", `/services/${o.id}`))));
    }
    return { diffs, pendingNetworks };
  }
}

// --- tasks ---

export interface TaskInfo {
  readonly id: string;
  readonly slot: number;
  readonly state: string;
  readonly desired: string;
  readonly image: string;
  readonly containerId: string;
  readonly error: string;
  readonly secretIds: readonly string[];
}

export async function serviceTasks(serviceName: string): Promise<TaskInfo[]> {
  const filters = encodeURIComponent(JSON.stringify({ service: [serviceName] }));
  const tasks = await engineOk<any[]>("GET", `/tasks?filters=${filters}`);
  return tasks.map((t) => ({
    id: t.ID,
    slot: t.Slot ?? 0,
    state: t.Status?.State ?? "",
    desired: t.DesiredState ?? "",
    image: t.Spec?.ContainerSpec?.Image ?? "",
    containerId: t.Status?.ContainerStatus?.ContainerID ?? "",
    error: t.Status?.Err ?? "",
    secretIds: ((t.Spec?.ContainerSpec?.Secrets ?? []) as any[]).map((s) => s.SecretID),
  }));
}

/** Tasks that are wanted and running (Swarm reports a task with a healthcheck as running only once healthy). */
export const runningTasks = (tasks: readonly TaskInfo[]) => tasks.filter((t) => t.desired === "running" && t.state === "running");

/** Removes every Swarm service, secret and config named <prefix>*; services first, waiting for their tasks. */
export async function removeSwarmObjectsByPrefix(prefix: string): Promise<void> {
  const named = async (kind: string) =>
    ((await engineOk<any[]>("GET", `/${kind}`)) ?? []).filter((o) => String(o.Spec?.Name ?? "").startsWith(prefix));
  const services = await named("services");
  for (const s of services) await engine("DELETE", `/services/${s.ID}`);
  // Secrets and networks can go only once the tasks' containers are gone.
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const left = (await engineOk<any[]>("GET", "/containers/json?all=true")).filter((c) =>
      String(c.Labels?.["com.docker.swarm.service.name"] ?? "").startsWith(prefix),
    );
    if (left.length === 0) break;
    await sleep(500);
  }
  for (const kind of ["secrets", "configs"]) for (const o of await named(kind)) await engine("DELETE", `/${kind}/${o.ID}`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// --- stand-in images ---

/**
 * The app stand-in: busybox httpd serving its variant ("v1", "v2" or "broken") on $PORT as the
 * service's user; /health answers 200 except in "broken"; it stops at once on SIGTERM. The synthesized healthcheck
 * (`node -e "fetch('http://127.0.0.1:<port>/health').then(...)"`) runs unchanged through a `node`
 * shim that understands exactly that one script and fetches the URL with wget.
 */
const SERVE_SCRIPT = `#!/bin/sh
set -eu
: "\${PORT:?PORT is not set}"
variant=$(cat /srv/variant)
mkdir -p /tmp/www
printf '%s\\n' "$variant" > /tmp/www/index.html
if [ "$variant" != broken ]; then printf 'ok\\n' > /tmp/www/health; fi
# Not PID 1 itself: a PID 1 without a handler ignores SIGTERM and would only stop at the grace period's SIGKILL.
httpd -f -p "$PORT" -h /tmp/www &
trap 'kill "$!"; wait "$!"; exit 0' TERM INT
wait "$!"
`;

const NODE_SHIM = `#!/bin/sh
# Stand-in for the healthcheck's \`node -e "fetch('<url>').then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))"\`.
prefix="fetch('"
suffix="').then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))"
if [ "$#" -ne 2 ] || [ "$1" != "-e" ]; then echo "node stand-in: only -e <script> is understood" >&2; exit 2; fi
case "$2" in "$prefix"*"$suffix") ;; *) echo "node stand-in: unknown script: $2" >&2; exit 2 ;; esac
url=\${2#"$prefix"}
url=\${url%"$suffix"}
case "$url" in http://127.0.0.1:*/*) ;; *) echo "node stand-in: not a loopback URL: $url" >&2; exit 2 ;; esac
exec timeout 4 wget -q -O /dev/null "$url"
`;

export type AppVariant = "v1" | "v2" | "broken";
export const appImage = (variant: AppVariant) => `updateio-test/swarm-app:${variant}`;
export const EDGE_IMAGE = "updateio-test/swarm-edge:caddy";

/** `docker build` from a context made in memory; rebuilt only when the inputs change (an ENV mark). */
async function buildImage(tag: string, files: TarEntry[], dockerfile: string): Promise<void> {
  const mark = createHash("sha256").update(dockerfile);
  for (const f of files)
    mark
      .update(f.name)
      .update(String(f.mode))
      .update(f.content ?? "");
  const digest = mark.digest("hex").slice(0, 16);
  const current = await docker(["image", "inspect", "--format", "{{json .Config.Env}}", tag]);
  if (current.code === 0 && (JSON.parse(current.stdout) as string[] | null)?.includes(`UPDATEIO_STANDIN=${digest}`)) return;
  const context = ustar([
    { name: "Dockerfile", type: "file", mode: 0o644, content: `${dockerfile}\nENV UPDATEIO_STANDIN=${digest}\n` },
    ...files,
  ]);
  await dockerOk(["build", "-q", "-t", tag, "-"], { input: context, timeoutMs: 180_000 });
}

/** Builds v1, v2 and broken on top of the busybox test image (ensureTestImage). */
export async function ensureAppImages(base: string): Promise<Record<AppVariant, string>> {
  for (const variant of ["v1", "v2", "broken"] as const) {
    await buildImage(
      appImage(variant),
      [
        { name: "ctx/serve-standin", type: "file", mode: 0o755, content: SERVE_SCRIPT },
        { name: "ctx/node", type: "file", mode: 0o755, content: NODE_SHIM },
        { name: "ctx/variant", type: "file", mode: 0o644, content: `${variant}\n` },
      ],
      `FROM ${base}\nCOPY ctx/serve-standin ctx/node /bin/\nCOPY ctx/variant /srv/variant\nCMD ["/bin/serve-standin"]`,
    );
  }
  return { v1: appImage("v1"), v2: appImage("v2"), broken: appImage("broken") };
}

/** Debian's caddy (dynamically linked: its libraries from `ldd` come along) on the busybox test image. */
export async function ensureEdgeImage(base: string, caddyPath: string): Promise<string> {
  const ldd = spawnSync("ldd", [caddyPath], { encoding: "utf8" });
  if (ldd.status !== 0) throw new Error(`ldd ${caddyPath}: ${ldd.stderr}`);
  const libs = [...ldd.stdout.matchAll(/(\/\S+)\s+\(0x/g)].map((m) => m[1]!);
  const files: TarEntry[] = [];
  const dirs = new Set<string>();
  const add = (path: string, content: Buffer | string, mode: number) => {
    const parts = path.split("/").filter(Boolean);
    for (let i = 1; i < parts.length; i++) dirs.add(`rootfs/${parts.slice(0, i).join("/")}/`);
    files.push({ name: `rootfs${path}`, type: "file", mode, content });
  };
  // /bin: the test image's PATH.
  add("/bin/caddy", readFileSync(caddyPath), 0o755);
  for (const lib of libs) add(lib, readFileSync(realpathSync(lib)), 0o755);
  // Go then resolves with its own resolver through Docker's embedded DNS.
  add("/etc/nsswitch.conf", "hosts: files dns\n", 0o644);
  const dirEntries: TarEntry[] = [...dirs].sort().map((d) => ({ name: d, type: "dir", mode: 0o755 }));
  await buildImage(EDGE_IMAGE, [{ name: "rootfs/", type: "dir", mode: 0o755 }, ...dirEntries, ...files], `FROM ${base}\nCOPY rootfs/ /`);
  return EDGE_IMAGE;
}

/** Removes networks named <prefix>*, retrying while the engine still holds endpoints of removed tasks. */
export async function removeNetworksByPrefix(prefix: string, timeoutMs = 60_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let left: any[] = [];
  do {
    left = (await engineOk<any[]>("GET", "/networks")).filter((n) => String(n.Name).startsWith(prefix));
    for (const n of left) await engine("DELETE", `/networks/${n.Id}`);
    left = (await engineOk<any[]>("GET", "/networks")).filter((n) => String(n.Name).startsWith(prefix));
    if (left.length > 0) await sleep(1000);
  } while (left.length > 0 && Date.now() < deadline);
  return left.map((n) => n.Name);
}
