// Backups: the scheduler's textfile metrics (last run, last success, off-site copy) read via node-exporter.
import type { CatalogueContext } from "./context";
import type { AlertRule } from "./types";

export function backupAlerts({ o }: CatalogueContext): AlertRule[] {
  const stores = o.backupStores;
  const age = (matcher: string, hours: number) => `time() - updateio_backup_last_success_timestamp_seconds${matcher} > ${hours * 3600}`;
  // With store backups, each store is checked on its own schedule and reported missing on its own;
  // store="" selects the Postgres backup's series (they carry no store label).
  const tooOld =
    stores.length === 0
      ? age("", o.backupMaxAgeHours)
      : [age('{store=""}', o.backupMaxAgeHours), ...stores.map((s) => age(`{store="${s.store}"}`, s.maxAgeHours))].join(" or ");
  const missing =
    stores.length === 0
      ? "absent(updateio_backup_last_success_timestamp_seconds)"
      : ['{store=""}', ...stores.map((s) => `{store="${s.store}"}`)]
          .map((m) => `absent(updateio_backup_last_success_timestamp_seconds${m})`)
          .join(" or ");
  const limits = [`postgres ${o.backupMaxAgeHours} h`, ...stores.map((s) => `${s.store} ${s.maxAgeHours} h`)].join(", ");
  return [
    {
      name: "BackupFailed",
      group: "backup",
      expr: "updateio_backup_last_run_success == 0",
      for: "0s",
      severity: "critical",
      labels: { service: "backup" },
      summary: "The last backup run failed",
      description:
        "The backup scheduler reports that its last run failed (updateio_backup_last_run_success is 0). Read the backup container's logs and run a backup by hand once fixed.",
    },
    {
      name: "BackupTooOld",
      group: "backup",
      expr: tooOld,
      for: "5m",
      severity: "critical",
      labels: { service: "backup" },
      ...(stores.length === 0
        ? {
            summary: `No successful backup for more than ${o.backupMaxAgeHours} hours`,
            description: `The last successful backup is older than ${o.backupMaxAgeHours} hours: a restore today would lose more than a day of data. Check that the backup schedule runs and succeeds.`,
          }
        : {
            summary: "A store's last successful backup is older than its schedule allows",
            description: `The last successful backup of a store (the store label; none: Postgres) is older than its limit (${limits}): a restore today would lose more than its schedule promises. Check that its backup job runs and succeeds.`,
          }),
    },
    {
      name: "BackupStatusMissing",
      group: "backup",
      expr: missing,
      for: "1h",
      severity: "critical",
      labels: { service: "backup" },
      summary: "No backup status has been reported for an hour",
      description:
        "updateio_backup_last_success_timestamp_seconds is missing: the backup scheduler has not written its status file (node-exporter textfile collector), or node-exporter is not scraped. Backups may not be running at all.",
    },
    {
      name: "BackupOffsiteFailed",
      group: "backup",
      expr: "updateio_backup_offsite_success == 0",
      for: "0s",
      severity: "warning",
      labels: { service: "backup" },
      summary: "The last backup was not copied off-site",
      description:
        "The last backup exists locally but its off-site copy failed (updateio_backup_offsite_success is 0): losing this host would lose the backups too.",
    },
  ];
}
