import { Container } from "@cdktf/provider-docker/lib/container";

import { describe, expect, it } from "vitest";
import { PostgresCluster, type PostgresClusterProps, type PostgresRoleOptions } from "../../constructs/postgres/postgres-cluster";
import { errorOf } from "../support/helpers";
import { EPHEMERAL_LABEL, HARDENED_CONTAINER, ROTATED_LOGS } from "../support/synth-expectations";
import { synthConstruct } from "../support/construct-harness";
import { POSTGRES_IMAGE } from "../support/construct-images";
import { testOutdir, testStack, type Json } from "../support/test-stack";
import { synthText } from "../support/synth-text";

const OUT = testOutdir("postgres-cluster-test");

/** The cluster, then `roles` added after it is built (as PostgresBackup, the exporters and Grafana do). */
function build(overrides: Partial<PostgresClusterProps> = {}, roles: readonly PostgresRoleOptions[] = []) {
  const stack = testStack(OUT, "dev");
  const pg = new PostgresCluster(stack, "postgres", { environment: "dev", image: POSTGRES_IMAGE, memoryMb: 512, ...overrides });
  for (const role of roles) pg.addRole(role);
  return { stack, pg, ...synthConstruct(stack, "dev-postgres") };
}

/** Container names, sorted; the kit's secrets-owner jobs (one per service with secrets) left out. */
const names = (json: Json) =>
  (Object.values(json.resource.docker_container) as Json[])
    .map((c) => c.name as string)
    .filter((n) => !n.endsWith("-secrets-owner"))
    .sort();

/** Those names for a cluster without replicas or pooler: the server, its reload job and their config seeds. */
const PRIMARY_ONLY = ["dev-postgres", "dev-postgres-reload", "dev-postgres-reload-seed", "dev-postgres-seed", "dev-postgres-settings-seed"];

/** The settings a client gets for the role `user`, on the primary. */
const databaseEnv = (user: string) => ({
  DATABASE_HOST: "postgres",
  DATABASE_PORT: "5432",
  DATABASE_NAME: "updateio",
  DATABASE_USER: user,
});

describe("PostgresCluster", () => {
  const { pg, text, json, server, seed, key, ref } = build();

  it("declares its resources: one network, data and settings volumes, the server, its seed and the reload job, no role of another construct", () => {
    expect(names(json)).toEqual(PRIMARY_ONLY);
    expect(Object.keys(json.resource.docker_network)).toHaveLength(1);
    expect(pg.addedRoles).toEqual([]);
    expect(text).not.toMatch(/updateio_(backup|monitor|grafana)/);
  });

  it("runs hardened: read-only, unprivileged postgres user, no capabilities, limits, log rotation", () => {
    expect(text).toHaveResourceWithProperties(Container, {
      ...HARDENED_CONTAINER,
      ...ROTATED_LOGS,
      name: "dev-postgres",
      user: "postgres",
      memory: 512,
      memory_swap: 512,
      cpu_shares: 512,
      restart: "unless-stopped",
    });
    expect(server.labels).toContainEqual({ label: "io.updateio.component", value: "data" });
    expect(server.shm_size).toBe(64);
    expect(server.tmpfs).toEqual({ "/tmp": "rw,noexec,nosuid,size=64m", "/var/run/postgresql": "rw,noexec,nosuid,size=8m" });
  });

  it("passes only the restart-only settings as server arguments (shared_buffers 25% of memory), plus the settings file", () => {
    expect(server.command[0]).toBe("postgres");
    expect(server.command).toContain("shared_buffers=128MB");
    expect(server.command).toContain("config_file=/etc/postgresql-settings/postgresql.conf");
    // Reloadable ones must not be arguments: an argument overrides the file, and a reload would change nothing.
    expect(server.command).not.toContain("effective_cache_size=384MB");
    expect(server.command).not.toContain("password_encryption=scram-sha-256");
    const names = server.command
      .filter((_: string, i: number) => i > 0 && server.command[i - 1] === "-c")
      .map((a: string) => a.split("=")[0]);
    expect(names).toEqual(["hba_file", "listen_addresses", "max_connections", "shared_buffers", "wal_level", "config_file"]);
    expect(server.command.filter((a: string) => a === "-c")).toHaveLength((server.command.length - 1) / 2);
  });

  it("sits alone on its own internal network, aliased postgres", () => {
    expect(json.resource.docker_network[key("docker_network", "dev-postgres")].internal).toBe(true);
    expect(server.networks_advanced).toEqual([{ name: ref("docker_network", "dev-postgres"), aliases: ["postgres"] }]);
    expect(server.ports).toEqual([]);
    expect(pg.host).toBe("postgres");
    expect(pg.port).toBe(5432);
  });

  it("reads the superuser password from a file and generates six passwords (superuser, owner, app, read-only, replication, reload)", () => {
    expect(server.env).toContain("POSTGRES_PASSWORD_FILE=/run/secrets/postgres_superuser_password");
    expect(server.env).toContain("PGDATA=/var/lib/postgresql/data");
    expect(server.env.some((e: string) => /random_password/.test(e))).toBe(false);
    expect(Object.keys(json.resource.random_password)).toHaveLength(6);
  });

  it("seeds the password files, a first-boot role SQL file (not executable: the postgres user could not run a root-owned 0744 script) and pg_hba.conf", () => {
    const files = seed.upload.map((u: Json) => [u.file, u.executable]);
    expect(files).toEqual([
      ["/run/secrets/postgres_superuser_password", false],
      ["/run/secrets/postgres_owner_password", false],
      ["/run/secrets/postgres_app_password", false],
      ["/run/secrets/postgres_readonly_password", false],
      ["/run/secrets/postgres_replication_password", false],
      ["/run/secrets/postgres_reload_password", false],
      ["/docker-entrypoint-initdb.d/10-updateio-roles.sql", false],
      ["/docker-entrypoint-initdb.d/15-updateio-reload-role.sql", false],
      ["/etc/postgresql/pg_hba.conf", false],
    ]);
    for (const u of seed.upload.slice(0, 6)) expect(u.content).toMatch(/^\$\{random_password\.[^}]+\.result\}$/);
    const script = seed.upload[6].content as string;
    expect(script).toContain("CREATE ROLE updateio_owner LOGIN PASSWORD :'owner_password';");
    expect(script).toContain("CREATE ROLE updateio_readonly LOGIN PASSWORD :'readonly_password';");
    expect(script).toContain("CREATE ROLE updateio_replication REPLICATION LOGIN PASSWORD :'replication_password';");
    expect(script).not.toContain("pg_create_physical_replication_slot");
    expect(script).not.toMatch(/random_password/);
    const hba = seed.upload[8].content as string;
    expect(hba).toMatch(/^host +updateio +updateio_owner,updateio_app,updateio_readonly,updateio_reload +samenet +scram-sha-256$/m);
    expect(hba).not.toMatch(/random_password/);
  });

  it("points hba_file at the rendered pg_hba.conf; no replication slot limit without replicas", () => {
    expect(server.command).toContain("hba_file=/etc/postgresql/pg_hba.conf");
    expect(server.command.some((a: string) => a.startsWith("max_slot_wal_keep_size="))).toBe(false);
  });

  it("keeps data on a named volume, mounted read-write, unprotected by default", () => {
    const dataVol = key("docker_volume", "dev-postgres-data");
    expect(server.volumes).toContainEqual({
      volume_name: `\${docker_volume.${dataVol}.name}`,
      container_path: "/var/lib/postgresql/data",
      read_only: false,
    });
    expect(json.resource.docker_volume[dataVol].lifecycle).toBeUndefined();
    expect(pg.dataVolume.protected).toBe(false);
  });

  it("checks readiness over TCP with canonical durations", () => {
    expect(server.healthcheck).toEqual({
      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres"],
      interval: "10s",
      timeout: "5s",
      retries: 6,
      start_period: "1m0s",
    });
    expect(server.wait).toBe(true);
  });

  it("gives clients the app role by default and the owner role for migrations, secrets as files", () => {
    const app = pg.connectionFor();
    expect(app.env).toEqual(databaseEnv("updateio_app"));
    expect(app.secrets.map((s) => [s.name, s.envVar])).toEqual([
      ["database_password", "DATABASE_PASSWORD_FILE"],
      ["database_url", "DATABASE_URL_FILE"],
    ]);
    expect(app.network).toBe(pg.network);
    expect(app.ready).toEqual(pg.service.containers);
    expect(pg.connectionFor("migrations").env.DATABASE_USER).toBe("updateio_owner");
    expect(() => pg.connectionFor("admin")).toThrow(/connection role "admin" is unknown/);
  });

  it("gives dashboards the read-only role, on the primary when there are no replicas", () => {
    const ro = pg.connectionFor("readonly");
    expect(ro.env).toEqual(databaseEnv("updateio_readonly"));
    expect(ro.secrets.find((x) => x.name === "database_url")!.value).toMatch(
      /^postgresql:\/\/updateio_readonly:.+@postgres:5432\/updateio\?schema=public$/,
    );
  });

  it("creates no replica and no pooler by default", () => {
    expect(pg.replicaServices).toEqual([]);
    expect(pg.poolerService).toBeUndefined();
    expect(names(json)).toEqual(PRIMARY_ONLY);
  });
});

describe("PostgresCluster with replicas and the pooler", () => {
  const { pg, json, server, key, ref, named: byName } = build({ replicas: 2, pooler: true, protectData: true });

  it("runs each replica as its own hardened container with its own protected data volume", () => {
    expect(names(json)).toEqual(
      [
        ...PRIMARY_ONLY,
        "dev-postgres-pooler",
        "dev-postgres-pooler-seed",
        "dev-postgres-replica-1",
        "dev-postgres-replica-1-seed",
        "dev-postgres-replica-2",
        "dev-postgres-replica-2-seed",
      ].sort(),
    );
    for (const n of [1, 2]) {
      const replica = byName(`dev-postgres-replica-${n}`);
      expect(replica.read_only).toBe(true);
      expect(replica.user).toBe("postgres");
      expect(replica.capabilities).toEqual({ drop: ["ALL"] });
      const vol = key("docker_volume", `dev-postgres-replica-${n}-data`);
      expect(replica.volumes).toContainEqual({
        volume_name: `\${docker_volume.${vol}.name}`,
        container_path: "/var/lib/postgresql/data",
        read_only: false,
      });
      expect(json.resource.docker_volume[vol].lifecycle).toEqual({ prevent_destroy: true });
      expect(replica.depends_on).toContain(`docker_container.${key("docker_container", "dev-postgres")}`);
      expect(replica.wait_timeout).toBe(900);
    }
    expect(pg.replicaVolumes.map((v) => v.protected)).toEqual([true, true]);
  });

  it("gives every replica the read-only alias postgres-ro on the postgres network", () => {
    const net = ref("docker_network", "dev-postgres");
    expect(byName("dev-postgres-replica-1").networks_advanced).toEqual([{ name: net, aliases: ["postgres-replica-1", "postgres-ro"] }]);
    expect(byName("dev-postgres-replica-2").networks_advanced).toEqual([{ name: net, aliases: ["postgres-replica-2", "postgres-ro"] }]);
    expect(server.networks_advanced).toEqual([{ name: net, aliases: ["postgres"] }]);
  });

  it("bootstraps each replica with the rendered script through its own slot, the password only in a file", () => {
    const replica = byName("dev-postgres-replica-2");
    expect(replica.command.slice(0, 2)).toEqual(["sh", "-c"]);
    const script = replica.command[2] as string;
    expect(script).toContain(
      "pg_basebackup -h postgres -p 5432 -U updateio_replication -w -D /var/lib/postgresql/data -S postgres_replica_2 -R -X stream -c fast",
    );
    expect(script).toContain("passfile=/var/run/postgresql/replication.pgpass");
    expect(script).toContain('"$(cat /run/secrets/postgres_replication_password)"');
    expect(script).toContain("hba_file=/etc/postgresql/pg_hba.conf");
    expect(script).not.toMatch(/random_password/);
    expect(replica.env).toContain("PGDATA=/var/lib/postgresql/data");
    expect(replica.tmpfs["/var/run/postgresql"]).toBe("rw,noexec,nosuid,size=8m");
    const seed = byName("dev-postgres-replica-2-seed");
    expect(seed.upload.map((u: Json) => u.file)).toEqual(["/run/secrets/postgres_replication_password", "/etc/postgresql/pg_hba.conf"]);
  });

  it("creates one slot per replica on first boot and bounds the WAL slots may keep", () => {
    const sql = byName("dev-postgres-seed").upload.find((u: Json) => u.file.endsWith("10-updateio-roles.sql")).content as string;
    expect(sql).toContain("SELECT pg_create_physical_replication_slot('postgres_replica_1');");
    expect(sql).toContain("SELECT pg_create_physical_replication_slot('postgres_replica_2');");
    const file = byName("dev-postgres-settings-seed").upload[0].content as string;
    expect(file).toMatch(/^max_slot_wal_keep_size = '4GB'$/m);
    expect(server.command.some((a: string) => a.startsWith("max_slot_wal_keep_size"))).toBe(false);
  });

  it("runs PgBouncer hardened, on the postgres network, with the rendered ini and the auth file as a secret", () => {
    const pooler = byName("dev-postgres-pooler");
    expect(pooler.read_only).toBe(true);
    expect(pooler.user).toBe("postgres");
    expect(pooler.entrypoint).toEqual(["/usr/bin/pgbouncer"]);
    expect(pooler.command).toEqual(["/etc/pgbouncer/pgbouncer.ini"]);
    expect(pooler.memory).toBe(64);
    expect(pooler.ports).toEqual([]);
    expect(pooler.depends_on).toContain(`docker_container.${key("docker_container", "dev-postgres")}`);
    const seed = byName("dev-postgres-pooler-seed");
    const userlist = seed.upload.find((u: Json) => u.file === "/run/secrets/pgbouncer_userlist").content as string;
    expect(userlist).toMatch(/^"updateio_app" "\$\{random_password\.postgres_app-password_[0-9A-F]+\.result\}"\n$/);
    const ini = seed.upload.find((u: Json) => u.file === "/etc/pgbouncer/pgbouncer.ini").content as string;
    expect(ini).toContain("pool_mode = transaction");
    expect(ini).toContain("auth_type = scram-sha-256");
    expect(ini).toContain("updateio = host=postgres port=5432 dbname=updateio");
    expect(ini).not.toMatch(/random_password/);
  });

  it("sends the app through the pooler (Prisma: pgbouncer=true, connection_limit) and migrations straight to the primary", () => {
    const app = pg.connectionFor("app");
    expect(app.env.DATABASE_HOST).toBe("postgres-pooler");
    expect(app.env.DATABASE_PORT).toBe("6432");
    const url = (c: typeof app, name: string) => c.secrets.find((x) => x.name === name)!.value;
    expect(url(app, "database_url")).toMatch(/@postgres-pooler:6432\/updateio\?schema=public&pgbouncer=true&connection_limit=20$/);
    expect(url(app, "database_direct_url")).toMatch(/@postgres:5432\/updateio\?schema=public$/);
    expect(app.secrets.find((x) => x.name === "database_direct_url")!.envVar).toBe("DATABASE_DIRECT_URL_FILE");
    expect(app.ready).toEqual([...pg.service.containers, ...pg.poolerService!.containers]);
    const migrations = pg.connectionFor("migrations");
    expect(migrations.env.DATABASE_HOST).toBe("postgres");
    expect(url(migrations, "database_url")).toMatch(/@postgres:5432\/updateio\?schema=public$/);
    const ro = pg.connectionFor("readonly");
    expect(ro.env.DATABASE_HOST).toBe("postgres-ro");
    expect(ro.ready).toHaveLength(3);
  });

  it("lets another construct add a role (e.g. the backup role) after it is built: secret file, first-boot SQL after ours, pg_hba lines", () => {
    const { json: j, pg: cluster } = build({}, [
      {
        name: "updateio_backup",
        replication: true,
        initSql: ({ passwordFile }) => `CREATE ROLE updateio_backup LOGIN REPLICATION; -- password in ${passwordFile}\n`,
      },
    ]);
    const seed = (Object.values(j.resource.docker_container) as Json[]).find((c) => c.name === "dev-postgres-seed")!;
    const files = seed.upload.map((u: Json) => u.file);
    // After the cluster's own secrets, before its config files; the SQL after ours, before pg_hba.conf.
    expect(files.indexOf("/run/secrets/postgres_updateio_backup_password")).toBe(
      files.indexOf("/run/secrets/postgres_reload_password") + 1,
    );
    expect(files.indexOf("/docker-entrypoint-initdb.d/20-updateio-backup.sql")).toBe(
      files.indexOf("/docker-entrypoint-initdb.d/15-updateio-reload-role.sql") + 1,
    );
    const secret = seed.upload.find((u: Json) => u.file === "/run/secrets/postgres_updateio_backup_password");
    expect(secret.content).toMatch(/^\$\{random_password\.postgres_role-updateio_backup-password_[^}]+\.result\}$/);
    expect(secret.permissions).toBe("0400");
    const sql = seed.upload.find((u: Json) => u.file === "/docker-entrypoint-initdb.d/20-updateio-backup.sql").content;
    expect(sql).toContain("password in /run/secrets/postgres_updateio_backup_password");
    const hba = seed.upload.find((u: Json) => u.file === "/etc/postgresql/pg_hba.conf").content as string;
    expect(hba).toMatch(
      /^host +updateio +updateio_owner,updateio_app,updateio_readonly,updateio_reload,updateio_backup +samenet +scram-sha-256$/m,
    );
    expect(hba).toMatch(/^host +replication +updateio_replication,updateio_backup +samenet +scram-sha-256$/m);
    expect(cluster.addedRoles.map((r) => r.name)).toEqual(["updateio_backup"]);
  });

  it("renders a role added after the stack's other constructs (and after its client read connectionFor) the same as one added at once", () => {
    const role: PostgresRoleOptions = { name: "updateio_monitor", initSql: () => "SELECT 1;\n" };
    const early = build({}, [role]).text;
    const stack = testStack(OUT, "dev");
    const pg = new PostgresCluster(stack, "postgres", { environment: "dev", image: POSTGRES_IMAGE, memoryMb: 512 });
    pg.connectionFor("app");
    pg.addRole(role);
    expect(synthText(stack)).toBe(early);
  });

  it("puts a role's password where passwordAt says (its Terraform address), numbering first-boot files in the order roles are added", () => {
    const stack = testStack(OUT, "dev");
    const pg = new PostgresCluster(stack, "postgres", { environment: "dev", image: POSTGRES_IMAGE, memoryMb: 512 });
    const a = pg.addRole({ name: "role_a", initSql: () => "", passwordAt: { scope: stack, id: "legacy-a-password" } });
    pg.addRole({ name: "role_b", initSql: () => "" });
    expect(a.passwordSecret.node.path).toBe("dev/legacy-a-password");
    const j: Json = JSON.parse(synthText(stack));
    const files = (Object.values(j.resource.docker_container) as Json[])
      .find((c) => c.name === "dev-postgres-seed")!
      .upload.map((u: Json) => u.file as string)
      .filter((f: string) => /\/2\d-/.test(f));
    expect(files).toEqual(["/docker-entrypoint-initdb.d/20-role-a.sql", "/docker-entrypoint-initdb.d/21-role-b.sql"]);
  });

  it("refuses a bad role, naming the field and the fix", () => {
    const { pg: cluster } = build();
    const add = (o: Partial<PostgresRoleOptions>) => errorOf(() => cluster.addRole({ name: "x_role", initSql: () => "", ...o }));
    expect(add({ name: "Bad-Name" })).toMatch(
      /addRole is invalid:\n {2}- name "Bad-Name" must be a lowercase SQL identifier of at most 41 characters, e\.g\. "updateio_backup"/,
    );
    expect(add({ name: "updateio_app" })).toMatch(/addRole is invalid:\n {2}- name "updateio_app" is a built-in role .*pick another/);
    expect(add({ name: "owner" })).toMatch(/addRole is invalid:\n {2}- name "owner" is a built-in role \(or its password file's name\)/);
    expect(add({ initSql: undefined })).toMatch(
      /addRole is invalid:\n {2}- initSql is required: a function rendering the role's first-boot SQL/,
    );
    cluster.addRole({ name: "twice", initSql: () => "" });
    expect(add({ name: "twice" })).toMatch(
      /addRole is invalid:\n {2}- name "twice" was already added; use the PostgresRole the first addRole returned/,
    );
  });

  it("rejects a replica count or pool size out of range", () => {
    expect(() => build({ replicas: -1 })).toThrow(/replicas -1 must be a whole number from 0 to 9/);
    expect(() => build({ replicas: 1.5 })).toThrow(/replicas 1.5/);
    expect(() => build({ pooler: true, poolSize: 0 })).toThrow(/poolSize 0/);
  });
});

describe("PostgresCluster options", () => {
  it("protects the data volume when asked (prod)", () => {
    const { json, key, pg } = build({ protectData: true });
    expect(json.resource.docker_volume[key("docker_volume", "dev-postgres-data")].lifecycle).toEqual({ prevent_destroy: true });
    expect(pg.dataVolume.protected).toBe(true);
    // secret and config volumes are rebuilt from config and never protected
    expect(json.resource.docker_volume[key("docker_volume", "dev-postgres-secrets")].lifecycle).toBeUndefined();
  });

  it("uses the database name for the roles and lets explicit settings win", () => {
    const { server, pg } = build({ database: "billing", settings: { max_connections: 42 }, memoryMb: 2048, cpuShares: 2048 });
    expect(pg.ownerRole).toBe("billing_owner");
    expect(pg.appRole).toBe("billing_app");
    expect(server.command).toContain("max_connections=42");
    expect(server.command).toContain("shared_buffers=512MB");
    expect(server.cpu_shares).toBe(2048);
    expect(server.shm_size).toBe(256);
  });

  it("rejects a database name that is not a short lowercase SQL identifier", () => {
    expect(() => build({ database: "Update-IO" })).toThrow(/database "Update-IO" must be a lowercase SQL identifier/);
    expect(() => build({ database: "a".repeat(52) })).toThrow(/at most 51 characters/);
  });
});

describe("PostgresCluster settings: reloadable ones applied by reload, not by replacement", () => {
  const {
    json,
    server,
    key,
    ref,
    containers,
    named: byName,
  } = build({
    replicas: 1,
    settings: { work_mem: "8MB", statement_timeout: "30s", max_wal_senders: 12 },
  });
  const settingsSeed = byName("dev-postgres-settings-seed");
  const file = settingsSeed.upload[0].content as string;
  const seedAddress = `docker_container.${key("docker_container", "dev-postgres-settings-seed")}`;

  it("renders every setting into one file on a volume of its own; restart-only ones are also server arguments", () => {
    expect(settingsSeed.upload.map((u: Json) => u.file)).toEqual(["/etc/postgresql-settings/postgresql.conf"]);
    expect(settingsSeed.start).toBe(false);
    expect(file).toContain("include_if_exists '/var/lib/postgresql/data/postgresql.conf'\n");
    const [reloadable, restartOnly] = file.split("# Restart-only");
    expect(reloadable).toMatch(/^work_mem = '8MB'$/m);
    expect(reloadable).toMatch(/^statement_timeout = '30s'$/m);
    expect(restartOnly).toMatch(/^max_wal_senders = '12'$/m);
    expect(server.command).toContain("max_wal_senders=12");
    expect(server.command.join(" ")).not.toMatch(/work_mem|statement_timeout/);
    const vol = key("docker_volume", "dev-postgres-settings");
    expect(json.resource.docker_volume[vol].labels).toContainEqual(EPHEMERAL_LABEL);
    for (const name of ["dev-postgres", "dev-postgres-replica-1"]) {
      expect(byName(name).volumes).toContainEqual({
        volume_name: `\${docker_volume.${vol}.name}`,
        container_path: "/etc/postgresql-settings",
        read_only: true,
      });
      expect(byName(name).depends_on).toContain(seedAddress);
    }
    const replicaScript = byName("dev-postgres-replica-1").command[2] as string;
    expect(replicaScript).toContain("-c config_file=/etc/postgresql-settings/postgresql.conf");
    expect(replicaScript).toContain("-c max_wal_senders=12");
    expect(replicaScript).not.toMatch(/work_mem|statement_timeout/);
  });

  it("never replaces a server when the file changes: nothing is replace_triggered_by the settings seed", () => {
    for (const c of containers) expect(c.lifecycle?.replace_triggered_by ?? []).not.toContain(seedAddress);
  });

  it("re-runs a one-shot reload job as its own least-privilege role against the primary and every replica", () => {
    const job = byName("dev-postgres-reload");
    expect(job.restart).toBe("no");
    expect(job.must_run).toBe(false);
    expect(job.user).toBe("postgres");
    expect(job.read_only).toBe(true);
    expect(job.command).toEqual(["sh", "/etc/postgres-reload/reload.sh"]);
    expect(job.labels).toContainEqual({ label: "io.updateio.role", value: "config-reload" });
    expect(job.networks_advanced).toEqual([{ name: ref("docker_network", "dev-postgres"), aliases: ["postgres-reload"] }]);
    expect(job.depends_on).toEqual(
      expect.arrayContaining([
        seedAddress,
        `docker_container.${key("docker_container", "dev-postgres")}`,
        `docker_container.${key("docker_container", "dev-postgres-replica-1")}`,
      ]),
    );
    expect(job.lifecycle.replace_triggered_by).toEqual([`docker_container.${key("docker_container", "dev-postgres-reload-seed")}`]);
    const seed = byName("dev-postgres-reload-seed");
    expect(seed.upload.map((u: Json) => u.file)).toEqual([
      "/run/secrets/postgres_reload_password",
      "/etc/postgres-reload/reload.sh",
      "/etc/postgres-reload/check.sql",
    ]);
    const script = seed.upload[1].content as string;
    expect(script).toContain("for host in postgres postgres-replica-1; do");
    expect(script).toContain("PGUSER=updateio_reload PGDATABASE=updateio");
    // The job's own files carry the expected values: a settings change replaces its seed, so it runs again.
    expect(seed.upload[2].content).toContain("('work_mem', '8192', false)");
    const roleSql = byName("dev-postgres-seed").upload.find(
      (u: Json) => u.file === "/docker-entrypoint-initdb.d/15-updateio-reload-role.sql",
    ).content as string;
    expect(roleSql).toContain("GRANT EXECUTE ON FUNCTION pg_reload_conf() TO updateio_reload;");
  });

  it("a reloadable-only change touches no server or replica container, only the file's seed and the job", () => {
    const other = build({ replicas: 1, settings: { work_mem: "16MB", statement_timeout: "30s", max_wal_senders: 12 } }).json;
    const body = (j: Json, name: string) => (Object.values(j.resource.docker_container) as Json[]).find((c) => c.name === name);
    for (const name of ["dev-postgres", "dev-postgres-seed", "dev-postgres-replica-1", "dev-postgres-replica-1-seed"])
      expect(body(other, name), name).toEqual(body(json, name));
    expect(body(other, "dev-postgres-settings-seed")).not.toEqual(body(json, "dev-postgres-settings-seed"));
    expect(body(other, "dev-postgres-reload-seed")).not.toEqual(body(json, "dev-postgres-reload-seed"));
    // A restart-only change, by contrast, changes the servers' command: they are replaced.
    const restart = build({ replicas: 1, settings: { work_mem: "8MB", statement_timeout: "30s", max_wal_senders: 16 } }).json;
    expect(body(restart, "dev-postgres")!.command).not.toEqual(server.command);
  });

  it("refuses an unknown or managed setting and a value the server would refuse, naming the key and the fix", () => {
    expect(() => build({ settings: { work_mme: "8MB" } })).toThrow(
      /settings\.work_mme: "work_mme" is not a PostgreSQL setting this project knows; check the spelling against pg_settings, or add it .*POSTGRES_SETTINGS in constructs\/postgres\/renderers\/postgres-settings\.ts/,
    );
    expect(() => build({ settings: { hba_file: "/tmp/x" } })).toThrow(/settings\.hba_file: is set by PostgresCluster.*remove it/);
    expect(() => build({ settings: { work_mem: "8XB" } })).toThrow(/settings\.work_mem: "8XB": work_mem takes the units B, kB, MB, GB, TB/);
    expect(() => build({ settings: { log_line_prefix: "%m ${x}" } })).toThrow(/settings\.log_line_prefix: .*"\$\{" or "%\{"/);
    expect(() => build({ settings: { log_line_prefix: "%m\nx" } })).toThrow(/settings\.log_line_prefix: .*newline/);
  });
});

describe("PostgresCluster roles with a database of their own (Grafana's), and loginFor", () => {
  const grafana: PostgresRoleOptions = {
    name: "updateio_grafana",
    database: "updateio_grafana",
    endpoint: "read-only",
    initSql: ({ passwordFile }) => `CREATE ROLE updateio_grafana LOGIN; -- password in ${passwordFile}\n`,
  };
  const backup: PostgresRoleOptions = { name: "updateio_backup", replication: true, initSql: () => "" };
  const hbaOf = (j: Json) =>
    (Object.values(j.resource.docker_container) as Json[])
      .find((c) => c.name === "dev-postgres-seed")!
      .upload.find((u: Json) => u.file === "/etc/postgresql/pg_hba.conf").content as string;

  it("lets the role into its own database only: its pg_hba line names that database, the app database's line leaves it out", () => {
    const hba = hbaOf(build({}, [backup, grafana]).json);
    expect(hba).toMatch(
      /^host +updateio +updateio_owner,updateio_app,updateio_readonly,updateio_reload,updateio_backup +samenet +scram-sha-256$/m,
    );
    expect(hba).toMatch(/^host +updateio_grafana +updateio_grafana +samenet +scram-sha-256$/m);
    expect(hba.match(/updateio_grafana/g)).toHaveLength(2); // database and user of that one line
    // Before the final rejects: first match wins.
    const lines = hba.split("\n");
    expect(lines.findIndex((l) => /^host +updateio_grafana /.test(l))).toBeLessThan(lines.findIndex((l) => /^host .* reject$/.test(l)));
  });

  it("addRole's login (and loginFor) gives the role, its database, the read-only endpoint (replicas when there are any) and the password token", () => {
    const alone = build().pg;
    const role = alone.addRole(grafana);
    expect(role.login).toEqual({
      host: "postgres",
      port: 5432,
      database: "updateio_grafana",
      role: "updateio_grafana",
      password: role.passwordSecret.value,
    });
    expect(alone.loginFor("updateio_grafana")).toEqual(role.login);
    const replicated = build({ replicas: 1 }, [backup, grafana]).pg;
    expect(replicated.loginFor("updateio_grafana").host).toBe("postgres-ro");
    // Without a database or endpoint of its own: the cluster's database, on the primary.
    expect(replicated.loginFor("updateio_backup")).toMatchObject({
      host: "postgres",
      port: 5432,
      database: "updateio",
      role: "updateio_backup",
    });
  });

  it("refuses an unknown role, a database that is not the role's own, and an unknown endpoint, naming the key and the fix", () => {
    const { pg } = build({}, [backup]);
    expect(() => pg.loginFor("updateio_grafana")).toThrow(
      /loginFor\("updateio_grafana"\): no such role \(added: updateio_backup\); add it with cluster\.addRole/,
    );
    for (const database of ["updateio", "postgres", "template1", "Grafana-DB"]) {
      expect(() => build({}, [{ ...grafana, database }])).toThrow(
        new RegExp(
          `addRole is invalid:\\n {2}- database "${database}" must be a lowercase SQL identifier naming a database of the role's own; leave it out for "updateio"`,
        ),
      );
    }
    expect(() => build({}, [{ ...grafana, endpoint: "replica" as never }])).toThrow(
      /addRole is invalid:\n {2}- endpoint "replica" must be "primary" or "read-only"/,
    );
  });

  it("databaseUrl gives the URL connectionFor delivers, without searching its secrets", () => {
    const { pg } = build({ pooler: true });
    // Each call makes a new urlencode token, so compare the text around it.
    const shape = (url: string) => url.replace(/\$\{TfToken\[[^\]]+\]\}/g, "<token>");
    const app = pg.connectionFor("app").secrets.filter((x) => x.name === "database_url");
    expect(app.map((x) => shape(x.value))).toEqual([shape(pg.databaseUrl())]);
    expect(shape(pg.databaseUrl())).toBe(
      "postgresql://updateio_app:<token>@postgres-pooler:6432/updateio?schema=public&pgbouncer=true&connection_limit=20",
    );
    expect(pg.databaseUrl("migrations")).toContain("@postgres:5432/updateio?schema=public");
    expect(() => pg.databaseUrl("root" as never)).toThrow(/connection role "root" is unknown; use "app", "migrations" or "readonly"/);
  });
});
