import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Container } from "@cdktf/provider-docker/lib/container";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { describe, expect, it } from "vitest";
import { renderPrometheusRules } from "../../constructs/observability/renderers/alert-rules";
import { blockingFindings, evaluatePolicy } from "../../constructs/policy/policy-aspect";
import { PostgresBackup } from "../../constructs/postgres/postgres-backup";
import { PostgresCluster } from "../../constructs/postgres/postgres-cluster";
import {
  PostgresRestoreDrill,
  RESTORE_DRILL_SCRIPT,
  type PostgresRestoreDrillProps,
} from "../../constructs/postgres/postgres-restore-drill";
import { walArchiveSettings } from "../../constructs/postgres/renderers/backup-scripts";
import { renderRestoreDrillRoleSql } from "../../constructs/postgres/renderers/restore-drill-role";
import { restoreDrillAlerts } from "../../constructs/observability/alerts/restore-drill";
import { errorOf } from "../support/helpers";
import { containerNamed, synthJson, testOutdir, testStack, type Json } from "../support/test-stack";
import { HARDENED_CONTAINER } from "../support/synth-expectations";

const OUT = testOutdir("restore-drill-test");

const IMAGE = `postgres:17.6-bookworm@sha256:${"f3".repeat(32)}`;

function build(env: "dev" | "prod", overrides: Partial<PostgresRestoreDrillProps> = {}) {
  const stack = testStack(OUT, env);
  const pg = new PostgresCluster(stack, "postgres", { environment: env, image: IMAGE, memoryMb: 512, settings: walArchiveSettings() });
  const backup = new PostgresBackup(stack, "postgres-backup", { environment: env, cluster: pg, protectData: env === "prod" });
  const drill = new PostgresRestoreDrill(stack, "postgres-restore-drill", { environment: env, cluster: pg, backup, ...overrides });
  const { text, json, named } = synthJson(stack);
  return {
    stack,
    pg,
    backup,
    drill,
    text,
    json,
    c: named(`${env}-postgres-restore-drill`),
    seed: named(`${env}-postgres-restore-drill-seed`),
    pgSeed: named(`${env}-postgres-seed`),
  };
}

const envOf = (c: Json) => Object.fromEntries((c.env as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));

describe("PostgresRestoreDrill", () => {
  const { stack, drill, backup, text, json, c, seed, pgSeed } = build("prod");

  it("runs hardened: postgres user, read-only rootfs, cap_drop ALL, no-new-privileges, memory limit, the internal postgres network only", () => {
    expect(text).toHaveResourceWithProperties(Container, {
      ...HARDENED_CONTAINER,
      name: "prod-postgres-restore-drill",
      user: "postgres",
      memory: 512,
      cpu_shares: 256,
      entrypoint: ["sh", "/etc/postgres-restore-drill/restore-drill.sh"],
      command: ["loop"],
    });
    expect(c.capabilities.add ?? []).toEqual([]);
    expect(c.networks_advanced).toHaveLength(1);
    expect(c.networks_advanced[0].name).toMatch(/docker_network\.postgres_network_.*\.name/);
    const network = Object.values(json.resource.docker_network as Record<string, Json>).find((n) => n.name === "prod-postgres")!;
    expect(network.internal).toBe(true);
    expect(c.ports ?? []).toEqual([]);
    expect(c.image).toBe(containerNamed(json, "prod-postgres")!.image);
    expect(c.depends_on.some((d: string) => d.includes("postgres-backup_scheduler"))).toBe(true);
    expect(c.wait).toBeUndefined();
  });

  it("mounts the backups volume and an ephemeral scratch volume, and delivers the script and the password as files", () => {
    const mounts = Object.fromEntries((c.volumes as Json[]).map((v) => [v.container_path, v]));
    expect(Object.keys(mounts).sort()).toEqual([
      "/etc/postgres-restore-drill",
      "/run/secrets",
      "/var/lib/postgresql",
      "/var/lib/postgresql/data",
    ]);
    expect(mounts["/etc/postgres-restore-drill"]!.read_only).toBe(true);
    expect(mounts["/var/lib/postgresql"]!.volume_name).toMatch(/postgres-backup_backups_volume/);
    expect(text).toHaveResourceWithProperties(Volume, { name: "prod-postgres-restore-drill-scratch" });
    expect(drill.scratchVolume.ephemeral).toBe(true);
    expect(seed.upload.map((u: Json) => u.file).sort()).toEqual([
      "/etc/postgres-restore-drill/restore-drill.sh",
      "/run/secrets/postgres_restore_drill_password",
    ]);
    expect(seed.upload.find((u: Json) => u.file.endsWith("restore-drill.sh")).content).toBe(
      RESTORE_DRILL_SCRIPT.replace(/\$\{/g, () => "$${"), // the kit escapes "${" for Terraform
    );
    // The asset (less its shellcheck directive lines) with its whole_match function filled in.
    const asset = readFileSync(join(__dirname, "../../constructs/postgres/assets/restore-drill.sh"), "utf8").replace(
      /^ *# shellcheck .*\n/gm,
      "",
    );
    expect(RESTORE_DRILL_SCRIPT).toMatch(/^#!\/bin\/sh/);
    expect(RESTORE_DRILL_SCRIPT).toContain("whole_match() {");
    expect(RESTORE_DRILL_SCRIPT).not.toContain("@@");
    expect(RESTORE_DRILL_SCRIPT).toContain(asset.slice(asset.indexOf("check_settings() {")));
    expect(c.healthcheck.test).toEqual(["CMD", "sh", "/etc/postgres-restore-drill/restore-drill.sh", "health"]);
    expect(c.healthcheck.start_period).toBe("2h0m0s");
  });

  it("adds a read-only drill role to the cluster: SQL, pg_hba line, the same password token on both sides", () => {
    expect(drill.clusterRole.name).toBe("updateio_restore_drill");
    const sql = pgSeed.upload.find((u: Json) => /initdb\.d\/2\d-updateio-restore-drill\.sql$/.test(u.file)).content as string;
    expect(sql).toContain("CREATE ROLE updateio_restore_drill LOGIN BYPASSRLS CONNECTION LIMIT 2 PASSWORD :'drill_password';");
    expect(sql).toContain("GRANT pg_read_all_data TO updateio_restore_drill;");
    expect(sql).not.toMatch(/CREATEDB|SUPERUSER|REPLICATION/);
    const hba = pgSeed.upload.find((u: Json) => u.file === "/etc/postgresql/pg_hba.conf").content as string;
    expect(hba).toMatch(/^host +updateio +[a-z_,]*updateio_restore_drill[a-z_,]* +samenet +scram-sha-256$/m);
    const token = pgSeed.upload.find((u: Json) => u.file === "/run/secrets/postgres_updateio_restore_drill_password").content;
    expect(seed.upload.find((u: Json) => u.file === "/run/secrets/postgres_restore_drill_password").content).toBe(token);
  });

  it("renders the defaults into the container's environment, no secret among them", () => {
    expect(envOf(c)).toEqual({
      DRILL_DATABASE: "updateio",
      DRILL_AT: "04:30",
      DRILL_INTERVAL_SECONDS: "86400",
      DRILL_TOLERANCE_PERCENT: "5",
      DRILL_TOLERANCE_ROWS: "10",
      DRILL_MAX_DUMP_AGE_SECONDS: "172800",
      DRILL_SCRATCH_DIR: "/var/lib/postgresql/data/restore-drill",
      DRILL_SCRATCH_SHARED_BUFFERS_MB: "64",
      LIVE_HOST: "postgres",
      LIVE_PORT: "5432",
      LIVE_USER: "updateio_restore_drill",
      LIVE_PASSWORD_FILE: "/run/secrets/postgres_restore_drill_password",
    });
    expect(drill.manualCommand).toBe("docker exec prod-postgres-restore-drill sh /etc/postgres-restore-drill/restore-drill.sh --now");
    expect(drill.intervalSeconds).toBe(86_400);
    expect(backup.volume).toBeDefined();
  });

  it("passes the policy pack for prod", () => {
    const findings = blockingFindings(evaluatePolicy(stack, { environment: "prod" })).filter((f) =>
      f.constructPath.includes("restore-drill"),
    );
    expect(findings.map((f) => f.message)).toEqual([]);
  });

  it("takes its settings from the props", () => {
    const { c: c2, drill: d2 } = build("dev", {
      schedule: { at: "05:15", everyHours: 12 },
      tolerance: { percent: 10, rows: 100 },
      maxDumpAgeHours: 30,
      ignoreTables: ["public.job_queue", "audit.log"],
      memoryMb: 1024,
      role: "drill_reader",
    });
    expect(envOf(c2)).toMatchObject({
      DRILL_AT: "05:15",
      DRILL_INTERVAL_SECONDS: "43200",
      DRILL_TOLERANCE_PERCENT: "10",
      DRILL_TOLERANCE_ROWS: "100",
      DRILL_MAX_DUMP_AGE_SECONDS: "108000",
      DRILL_IGNORE_TABLES: "public.job_queue audit.log",
      DRILL_SCRATCH_SHARED_BUFFERS_MB: "128",
      LIVE_USER: "drill_reader",
    });
    expect(c2.memory).toBe(1024);
    expect(d2.alerts.find((r) => r.name === "RestoreDrillNotRun")!.expr).toContain("> 57600");
  });

  it("rejects invalid props, naming each prop and the fix, all at once; a Terraform expression never passes", () => {
    const message = errorOf(() =>
      build("dev", {
        role: "Drill",
        schedule: { at: "4am", everyHours: 5 },
        tolerance: { percent: 5.5, rows: -1 },
        maxDumpAgeHours: 0,
        ignoreTables: ["${var.x}", "public.item", "public.item"],
        memoryMb: 128,
        liveEndpoint: "replica" as never,
      }),
    );
    for (const re of [
      /^ {2}- role: "Drill" must be a lowercase SQL identifier.*\(fix: /m,
      /^ {2}- schedule\.at: "4am" must be HH:MM \(24h, UTC\) \(fix: e\.g\. "04:30"\)$/m,
      /^ {2}- schedule\.everyHours: 5 must be 6, 8, 12 or .*\(fix: e\.g\. 24\)$/m,
      /^ {2}- tolerance\.percent: 5\.5 must be a whole number from 0 to 100/m,
      /^ {2}- tolerance\.rows: -1 must be a whole number/m,
      /^ {2}- maxDumpAgeHours: 0 must be a whole number of hours/m,
      /^ {2}- ignoreTables\.0: "\$\{var\.x\}" must be "schema\.table"/m,
      /^ {2}- ignoreTables: lists a table twice/m,
      /^ {2}- memoryMb: 128 must be a whole number of MiB ≥ 256/m,
      /^ {2}- liveEndpoint: "replica" must be "primary" or "read-only"/m,
    ])
      expect(message).toMatch(re);
    expect(errorOf(() => build("dev", { schedule: { at: "${var.at}" } }))).toMatch(/schedule\.at: "\$\{var\.at\}" must be HH:MM/);
  });
});

describe("restore drill role SQL and alerts", () => {
  it("renders the role SQL only for plain identifiers and paths", () => {
    expect(() => renderRestoreDrillRoleSql({ role: "x; DROP", database: "updateio", passwordFile: "/run/secrets/p" })).toThrow(/role/);
    expect(() => renderRestoreDrillRoleSql({ role: "r", database: "updateio", passwordFile: "/run/secrets/${x}" })).toThrow(/passwordFile/);
  });

  it("renders RestoreDrillFailed and RestoreDrillNotRun into the catalogue's Prometheus format", () => {
    const rules = restoreDrillAlerts({ intervalSeconds: 86_400 });
    expect(rules.map((r) => [r.name, r.group, r.severity, r.for])).toEqual([
      ["RestoreDrillFailed", "backup", "critical", "0s"],
      ["RestoreDrillNotRun", "backup", "warning", "2h"],
    ]);
    // 1.5 x 24 h = 129600 s, minus the 2 h the condition is held: fires 36 h after the last success.
    expect(rules[1]!.expr).toBe(
      "time() - updateio_restore_drill_last_success_timestamp_seconds > 122400 or absent(updateio_restore_drill_last_success_timestamp_seconds)",
    );
    const yaml = renderPrometheusRules(rules);
    expect(yaml).toMatch(/^ {2}- name: updateio-backup$/m);
    expect(yaml).toContain("alert: RestoreDrillNotRun");
    expect(() => restoreDrillAlerts({ intervalSeconds: 3600 })).toThrow(/intervalSeconds 3600/);
    expect(() => restoreDrillAlerts({ intervalSeconds: 86_400, containerName: "${x}" })).toThrow(/containerName/);
  });
});
