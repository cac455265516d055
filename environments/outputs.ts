import { TerraformOutput, type TerraformStack } from "cdktf";
import type { Apps } from "./apps";
import type { DataTier } from "./data-tier";
import type { Observability } from "./observability";
import type { StackContext } from "./stack-context";

/** The parts of an environment its outputs read. */
export interface OutputSources {
  readonly data: DataTier;
  readonly apps: Apps;
  readonly observability: Observability;
}

/** What operators read with `terraform output`: public URLs, internal endpoints, and (sensitive) credentials. */
export function addStackOutputs(stack: TerraformStack, ctx: StackContext, { data, apps, observability }: OutputSources): void {
  const { postgres, redis, rabbitmq } = data;
  const { grafana } = observability;
  const { hosts, services } = ctx.config;
  new TerraformOutput(stack, "urls", {
    description: "Public URLs served by the edge proxy.",
    value: {
      api: ctx.publicUrl(hosts.api),
      admin: ctx.publicUrl(hosts.admin),
      mini_app: ctx.publicUrl(hosts.miniApp),
      ...(grafana ? { grafana: grafana.rootUrl } : {}),
    },
  });
  // No Grafana (observability.profile "off"): no URL and no password to read.
  if (grafana)
    new TerraformOutput(stack, "grafana_admin_password", {
      description: "Grafana's admin password (user admin; read with `terraform output -raw grafana_admin_password`).",
      sensitive: true,
      value: grafana.adminPasswordSecret.value,
    });
  new TerraformOutput(stack, "internal_endpoints", {
    description: "Service discovery names on the internal networks (host:port).",
    value: {
      postgres: `${postgres.host}:${postgres.port}`,
      redis: `${redis.host}:${redis.port}`,
      rabbitmq: `${rabbitmq.host}:${rabbitmq.port}`,
      ...Object.fromEntries(Object.entries(services).map(([name, svc]) => [name, `${name}:${svc.port}`])),
    },
  });
  new TerraformOutput(stack, "database_app_url", {
    description: "Connection URL of the app role (for operators; read with `terraform output -raw`).",
    sensitive: true,
    value: postgres.databaseUrl("app"),
  });
  const dump = apps.preMigrationDump;
  if (dump)
    new TerraformOutput(stack, "pre_migration_dump", {
      description:
        'The dump taken right before this release\'s migrations, and how to undo them with it (docs/runbooks/postgres-restore.md, "Undo a migration with the pre-migration dump").',
      value: { file: dump.file, keep: dump.keep, check: dump.commands.check, restore: dump.commands.restore },
    });
  if (data.devDatabaseUrl !== undefined)
    new TerraformOutput(stack, "dev_database_url", {
      description:
        "Dev only: the schema owner's URL on 127.0.0.1 (postgres.hostPort) for `prisma migrate dev` / `prisma studio` (`DATABASE_URL=$(terraform output -raw dev_database_url)`).",
      sensitive: true,
      value: data.devDatabaseUrl,
    });
}
