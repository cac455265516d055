// Alert rules for PostgresRestoreDrill, as data in the catalogue's shape (observability/alerts/types):
// rendered by renderPrometheusRules and renderGrafanaAlerting like every other rule.
import type { AlertRule } from "./types";
import { ValidationError } from "../../contract/errors";

export interface RestoreDrillAlertInput {
  /** Seconds between scheduled drills (PostgresRestoreDrill.intervalSeconds): 21600 (6 h) or more. */
  readonly intervalSeconds: number;
  /** The drill's container, named in the descriptions. @default "<env>-postgres-restore-drill" */
  readonly containerName?: string;
}

/** How long RestoreDrillNotRun's condition must hold: a fresh deployment's first drill waits up to an hour for a dump. */
const NOT_RUN_FOR_SECONDS = 7200;

/**
 * RestoreDrillFailed: the last drill failed (updateio_restore_drill_success is 0).
 * RestoreDrillNotRun: no passing drill for more than 1.5 x the interval, or no drill metrics at all.
 * Its condition is held for 2 h before firing (so a metric missing right after a deployment or a
 * scrape gap does not page); the age branch's threshold is lowered by those 2 h, so it fires exactly
 * 1.5 x the interval after the last passing drill.
 */
export function restoreDrillAlerts(input: RestoreDrillAlertInput): AlertRule[] {
  const interval = input.intervalSeconds;
  if (!Number.isInteger(interval) || interval < 21600 || interval > 7 * 86400)
    throw new ValidationError("restoreDrillAlerts input", [
      `intervalSeconds ${String(interval)} must be a whole number of seconds from 21600 (6 h) to 604800 (7 days)`,
    ]);
  const container = input.containerName ?? "<env>-postgres-restore-drill";
  if (!/^[<>a-z0-9][<>a-z0-9_.-]*$/.test(container))
    throw new ValidationError("restoreDrillAlerts input", [
      `containerName "${container}" must be a Docker container name (lowercase letters, digits, - _ .)`,
    ]);
  const limit = (interval * 3) / 2;
  const hours = Math.round((limit / 3600) * 10) / 10;
  const byHand = `docker exec ${container} sh /etc/postgres-restore-drill/restore-drill.sh --now`;
  return [
    {
      name: "RestoreDrillFailed",
      group: "backup",
      expr: "updateio_restore_drill_success == 0",
      for: "0s",
      severity: "critical",
      labels: { service: "postgres-restore-drill" },
      summary: "The last Postgres restore drill failed: the newest backup may not be restorable",
      description: `The restore drill could not restore the newest dump and match it to the live database (updateio_restore_drill_success is 0). Read why with docker logs ${container} (the lines starting with "error:"): a missing or stale dump means backups stopped (see the backup alerts); a pg_restore failure means the dump is truncated or corrupt, so take a fresh backup now and check the backups volume's disk; MISSING/EXTRA/COUNT lines name tables that differ. Once fixed, run ${byHand} and check it exits 0. Runbook: docs/runbooks/postgres-restore-drill.md.`,
    },
    {
      name: "RestoreDrillNotRun",
      group: "backup",
      expr: `time() - updateio_restore_drill_last_success_timestamp_seconds > ${limit - NOT_RUN_FOR_SECONDS} or absent(updateio_restore_drill_last_success_timestamp_seconds)`,
      for: `${NOT_RUN_FOR_SECONDS / 3600}h`,
      severity: "warning",
      labels: { service: "postgres-restore-drill" },
      summary: `No Postgres restore drill has passed for more than ${hours} hours`,
      description: `No passing restore drill for more than 1.5 x its interval (${hours} h), or no drill metrics at all: nobody knows whether the backups restore. Check that ${container} is running (docker ps), read docker logs ${container}, and that node-exporter reads the backups volume's metrics directory (postgres_restore_drill.prom). Then run ${byHand}. Runbook: docs/runbooks/postgres-restore-drill.md.`,
    },
  ];
}
