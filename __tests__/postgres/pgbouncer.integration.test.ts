import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderPgBouncerIni, renderPgBouncerUserlist } from "../../constructs/postgres/renderers/pgbouncer";
import { describeIf, requireBinary } from "../support/binaries";
import {
  CLUSTER,
  peerAsPostgresRequirement,
  postgresRequirement,
  sleep,
  startClusterPrimary,
  type ClusterPrimary,
} from "../support/postgres-server";
import { freePorts } from "../support/helpers";

const POOL_SIZE = 20; // the PostgresCluster's default poolSize
// Ports the kernel picks at start: test files run in parallel.
let PORT = 0;

describe("renderPgBouncerIni / renderPgBouncerUserlist", () => {
  const input = {
    database: "updateio",
    serverHost: "postgres",
    serverPort: 5432,
    listenAddr: "*",
    listenPort: 6432,
    authFile: "/run/secrets/pgbouncer_userlist",
    poolSize: 20,
    maxClientConnections: 500,
  };
  const ini = renderPgBouncerIni(input);

  it("pools by transaction with SCRAM and the auth file, one database mapped to the primary", () => {
    expect(ini).toContain("[databases]\nupdateio = host=postgres port=5432 dbname=updateio\n");
    for (const line of [
      "pool_mode = transaction",
      "auth_type = scram-sha-256",
      "auth_file = /run/secrets/pgbouncer_userlist",
      "default_pool_size = 20",
      "max_db_connections = 20",
      "max_client_conn = 500",
      "listen_port = 6432",
      "unix_socket_dir = ",
    ]) {
      expect(ini.split("\n")).toContain(line);
    }
    expect(ini).not.toMatch(/admin_users|auth_type = (md5|plain|trust)/);
  });

  it("rejects bad input, naming the field", () => {
    expect(() => renderPgBouncerIni({ ...input, database: "Up-Date" })).toThrow(/database "Up-Date"/);
    expect(() => renderPgBouncerIni({ ...input, poolSize: 0 })).toThrow(/poolSize 0/);
    expect(() => renderPgBouncerIni({ ...input, maxClientConnections: 5 })).toThrow(/maxClientConnections 5/);
    expect(() => renderPgBouncerIni({ ...input, authFile: "relative" })).toThrow(/authFile/);
    expect(() => renderPgBouncerUserlist([])).toThrow(/no users/);
    expect(() => renderPgBouncerUserlist([{ name: "app", password: "a\nb" }])).toThrow(/one non-empty line/);
  });

  it("writes one quoted line per user, doubling quotes", () => {
    expect(renderPgBouncerUserlist([{ name: "updateio_app", password: 'pa"ss' }])).toBe('"updateio_app" "pa""ss"\n');
  });
});

// PgBouncer from Debian with the ini and auth file as rendered (paths, address and ports
// rewritten), in front of a primary set up as the PostgresCluster sets it up (pg_hba included).
describeIf(
  [postgresRequirement(), peerAsPostgresRequirement(), requireBinary("pgbouncer")],
  "PgBouncer with our rendered config on real servers",
  () => {
    let primary: ClusterPrimary;

    beforeAll(async () => {
      const [pgPort, bouncerPort] = await freePorts(2);
      PORT = bouncerPort!;
      primary = await startClusterPrimary(pgPort!, 0);
      primary.server.psql("CREATE TABLE hit (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())", CLUSTER.owner);
      const authFile = primary.server.writeFile(
        "pgbouncer_userlist",
        renderPgBouncerUserlist([{ name: CLUSTER.app.user, password: CLUSTER.app.password }]),
      );
      const ini = primary.server.writeFile(
        "pgbouncer.ini",
        renderPgBouncerIni({
          database: CLUSTER.database,
          serverHost: "127.0.0.1",
          serverPort: primary.server.port,
          listenAddr: "127.0.0.1",
          listenPort: PORT,
          authFile,
          poolSize: POOL_SIZE,
          maxClientConnections: 500,
          // Rewritten path: the container has no socket; here the admin console is reached through
          // it as the special "pgbouncer" user (same uid as the process, no password).
          unixSocketDir: primary.server.dir,
        }),
      );
      const child = primary.server.spawnAsUser("pgbouncer", [ini], {}, "pgbouncer.log");
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        try {
          bouncer("SELECT 1");
          return;
        } catch {
          if (child.exitCode !== null) break;
          await sleep(100);
        }
      }
      throw new Error(`pgbouncer did not start:\n${primary.server.log("pgbouncer.log")}`);
    }, 45_000);

    afterAll(() => primary?.server.stop());

    /** The app role through PgBouncer (TCP, SCRAM). */
    const viaBouncer = (password: string = CLUSTER.app.password) => ({ ...CLUSTER.app, password, port: PORT });
    const bouncer = (sql: string, password?: string) => primary.server.psql(sql, viaBouncer(password));
    /** The admin console over the socket. */
    const admin = (command: string) => primary.server.psql(command, { user: "pgbouncer", database: "pgbouncer", port: PORT, table: true });
    const poolRow = () => {
      const [header, ...rows] = admin("SHOW POOLS").trim().split("\n");
      const cols = header!.split("|");
      const row = rows
        .map((r) => r.split("|"))
        .find((r) => r[cols.indexOf("database")] === CLUSTER.database && r[cols.indexOf("user")] === CLUSTER.app.user);
      if (!row) throw new Error(`no pool for ${CLUSTER.database}/${CLUSTER.app.user} in SHOW POOLS`);
      return Object.fromEntries(cols.map((c, i) => [c, row[i]!]));
    };

    it("accepts the app role with SCRAM and logs in to PostgreSQL as it (through our pg_hba)", () => {
      expect(bouncer("SELECT current_user").trim()).toBe(CLUSTER.app.user);
      expect(() => bouncer("SELECT 1", "wrong-password")).toThrow(/password authentication failed|SASL authentication failed/);
    });

    it("answers the container's healthcheck (pg_isready with no credentials)", () => {
      // The PostgresCluster pooler's healthcheck: ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "6432"].
      expect(primary.server.run(primary.server.tool("pg_isready"), ["-h", "127.0.0.1", "-p", String(PORT)])).toMatch(
        /accepting connections/,
      );
    });

    it("20 sequential client connections reuse at most the pool size of server connections", () => {
      const pids = new Set<string>();
      for (let i = 0; i < 20; i++) pids.add(bouncer("INSERT INTO hit DEFAULT VALUES; SELECT pg_backend_pid()").trim());
      console.log(`[pgbouncer] 20 sequential clients used ${pids.size} server connection(s)`);
      expect(pids.size).toBeLessThanOrEqual(POOL_SIZE);
      expect(pids.size).toBeLessThanOrEqual(2);
      expect(
        Number(primary.server.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'updateio_app'").trim()),
      ).toBeLessThanOrEqual(POOL_SIZE);
      const pool = poolRow();
      expect(pool.pool_mode).toBe("transaction");
      expect(Number(pool.sv_idle) + Number(pool.sv_used)).toBeGreaterThanOrEqual(1);
    });

    it("SHOW POOLS shows a client active on a server while it holds a transaction, then the server idle", async () => {
      const held = primary.server.psqlAsync("SELECT pg_sleep(1.5)", viaBouncer());
      let during: Record<string, string> = {};
      for (let i = 0; i < 40; i++) {
        await sleep(50);
        during = poolRow();
        if (Number(during.sv_active) >= 1) break;
      }
      await expect(held).resolves.toBe("\n"); // psql exited 0 (pg_sleep's one empty row)
      const after = poolRow();
      console.log(
        `[pgbouncer] during: cl_active=${during.cl_active} sv_active=${during.sv_active}; after: cl_active=${after.cl_active} sv_idle=${after.sv_idle}`,
      );
      expect(Number(during.cl_active)).toBeGreaterThanOrEqual(1);
      expect(Number(during.sv_active)).toBeGreaterThanOrEqual(1);
      expect(Number(after.sv_active)).toBe(0);
      expect(Number(after.sv_idle)).toBeGreaterThanOrEqual(1);
    });

    it("40 concurrent clients share at most the pool size of server connections", async () => {
      const run = async () => (await primary.server.psqlAsync("SELECT pg_backend_pid() FROM pg_sleep(0.3)", viaBouncer())).trim();
      let done = false;
      const all = Promise.all(Array.from({ length: 40 }, run)).finally(() => (done = true));
      // The bound holds at every moment, so it is sampled while the clients run: counting distinct
      // backend pids afterwards would also count a server connection PgBouncer closed and replaced
      // (one CI run saw 21 pids for a pool of 20, never more than 20 at once).
      let maxServers = 0;
      let maxBackends = 0;
      while (!done) {
        const pool = poolRow();
        const servers = ["sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login"].reduce((n, k) => n + Number(pool[k] ?? 0), 0);
        const backends = Number(primary.server.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'updateio_app'").trim());
        maxServers = Math.max(maxServers, servers);
        maxBackends = Math.max(maxBackends, backends);
        await sleep(30);
      }
      const pids = new Set(await all);
      console.log(
        `[pgbouncer] 40 concurrent clients: at most ${maxServers} server connection(s) in SHOW POOLS and ${maxBackends} app backend(s) at once, ${pids.size} distinct pid(s) (pool ${POOL_SIZE})`,
      );
      expect(maxServers).toBeGreaterThan(1); // they really ran at the same time
      expect(maxServers).toBeLessThanOrEqual(POOL_SIZE);
      expect(maxBackends).toBeLessThanOrEqual(POOL_SIZE);
      expect(pids.size).toBeLessThan(40); // connections were shared
    }, 30_000);
  },
);
