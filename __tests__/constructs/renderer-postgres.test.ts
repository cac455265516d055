import { describe, expect, it } from "vitest";
import { postgresCommand, postgresSettings, renderPostgresInitSql } from "../../constructs/renderers/postgres";

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
    const s = postgresSettings({ memoryMb: 512, settings: { shared_buffers: "1GB", max_connections: 50, log_connections: true, "auto_explain.log_min_duration": "1s" } });
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

describe("renderPostgresInitSql", () => {
  const input = {
    database: "updateio",
    ownerRole: "updateio_owner",
    appRole: "updateio_app",
    ownerPasswordFile: "/run/secrets/postgres_owner_password",
    appPasswordFile: "/run/secrets/postgres_app_password",
  };
  const sql = renderPostgresInitSql(input);

  it("is plain psql input that stops on the first error", () => {
    expect(sql.startsWith("-- Generated")).toBe(true);
    expect(sql).toContain("\n\\set ON_ERROR_STOP on\n");
    expect(sql.endsWith("\n")).toBe(true);
  });

  it("reads the passwords from the secret files into psql variables (never inline) and forgets them", () => {
    expect(sql).toContain("\\set owner_password `cat /run/secrets/postgres_owner_password`");
    expect(sql).toContain("\\set app_password `cat /run/secrets/postgres_app_password`");
    expect(sql).toContain("CREATE ROLE updateio_owner LOGIN PASSWORD :'owner_password';");
    expect(sql).toContain("CREATE ROLE updateio_app LOGIN PASSWORD :'app_password';");
    expect(sql).toContain("\\unset owner_password");
  });

  it("gives the owner the database and the app role data-only privileges", () => {
    expect(sql).toContain("CREATE DATABASE updateio OWNER updateio_owner;");
    expect(sql).toContain("REVOKE ALL ON DATABASE updateio FROM PUBLIC;");
    expect(sql).toContain("\n\\connect updateio\n");
    expect(sql).toContain("ALTER SCHEMA public OWNER TO updateio_owner;");
    expect(sql).toContain("GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO updateio_app;");
    expect(sql).not.toMatch(/GRANT (ALL|CREATE)[^;]*TO updateio_app/);
  });

  it("refuses identifiers that are not lowercase SQL identifiers and odd file paths, naming the field", () => {
    expect(() => renderPostgresInitSql({ ...input, database: "Update-IO" })).toThrow(/database "Update-IO"/);
    expect(() => renderPostgresInitSql({ ...input, ownerRole: "owner; DROP" })).toThrow(/ownerRole/);
    expect(() => renderPostgresInitSql({ ...input, appRole: "" })).toThrow(/appRole/);
    expect(() => renderPostgresInitSql({ ...input, appPasswordFile: "/x`rm -rf /`" })).toThrow(/appPasswordFile/);
  });
});
