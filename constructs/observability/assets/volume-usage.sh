#!/bin/sh
# Measures every stateful volume of the environment (du) and writes their usage and size budgets in
# Prometheus' text format for node-exporter's textfile collector (VolumeUsage, alerts/capacity.ts).
# Docker's local volume driver cannot cap a volume's size: this is how a budget is watched.
#
#   volume-usage.sh run      measure now, then every $INTERVAL_SECONDS, forever
#   volume-usage.sh once     measure once
#   volume-usage.sh health   exit 0 when the metrics file is fresher than 3 x $INTERVAL_SECONDS
#
# $VOLUMES_FILE lists one volume a line: "<docker volume> <service> <budget bytes> <mount path>".
# Every measured volume is mounted read-only; $METRICS_DIR is the job's own volume (root-owned, as
# Docker creates a new volume), the only one it writes.
#
# Runs as root with SETUID and SETGID only (no DAC_* capability): each volume is measured as the
# user and group owning its root directory (setpriv, which drops every capability with the switch),
# so du reads exactly what that volume's own service could; the metrics file is written as the
# owner of $METRICS_DIR in the same way.
set -eu

: "${VOLUMES_FILE:=/etc/volume-usage/volumes.txt}"
: "${METRICS_DIR:=/metrics}"
: "${INTERVAL_SECONDS:=300}"
METRICS_FILE="$METRICS_DIR/volume_usage.prom"

log() { printf '%s volume-usage: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

# Runs "$@" as the user and group owning directory $1's inode (then shifts it away).
as_owner_of() {
  _owner=$(stat -c '%u %g' "$1") || return 1
  shift
  # shellcheck disable=SC2086 # two numbers, split on purpose
  set -- $_owner "$@"
  _uid=$1 _gid=$2
  shift 2
  setpriv --reuid="$_uid" --regid="$_gid" --clear-groups "$@"
}

# Bytes used under a directory: du in KiB on that filesystem only (-x), so a nested mount is not counted.
used_bytes() {
  _kib=$(as_owner_of "$1" du -skx "$1" 2>/dev/null | cut -f1) || return 1
  case "$_kib" in '' | *[!0-9]*) return 1 ;; esac
  echo $((_kib * 1024))
}

measure() {
  if [ ! -d "$METRICS_DIR" ]; then
    log "$METRICS_DIR is not a directory (the job's metrics volume is mounted there); retrying next round"
    return 1
  fi
  _tmp=/tmp/volume_usage.prom
  _ok=1
  {
    echo "# HELP updateio_volume_used_bytes Bytes used on a stateful volume (du)."
    echo "# TYPE updateio_volume_used_bytes gauge"
    while read -r _volume _service _budget _path; do
      [ -n "$_volume" ] || continue
      if _bytes=$(used_bytes "$_path"); then
        echo "updateio_volume_used_bytes{volume=\"$_volume\",service=\"$_service\"} $_bytes"
      else
        log "cannot measure $_volume at $_path"
        _ok=0
      fi
    done <"$VOLUMES_FILE"
    echo "# HELP updateio_volume_budget_bytes Size budget of a stateful volume (environments/<env>.ts budgets)."
    echo "# TYPE updateio_volume_budget_bytes gauge"
    while read -r _volume _service _budget _path; do
      [ -n "$_volume" ] || continue
      echo "updateio_volume_budget_bytes{volume=\"$_volume\",service=\"$_service\"} $_budget"
    done <"$VOLUMES_FILE"
    echo "# HELP updateio_volume_usage_last_run_timestamp_seconds When the volumes were last measured."
    echo "# TYPE updateio_volume_usage_last_run_timestamp_seconds gauge"
    echo "updateio_volume_usage_last_run_timestamp_seconds $(date +%s)"
    echo "# HELP updateio_volume_usage_last_run_success 1 when every volume could be measured."
    echo "# TYPE updateio_volume_usage_last_run_success gauge"
    echo "updateio_volume_usage_last_run_success $_ok"
  } >"$_tmp" || {
    rm -f "$_tmp"
    log "cannot write $_tmp"
    return 1
  }
  # Readable by the directory's owner (who copies it) and by node-exporter (nobody). Atomic: tmp + mv.
  chmod 644 "$_tmp"
  # shellcheck disable=SC2016 # expanded by the inner sh
  as_owner_of "$METRICS_DIR" sh -c 'cp "$1" "$2" && chmod 644 "$2" && mv "$2" "$3"' sh "$_tmp" "$METRICS_DIR/.volume_usage.prom.tmp" "$METRICS_FILE" || {
    log "cannot write $METRICS_FILE"
    return 1
  }
}

health() {
  [ -f "$METRICS_FILE" ] || return 1
  _max_minutes=$(((INTERVAL_SECONDS * 3 + 59) / 60))
  [ -n "$(find "$METRICS_FILE" -mmin "-$_max_minutes" 2>/dev/null)" ]
}

case "${1:-run}" in
  run)
    _sleeper=""
    trap 'log "stopping"; [ -z "$_sleeper" ] || kill "$_sleeper" 2>/dev/null; exit 0' TERM INT
    while :; do
      measure || log "this round wrote no metrics"
      sleep "$INTERVAL_SECONDS" &
      _sleeper=$!
      wait "$_sleeper" || true
      _sleeper=""
    done
    ;;
  once) measure ;;
  health) health ;;
  *)
    echo "usage: $0 run|once|health" >&2
    exit 2
    ;;
esac
