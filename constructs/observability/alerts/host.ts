// Host: filesystems filling up (node-exporter).
import { pct, type CatalogueContext } from "./context";
import type { AlertRule } from "./types";

/** Filesystems that are not the Docker data root or a volume: memory-backed or image layers. */
const PSEUDO_FS = 'fstype!~"tmpfs|ramfs|squashfs|overlay|nsfs"';

export function hostAlerts({ o }: CatalogueContext): AlertRule[] {
  return [
    {
      name: "DiskSpaceLow",
      group: "host",
      expr: `node_filesystem_avail_bytes{${PSEUDO_FS}} / node_filesystem_size_bytes{${PSEUDO_FS}} < ${o.diskFreeRatio}`,
      for: "10m",
      severity: "critical",
      labels: { service: "host" },
      summary: "Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} is almost full",
      description: `Less than ${pct(o.diskFreeRatio)} of {{ $labels.mountpoint }} ({{ $labels.device }}) is free. Postgres, RabbitMQ and Loki stop writing when the disk fills: free space or grow the volume now.`,
    },
  ];
}
