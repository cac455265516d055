import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Pool } from "pg";
import type { Redis } from "ioredis";
import { RouteError, type Broker } from "./amqp";
import type { Config } from "./config";
import type { Logger } from "./log";
import type { Metrics } from "./metrics";
import { addNote, getNote } from "./postgres";
import { RATE_WINDOW_SECONDS, SESSION_TTL_SECONDS } from "./redis";

export interface Backends {
  readonly pool?: Pool;
  readonly redis?: Redis;
  readonly broker?: Broker;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY = 16 * 1024;
const NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;
const USER = /^[A-Za-z0-9_.@-]{1,64}$/;

/** The HTTP API: /health, /metrics and small endpoints that exercise each backing service. */
export function createHttpServer(config: Config, backends: Backends, metrics: Metrics, log: Logger): Server {
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new HttpError(404, `this service has no ${what}`);
    return value;
  };
  const sign = (id: string) => createHmac("sha256", need(config.sessionSecret, "SESSION_SECRET_FILE")).update(id).digest("base64url");

  async function route(req: IncomingMessage, path: string): Promise<[number, unknown, string]> {
    const m = req.method ?? "GET";
    if (m === "GET" && path === "/health") {
      const checks = await health(backends);
      for (const [backend, ok] of Object.entries(checks)) metrics.backendUp.set({ backend }, ok ? 1 : 0);
      return [
        Object.values(checks).every(Boolean) ? 200 : 503,
        { status: Object.values(checks).every(Boolean) ? "ok" : "degraded", checks },
        "/health",
      ];
    }
    if (m === "GET" && path === "/metrics") return [200, await metrics.registry.metrics(), "/metrics"];
    if (m === "POST" && path === "/notes") {
      const body = await json(req);
      if (typeof body.text !== "string" || body.text.length === 0 || body.text.length > 1000)
        throw new HttpError(400, "text: 1 to 1000 characters");
      return [201, await addNote(need(backends.pool, "database"), config.service, body.text), "/notes"];
    }
    let p = /^\/notes\/(\d{1,18})$/.exec(path);
    if (m === "GET" && p) {
      const note = await getNote(need(backends.pool, "database"), p[1]!);
      if (!note) throw new HttpError(404, "no such note");
      return [200, note, "/notes/:id"];
    }
    if (m === "POST" && path === "/sessions") {
      const body = await json(req);
      if (typeof body.user !== "string" || !USER.test(body.user)) throw new HttpError(400, "user: 1 to 64 of A-Z a-z 0-9 _ . @ -");
      const redis = need(backends.redis, "redis");
      const id = randomBytes(18).toString("base64url");
      const token = `${id}.${sign(id)}`;
      await redis.set(`session:${id}`, JSON.stringify({ user: body.user, at: Date.now() }), "EX", SESSION_TTL_SECONDS);
      return [201, { token, ttl: SESSION_TTL_SECONDS }, "/sessions"];
    }
    p = /^\/sessions\/([A-Za-z0-9_-]{24})\.([A-Za-z0-9_-]{43})$/.exec(path);
    if (m === "GET" && p) {
      const expected = Buffer.from(sign(p[1]!));
      if (!timingSafeEqual(expected, Buffer.from(p[2]!))) throw new HttpError(401, "bad session token");
      const redis = need(backends.redis, "redis");
      const [value, ttl] = await Promise.all([redis.get(`session:${p[1]}`), redis.ttl(`session:${p[1]}`)]);
      if (value === null) throw new HttpError(404, "session expired or unknown");
      return [200, { ...(JSON.parse(value) as object), ttl }, "/sessions/:token"];
    }
    p = /^\/rate\/([^/]+)$/.exec(path);
    if (m === "POST" && p) {
      if (!NAME.test(p[1]!)) throw new HttpError(400, "name: lowercase letters, digits and dashes");
      const key = `ratelimit:${config.service}:${p[1]}`;
      const redis = need(backends.redis, "redis");
      const [[, count], , [, ttl]] = (await redis.multi().incr(key).expire(key, RATE_WINDOW_SECONDS, "NX").ttl(key).exec()) as [
        unknown,
        unknown,
      ][];
      return [200, { count, ttl }, "/rate/:name"];
    }
    if (m === "POST" && path === "/messages") {
      const body = await json(req);
      if (typeof body.route !== "string" || typeof body.text !== "string" || body.text.length > 4000)
        throw new HttpError(400, "route and text (≤ 4000 characters) are required");
      try {
        return [202, await need(backends.broker, "broker").publish(body.route, body.text), "/messages"];
      } catch (e) {
        if (e instanceof RouteError) throw new HttpError(400, e.message);
        throw e;
      }
    }
    if (m === "GET" && path === "/messages/received")
      return [200, { messages: need(backends.broker, "broker").received }, "/messages/received"];
    throw new HttpError(404, "not found");
  }

  return createServer((req, res) => {
    const started = process.hrtime.bigint();
    const path = (req.url ?? "/").split("?")[0]!;
    route(req, path)
      .then(
        ([status, body, name]) => reply(res, status, body, name),
        (e: unknown) => {
          if (e instanceof HttpError) return reply(res, e.status, { error: e.message }, "error");
          log.error("request failed", { method: req.method, path, error: (e as Error).message });
          return reply(res, 503, { error: "a backing service failed; see the service's log" }, "error");
        },
      )
      .finally(() =>
        metrics.duration.observe({ route: res.getHeader("x-route") as string }, Number(process.hrtime.bigint() - started) / 1e9),
      );
  });

  function reply(res: ServerResponse, status: number, body: unknown, name: string): void {
    metrics.requests.inc({ method: res.req.method ?? "GET", route: name, status: String(status) });
    res.setHeader("x-route", name);
    if (typeof body === "string") {
      res.writeHead(status, { "content-type": metrics.registry.contentType }).end(body);
      return;
    }
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  }
}

async function health(b: Backends): Promise<Record<string, boolean>> {
  const checks: Record<string, Promise<boolean>> = {};
  const ok = (p: Promise<unknown>) =>
    p.then(
      () => true,
      () => false,
    );
  if (b.pool) checks.postgres = ok(b.pool.query("SELECT 1"));
  if (b.redis) checks.redis = ok(b.redis.ping());
  if (b.broker) checks.rabbitmq = Promise.resolve(b.broker.ready);
  const names = Object.keys(checks);
  const results = await Promise.all(Object.values(checks));
  return Object.fromEntries(names.map((n, i) => [n, results[i]!]));
}

async function json(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!(req.headers["content-type"] ?? "").startsWith("application/json")) throw new HttpError(415, "send application/json");
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, "body too large");
    chunks.push(chunk as Buffer);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
    return value as Record<string, unknown>;
  } catch {
    throw new HttpError(400, "the body must be a JSON object");
  }
}
