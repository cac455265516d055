/**
 * The per-store backup alerts as rendered into prod's Prometheus rules, proven with `promtool test
 * rules`: each store goes stale on its own schedule (Redis after 3 h, not before), and a store whose
 * status is absent is named by BackupStatusMissing even while the others report.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, expect } from "vitest";
import { itIfBinary } from "../support/binaries";
import { synthEnvironment, uploadedFile } from "../support/stacks";

const DIR = mkdtempSync(join(tmpdir(), "store-backup-alerts-"));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

const TESTS = `rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'updateio_backup_last_success_timestamp_seconds{store="redis"}'
        values: '0x300'
      - series: 'updateio_backup_last_success_timestamp_seconds{store="rabbitmq"}'
        values: '0+60x300'
      - series: 'updateio_backup_last_success_timestamp_seconds{store="grafana"}'
        values: '0x300'
      - series: 'updateio_backup_last_success_timestamp_seconds{store="edge"}'
        values: '0x300'
      - series: 'updateio_backup_last_success_timestamp_seconds'
        values: '0x300'
    alert_rule_test:
      - eval_time: 2h50m
        alertname: BackupTooOld
      - eval_time: 4h
        alertname: BackupTooOld
        exp_alerts:
          - exp_labels: {severity: critical, service: backup, store: redis}
            exp_annotations:
              summary: "A store's last successful backup is older than its schedule allows"
              description: "The last successful backup of a store (the store label; none: Postgres) is older than its limit (postgres 26 h, redis 3 h, rabbitmq 8 h, grafana 26 h, edge 26 h): a restore today would lose more than its schedule promises. Check that its backup job runs and succeeds."
      - eval_time: 2h
        alertname: BackupStatusMissing
  - interval: 1m
    input_series:
      - series: 'updateio_backup_last_success_timestamp_seconds'
        values: '0+60x120'
      - series: 'updateio_backup_last_success_timestamp_seconds{store="redis"}'
        values: '0+60x120'
    alert_rule_test:
      - eval_time: 90m
        alertname: BackupStatusMissing
        exp_alerts:
          - exp_labels: {severity: critical, service: backup, store: rabbitmq}
            exp_annotations: &a
              summary: "No backup status has been reported for an hour"
              description: "updateio_backup_last_success_timestamp_seconds is missing: the backup scheduler has not written its status file (node-exporter textfile collector), or node-exporter is not scraped. Backups may not be running at all."
          - exp_labels: {severity: critical, service: backup, store: grafana}
            exp_annotations: *a
          - exp_labels: {severity: critical, service: backup, store: edge}
            exp_annotations: *a
`;

itIfBinary("promtool", "prod: BackupTooOld and BackupStatusMissing fire per store on its own schedule", () => {
  const { json } = synthEnvironment("prod", {}, DIR);
  const rules = uploadedFile(json, "/etc/updateio-prometheus-rules/updateio.yml")!;
  // Uploads are escaped for Terraform's template syntax; promtool reads what the container gets.
  writeFileSync(join(DIR, "rules.yml"), rules.replaceAll("$${", "${").replaceAll("%%{", "%{"));
  writeFileSync(join(DIR, "tests.yml"), TESTS);
  const r = spawnSync("promtool", ["test", "rules", "tests.yml"], { cwd: DIR, encoding: "utf8" });
  expect(r.status, r.stdout + r.stderr).toBe(0);
});
