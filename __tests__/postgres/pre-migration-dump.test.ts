import { Testing, Token } from "cdktf";
import { describe, expect, it } from "vitest";
import { PostgresBackup } from "../../constructs/postgres/postgres-backup";
import { PostgresCluster } from "../../constructs/postgres/postgres-cluster";
import { PreMigrationDump } from "../../constructs/postgres/pre-migration-dump";
import { walArchiveSettings } from "../../constructs/postgres/renderers/backup-scripts";
import {
  PRE_MIGRATION_RESTORE_TEMPLATE,
  preMigrationRestoreCommands,
  releaseIdOf,
  renderPreMigrationDumpScript,
} from "../../constructs/postgres/renderers/pre-migration-dump";
import { EnvironmentStack } from "../../environments/environment-stack";
import { loadEnvironmentConfig } from "../../environments/load";
import { errorOf } from "../support/helpers";
import { sharedEnvironment, uploadedFile } from "../support/stacks";
import { POSTGRES_IMAGE } from "../support/construct-images";
import { synthJson, testOutdir, testStack, type Json } from "../support/test-stack";
import { PRE_MIGRATION_DUMP_INPUT } from "../support/postgres-inputs";

const OUT = testOutdir("pre-migration-dump-test");
const API = `ghcr.io/updateio/api:1.4.0@sha256:${"ab12".repeat(16)}`;
/** Terraform's escaping of literal `${` and `%{` in the JSON, undone: the text the container gets. */
const unescape = (text: string) => text.replace(/\$\$\{/g, "${").replace(/%%\{/g, "%{");
const INPUT = PRE_MIGRATION_DUMP_INPUT;

function build() {
  const stack = testStack(OUT, "prod");
  const cluster = new PostgresCluster(stack, "postgres", {
    environment: "prod",
    image: POSTGRES_IMAGE,
    memoryMb: 512,
    settings: walArchiveSettings(),
  });
  const backup = new PostgresBackup(stack, "postgres-backup", { environment: "prod", cluster });
  return { stack, cluster, backup };
}

describe("PreMigrationDump", () => {
  const { stack, backup, cluster } = build();
  const dump = new PreMigrationDump(stack, "pre-migration-dump", {
    environment: "prod",
    cluster,
    backup,
    release: releaseIdOf(API)!,
    budgetMb: 81920,
  });
  const { named, key } = synthJson(stack);
  const c = named("prod-postgres-pre-migration-dump");

  it("is a one-shot job checked on its exit code, named after the release, with the backups volume and the backup role", () => {
    expect(c).toMatchObject({ attach: true, must_run: false, restart: "no", user: "postgres", read_only: true });
    expect(c.lifecycle.postcondition).toEqual([
      {
        condition: "${self.exit_code == 0}",
        error_message: "prod-postgres-pre-migration-dump did not exit 0; read its logs with: docker logs prod-postgres-pre-migration-dump",
      },
    ]);
    expect(c.entrypoint).toEqual(["sh", "/etc/postgres-pre-migration-dump/pre-migration-dump.sh"]);
    // The release in the command: a new release is a new container, so a new dump.
    expect(c.command).toEqual(["ab12ab12ab12"]);
    expect(c.volumes).toContainEqual({
      container_path: "/var/lib/postgresql",
      read_only: false,
      volume_name: `\${docker_volume.${key("docker_volume", "prod-postgres-backups")}.name}`,
    });
    expect(c.networks_advanced).toEqual([
      { name: `\${docker_network.${key("docker_network", "prod-postgres")}.name}`, aliases: ["postgres-pre-migration-dump"] },
    ]);
    expect(c.depends_on).toContain(`docker_container.${key("docker_container", "prod-postgres")}`);
    expect(c.labels).toContainEqual({ label: "io.updateio.role", value: "pre-migration-dump" });
    const seed = named("prod-postgres-pre-migration-dump-seed");
    const password = seed.upload.find((u: Json) => u.file === "/run/secrets/postgres_backup_password");
    expect(password.content).toBe(named("prod-postgres-backup-seed").upload.find((u: Json) => u.file === password.file).content);
    const script = unescape(seed.upload.find((u: Json) => u.file === "/etc/postgres-pre-migration-dump/pre-migration-dump.sh").content);
    expect(script).toBe(renderPreMigrationDumpScript(INPUT));
    expect(script).toContain(': "${PGUSER:=updateio_backup}"');
    expect(script).toContain(': "${KEEP:=3}"');
    expect(script).toContain(': "${BUDGET_MB:=81920}"');
  });

  it("names the file and the commands that check and restore it", () => {
    expect(dump.path).toBe("/var/lib/postgresql/pre-migration/ab12ab12ab12.dump");
    // The volume's name is a reference (resolved in the environments' output below).
    expect(Token.isUnresolved(dump.file)).toBe(true);
    expect(dump.file.endsWith(":pre-migration/ab12ab12ab12.dump")).toBe(true);
    expect(dump.commands).toEqual({
      check: "docker exec -w /var/lib/postgresql/pre-migration prod-postgres sha256sum -c ab12ab12ab12.dump.sha256",
      restore:
        "docker run --rm --network none -v prod-postgres-backup-config:/c:ro --entrypoint cat \"$(docker inspect --format '{{.Image}}' prod-postgres)\" /c/restore-dump.sh | docker exec -i prod-postgres sh -s -- /var/lib/postgresql/pre-migration/ab12ab12ab12.dump",
    });
    expect(dump.commands.restore).toBe(
      PRE_MIGRATION_RESTORE_TEMPLATE.restore.replace(/\$ENV/g, "prod").replace(/\$RELEASE/g, "ab12ab12ab12"),
    );
  });

  it("refuses bad props, every problem at once, naming the prop and the fix", () => {
    const b = build();
    const message = errorOf(
      () =>
        new PreMigrationDump(b.stack, "bad", {
          environment: "prod",
          cluster: b.cluster,
          backup: b.backup,
          release: "1.4.0; rm -rf /",
          keep: 0,
          budgetMb: -1,
          memoryMb: 16,
        }),
    );
    expect(message).toMatch(/^  - keep: 0 must be a whole number from 1 to 50 .*\(fix: keep a few/m);
    expect(message).toMatch(/^  - budgetMb: -1 must be a whole number of MiB .*\(fix: pass budgets\.postgresBackups\)/m);
    expect(message).toMatch(
      /^  - release: "1\.4\.0; rm -rf \/" must be 1-64 of a-z 0-9 \. _ - .*\(fix: the API image digest's first 12 hex/m,
    );
    expect(message).toMatch(/^  - memoryMb: 16 must be a whole number ≥ 64/m);
  });

  it("takes the release from a digest only, and renders commands for valid names only", () => {
    expect(releaseIdOf(API)).toBe("ab12ab12ab12");
    expect(releaseIdOf("ghcr.io/updateio/api:1.4.0")).toBeUndefined();
    expect(releaseIdOf(`ghcr.io/updateio/api:1.4.0@sha256:${"a".repeat(63)}`)).toBeUndefined();
    expect(() => preMigrationRestoreCommands("prod", "$(reboot)")).toThrow(/release/);
    expect(() => preMigrationRestoreCommands("prod; x", "abc")).toThrow(/environment/);
    expect(() => renderPreMigrationDumpScript({ ...INPUT, role: "Robert'); DROP" })).toThrow(/role/);
  });
});

describe("the pre-migration dump in the environments", () => {
  const containers = (json: Json) => Object.entries(json.resource.docker_container as Record<string, Json>);

  it.each(["test", "prod"] as const)(
    "%s: the migration job waits for it; it runs as a plain container beside it; the output names it",
    (env) => {
      const { json } = sharedEnvironment(env);
      const [dumpKey, dumpContainer] = containers(json).find(([, c]) => c.name === `${env}-postgres-pre-migration-dump`)!;
      const [, job] = containers(json).find(([, c]) => c.name === `${env}-api-migrate`)!;
      expect(job.depends_on).toContain(`docker_container.${dumpKey}`);
      // Swarm has no one-shot jobs in provider 3.6.2: like the migration job, a container on the manager.
      expect(Object.values((json.resource.docker_service ?? {}) as Record<string, Json>).map((s) => s.name)).not.toContain(
        `${env}-postgres-pre-migration-dump`,
      );
      const release = releaseIdOf(
        (Object.values(json.resource.docker_image as Record<string, Json>).find((i) => String(i.name).includes("/api:")) as Json).name,
      );
      expect(dumpContainer.command).toEqual([release]);
      const config = loadEnvironmentConfig(env, {});
      const script = unescape(uploadedFile(json, "/etc/postgres-pre-migration-dump/pre-migration-dump.sh")!);
      expect(script).toContain(`: "\${BUDGET_MB:=${config.budgets.postgresBackups}}"`);
      expect(script).toContain(': "${KEEP:=3}"');
      const output = json.output.pre_migration_dump.value;
      expect(output.keep).toBe(3);
      expect(output.file).toMatch(
        new RegExp(`^\\$\\{docker_volume\\.postgres-backups_volume_[0-9A-F]+\\.name\\}:pre-migration/${release}\\.dump$`),
      );
      expect(output.restore).toBe(preMigrationRestoreCommands(env, release!).restore);
      expect(output.check).toBe(preMigrationRestoreCommands(env, release!).check);
    },
  );

  it("dev: off (no job, no output)", () => {
    const { json } = sharedEnvironment("dev");
    expect(containers(json).map(([, c]) => c.name)).not.toContain("dev-postgres-pre-migration-dump");
    expect(json.output.pre_migration_dump).toBeUndefined();
  });

  it("preMigrationDumps: 0 turns it off in test; a number sets how many are kept", () => {
    const config = loadEnvironmentConfig("test", {});
    const off = new EnvironmentStack(Testing.app(), "test", { ...config, migrations: { ...config.migrations, preMigrationDumps: 0 } });
    expect(off.apps.preMigrationDump).toBeUndefined();
    const five = new EnvironmentStack(Testing.app(), "test", { ...config, migrations: { ...config.migrations, preMigrationDumps: 5 } });
    expect(five.apps.preMigrationDump?.keep).toBe(5);
    expect(five.apps.preMigrationDump?.script).toContain(': "${KEEP:=5}"');
  });
});
