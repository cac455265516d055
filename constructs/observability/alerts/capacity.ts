// Capacity: volumes against their size budgets (VolumeUsage's textfile metrics) and the Docker data
// root's filesystem (node-exporter). One full disk stops Postgres (at 0 bytes), Redis' AOF writes and
// RabbitMQ (publishers blocked below its 1 GB disk_free_limit) at once, so the critical alerts fire
// while there is room left: above that limit, or hours before the trend reaches it.
import { pct, type CatalogueContext } from "./context";
import type { AlertRule } from "./types";

/** `mountpoint` values that can hold `root`: itself and each parent ("/", "/var", "/var/lib", ...). */
export function dataRootMountpoints(root: string): string[] {
  const parts = root.split("/").filter((p) => p !== "");
  return ["/", ...parts.map((_, i) => `/${parts.slice(0, i + 1).join("/")}`)];
}

/** GiB with one decimal, for descriptions. */
const gib = (bytes: number) => `${Math.round((bytes / 1024 ** 3) * 10) / 10} GiB`;

/** How stale the volume metrics may get: three measurements of VolumeUsage's default interval (300s). */
const STALE_SECONDS = 1800;

export function capacityAlerts({ o }: CatalogueContext): AlertRule[] {
  const ratio = "updateio_volume_used_bytes / updateio_volume_budget_bytes";
  // The series carry `service` already; label_replace keeps it explicit (the catalogue's rule for derived labels).
  const bySeries = (expr: string) => `label_replace(${expr}, "service", "$1", "service", "(.+)")`;
  const mountpoints = dataRootMountpoints(o.dockerDataRoot)
    .map((m) => m.replace(/[.]/g, "\\\\."))
    .join("|");
  const avail = `node_filesystem_avail_bytes{mountpoint=~"${mountpoints}", fstype!~"tmpfs|ramfs|squashfs|overlay|nsfs"}`;
  return [
    {
      name: "VolumeNearBudget",
      group: "capacity",
      // Below the critical ratio only, so one volume raises one alert at a time.
      expr: bySeries(`(${ratio} > ${o.volumeBudgetWarningRatio}) <= ${o.volumeBudgetCriticalRatio}`),
      for: "15m",
      severity: "warning",
      labels: {},
      summary: `Volume {{ $labels.volume }} is over ${pct(o.volumeBudgetWarningRatio)} of its size budget`,
      description: `{{ $labels.volume }} ({{ $labels.service }}) uses more than ${pct(o.volumeBudgetWarningRatio)} of its budget (budgets in environments/<env>.ts). Docker cannot cap a volume: it keeps growing into the host's disk. Find what grew (retention, a runaway table or queue) or raise the budget after checking the host has the room.`,
    },
    {
      name: "VolumeOverBudget",
      group: "capacity",
      expr: bySeries(`${ratio} > ${o.volumeBudgetCriticalRatio}`),
      for: "15m",
      severity: "critical",
      labels: {},
      summary: `Volume {{ $labels.volume }} is over ${pct(o.volumeBudgetCriticalRatio)} of its size budget`,
      description: `{{ $labels.volume }} ({{ $labels.service }}) uses more than ${pct(o.volumeBudgetCriticalRatio)} of its budget. The host's disk was sized from the budgets: past them, one store can fill it and stop Postgres, Redis and RabbitMQ together. Free space in that store now, or raise its budget and the disk.`,
    },
    {
      name: "VolumeUsageStale",
      group: "capacity",
      expr: `time() - updateio_volume_usage_last_run_timestamp_seconds > ${STALE_SECONDS} or updateio_volume_usage_last_run_success == 0 or absent(updateio_volume_usage_last_run_timestamp_seconds)`,
      for: "30m",
      severity: "warning",
      labels: { service: "volume-usage" },
      summary: "The volume budgets are not being measured",
      description:
        "The volume-usage job has not written fresh metrics (node-exporter textfile volume_usage.prom), or could not measure a volume: the budget alerts see stale numbers. Read the volume-usage container's logs.",
    },
    {
      name: "DockerDiskFillingUp",
      group: "capacity",
      expr: `predict_linear(${avail}[6h], ${o.diskFillWarningHours} * 3600) < 0`,
      for: "30m",
      severity: "warning",
      labels: { service: "host" },
      summary: `The Docker data root's disk ({{ $labels.mountpoint }}) fills within ${o.diskFillWarningHours}h at the last 6h's rate`,
      description: `At the rate of the last 6 hours, {{ $labels.mountpoint }} ({{ $labels.device }}), which holds Docker's volumes, is full within ${o.diskFillWarningHours} hours. Check the volume budget alerts and the largest volumes (docker system df -v).`,
    },
    {
      name: "DockerDiskFillingFast",
      group: "capacity",
      expr: `predict_linear(${avail}[1h], ${o.diskFillCriticalHours} * 3600) < ${o.diskMinFreeBytes}`,
      for: "10m",
      severity: "critical",
      labels: { service: "host" },
      summary: `The Docker data root's disk ({{ $labels.mountpoint }}) drops below ${gib(o.diskMinFreeBytes)} free within ${o.diskFillCriticalHours}h`,
      description: `At the last hour's rate, {{ $labels.mountpoint }} ({{ $labels.device }}) has less than ${gib(o.diskMinFreeBytes)} free within ${o.diskFillCriticalHours} hours: then RabbitMQ blocks publishers (1 GB disk_free_limit) and Postgres stops at 0. Find the writer now (docker system df -v, the volume alerts).`,
    },
    {
      name: "DockerDiskLow",
      group: "capacity",
      expr: `${avail} < ${o.diskMinFreeBytes}`,
      for: "5m",
      severity: "critical",
      labels: { service: "host" },
      summary: `Less than ${gib(o.diskMinFreeBytes)} free on the Docker data root's disk ({{ $labels.mountpoint }})`,
      description: `{{ $labels.mountpoint }} ({{ $labels.device }}) holds Docker's volumes and has less than ${gib(o.diskMinFreeBytes)} free. Below 1 GB RabbitMQ blocks every publisher; at 0 Postgres stops and Redis refuses writes. Free space now: prune images (docker image prune), shorten a retention, or grow the disk.`,
    },
  ];
}
