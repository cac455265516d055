import { describe, expect, it } from "vitest";
import {
  postgresClusterSettings,
  postgresCommand,
  postgresSettings,
  renderPostgresInitSql,
  renderReplicaBootstrapScript,
} from "../../constructs/postgres/renderers/postgres";
import { renderPgHba } from "../../constructs/postgres/renderers/postgres-hba";
import { REPLICA_BOOTSTRAP_INPUT } from "../support/postgres-inputs";

describe("postgresSettings (sized from the container memory)", () => {
  it("gives shared_buffers 25% and effective_cache_size 75% of memory", () => {
    expect(postgresSettings({ memoryMb: 512 })).toMatchObject({ shared_buffers: "128MB", effective_cache_size: "384MB" });
    expect(postgresSettings({ memoryMb: 2048 })).toMatchObject({ shared_buffers: "512MB", effective_cache_size: "1536MB" });
    expect(postgresSettings({ memoryMb: 4096 })).toMatchObject({ shared_buffers: "1024MB", effective_cache_size: "3072MB" });
  });

  it("keeps shared_buffers and effective_cache_size at their floors on tiny containers", () => {
    expect(postgresSettings({ memoryMb: 64 })).toMatchObject({ shared_buffers: "32MB", effective_cache_size: "64MB" });
  });

  it("uses 100 connections below 2 GiB and 200 from 2 GiB, with max_wal_size following the same step", () => {
    expect(postgresSettings({ memoryMb: 2047 })).toMatchObject({ max_connections: "100", max_wal_size: "1GB" });
    expect(postgresSettings({ memoryMb: 2048 })).toMatchObject({ max_connections: "200", max_wal_size: "2GB" });
  });

  it("sizes work_mem so every connection sorting at once (x2) stays within a quarter of memory", () => {
    // floor(mem * 0.25 * 1024 / max_connections / 2) kB
    expect(postgresSettings({ memoryMb: 512 }).work_mem).toBe("655kB");
    expect(postgresSettings({ memoryMb: 2048 }).work_mem).toBe("1310kB");
    for (const mem of [128, 512, 1000, 2048, 8192]) {
      const s = postgresSettings({ memoryMb: mem });
      const workKb = Number(s.work_mem!.replace("kB", ""));
      expect(workKb * Number(s.max_connections) * 2).toBeLessThanOrEqual(mem * 1024 * 0.25);
    }
  });

  // PostgreSQL refuses work_mem below 64kB ("postgres --describe-config": min 64).
  it("never renders a work_mem below PostgreSQL's minimum of 64kB", () => {
    for (const mem of [32, 40, 48, 64]) {
      expect(Number(postgresSettings({ memoryMb: mem }).work_mem!.replace("kB", ""))).toBeGreaterThanOrEqual(64);
    }
  });

  it("clamps maintenance_work_mem to 5% of memory between 16MB and 1024MB", () => {
    expect(postgresSettings({ memoryMb: 128 }).maintenance_work_mem).toBe("16MB");
    expect(postgresSettings({ memoryMb: 2048 }).maintenance_work_mem).toBe("102MB");
    expect(postgresSettings({ memoryMb: 65536 }).maintenance_work_mem).toBe("1024MB");
  });

  it("sets the fixed security and logging settings", () => {
    expect(postgresSettings({ memoryMb: 512 })).toMatchObject({
      listen_addresses: "*",
      password_encryption: "scram-sha-256",
      wal_level: "replica",
      log_destination: "stderr",
      log_min_duration_statement: "500",
      log_connections: "false",
      checkpoint_completion_target: "0.9",
    });
  });

  it("lets explicit settings win over the computed ones and turns every value into a string", () => {
    const s = postgresSettings({
      memoryMb: 512,
      settings: { shared_buffers: "1GB", max_connections: 50, log_connections: true, "auto_explain.log_min_duration": "1s" },
    });
    expect(s.shared_buffers).toBe("1GB");
    expect(s.max_connections).toBe("50");
    expect(s.log_connections).toBe("true");
    expect(s["auto_explain.log_min_duration"]).toBe("1s");
    expect(Object.values(s).every((v) => typeof v === "string")).toBe(true);
  });

  it("returns the keys sorted, so the rendered command is stable", () => {
    const keys = Object.keys(postgresSettings({ memoryMb: 512, settings: { zz_custom: 1, aa_custom: 2 } }));
    expect(keys).toEqual([...keys].sort());
  });
});

describe("postgresCommand", () => {
  it("passes each setting as one -c key=value argument, in order", () => {
    expect(postgresCommand({ a: "1", log_line_prefix: "%m [%p] " })).toEqual(["postgres", "-c", "a=1", "-c", "log_line_prefix=%m [%p] "]);
    expect(postgresCommand({})).toEqual(["postgres"]);
  });
});

/** The owner and app roles every first-boot script creates. */
const INIT_SQL_INPUT = {
  database: "updateio",
  ownerRole: "updateio_owner",
  appRole: "updateio_app",
  ownerPasswordFile: "/run/secrets/postgres_owner_password",
  appPasswordFile: "/run/secrets/postgres_app_password",
};

describe("renderPostgresInitSql", () => {
  const input = INIT_SQL_INPUT;
  const sql = renderPostgresInitSql(input);

  it("is plain psql input that stops on the first error", () => {
    expect(sql.startsWith("-- Generated")).toBe(true);
    expect(sql).toContain("\n\\set ON_ERROR_STOP on\n");
    expect(sql.endsWith("\n")).toBe(true);
  });

  it("reads the passwords from the secret files into psql variables (never inline) and forgets them", () => {
    for (const line of [
      "\\set owner_password `cat /run/secrets/postgres_owner_password`",
      "\\set app_password `cat /run/secrets/postgres_app_password`",
      "CREATE ROLE updateio_owner LOGIN PASSWORD :'owner_password';",
      "CREATE ROLE updateio_app LOGIN PASSWORD :'app_password';",
      "\\unset owner_password",
    ]) {
      expect(sql).toContain(line);
    }
  });

  it("gives the owner the database and the app role data-only privileges", () => {
    for (const line of [
      "CREATE DATABASE updateio OWNER updateio_owner;",
      "REVOKE ALL ON DATABASE updateio FROM PUBLIC;",
      "\n\\connect updateio\n",
      "ALTER SCHEMA public OWNER TO updateio_owner;",
      "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO updateio_app;",
    ]) {
      expect(sql).toContain(line);
    }
    expect(sql).not.toMatch(/GRANT (ALL|CREATE)[^;]*TO updateio_app/);
  });

  it("refuses identifiers that are not lowercase SQL identifiers and odd file paths, naming the field", () => {
    expect(() => renderPostgresInitSql({ ...input, database: "Update-IO" })).toThrow(/database "Update-IO"/);
    expect(() => renderPostgresInitSql({ ...input, ownerRole: "owner; DROP" })).toThrow(/ownerRole/);
    expect(() => renderPostgresInitSql({ ...input, appRole: "" })).toThrow(/appRole/);
    expect(() => renderPostgresInitSql({ ...input, appPasswordFile: "/x`rm -rf /`" })).toThrow(/appPasswordFile/);
  });
});

describe("renderPostgresInitSql with the read-only and replication roles", () => {
  const base = INIT_SQL_INPUT;
  const readonly = { role: "updateio_readonly", passwordFile: "/run/secrets/postgres_readonly_password" };
  const replication = {
    role: "updateio_replication",
    passwordFile: "/run/secrets/postgres_replication_password",
    slots: ["postgres_replica_1", "postgres_replica_2"],
  };
  const sql = renderPostgresInitSql({ ...base, readonly, replication });

  it("renders exactly the old script when neither is given", () => {
    expect(renderPostgresInitSql(base)).not.toMatch(/readonly|REPLICATION/);
    expect(sql.startsWith(renderPostgresInitSql(base))).toBe(true);
  });

  it("gives the read-only role SELECT only, through default privileges from the owner", () => {
    expect(sql).toContain("\\set readonly_password `cat /run/secrets/postgres_readonly_password`");
    expect(sql).toContain("CREATE ROLE updateio_readonly LOGIN PASSWORD :'readonly_password';");
    expect(sql).toContain("GRANT CONNECT ON DATABASE updateio TO updateio_readonly;");
    expect(sql).toContain("GRANT SELECT ON TABLES TO updateio_readonly;");
    expect(sql).not.toMatch(/GRANT [^;]*(INSERT|UPDATE|DELETE|CREATE|TEMPORARY|EXECUTE)[^;]*TO updateio_readonly/);
  });

  it("gives the replication role REPLICATION LOGIN and nothing else, and one slot per replica", () => {
    expect(sql).toContain("CREATE ROLE updateio_replication REPLICATION LOGIN PASSWORD :'replication_password';");
    expect(sql).not.toMatch(/GRANT [^;]*TO updateio_replication/);
    expect(sql.match(/pg_create_physical_replication_slot\('postgres_replica_\d'\)/g)).toEqual([
      "pg_create_physical_replication_slot('postgres_replica_1')",
      "pg_create_physical_replication_slot('postgres_replica_2')",
    ]);
  });

  it("refuses bad names, paths and duplicate roles", () => {
    expect(() => renderPostgresInitSql({ ...base, readonly: { ...readonly, role: "Read" } })).toThrow(/readonly.role "Read"/);
    expect(() => renderPostgresInitSql({ ...base, replication: { ...replication, slots: ["bad-slot"] } })).toThrow(
      /replication.slots.0 "bad-slot"/,
    );
    expect(() => renderPostgresInitSql({ ...base, replication: { ...replication, passwordFile: "x" } })).toThrow(
      /replication.passwordFile/,
    );
    expect(() => renderPostgresInitSql({ ...base, readonly: { ...readonly, role: "updateio_app" } })).toThrow(/role names must differ/);
  });
});

describe("renderPgHba", () => {
  const hba = renderPgHba({
    superuser: "postgres",
    database: "updateio",
    databaseRoles: ["updateio_owner", "updateio_app", "updateio_readonly"],
    replicationRoles: ["updateio_replication"],
  });
  const rows = hba
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.split(/ +/));

  it("allows the superuser by peer on the socket only, our roles and replication by scram on samenet, rejects the rest", () => {
    expect(rows).toEqual([
      ["local", "all", "postgres", "peer"],
      ["local", "all", "all", "reject"],
      ["host", "updateio", "updateio_owner,updateio_app,updateio_readonly", "samenet", "scram-sha-256"],
      ["host", "replication", "updateio_replication", "samenet", "scram-sha-256"],
      ["host", "all", "all", "all", "reject"],
      ["host", "replication", "all", "all", "reject"],
    ]);
    expect(hba).not.toMatch(/\b(trust|md5|password|ident)\b/);
  });

  it("refuses a superuser on the TCP lines and odd names", () => {
    expect(() =>
      renderPgHba({ superuser: "postgres", database: "updateio", databaseRoles: ["postgres"], replicationRoles: ["r"] }),
    ).toThrow(/only connect over the local socket/);
    expect(() => renderPgHba({ superuser: "postgres", database: "up date", databaseRoles: ["a"], replicationRoles: ["r"] })).toThrow(
      /database "up date"/,
    );
    expect(() => renderPgHba({ superuser: "postgres", database: "updateio", databaseRoles: [], replicationRoles: ["r"] })).toThrow(
      /databaseRoles is empty/,
    );
    expect(() => renderPgHba({ superuser: "postgres", database: "updateio", databaseRoles: ["a"], replicationRoles: [] })).toThrow(
      /replicationRoles is empty/,
    );
    expect(() =>
      renderPgHba({ superuser: "postgres", database: "updateio", databaseRoles: ["a"], replicationRoles: ["postgres"] }),
    ).toThrow(/only connect over the local socket/);
    expect(renderPgHba({ superuser: "postgres", database: "updateio", databaseRoles: ["a"], replicationRoles: ["r", "b"] })).toMatch(
      /^host +replication +r,b +samenet +scram-sha-256$/m,
    );
  });
});

describe("postgresClusterSettings", () => {
  it("adds hba_file, and max_slot_wal_keep_size only with replicas; explicit settings win", () => {
    expect(postgresClusterSettings({ memoryMb: 512, hbaFile: "/etc/postgresql/pg_hba.conf", replicas: 0 })).toEqual({
      ...postgresSettings({ memoryMb: 512 }),
      hba_file: "/etc/postgresql/pg_hba.conf",
    });
    expect(postgresClusterSettings({ memoryMb: 512, hbaFile: "/h", replicas: 1 }).max_slot_wal_keep_size).toBe("4GB");
    expect(
      postgresClusterSettings({ memoryMb: 512, hbaFile: "/h", replicas: 1, settings: { max_slot_wal_keep_size: "10GB" } })
        .max_slot_wal_keep_size,
    ).toBe("10GB");
  });
});

describe("renderReplicaBootstrapScript", () => {
  const input = REPLICA_BOOTSTRAP_INPUT;
  const script = renderReplicaBootstrapScript(input);
  const lines = script.split("\n");

  it("writes the passfile from the secret under umask 077 before anything connects", () => {
    expect(lines.slice(0, 2)).toEqual(["set -eu", "umask 077"]);
    expect(lines[2]).toBe(
      `printf '%s:%s:*:%s:%s\\n' postgres 5432 updateio_replication "$(cat /run/secrets/postgres_replication_password)" > /var/run/postgresql/replication.pgpass`,
    );
  });

  it("clones only an empty data directory, through its slot, and refuses a foreign one", () => {
    expect(script).toContain('if [ -z "$(ls -A /var/lib/postgresql/data)" ]; then');
    expect(script).toContain(
      "pg_receivewal -h postgres -p 5432 -U updateio_replication -w -S postgres_replica_1 --create-slot --if-not-exists",
    );
    expect(script).toContain(
      "pg_basebackup -h postgres -p 5432 -U updateio_replication -w -D /var/lib/postgresql/data -S postgres_replica_1 -R -X stream -c fast",
    );
    expect(script).toContain("elif [ ! -f /var/lib/postgresql/data/PG_VERSION ]; then");
  });

  it("then execs postgres with the primary's settings plus the standby ones (passfile, never the password)", () => {
    const exec = lines.find((l) => l.startsWith("exec postgres "))!;
    for (const setting of [
      "-c hba_file=/etc/postgresql/pg_hba.conf",
      "-c shared_buffers=128MB",
      "-c 'primary_conninfo=host=postgres port=5432 user=updateio_replication passfile=/var/run/postgresql/replication.pgpass application_name=postgres_replica_1'",
      "-c primary_slot_name=postgres_replica_1",
      "-c hot_standby=on",
      "-c 'log_line_prefix=%m [%p] %q%u@%d '",
    ]) {
      expect(exec).toContain(setting);
    }
    expect(script).not.toMatch(/password=/);
  });

  it("refuses odd paths, names and ports", () => {
    expect(() => renderReplicaBootstrapScript({ ...input, dataDir: "/x;rm" })).toThrow(/dataDir/);
    expect(() => renderReplicaBootstrapScript({ ...input, slot: "Slot" })).toThrow(/slot "Slot"/);
    expect(() => renderReplicaBootstrapScript({ ...input, primaryHost: "a b" })).toThrow(/primaryHost/);
    expect(() => renderReplicaBootstrapScript({ ...input, port: 0 })).toThrow(/port 0/);
  });
});
