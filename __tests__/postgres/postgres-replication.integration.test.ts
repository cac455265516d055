import { statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PROMOTE_SQL, renderReplicaBootstrapScript } from "../../constructs/postgres/renderers/postgres";
import { describeIf } from "../support/binaries";
import {
  CLUSTER,
  peerAsPostgresRequirement,
  postgresRequirement,
  sleep,
  startClusterPrimary,
  TempPostgres,
  type ClusterPrimary,
} from "../support/postgres-server";
import { freePorts } from "../support/helpers";

// A primary set up exactly as the PostgresCluster sets it up (settings, pg_hba, first-boot SQL),
// and a replica made by running the rendered bootstrap script on an empty data directory — the
// script as rendered, with only paths, host and ports rewritten for a loopback test.
describeIf([postgresRequirement(), peerAsPostgresRequirement()], "PostgresCluster streaming replica on real servers", () => {
  let primary: ClusterPrimary;
  let replica: TempPostgres;
  let passfile: string;
  let script: string;

  beforeAll(async () => {
    // Ports the kernel picks: test files run in parallel (a fixed port once collided with another file's).
    const [primaryPort, replicaPort] = await freePorts(2);
    primary = await startClusterPrimary(primaryPort!, 1);
    replica = new TempPostgres(replicaPort!);
    const dataDir = replica.makeOwnedDir("data");
    passfile = join(replica.dir, "replication.pgpass");
    script = renderReplicaBootstrapScript({
      dataDir,
      primaryHost: "127.0.0.1",
      primaryPort: primary.server.port,
      port: replica.port,
      replicationRole: CLUSTER.replication.user,
      passwordFile: primary.replicationPasswordFile,
      passfile,
      slot: "postgres_replica_1",
      applicationName: "postgres_replica_1",
      settings: { ...primary.settings, unix_socket_directories: replica.dir },
    });
    const child = replica.spawnAsUser("sh", ["-c", script], { PGDATA: dataDir });
    await replica.waitReady(45_000, child);
  }, 60_000);

  afterAll(() => {
    replica?.stop();
    primary?.server.stop();
  });

  const replicaPsql = (sql: string, who: { user: string; password: string; database: string } = CLUSTER.owner) => replica.psql(sql, who);

  it("cloned the primary with pg_basebackup and runs as a standby (standby.signal, in recovery)", () => {
    expect(replica.log()).toContain(`is empty; cloning 127.0.0.1:${primary.server.port} through slot postgres_replica_1`);
    expect(statSync(join(replica.dataDir, "standby.signal")).isFile()).toBe(true);
    expect(replicaPsql("SELECT pg_is_in_recovery()").trim()).toBe("t");
  });

  it("wrote the passfile 0600 (libpq ignores a group/world-readable one) and never the password into the config", () => {
    expect(statSync(passfile).mode & 0o777).toBe(0o600);
    const conninfo = replica.psql("SHOW primary_conninfo");
    expect(conninfo).toContain(`passfile=${passfile}`);
    expect(conninfo).not.toContain(CLUSTER.replication.password);
  });

  it("uses its slot on the primary, which is active", () => {
    const slot = primary.server.psql("SELECT slot_type, active FROM pg_replication_slots WHERE slot_name = 'postgres_replica_1'").trim();
    expect(slot).toBe("physical|t");
    const sender = primary.server.psql("SELECT usename, application_name, state FROM pg_stat_replication").trim();
    expect(sender).toBe(`${CLUSTER.replication.user}|postgres_replica_1|streaming`);
  });

  it("a row written on the primary is read on the replica, by the read-only role", async () => {
    primary.server.psql("CREATE TABLE release (id serial PRIMARY KEY, name text NOT NULL)", CLUSTER.owner);
    primary.server.psql("INSERT INTO release (name) VALUES ('1.0.0')", CLUSTER.app);
    let seen = "";
    for (let i = 0; i < 50 && seen !== "1.0.0"; i++) {
      try {
        seen = replicaPsql("SELECT name FROM release", CLUSTER.readonly).trim();
      } catch {
        // table not replayed yet
      }
      if (seen !== "1.0.0") await sleep(100);
    }
    expect(seen).toBe("1.0.0");
  });

  it("the replica refuses writes, even from the owner", () => {
    expect(() => replicaPsql("INSERT INTO release (name) VALUES ('x')")).toThrow(/read-only transaction/);
    expect(() => replicaPsql("CREATE TABLE t (id int)")).toThrow(/read-only transaction/);
  });

  it("the app role cannot create tables; the read-only role cannot write, even after turning read-only off", () => {
    expect(() => primary.server.psql("CREATE TABLE evil (id int)", CLUSTER.app)).toThrow(/permission denied/);
    expect(() => primary.server.psql("INSERT INTO release (name) VALUES ('x')", CLUSTER.readonly)).toThrow(/read-only transaction/);
    expect(() => primary.server.psql("SET TRANSACTION READ WRITE; INSERT INTO release (name) VALUES ('x')", CLUSTER.readonly)).toThrow(
      /permission denied for table release/,
    );
    expect(() => primary.server.psql("CREATE TABLE t (id int)", CLUSTER.readonly)).toThrow(/read-only transaction|permission denied/);
    expect(primary.server.psql("SELECT count(*) FROM release", CLUSTER.readonly).trim()).toBe("1");
  });

  it("pg_hba: scram only for our roles on our database; the superuser and other databases are refused over TCP", () => {
    expect(
      primary.server.psql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'updateio_replication'").trim(),
    ).toBe("t");
    expect(() => primary.server.psql("SELECT 1", { ...CLUSTER.app, database: "postgres" })).toThrow(/pg_hba\.conf rejects connection/);
    expect(() => primary.server.psql("SELECT 1", { user: "postgres", password: "x", database: "updateio" })).toThrow(
      /pg_hba\.conf rejects connection/,
    );
    expect(() => primary.server.psql("SELECT 1", { ...CLUSTER.app, password: "wrong" })).toThrow(/password authentication failed/);
    // The replication role has no database access, only the replication pseudo-database.
    expect(() =>
      primary.server.psql("SELECT 1", { user: CLUSTER.replication.user, password: CLUSTER.replication.password, database: "updateio" }),
    ).toThrow(/pg_hba\.conf rejects connection/);
  });

  it("a restart (same script, data directory no longer empty) does not clone again and resumes streaming", async () => {
    replica.run(replica.tool("pg_ctl"), ["-D", replica.dataDir, "-m", "fast", "-w", "stop"]);
    const child = replica.spawnAsUser("sh", ["-c", script], { PGDATA: replica.dataDir });
    await replica.waitReady(30_000, child);
    expect(replica.log().match(/is empty; cloning/g)).toHaveLength(1);
    primary.server.psql("INSERT INTO release (name) VALUES ('1.0.1')", CLUSTER.app);
    let count = "";
    for (let i = 0; i < 50 && count !== "2"; i++) {
      count = replicaPsql("SELECT count(*) FROM release", CLUSTER.readonly).trim();
      if (count !== "2") await sleep(100);
    }
    expect(count).toBe("2");
  });

  it("replication lag for a 1000-row insert (measured and printed)", async () => {
    primary.server.psql("CREATE TABLE lag_probe (id int PRIMARY KEY, payload text NOT NULL)", CLUSTER.owner);
    const started = Date.now();
    const lsn = primary.server
      .psql("INSERT INTO lag_probe SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g; SELECT pg_current_wal_lsn()", CLUSTER.owner)
      .trim();
    const committed = Date.now();
    const bytesBehind = Number(
      primary.server.psql(`SELECT greatest(0, coalesce(pg_wal_lsn_diff('${lsn}', replay_lsn), 0)) FROM pg_stat_replication`).trim(),
    );
    let replayed = false;
    while (!replayed && Date.now() - committed < 10_000) {
      replayed = replicaPsql(`SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`).trim() === "t";
      if (!replayed) await sleep(5);
    }
    const lagMs = Date.now() - committed;
    const replayLag = primary.server.psql("SELECT coalesce(replay_lag::text, 'n/a') FROM pg_stat_replication").trim();
    expect(replayed).toBe(true);
    expect(replicaPsql("SELECT count(*) FROM lag_probe", CLUSTER.readonly).trim()).toBe("1000");
    console.log(
      `[replication lag] 1000-row insert: ${bytesBehind} bytes behind right after commit; replayed on the replica within ${lagMs} ms of commit (insert took ${committed - started} ms; timings include ~10-20 ms per psql process); pg_stat_replication.replay_lag ${replayLag}`,
    );
    expect(lagMs).toBeLessThan(10_000);
  });

  // Last: it ends the primary. Same SQL as docs/runbooks/postgres-failover.md.
  it("failover: with the primary stopped, the runbook's promotion makes the replica take writes (time measured)", async () => {
    primary.server.psql("INSERT INTO release (name) VALUES ('before-failover')", CLUSTER.app);
    const before = primary.server.psql("SELECT count(*) FROM release", CLUSTER.app).trim();
    let seen = "";
    for (let i = 0; i < 50 && seen !== before; i++) {
      seen = replicaPsql("SELECT count(*) FROM release", CLUSTER.readonly).trim();
      if (seen !== before) await sleep(100);
    }
    expect(seen).toBe(before);
    const stopped = Date.now();
    primary.server.run(primary.server.tool("pg_ctl"), ["-D", primary.server.dataDir, "-m", "immediate", "-w", "stop"]);
    expect(replica.psql(PROMOTE_SQL).trim()).toBe("t");
    replica.psql("INSERT INTO release (name) VALUES ('after-failover')", { ...CLUSTER.app });
    const writable = Date.now();
    expect(replica.psql("SELECT pg_is_in_recovery()").trim()).toBe("f");
    expect(replicaPsql("SELECT count(*) FROM release", CLUSTER.app).trim()).toBe(String(Number(before) + 1));
    console.log(
      `[failover] primary stopped → replica promoted and took the app's write in ${writable - stopped} ms; rows committed before the stop: ${before}, all present after promotion`,
    );
  });
});
