// The migration job re-runs when its migrations change (dev builds from source, so the image alone
// does not say): the folder's content hash is a label, and labels replace a container in provider 3.6.2.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MIGRATIONS_HASH_LABEL, MigrationJob, migrationsHash } from "../../constructs/app/migration-job";
import type { AppServiceSettings } from "../../constructs/app/app-settings";
import { ServiceImage } from "../../constructs/kit/service-image";
import { PostgresCluster } from "../../constructs/postgres/postgres-cluster";
import { loadEnvironmentConfig } from "../../environments/load";
import { DEV_API_SETTINGS } from "../support/construct-app-settings";
import { sharedEnvironment } from "../support/stacks";
import { synthJson, testOutdir, testStack, type Json } from "../support/test-stack";

const OUT = testOutdir("migration-job-migrations-test");
const ROOT = mkdtempSync(join(tmpdir(), "updateio-migrations-"));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

const apiConfig: AppServiceSettings = { ...DEV_API_SETTINGS, image: { kind: "registry", ref: "updateio-dev/api:dev" }, debugPorts: [] };

let n = 0;
/** A Prisma-style migrations folder with two migrations. */
function migrationsFolder(extra: (dir: string) => void = () => {}): string {
  const dir = join(ROOT, `m${++n}`, "prisma", "migrations");
  mkdirSync(join(dir, "20261101000000_init"), { recursive: true });
  mkdirSync(join(dir, "20261120000000_notes"), { recursive: true });
  writeFileSync(join(dir, "migration_lock.toml"), 'provider = "postgresql"\n');
  writeFileSync(join(dir, "20261101000000_init", "migration.sql"), "CREATE TABLE item (id serial PRIMARY KEY);\n");
  writeFileSync(join(dir, "20261120000000_notes", "migration.sql"), "CREATE TABLE note (id serial PRIMARY KEY, text text);\n");
  extra(dir);
  return dir;
}

/** The dev migration job's container (and its stack's JSON text) for these migration paths. */
function synthJob(paths: readonly string[]): { text: string; container: Json; job: MigrationJob } {
  const stack = testStack(OUT, "dev");
  const postgres = new PostgresCluster(stack, "postgres", { environment: "dev", image: "postgres:17.6-bookworm", memoryMb: 512 });
  const job = new MigrationJob(stack, "migrations", {
    environment: "dev",
    image: new ServiceImage(stack, "api-image", { ref: "updateio-dev/api:dev" }),
    apiConfig,
    postgres,
    command: ["npx", "prisma", "migrate", "deploy"],
    memoryMb: 512,
    logLevel: "debug",
    migrationPaths: paths,
  });
  const { text, named } = synthJson(stack);
  return { text, container: named("dev-api-migrate"), job };
}

const labelOf = (c: Json) => (c.labels as { label: string; value: string }[]).find((l) => l.label === MIGRATIONS_HASH_LABEL)?.value;

describe("migrationsHash", () => {
  it("is the same for the same content in another folder, and changes on an edit, an addition and a rename", () => {
    const base = migrationsHash([migrationsFolder()]).hash;
    expect(base).toMatch(/^[0-9a-f]{16}$/);
    expect(migrationsHash([migrationsFolder()]).hash).toBe(base);

    const edited = migrationsHash([
      migrationsFolder((d) => writeFileSync(join(d, "20261120000000_notes", "migration.sql"), "CREATE TABLE note (id bigserial);\n")),
    ]).hash;
    const added = migrationsHash([
      migrationsFolder((d) => {
        mkdirSync(join(d, "20261201000000_tags"));
        writeFileSync(join(d, "20261201000000_tags", "migration.sql"), "CREATE TABLE tag (id serial);\n");
      }),
    ]).hash;
    const renamed = migrationsHash([
      migrationsFolder((d) => renameSync(join(d, "20261120000000_notes"), join(d, "20261121000000_notes"))),
    ]).hash;
    // Same bytes moved between files: the paths are part of what is hashed, not only the contents.
    const moved = migrationsHash([
      migrationsFolder((d) => {
        writeFileSync(join(d, "20261101000000_init", "migration.sql"), "CREATE TABLE note (id serial PRIMARY KEY, text text);\n");
        writeFileSync(join(d, "20261120000000_notes", "migration.sql"), "CREATE TABLE item (id serial PRIMARY KEY);\n");
      }),
    ]).hash;
    const all = [base, edited, added, renamed, moved];
    expect(new Set(all).size, all.join(" ")).toBe(all.length);
  });

  it("does not depend on the order files were created in", () => {
    const dir = join(ROOT, "reversed", "prisma", "migrations");
    mkdirSync(join(dir, "20261120000000_notes"), { recursive: true });
    writeFileSync(join(dir, "20261120000000_notes", "migration.sql"), "CREATE TABLE note (id serial PRIMARY KEY, text text);\n");
    mkdirSync(join(dir, "20261101000000_init"));
    writeFileSync(join(dir, "20261101000000_init", "migration.sql"), "CREATE TABLE item (id serial PRIMARY KEY);\n");
    writeFileSync(join(dir, "migration_lock.toml"), 'provider = "postgresql"\n');
    expect(migrationsHash([dir]).hash).toBe(migrationsHash([migrationsFolder()]).hash);
  });

  it("hashes a symlink by its target without following it (a loop does not hang), and a FIFO by name (a read would block)", () => {
    const a = migrationsFolder((d) => symlinkSync("20261101000000_init/migration.sql", join(d, "latest.sql")));
    const b = migrationsFolder((d) => symlinkSync("20261120000000_notes/migration.sql", join(d, "latest.sql")));
    const loop = migrationsFolder((d) => symlinkSync(".", join(d, "self")));
    const fifo = migrationsFolder((d) => execFileSync("mkfifo", [join(d, "pipe")]));
    const ha = migrationsHash([a]);
    expect(ha.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(ha.hash).not.toBe(migrationsHash([b]).hash);
    expect(ha.files).toBe(4);
    expect(migrationsHash([loop]).hash).toMatch(/^[0-9a-f]{16}$/);
    const hf = migrationsHash([fifo]);
    expect(hf.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(hf.unreadable).toEqual(["pipe"]);
  });

  it("hashes an unreadable file by name and says so (skipped as root, who reads every file)", (ctx) => {
    if (process.getuid?.() === 0) ctx.skip("running as root, who reads a mode 0000 file: nothing here is unreadable");
    const dir = migrationsFolder((d) => writeFileSync(join(d, "secret.sql"), "x"));
    chmodSync(join(dir, "secret.sql"), 0o000);
    const h = migrationsHash([dir]);
    expect(h.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(h.unreadable).toEqual(["secret.sql"]);
  });

  it("hashes single files too (migrations kept in source files), and a missing path gives no hash", () => {
    const dir = join(ROOT, "files");
    mkdirSync(dir);
    writeFileSync(join(dir, "migrate.ts"), "for (const sql of MIGRATIONS) await pool.query(sql);\n");
    const one = migrationsHash([join(dir, "migrate.ts")]);
    expect(one.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(one.files).toBe(1);
    const missing = migrationsHash([join(ROOT, "nowhere", "prisma", "migrations")]);
    expect(missing.hash).toBeUndefined();
    expect(missing.missing).toEqual([join(ROOT, "nowhere", "prisma", "migrations")]);
    // One path missing of two: the other is still hashed, and the missing one reported.
    const partial = migrationsHash([join(dir, "migrate.ts"), join(ROOT, "nowhere")]);
    expect(partial.hash).toBeDefined();
    expect(partial.missing).toEqual([join(ROOT, "nowhere")]);
  });
});

describe("MigrationJob with migrationPaths", () => {
  it("writes the hash as a label: the same content gives the same JSON, a changed migration only a new label", () => {
    const first = synthJob([migrationsFolder()]);
    const again = synthJob([migrationsFolder()]);
    const edited = synthJob([
      migrationsFolder((d) => writeFileSync(join(d, "20261120000000_notes", "migration.sql"), "DROP TABLE note;\n")),
    ]);
    expect(labelOf(first.container)).toBe(first.job.migrationsHash);
    expect(again.text).toBe(first.text);
    expect(labelOf(edited.container)).toMatch(/^[0-9a-f]{16}$/);
    expect(labelOf(edited.container)).not.toBe(labelOf(first.container));
    const { labels: l1, ...rest1 } = first.container;
    const { labels: l2, ...rest2 } = edited.container;
    expect(rest2).toEqual(rest1);
    expect(l2.filter((l: Json) => l.label !== MIGRATIONS_HASH_LABEL)).toEqual(l1.filter((l: Json) => l.label !== MIGRATIONS_HASH_LABEL));
    // Kept sorted with the kit's labels (the provider reads them back sorted).
    const keys = (first.container.labels as Json[]).map((l) => l.label);
    expect(keys).toEqual([...keys].sort());
    expect(keys).toContain("io.updateio.cpu-quota");
  });

  it("a missing folder: no label and a note in the construct's metadata, not a crash", () => {
    const missing = join(ROOT, "no-checkout", "prisma", "migrations");
    const { container, job } = synthJob([missing]);
    expect(labelOf(container)).toBeUndefined();
    expect(job.migrationsHash).toBeUndefined();
    expect(job.migrationsNote).toContain(`${missing} not found: no migrations hash, so the job re-runs only when the image changes`);
    const infos = job.node.metadata.filter((m) => m.type === "@cdktf/info").map((m) => String(m.data));
    expect(infos).toEqual([expect.stringContaining("migrationPaths:")]);
  });

  it("without migrationPaths nothing changes: no label, no note", () => {
    const { container, job } = synthJob([]);
    expect(labelOf(container)).toBeUndefined();
    expect(job.migrationsNote).toBeUndefined();
    expect(job.node.metadata.filter((m) => m.type === "@cdktf/info")).toEqual([]);
  });
});

describe("the dev stack's migration job", () => {
  it("is labelled with the hash of migrations.paths under the API's build context (none when they are missing); test and prod are not", () => {
    const config = loadEnvironmentConfig("dev", {});
    const image = config.services[config.migrations.service]!.image;
    expect(image.kind).toBe("build");
    if (image.kind !== "build") return;
    // Build contexts are relative to the project root, whatever the cwd.
    const paths = config.migrations.paths.map((p) => resolve(__dirname, "..", "..", image.context, p));
    const expected = migrationsHash(paths).hash;
    const job = Object.values(sharedEnvironment("dev").json.resource.docker_container as Record<string, Json>).find(
      (c) => c.name === "dev-api-migrate",
    )!;
    expect(labelOf(job)).toBe(expected);
    for (const env of ["test", "prod"] as const) {
      const c = Object.values(sharedEnvironment(env).json.resource.docker_container as Record<string, Json>).find(
        (x) => x.name === `${env}-api-migrate`,
      )!;
      expect(labelOf(c), env).toBeUndefined();
    }
  });
});
