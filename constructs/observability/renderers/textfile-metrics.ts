/**
 * A POSIX sh function `write_metrics` that writes gauges in Prometheus' text format for
 * node-exporter's textfile collector, shared by the scripts that run beside Postgres (backup
 * scheduler, off-host copy). Written atomically (tmp + mv) and world-readable, since node-exporter
 * runs as nobody while the scripts' umask keeps everything else private.
 */

export interface TextfileGauge {
  /** Metric name, e.g. "updateio_backup_last_run_success". */
  readonly name: string;
  readonly help: string;
  /** Shell expression for the value, e.g. "$1" or "${3:-0}" (the function's arguments). */
  readonly value: string;
}

/** The shell function; `$METRICS_DIR` must be set by the script. A failed write only loses the metrics. */
export function renderTextfileMetricsFunction(file: string, gauges: readonly TextfileGauge[]): string {
  if (!/^[a-z_]+\.prom$/.test(file))
    throw new Error(`renderTextfileMetricsFunction: file "${file}" must be a name like postgres_backup.prom`);
  const lines = gauges.flatMap((g) => [
    `    echo "# HELP ${g.name} ${g.help}"`,
    `    echo "# TYPE ${g.name} gauge"`,
    `    echo "${g.name} ${g.value}"`,
  ]);
  const tmp = `"$METRICS_DIR/.${file}.tmp"`;
  return `# Prometheus text format for node-exporter's textfile collector (atomic: tmp + mv); readable by
# node-exporter (nobody) while the backups themselves stay 0600/0700 (umask 077).
write_metrics() {
  mkdir -p "$METRICS_DIR" 2>/dev/null && chmod 755 "$METRICS_DIR" 2>/dev/null || return 0
  {
${lines.join("\n")}
  } > ${tmp} 2>/dev/null && chmod 644 ${tmp} && mv ${tmp} "$METRICS_DIR/${file}" 2>/dev/null
  return 0
}`;
}
