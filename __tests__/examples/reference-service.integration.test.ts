/**
 * The reference service (examples/reference-service) on this machine's Node, against real servers
 * configured from the TEST stack's synthesized JSON (Postgres + PgBouncer, Redis master + replica +
 * 3 Sentinels, RabbitMQ), with each app's environment and secret files taken from the same JSON
 * (stack-settings.ts says how Terraform-time values are stood in for; servers.ts what is rewritten).
 * For every app role it proves what the stack's credentials allow and refuse, and prints the matrix.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, chmodSync, chownSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect as amqpConnect, type Channel, type ChannelModel } from "amqplib";
import { Client } from "pg";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig, type Config } from "../../examples/reference-service/src/config";
import { createRedis } from "../../examples/reference-service/src/redis";
import { MESSAGING } from "../../examples/reference-service/src/topology";
import { DEFAULT_APPS, DEFAULT_TOPOLOGY } from "../../constructs/rabbitmq/renderers/rabbitmq-definitions";
import { describeIf, requireBinary } from "../support/binaries";
import { freePorts } from "../support/helpers";
import {
  CLUSTER,
  peerAsPostgresRequirement,
  postgresRequirement,
  startClusterPrimary,
  type ClusterPrimary,
} from "../support/postgres-server";
import { synthEnvironment, type TerraformJson } from "../support/stacks";
import { Proc, RabbitNode, RedisSet, redisCli, until, writeSecret } from "./servers";
import { containerApp, rewriteHosts, swarmApp, upload, type AppSettings } from "./stack-settings";

const ENV = "test" as const;
const ROOT = resolve(__dirname, "../..");
const MAIN = join(ROOT, "examples/reference-service/src/main.ts");
const MIGRATE = join(ROOT, "examples/reference-service/src/migrate.ts");
const AS_ROOT = process.getuid?.() === 0;
const ROLES = ["api", "discord-bot", "telegram-bot", "admin-panel", "mini-app"] as const;
type Role = (typeof ROLES)[number];

interface Row {
  readonly role: string;
  readonly backend: string;
  readonly op: string;
  readonly expected: "allowed" | "refused";
  readonly observed: string;
}

describeIf(
  [
    postgresRequirement(),
    peerAsPostgresRequirement(),
    ...["pgbouncer", "redis-server", "redis-sentinel", "redis-cli", "rabbitmq-server", "rabbitmqctl", "epmd", "setpriv"].map(requireBinary),
  ],
  "reference service with the test stack's settings on real Postgres/PgBouncer, Redis Sentinel and RabbitMQ",
  () => {
    const dir = mkdtempSync(join(tmpdir(), "updateio-reference-"));
    chmodSync(dir, 0o755);
    const rows: Row[] = [];
    const figures: Record<string, number> = {};
    let json: TerraformJson;
    let primary: ClusterPrimary;
    let redis: RedisSet;
    let rabbit: RabbitNode;
    let hosts: Map<string, string>;
    const running = new Map<string, { proc: Proc; port: number; config: Config }>();
    const clients: { close(): Promise<unknown> }[] = [];

    /** The role's settings from the stack, hosts rewritten, secret files written as Swarm mounts them; PORT a free port. */
    async function settingsOf(role: string): Promise<{ env: Record<string, string>; config: Config }> {
      const app: AppSettings = role === "api-migrate" ? containerApp(json, `${ENV}-api-migrate`) : swarmApp(json, `${ENV}-${role}`);
      const secrets = join(dir, role, "secrets");
      mkdirSync(secrets, { recursive: true });
      const env: Record<string, string> = {};
      const [port] = await freePorts(1);
      for (const [k, v] of Object.entries(app.env)) {
        if (k.endsWith("_FILE")) {
          if (app.files[v] === undefined) throw new Error(`${role}: ${k}=${v} names a file the stack does not mount`);
          const path = join(secrets, v.replace(/^\/run\/secrets\//, ""));
          writeSecret(path, rewriteHosts(app.files[v]!, hosts), app.fileOwner ?? { uid: 1000, gid: 1000, mode: 0o400 });
          env[k] = path;
        } else env[k] = rewriteHosts(v, hosts);
      }
      env.PORT = String(port);
      // The test process is root: read the files as they are, without changing their owner.
      return { env, config: loadConfig(env, (p) => readFileSync(p, "utf8")) };
    }

    /** Runs the service as uid 1000 (the image's user) with only its container environment, PATH and HOME. */
    function spawnService(role: string, env: Record<string, string>, script = MAIN): Proc {
      const home = join(dir, role, "home");
      mkdirSync(home, { recursive: true });
      if (AS_ROOT) chownSync(home, 1000, 1000);
      const full = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, ...env };
      const args = ["--import", "tsx", script];
      return AS_ROOT
        ? new Proc(role, dir, "setpriv", ["--reuid=1000", "--regid=1000", "--clear-groups", "--", process.execPath, ...args], {
            env: full,
            cwd: ROOT,
          })
        : new Proc(role, dir, process.execPath, args, { env: full, cwd: ROOT });
    }

    async function startService(role: Role): Promise<number> {
      const { env, config } = await settingsOf(role);
      const proc = spawnService(role, env);
      const ms = await until(
        `${role} answers /health 200`,
        async () => {
          if (!proc.running) throw new Error(`${role} exited:\n${proc.output()}`);
          return (await fetch(`http://127.0.0.1:${config.port}/health`)).status === 200;
        },
        60_000,
        200,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n${proc.output().slice(-3000)}`);
      });
      running.set(role, { proc, port: config.port, config });
      return ms;
    }

    async function call(role: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
      const r = running.get(role);
      if (!r) throw new Error(`${role} is not running`);
      const res = await fetch(`http://127.0.0.1:${r.port}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // metrics text
      }
      return { status: res.status, json: parsed };
    }

    async function allowed(role: string, backend: string, op: string, fn: () => Promise<unknown>): Promise<void> {
      try {
        await fn();
      } catch (e) {
        rows.push({ role, backend, op, expected: "allowed", observed: `REFUSED: ${(e as Error).message}` });
        throw e;
      }
      rows.push({ role, backend, op, expected: "allowed", observed: "allowed" });
    }

    async function refused(role: string, backend: string, op: string, fn: () => Promise<unknown>, error: RegExp): Promise<void> {
      let message: string | undefined;
      try {
        await fn();
      } catch (e) {
        message = `${(e as { code?: string }).code ?? ""} ${(e as Error).message}`.trim();
      }
      rows.push({
        role,
        backend,
        op,
        expected: "refused",
        observed: message === undefined ? "ALLOWED" : `refused (${message.slice(0, 90)})`,
      });
      expect(message, `${role} ${backend} ${op}`).toMatch(error);
    }

    beforeAll(async () => {
      const synthDir = join(dir, "synth");
      json = synthEnvironment(ENV, {}, synthDir).json;
      const [pg, pool, master, replica, s1, s2, s3, amqp, mgmt, prom, dist, epmd] = await freePorts(12);
      hosts = new Map([
        ["postgres-pooler:6432", `127.0.0.1:${pool}`],
        ["postgres:5432", `127.0.0.1:${pg}`],
        ["redis:6379", `127.0.0.1:${master}`],
        ["redis-sentinel-1:26379", `127.0.0.1:${s1}`],
        ["redis-sentinel-2:26379", `127.0.0.1:${s2}`],
        ["redis-sentinel-3:26379", `127.0.0.1:${s3}`],
        ["rabbitmq:5672", `127.0.0.1:${amqp}`],
      ]);
      // RabbitMQ takes longest: start it first and wait for it last.
      mkdirSync(join(dir, "rabbitmq"));
      rabbit = new RabbitNode(join(dir, "rabbitmq"), { amqp: amqp!, management: mgmt!, prometheus: prom!, dist: dist!, epmd: epmd! });
      rabbit.configure(json, ENV);
      const rabbitUp = rabbit.start();
      rabbitUp.catch(() => {});

      redis = new RedisSet(join(dir, "redis"), { master: master!, replica: replica!, sentinels: [s1!, s2!, s3!] });
      mkdirSync(join(dir, "redis"));
      await redis.start(json, ENV);

      // Postgres as the cluster sets it up (support helper: initdb like the image, our pg_hba and roles
      // SQL), then PgBouncer with the stack's ini and userlist.
      primary = await startClusterPrimary(pg!, 1);
      const ini = upload(json, `${ENV}-postgres-pooler-seed`, "/etc/pgbouncer/pgbouncer.ini");
      const userlist = primary.server.writeFile(
        "pgbouncer_userlist",
        upload(json, `${ENV}-postgres-pooler-seed`, "/run/secrets/pgbouncer_userlist"),
      );
      const iniFile = primary.server.writeFile(
        "pgbouncer.ini",
        ini
          .replace("host=postgres port=5432", `host=127.0.0.1 port=${pg}`)
          .replace(/^listen_addr = \*$/m, "listen_addr = 127.0.0.1")
          .replace(/^listen_port = 6432$/m, `listen_port = ${pool}`)
          .replace(/^auth_file = .*$/m, `auth_file = ${userlist}`),
      );
      const child = primary.server.spawnAsUser("pgbouncer", [iniFile], {}, "pgbouncer.log");
      await until("PgBouncer accepts the app role", async () => {
        if (child.exitCode !== null) throw new Error(primary.server.log("pgbouncer.log"));
        const c = new Client({
          host: "127.0.0.1",
          port: pool,
          user: CLUSTER.app.user,
          password: CLUSTER.app.password,
          database: CLUSTER.database,
        });
        await c.connect();
        await c.end();
        return true;
      });

      await until(
        "every Sentinel sees the replica and two other Sentinels",
        () =>
          [s1!, s2!, s3!].every((p) => {
            const lines = redisCli(p, ["--user", "sentinel-peer", "--pass", sentinelPeerPassword(), "sentinel", "master", "redis"])
              .split("\n")
              .map((l) => l.trim());
            const value = (k: string) => lines[lines.indexOf(k) + 1];
            return value("num-slaves") === "1" && value("num-other-sentinels") === "2";
          }),
        30_000,
        200,
      );
      figures.rabbitStartMs = await rabbitUp;
    }, 240_000);

    function sentinelPeerPassword(): string {
      const conf = upload(json, `${ENV}-redis-sentinel-1-seed`, "/run/secrets/sentinel_conf");
      return /^sentinel sentinel-pass (\S+)$/m.exec(conf)![1]!;
    }

    afterAll(async () => {
      for (const c of clients) await c.close().catch(() => {});
      for (const { proc } of running.values()) await proc.stop("SIGKILL");
      await redis?.stopAll();
      await rabbit?.stop();
      rabbit?.killEpmd();
      primary?.server.stop();
      rmSync(dir, { recursive: true, force: true });
      const pad = (s: string, n: number) => s.padEnd(n);
      console.info(
        [
          `[reference-service] roles × operations (${rows.length}; allowed as expected ${rows.filter((r) => r.expected === "allowed" && r.observed === "allowed").length}, refused as expected ${rows.filter((r) => r.expected === "refused" && r.observed.startsWith("refused")).length})`,
          ...rows.map(
            (r) => `  ${pad(r.role, 13)} ${pad(r.backend, 9)} ${pad(r.op, 58)} expected ${pad(r.expected, 8)} observed ${r.observed}`,
          ),
          `[reference-service] figures: ${JSON.stringify(figures)}`,
        ].join("\n"),
      );
    }, 120_000);

    it("the stack gives each app role these settings, and the reference service accepts exactly them", async () => {
      const names = (role: Role) => Object.keys(swarmApp(json, `${ENV}-${role}`).env).sort();
      const redisVars = [
        "REDIS_HOST",
        "REDIS_PASSWORD_FILE",
        "REDIS_PORT",
        "REDIS_SENTINELS",
        "REDIS_SENTINEL_MASTER",
        "REDIS_SENTINEL_PASSWORD_FILE",
        "REDIS_SENTINEL_USER",
        "REDIS_URL_FILE",
        "REDIS_USER",
      ];
      const amqpVars = ["AMQP_HOST", "AMQP_PASSWORD_FILE", "AMQP_PORT", "AMQP_URL_FILE", "AMQP_USER", "AMQP_VHOST"];
      expect(names("api")).toEqual(
        expect.arrayContaining(["DATABASE_URL_FILE", "DATABASE_DIRECT_URL_FILE", ...redisVars, ...amqpVars, "SESSION_SECRET_FILE"]),
      );
      for (const bot of ["discord-bot", "telegram-bot"] as const) {
        expect(names(bot)).toEqual(expect.arrayContaining([...redisVars, ...amqpVars]));
        expect(names(bot).filter((n) => n.startsWith("DATABASE_"))).toEqual([]);
      }
      for (const web of ["admin-panel", "mini-app"] as const)
        expect(names(web).filter((n) => /^(DATABASE|REDIS|AMQP)_/.test(n))).toEqual([]);
      for (const role of ROLES) {
        const { config } = await settingsOf(role);
        expect(config.service).toBe(role);
        expect(config.redis?.kind, role).toBe(["api", "discord-bot", "telegram-bot"].includes(role) ? "sentinel" : undefined);
        expect(Boolean(config.postgres), role).toBe(role === "api");
        expect(Boolean(config.amqp), role).toBe(["api", "discord-bot", "telegram-bot"].includes(role));
      }
      // Users and names the servers were configured with are the ones the apps receive.
      expect(swarmApp(json, `${ENV}-api`).env.DATABASE_USER).toBe(CLUSTER.app.user);
      expect(containerApp(json, `${ENV}-api-migrate`).env.DATABASE_USER).toBe(CLUSTER.owner.user);
    });

    it("the reference service's topology table is the broker's: own queue, exchanges it may write", () => {
      for (const app of DEFAULT_APPS) {
        const m = MESSAGING[app.name]!;
        expect([m.consumes], app.name).toEqual(app.consumes);
        for (const r of Object.values(m.routes)) {
          expect(app.publishes, `${app.name} ${r.exchange}`).toContain(r.exchange);
          // Each route reaches a queue through a binding of the topology (topic # = any suffix).
          const bound = DEFAULT_TOPOLOGY.queues.some((q) =>
            q.bindings.some(
              (b) =>
                b.exchange === r.exchange &&
                new RegExp(`^${b.routingKey.replace(/\./g, "\\.").replace(/\\\.#$/, "(\\..*)?")}$`).test(r.routingKey),
            ),
          );
          expect(bound, `${app.name} ${r.exchange} ${r.routingKey}`).toBe(true);
        }
      }
    });

    it("api-migrate (schema owner, direct to the primary) runs the migration: DDL allowed", async () => {
      const { env } = await settingsOf("api-migrate");
      await allowed("api-migrate", "postgres", "CREATE TABLE (npm run migrate)", async () => {
        const proc = spawnService("api-migrate", env, MIGRATE);
        const code = await new Promise<number | null>((r) => proc.child.once("exit", (c) => r(c)));
        if (code !== 0) throw new Error(`migrate exited ${code}:\n${proc.output()}`);
        expect(proc.output()).toMatch(/"msg":"migrations applied"/);
      });
      expect(
        primary.server.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'reference_notes'", { database: CLUSTER.database }).trim(),
      ).toBe(CLUSTER.owner.user);
    });

    it("every app role starts with its own settings and answers /health and /metrics", async () => {
      // telegram-bot starts later, after its queue has held a message across a broker restart.
      for (const role of ROLES.filter((r) => r !== "telegram-bot")) {
        figures[`${role}StartMs`] = await startService(role);
        const h = await call(role, "GET", "/health");
        expect(h.status, role).toBe(200);
        expect(Object.keys(h.json.checks).sort(), role).toEqual(
          role === "api" ? ["postgres", "rabbitmq", "redis"] : role.endsWith("-bot") ? ["rabbitmq", "redis"] : [],
        );
        const m = await call(role, "GET", "/metrics");
        expect(m.json, role).toMatch(
          new RegExp(`^http_requests_total\\{method="GET",route="/health",status="200",service="${role}"\\} [1-9]\\d*$`, "m"),
        );
        expect(m.json, role).toMatch(/^process_cpu_user_seconds_total\{/m);
      }
      // The stack gives admin-panel and mini-app no data-tier settings: nothing to log in with.
      for (const role of ["admin-panel", "mini-app"] as const)
        await refused(
          role,
          "none",
          "use Postgres (POST /notes): no DATABASE_* settings given",
          async () => {
            const r = await call(role, "POST", "/notes", { text: "x" });
            if (r.status === 404) throw new Error(r.json.error);
          },
          /this service has no database/,
        );
      // JSON logs: every line of the api's stdout is one JSON object.
      for (const line of running.get("api")!.proc.output().trim().split("\n")) expect(() => JSON.parse(line), line).not.toThrow();
      expect(running.get("api")!.proc.output()).toMatch(
        /"settingsFromFiles":\["AMQP_PASSWORD","AMQP_URL","DATABASE_DIRECT_URL","DATABASE_PASSWORD","DATABASE_URL","ENCRYPTION_KEY","REDIS_PASSWORD","REDIS_SENTINEL_PASSWORD","REDIS_URL","SESSION_SECRET"\]/,
      );
    }, 240_000);

    const PG_DENIED = /42501|permission denied|must be owner/;
    const REDIS_NOPERM = /NOPERM/;
    const AMQP_REFUSED = /ACCESS_REFUSED|403/;

    it("api (app role through PgBouncer): reads and writes rows; every kind of DDL is refused", async () => {
      let id = "";
      await allowed("api", "postgres", "INSERT row (POST /notes, via PgBouncer)", async () => {
        const r = await call("api", "POST", "/notes", { text: "hello from the api" });
        expect(r.status, JSON.stringify(r.json)).toBe(201);
        id = r.json.id;
      });
      await allowed("api", "postgres", "SELECT row (GET /notes/:id)", async () => {
        const r = await call("api", "GET", `/notes/${id}`);
        expect(r.json).toMatchObject({ id, service: "api", body: "hello from the api" });
      });
      const config = running.get("api")!.config;
      const direct = new Client({ connectionString: config.postgres!.url });
      await direct.connect();
      clients.push({ close: () => direct.end() });
      expect((await direct.query("SELECT current_user AS u, inet_server_port() AS p")).rows[0]).toEqual({
        u: CLUSTER.app.user,
        p: primary.server.port,
      });
      await allowed("api", "postgres", "UPDATE + DELETE row", async () => {
        await direct.query("UPDATE reference_notes SET body = 'edited' WHERE id = $1", [id]);
        await direct.query("DELETE FROM reference_notes WHERE id = $1", [id]);
      });
      for (const [op, sql] of [
        ["CREATE TABLE", "CREATE TABLE sneaky (id int)"],
        ["ALTER TABLE (add column)", "ALTER TABLE reference_notes ADD COLUMN x int"],
        ["DROP TABLE", "DROP TABLE reference_notes"],
        ["TRUNCATE", "TRUNCATE reference_notes"],
        ["CREATE SCHEMA", "CREATE SCHEMA sneaky"],
        ["CREATE ROLE", "CREATE ROLE sneaky LOGIN"],
        ["CREATE FUNCTION in public", "CREATE FUNCTION sneaky() RETURNS int LANGUAGE sql AS 'SELECT 1'"],
      ] as const)
        await refused("api", "postgres", op, () => direct.query(sql), PG_DENIED);
      // The session-capable URL (DATABASE_DIRECT_URL_FILE) goes straight to the primary: same role, same refusals.
      const url = new URL(config.files.DATABASE_DIRECT_URL!);
      url.search = "";
      const session = new Client({ connectionString: url.toString() });
      await session.connect();
      clients.push({ close: () => session.end() });
      await allowed("api", "postgres", "SELECT on DATABASE_DIRECT_URL (primary, no pooler)", async () => {
        expect((await session.query("SELECT current_user AS u, count(*)::int AS n FROM reference_notes")).rows[0].u).toBe(CLUSTER.app.user);
      });
      await refused(
        "api",
        "postgres",
        "CREATE TABLE on DATABASE_DIRECT_URL",
        () => session.query("CREATE TABLE sneaky2 (id int)"),
        PG_DENIED,
      );
    });

    /** A Redis client built exactly as the service builds it (Sentinel discovery, its user and password). */
    async function redisAs(role: string): Promise<Redis> {
      const client = createRedis(running.get(role)!.config.redis!);
      // It outlives the failover below; its reconnect errors are expected there.
      client.on("error", () => {});
      await client.connect();
      clients.push({ close: () => client.quit() });
      return client;
    }

    it("each role with Redis (through Sentinel): keys with TTL allowed; admin commands refused; keys are shared", async () => {
      for (const role of ["api", "discord-bot"] as const) {
        await allowed(role, "redis", "INCR + EXPIRE NX + TTL (POST /rate/:name)", async () => {
          const r = await call(role, "POST", "/rate/login");
          expect(r.json).toEqual({ count: 1, ttl: 60 });
        });
        const client = await redisAs(role);
        for (const [op, args] of [
          ["CONFIG GET", ["config", "get", "maxmemory"]],
          ["FLUSHALL", ["flushall"]],
          ["FLUSHDB", ["flushdb"]],
          ["SHUTDOWN", ["shutdown", "nosave"]],
          ["ACL LIST", ["acl", "list"]],
          ["REPLICAOF NO ONE", ["replicaof", "no", "one"]],
          ["MONITOR", ["monitor"]],
        ] as const)
          await refused(role, "redis", op, () => client.call(args[0], ...args.slice(1)), REDIS_NOPERM);
        // enable-debug-command no answers before the ACL (which also has -debug).
        await refused(role, "redis", "DEBUG", () => client.call("debug", "sleep", "0"), /NOPERM|DEBUG command not allowed/);
      }
      await allowed("api", "redis", "SET session with TTL (POST /sessions)", async () => {
        const r = await call("api", "POST", "/sessions", { user: "alice" });
        expect(r.status).toBe(201);
        const back = await call("api", "GET", `/sessions/${r.json.token}`);
        expect(back.json.user).toBe("alice");
        expect(back.json.ttl).toBeGreaterThan(3500);
      });
      // Each app logs in as its own ACL user (REDIS_USER from the stack), with its own password only.
      const redisUser = (role: Role) => swarmApp(json, `${ENV}-${role}`).env.REDIS_USER;
      for (const role of ["api", "discord-bot", "telegram-bot"] as const) {
        expect(redisUser(role), role).toBe(role);
        if (role !== "telegram-bot") expect(await (await redisAs(role)).call("acl", "whoami"), role).toBe(role);
      }
      const passwordOf = (role: Role) => {
        const c = running.get(role)!.config.redis!;
        if (c.kind !== "sentinel") throw new Error(`${role} has no Sentinel settings`);
        return c.password;
      };
      const [apiPassword, botPassword] = [passwordOf("api"), passwordOf("discord-bot")];
      expect(apiPassword).not.toBe(botPassword);
      const masterCli = (args: string[]) => redisCli(redis.ports.master, args).trim();
      // AUTH on the master; any reply but OK is the refusal.
      const auth = (user: string, password: string) => async () => {
        const reply = masterCli(["auth", user, password]);
        if (reply !== "OK") throw new Error(reply);
      };
      await refused("discord-bot", "redis", "AUTH as api with discord-bot's password", auth("api", botPassword), /WRONGPASS/);
      await refused("api", "redis", "AUTH as the old shared user updateio", auth("updateio", apiPassword), /WRONGPASS/);
      // The key space is shared on purpose (sessions, rate limits): one app reads another's keys.
      const bot = await redisAs("discord-bot");
      await allowed("discord-bot", "redis", "KEYS * / GET another app's key (own user, shared ~*)", async () => {
        expect(await bot.keys("ratelimit:api:*")).toEqual(["ratelimit:api:login"]);
        expect(await bot.get("ratelimit:api:login")).toBe("1");
      });
      // The Sentinel client user may discover the master, not steer Sentinel.
      const cfg = running.get("api")!.config.redis!;
      if (cfg.kind !== "sentinel") throw new Error("api has no Sentinel settings");
      const s = cfg.sentinels[0]!;
      const sentinel = ["-h", s.host, "--user", cfg.sentinelUser, "--pass", cfg.sentinelPassword];
      const sentinelCli = (args: string[]) => redisCli(s.port, [...sentinel, ...args]);
      await allowed("api", "sentinel", "SENTINEL GET-MASTER-ADDR-BY-NAME", async () => {
        expect(sentinelCli(["sentinel", "get-master-addr-by-name", cfg.masterName]).trim().split("\n")[1]).toBe(String(redis.ports.master));
      });
      const steering: [string, string[]][] = [
        ["SENTINEL FAILOVER", ["sentinel", "failover", cfg.masterName]],
        ["SENTINEL SET quorum", ["sentinel", "set", cfg.masterName, "quorum", "1"]],
        ["SENTINEL REMOVE", ["sentinel", "remove", cfg.masterName]],
      ];
      for (const [op, args] of steering)
        await refused(
          "api",
          "sentinel",
          op,
          async () => {
            const out = sentinelCli(args);
            if (/NOPERM/.test(out)) throw new Error(out.trim());
          },
          REDIS_NOPERM,
        );
    });

    /** An AMQP connection as the role (its AMQP_URL_FILE); one channel per attempt, since a refusal closes it. */
    async function amqpAs(role: string): Promise<ChannelModel> {
      const conn = await amqpConnect(running.get(role)?.config.amqp?.url ?? (await settingsOf(role)).config.amqp!.url);
      conn.on("error", () => {});
      clients.push({ close: () => conn.close() });
      return conn;
    }
    async function onChannel(conn: ChannelModel, fn: (ch: Channel) => Promise<unknown>): Promise<void> {
      const ch = await conn.createConfirmChannel();
      const closed = new Promise<never>((_, reject) => ch.on("error", (e: Error) => reject(e)));
      closed.catch(() => {});
      await Promise.race([fn(ch).then(() => ch.waitForConfirms()), closed]);
      await ch.close().catch(() => {});
    }
    const publishTo = (exchange: string, key: string) => async (ch: Channel) =>
      ch.publish(exchange, key, Buffer.from("x"), { persistent: true });
    /** The broker closes the channel of `role`'s connection `conn` when it tries `op`. */
    const amqpRefused = (role: Role, conn: ChannelModel, op: string, fn: (ch: Channel) => Promise<unknown>) =>
      refused(role, "rabbitmq", op, () => onChannel(conn, fn), AMQP_REFUSED);

    it("RabbitMQ: each role publishes persistent messages on its routes and consumes its own queue only", async () => {
      const received = async (role: string, id: string) =>
        until(
          `${role} consumed ${id}`,
          async () => (await call(role, "GET", "/messages/received")).json.messages.some((m: { id: string }) => m.id === id),
          15_000,
        );
      await allowed("api", "rabbitmq", "publish updateio.commands → consume own updates.fetch", async () => {
        const r = await call("api", "POST", "/messages", { route: "updates.fetch", text: "fetch 1" });
        expect(r.status, JSON.stringify(r.json)).toBe(202);
        await received("api", r.json.id);
      });
      await allowed("api", "rabbitmq", "publish updateio.events → discord-bot consumes notifications.discord", async () => {
        const r = await call("api", "POST", "/messages", { route: "notification.discord", text: "hi discord" });
        await received("discord-bot", r.json.id);
      });
      await allowed("discord-bot", "rabbitmq", "publish updateio.commands → api consumes updates.fetch", async () => {
        const r = await call("discord-bot", "POST", "/messages", { route: "updates.fetch", text: "fetch 2" });
        await received("api", r.json.id);
      });
      expect((await call("discord-bot", "POST", "/messages", { route: "notification.all", text: "x" })).status).toBe(400);

      const bot = await amqpAs("discord-bot");
      await amqpRefused("discord-bot", bot, "consume api's queue updates.fetch", (ch) => ch.consume("updates.fetch", () => {}));
      await amqpRefused("discord-bot", bot, "consume telegram-bot's queue notifications.telegram", (ch) =>
        ch.get("notifications.telegram"),
      );
      await amqpRefused("discord-bot", bot, "purge notifications.telegram", (ch) => ch.purgeQueue("notifications.telegram"));
      await amqpRefused(
        "discord-bot",
        bot,
        "publish to updateio.events (not its exchange)",
        publishTo("updateio.events", "notification.all.x"),
      );
      await amqpRefused(
        "discord-bot",
        bot,
        "publish to the default exchange (straight to a queue)",
        publishTo("", "notifications.telegram"),
      );
      await amqpRefused("discord-bot", bot, "declare an exchange", (ch) => ch.assertExchange("sneaky", "fanout"));
      const api = await amqpAs("api");
      await amqpRefused("api", api, "consume discord-bot's queue notifications.discord", (ch) =>
        ch.consume("notifications.discord", () => {}),
      );
      await amqpRefused("api", api, "declare a new queue", (ch) => ch.assertQueue("sneaky"));
      await amqpRefused("api", api, "delete a dead-letter queue updates.fetch.dlq", (ch) => ch.deleteQueue("updates.fetch.dlq"));
      const tg = await amqpAs("telegram-bot");
      await amqpRefused("telegram-bot", tg, "consume discord-bot's queue notifications.discord", (ch) => ch.get("notifications.discord"));
      await amqpRefused("telegram-bot", tg, "publish to updateio.events", publishTo("updateio.events", "notification.telegram.x"));
      // Wrong password: the broker refuses the login.
      const url = new URL(running.get("api")!.config.amqp!.url);
      url.password = "wrong";
      await refused(
        "api",
        "rabbitmq",
        "log in with a wrong password",
        () => amqpConnect(url.toString()).then((c) => c.close()),
        AMQP_REFUSED,
      );
    });

    it("a persistent message waits in telegram-bot's quorum queue across a broker restart; services reconnect by themselves", async () => {
      const sent = await call("api", "POST", "/messages", { route: "notification.telegram", text: "survives a restart" });
      expect(sent.status).toBe(202);
      // Nobody consumes notifications.telegram yet: the message waits in the queue, on disk.
      const vhost = running.get("api")!.config.files.AMQP_URL!.split("/").pop()!;
      const depth = () =>
        rabbit
          .ctl(["-q", "--no-table-headers", "list_queues", "-p", vhost, "name", "messages"])
          .out.match(/^notifications\.telegram\s+(\d+)$/m)?.[1];
      await until("notifications.telegram holds the message", () => depth() === "1", 10_000, 250);
      for (const c of clients.splice(0)) await c.close().catch(() => {});
      const down = Date.now();
      await rabbit.stop();
      figures.rabbitRestartMs = await rabbit.start();
      // The api's and discord-bot's connections come back without a restart (amqplib recovery).
      await until(
        "api reports rabbitmq healthy again",
        async () => (await call("api", "GET", "/health")).json.checks.rabbitmq === true,
        60_000,
        250,
      );
      // From stopping the broker (about 20 s of it a restart) to the api's consumer and publisher working again.
      figures.apiAmqpRecoveredMs = Date.now() - down;
      await until(
        "discord-bot reports rabbitmq healthy again",
        async () => (await call("discord-bot", "GET", "/health")).status === 200,
        60_000,
        250,
      );
      // Queue statistics lag a moment behind a restarted quorum queue; wait for them rather than read them once.
      await until("after the restart, before any consumer, notifications.telegram still holds it", () => depth() === "1", 20_000, 250);
      figures["telegram-botStartMs"] = await startService("telegram-bot");
      await allowed("telegram-bot", "rabbitmq", "consume own notifications.telegram (message from before a broker restart)", async () => {
        await until(
          "telegram-bot consumed the message sent before the restart",
          async () =>
            (await call("telegram-bot", "GET", "/messages/received")).json.messages.some(
              (m: { id: string; body: string }) => m.id === sent.json.id && m.body === "survives a restart",
            ),
          20_000,
        );
      });
      await allowed("telegram-bot", "redis", "INCR + EXPIRE NX + TTL (POST /rate/:name)", async () => {
        expect((await call("telegram-bot", "POST", "/rate/updates")).json).toEqual({ count: 1, ttl: 60 });
      });
      const tgRedis = await redisAs("telegram-bot");
      await refused("telegram-bot", "redis", "FLUSHALL", () => tgRedis.call("flushall"), REDIS_NOPERM);
      await refused("telegram-bot", "redis", "CONFIG SET", () => tgRedis.call("config", "set", "maxmemory", "1mb"), REDIS_NOPERM);
      await allowed("api", "rabbitmq", "publish + consume own queue after the broker restart", async () => {
        const r = await call("api", "POST", "/messages", { route: "updates.fetch", text: "after restart" });
        expect(r.status).toBe(202);
        await until(
          "api consumed it",
          async () => (await call("api", "GET", "/messages/received")).json.messages.some((m: { id: string }) => m.id === r.json.id),
          15_000,
        );
      });
    }, 240_000);

    it("the api follows a Sentinel failover: writes go to the promoted replica, sessions survive", async () => {
      const before = await call("api", "POST", "/sessions", { user: "bob" });
      expect(before.status).toBe(201);
      const token = before.json.token as string;
      // The api's own user and password, as the stack hands them to it.
      const auth = ["--user", swarmApp(json, `${ENV}-api`).env.REDIS_USER!, "--pass", running.get("api")!.config.files.REDIS_PASSWORD!];
      await until(
        "the session reached the replica",
        () => redisCli(redis.ports.replica, [...auth, "exists", `session:${token.split(".")[0]}`]).trim() === "1",
        5_000,
      );
      const killed = Date.now();
      await redis.procs.get("master")!.stop("SIGKILL");
      figures.sentinelPromotedMs = await until(
        "the replica is promoted",
        () => redisCli(redis.ports.replica, [...auth, "role"]).startsWith("master"),
        60_000,
        100,
      );
      let after: { status: number; json: any } = { status: 0, json: {} };
      await allowed("api", "redis", "write after the master died (Sentinel failover followed)", async () => {
        await until(
          "the api writes a session again",
          async () => (after = await call("api", "POST", "/sessions", { user: "carol" })).status === 201,
          60_000,
          250,
        );
      });
      figures.apiWritesAgainAfterMs = Date.now() - killed;
      expect(redisCli(redis.ports.replica, [...auth, "exists", `session:${(after.json.token as string).split(".")[0]}`]).trim()).toBe("1");
      expect((await call("api", "GET", `/sessions/${token}`)).json.user).toBe("bob");
      sessionToken = token;
    }, 120_000);

    let sessionToken = "";
    it("the api stops on SIGTERM within seconds and keeps sessions across a restart", async () => {
      const api = running.get("api")!;
      const stopped = await api.proc.stop("SIGTERM");
      figures.apiSigtermExitMs = stopped.ms;
      expect(stopped.code).toBe(0);
      expect(stopped.ms).toBeLessThan(30_000);
      expect(api.proc.output()).toMatch(/"msg":"stopped"/);
      running.delete("api");
      figures.apiRestartMs = await startService("api");
      await allowed("api", "redis", "read a session after an api restart", async () => {
        const r = await call("api", "GET", `/sessions/${sessionToken}`);
        expect(r.status).toBe(200);
        expect(r.json.user).toBe("bob");
      });
      const tampered = sessionToken.slice(0, -2) + (sessionToken.endsWith("AA") ? "BB" : "AA");
      expect((await call("api", "GET", `/sessions/${tampered}`)).status).toBe(401);
    }, 120_000);
  },
);
