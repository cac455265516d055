import { Construct } from "constructs";
import type { RabbitBroker } from "./rabbit-broker";
import {
  RABBIT_BACKUP_STORE,
  RABBIT_SNAPSHOT_SUFFIX,
  rabbitBackupProblems,
  renderRabbitBackupHooks,
  renderRabbitRestoreScript,
} from "./renderers/rabbitmq-backup";
import { ScheduledBackup } from "../kit/scheduled-backup";
import { SECURE_DEFAULTS } from "../kit/secure-defaults";
import { storeBackupProps, type StoreBackupDefaults, type StoreBackupProps } from "../kit/store-backup";
import { ValidationError } from "../contract/errors";

/** Definitions change rarely: every 6 hours, a week kept; the Erlang VM of rabbitmqctl needs room. */
export const RABBIT_BACKUP_DEFAULTS: StoreBackupDefaults = { schedule: { everyMinutes: 360, at: "00:20" }, keep: 28, memoryMb: 256 };

export interface RabbitBackupProps extends StoreBackupProps {
  readonly broker: RabbitBroker;
}

/** The rabbitmq image's /var/lib/rabbitmq, owned by rabbitmq (copied to the new volume). */
export const RABBIT_BACKUP_ROOT = "/var/lib/rabbitmq";
/** rabbitmqctl's HOME (its Erlang cookie): a tmpfs, so the cookie never lands in the backups volume. */
const CLI_HOME = "/run/rabbitmq-cli";

/**
 * Scheduled definitions exports of a RabbitBroker (`rabbitmqctl export_definitions -`, over Erlang
 * distribution with the broker's cookie) into `<env>-rabbitmq-backups`. Runs the broker's own image
 * as `rabbitmq` on the broker's network only. Messages are not exported: see the restore runbook.
 */
export class RabbitBackup extends Construct {
  readonly backup: ScheduledBackup;
  readonly hooks: string;
  readonly restoreScript: string;

  constructor(scope: Construct, id: string, props: RabbitBackupProps) {
    super(scope, id);
    const broker = props.broker;
    const input = {
      nodes: broker.nodeHosts.map((h) => `rabbit@${h}`),
      cookieFile: `${SECURE_DEFAULTS.secretsDir}/erlang_cookie`,
      backupRoot: RABBIT_BACKUP_ROOT,
    };
    const problems = rabbitBackupProblems(input);
    const shared = storeBackupProps(
      props,
      RABBIT_BACKUP_DEFAULTS,
      broker.nodes.flatMap((n) => n.containers),
    );
    const memoryMb = shared.memoryMb!;
    if (!Number.isInteger(memoryMb) || memoryMb < 128)
      problems.push(`memoryMb: ${memoryMb} must be a whole number ≥ 128 (fix: rabbitmqctl starts an Erlang VM; use 256)`);
    if (problems.length > 0) throw new ValidationError(`RabbitBackup ${this.node.path}`, problems);
    this.hooks = renderRabbitBackupHooks(input);
    this.restoreScript = renderRabbitRestoreScript(input);
    this.backup = new ScheduledBackup(this, "backup", {
      ...shared,
      store: RABBIT_BACKUP_STORE,
      image: broker.service.spec.image,
      user: "rabbitmq",
      hooks: this.hooks,
      restoreScript: this.restoreScript,
      suffix: RABBIT_SNAPSHOT_SUFFIX,
      backupsPath: RABBIT_BACKUP_ROOT,
      network: broker.network,
      env: { HOME: CLI_HOME },
      tmpfs: { [CLI_HOME]: 1 },
      secrets: [{ name: "erlang_cookie", value: broker.erlangCookie.value }],
      // The rabbitmq image's uid/gid (Alpine: 100:101), which owns the exports.
      offsiteUser: "100:101",
    });
  }
}
