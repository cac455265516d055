#!/bin/sh
# Restore drill for the UpdateIO Postgres backups (PostgresRestoreDrill). POSIX sh; runs in the
# cluster's own image (same major version as the server that wrote the dumps), as postgres.
#
#   restore-drill.sh loop     the container's command: drill at $DRILL_AT (UTC), then every
#                             $DRILL_INTERVAL_SECONDS; at start, drill at once unless a recent
#                             success is recorded (waiting up to $DRILL_FIRST_DUMP_WAIT_SECONDS
#                             for the backup scheduler's first dump)
#   restore-drill.sh --now    one drill now (what an operator runs with docker exec); exit 0 = passed
#   restore-drill.sh health   the healthcheck: last drill passed and passed recently
#   restore-drill.sh status   prints the status file
#
# One drill: take the newest dump "<db>-YYYYMMDDTHHMMSSZ.dump" in $DUMPS_DIR, start a throwaway
# PostgreSQL server (initdb into $DRILL_SCRATCH_DIR, Unix socket only), create a scratch database,
# pg_restore into it, compare its tables with the live database's (same set of tables; each row count
# within $DRILL_TOLERANCE_PERCENT % or $DRILL_TOLERANCE_ROWS rows of the live count, whichever allows
# more), then drop the scratch database, stop the server and delete its files. The live database is
# only read (count(*) per table, as the read-only drill role). A missing, stale, truncated or corrupt
# dump, a missing or extra table, or a count outside the tolerance fails the drill.
#
# Writes $DRILL_STATUS (key=value) and $METRICS_DIR/postgres_restore_drill.prom for node-exporter's
# textfile collector. Exit 0 = drill passed, 1 = drill failed, 2 = usage, bad setting or another
# drill running.
set -u
umask 077

: "${BACKUP_ROOT:=/var/lib/postgresql}"
: "${DUMPS_DIR:=$BACKUP_ROOT/dumps}"
: "${METRICS_DIR:=$BACKUP_ROOT/metrics}"
: "${DRILL_STATUS:=$BACKUP_ROOT/restore-drill-status}"
: "${DRILL_DATABASE:=updateio}"
: "${DRILL_AT:=04:30}"
: "${DRILL_INTERVAL_SECONDS:=86400}"
: "${DRILL_TOLERANCE_PERCENT:=5}"
: "${DRILL_TOLERANCE_ROWS:=10}"
: "${DRILL_MAX_DUMP_AGE_SECONDS:=172800}"
: "${DRILL_FIRST_DUMP_WAIT_SECONDS:=3600}"
: "${DRILL_IGNORE_TABLES:=}"
: "${DRILL_SCRATCH_DIR:=/var/lib/postgresql/data/restore-drill}"
: "${DRILL_SOCKET_DIR:=/tmp/restore-drill}"
: "${DRILL_SCRATCH_PORT:=54329}"
: "${DRILL_SCRATCH_SHARED_BUFFERS_MB:=64}"
: "${DRILL_STATEMENT_TIMEOUT_SECONDS:=1800}"
: "${LIVE_HOST:=postgres}"
: "${LIVE_PORT:=5432}"
: "${LIVE_USER:=updateio_restore_drill}"
: "${LIVE_PASSWORD_FILE:=/run/secrets/postgres_restore_drill_password}"

METRICS_FILE=postgres_restore_drill.prom
SCRATCH_DB=restore_drill
SCRATCH_USER=drill
LOCK_DIR="$DRILL_SOCKET_DIR.lock"
WORK=""
SERVER_UP=0

log() { printf '%s restore-drill: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
now() { date -u +%s; }
# Milliseconds since the epoch (GNU date; whole seconds elsewhere).
now_ms() {
  _ms=$(date -u +%s%3N 2>/dev/null)
  case "$_ms" in '' | *[!0-9]*) echo "$(($(now) * 1000))" ;; *) echo "$_ms" ;; esac
}

@@WHOLE_MATCH@@

# Every setting is checked before use: they come from the container's environment (rendered from
# allow-listed props) or from an operator's `docker exec -e`, and reach paths, SQL and arithmetic.
check_settings() {
  _bad=""
  for _pair in "DRILL_INTERVAL_SECONDS=$DRILL_INTERVAL_SECONDS" "DRILL_TOLERANCE_PERCENT=$DRILL_TOLERANCE_PERCENT" \
    "DRILL_TOLERANCE_ROWS=$DRILL_TOLERANCE_ROWS" "DRILL_MAX_DUMP_AGE_SECONDS=$DRILL_MAX_DUMP_AGE_SECONDS" \
    "DRILL_FIRST_DUMP_WAIT_SECONDS=$DRILL_FIRST_DUMP_WAIT_SECONDS" "DRILL_SCRATCH_PORT=$DRILL_SCRATCH_PORT" \
    "DRILL_SCRATCH_SHARED_BUFFERS_MB=$DRILL_SCRATCH_SHARED_BUFFERS_MB" "LIVE_PORT=$LIVE_PORT" \
    "DRILL_STATEMENT_TIMEOUT_SECONDS=$DRILL_STATEMENT_TIMEOUT_SECONDS"; do
    case "${_pair#*=}" in '' | *[!0-9]*) _bad="$_bad ${_pair%%=*}" ;; esac
  done
  [ "${DRILL_INTERVAL_SECONDS:-0}" -ge 3600 ] 2>/dev/null || _bad="$_bad DRILL_INTERVAL_SECONDS(>=3600)"
  [ "${DRILL_TOLERANCE_PERCENT:-0}" -le 100 ] 2>/dev/null || _bad="$_bad DRILL_TOLERANCE_PERCENT(<=100)"
  whole_match '^[a-z_][a-z0-9_]{0,62}$' "$DRILL_DATABASE" || _bad="$_bad DRILL_DATABASE"
  whole_match '^[a-z_][a-z0-9_]{0,62}$' "$LIVE_USER" || _bad="$_bad LIVE_USER"
  whole_match '^[a-z0-9][a-z0-9.-]{0,62}$|^/[A-Za-z0-9_./-]+$' "$LIVE_HOST" || _bad="$_bad LIVE_HOST"
  whole_match '^([01][0-9]|2[0-3]):[0-5][0-9]$' "$DRILL_AT" || _bad="$_bad DRILL_AT"
  [ -z "$DRILL_IGNORE_TABLES" ] || whole_match '^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*( [a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)*$' "$DRILL_IGNORE_TABLES" ||
    _bad="$_bad DRILL_IGNORE_TABLES"
  for _pair in "BACKUP_ROOT=$BACKUP_ROOT" "DUMPS_DIR=$DUMPS_DIR" "METRICS_DIR=$METRICS_DIR" "DRILL_STATUS=$DRILL_STATUS" \
    "DRILL_SCRATCH_DIR=$DRILL_SCRATCH_DIR" "DRILL_SOCKET_DIR=$DRILL_SOCKET_DIR" "LIVE_PASSWORD_FILE=$LIVE_PASSWORD_FILE"; do
    whole_match '^/[A-Za-z0-9_./-]+$' "${_pair#*=}" || _bad="$_bad ${_pair%%=*}"
  done
  if [ -n "$_bad" ]; then
    echo "error: invalid settings:$_bad (numbers must be whole, names lowercase SQL identifiers, paths absolute without spaces)" >&2
    return 1
  fi
}

status_value() { [ -f "$DRILL_STATUS" ] && sed -n "s/^$1=//p" "$DRILL_STATUS" | head -n 1; }

# Prometheus text format, atomic (tmp + mv) and world-readable: node-exporter runs as nobody.
write_metrics() {
  mkdir -p "$METRICS_DIR" 2>/dev/null && chmod 755 "$METRICS_DIR" 2>/dev/null || return 0
  _tmpm="$METRICS_DIR/.$METRICS_FILE.tmp"
  {
    echo "# HELP updateio_restore_drill_success 1 when the last restore drill passed, 0 when it failed."
    echo "# TYPE updateio_restore_drill_success gauge"
    echo "updateio_restore_drill_success $1"
    echo "# HELP updateio_restore_drill_last_run_timestamp_seconds Unix time the last restore drill finished."
    echo "# TYPE updateio_restore_drill_last_run_timestamp_seconds gauge"
    echo "updateio_restore_drill_last_run_timestamp_seconds $2"
    echo "# HELP updateio_restore_drill_last_success_timestamp_seconds Unix time of the last restore drill that passed (0: never)."
    echo "# TYPE updateio_restore_drill_last_success_timestamp_seconds gauge"
    echo "updateio_restore_drill_last_success_timestamp_seconds $3"
    echo "# HELP updateio_restore_drill_tables_checked Tables compared by the last restore drill."
    echo "# TYPE updateio_restore_drill_tables_checked gauge"
    echo "updateio_restore_drill_tables_checked $4"
    echo "# HELP updateio_restore_drill_tables_failed Tables missing, extra or outside the row-count tolerance in the last restore drill."
    echo "# TYPE updateio_restore_drill_tables_failed gauge"
    echo "updateio_restore_drill_tables_failed $5"
    echo "# HELP updateio_restore_drill_duration_seconds Wall time of the last restore drill."
    echo "# TYPE updateio_restore_drill_duration_seconds gauge"
    echo "updateio_restore_drill_duration_seconds $6"
    echo "# HELP updateio_restore_drill_dump_timestamp_seconds Unix time the dump used by the last restore drill was taken (0: none)."
    echo "# TYPE updateio_restore_drill_dump_timestamp_seconds gauge"
    echo "updateio_restore_drill_dump_timestamp_seconds $7"
    echo "# HELP updateio_restore_drill_interval_seconds Seconds between scheduled restore drills."
    echo "# TYPE updateio_restore_drill_interval_seconds gauge"
    echo "updateio_restore_drill_interval_seconds $DRILL_INTERVAL_SECONDS"
  } >"$_tmpm" 2>/dev/null && chmod 644 "$_tmpm" && mv "$_tmpm" "$METRICS_DIR/$METRICS_FILE" 2>/dev/null
  return 0
}

# scratch_psql <database> [psql args...]: the throwaway server, as its bootstrap superuser.
scratch_psql() {
  _db=$1
  shift
  psql -X -q -v ON_ERROR_STOP=1 -h "$DRILL_SOCKET_DIR" -p "$DRILL_SCRATCH_PORT" -U "$SCRATCH_USER" -d "$_db" "$@"
}

# live_psql [psql args...]: the live database, read-only role, password from its secret file.
live_psql() {
  _pw=""
  if [ -r "$LIVE_PASSWORD_FILE" ]; then _pw=$(cat "$LIVE_PASSWORD_FILE"); fi
  PGPASSWORD=$_pw PGOPTIONS="-c default_transaction_read_only=on -c row_security=off -c statement_timeout=${DRILL_STATEMENT_TIMEOUT_SECONDS}s" \
    psql -X -q -v ON_ERROR_STOP=1 -h "$LIVE_HOST" -p "$LIVE_PORT" -U "$LIVE_USER" -d "$DRILL_DATABASE" "$@"
}

# One row per ordinary or partitioned table outside the system schemas: schema, table, exact count
# (query_to_xml runs one count(*) per table; format('%I') quotes any name). COPY text format escapes
# tabs and newlines in names, so the live list loads back unchanged.
COUNT_SQL="SELECT n.nspname AS schema_name, c.relname AS table_name,
  (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint AS n
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"

start_scratch() {
  rm -rf "$DRILL_SCRATCH_DIR" "$DRILL_SOCKET_DIR"
  if ! mkdir -p "$DRILL_SOCKET_DIR" || ! chmod 700 "$DRILL_SOCKET_DIR"; then
    echo "error: cannot create $DRILL_SOCKET_DIR" >&2
    return 1
  fi
  mkdir -p "$(dirname "$DRILL_SCRATCH_DIR")" || { echo "error: cannot create the parent of $DRILL_SCRATCH_DIR" >&2; return 1; }
  # Trust on a 0700 socket directory: only this container's postgres user reaches the server.
  initdb --pgdata="$DRILL_SCRATCH_DIR" --username="$SCRATCH_USER" --auth=trust --encoding=UTF8 --no-sync >"$WORK/initdb.log" 2>&1 ||
    {
      tail -n 5 "$WORK/initdb.log" >&2
      echo "error: initdb of the scratch server failed" >&2
      return 1
    }
  # Throwaway data: no durability, small memory, no parallel workers (no dynamic shared memory).
  cat >>"$DRILL_SCRATCH_DIR/postgresql.conf" <<EOF
# restore drill (scratch server)
listen_addresses = ''
port = $DRILL_SCRATCH_PORT
unix_socket_directories = '$DRILL_SOCKET_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = ${DRILL_SCRATCH_SHARED_BUFFERS_MB}MB
maintenance_work_mem = 64MB
max_wal_size = 1GB
max_parallel_workers_per_gather = 0
max_parallel_maintenance_workers = 0
logging_collector = off
EOF
  pg_ctl --pgdata="$DRILL_SCRATCH_DIR" --log="$WORK/scratch.log" --wait --timeout=120 start >/dev/null 2>&1 ||
    {
      tail -n 5 "$WORK/scratch.log" >&2
      echo "error: the scratch server did not start" >&2
      return 1
    }
  SERVER_UP=1
}

stop_scratch() {
  if [ "$SERVER_UP" -eq 1 ]; then
    pg_ctl --pgdata="$DRILL_SCRATCH_DIR" --mode=immediate --wait --timeout=60 stop >/dev/null 2>&1 || log "warning: pg_ctl stop failed"
    SERVER_UP=0
  fi
  rm -rf "$DRILL_SCRATCH_DIR" "$DRILL_SOCKET_DIR"
}

# The newest "<db>-YYYYMMDDTHHMMSSZ.dump" (the scheduler's names sort by time; .tmp-* files never match).
newest_dump() {
  _newest=""
  for _f in "$DUMPS_DIR/$DRILL_DATABASE"-*.dump; do
    _b=${_f##*/}
    if whole_match "^$DRILL_DATABASE-[0-9]{8}T[0-9]{6}Z\\.dump\$" "$_b"; then _newest=$_b; fi
  done
  echo "$_newest"
}

# "<db>-YYYYMMDDTHHMMSSZ.dump" -> Unix time (GNU date).
dump_epoch() {
  _st=${1#"$DRILL_DATABASE"-}
  _st=${_st%.dump}
  date -u -d "$(echo "$_st" | sed 's/^\(....\)\(..\)\(..\)T\(..\)\(..\)\(..\)Z$/\1-\2-\3 \4:\5:\6/')" +%s 2>/dev/null
}

# Sets CHECKED, FAILED, DUMP_TS; returns non-zero with the reason on stderr when the drill fails.
drill_steps() {
  _name=$(newest_dump)
  [ -n "$_name" ] || {
    echo "error: no dump of $DRILL_DATABASE in $DUMPS_DIR (the backup scheduler writes $DRILL_DATABASE-YYYYMMDDTHHMMSSZ.dump)" >&2
    return 1
  }
  _dump="$DUMPS_DIR/$_name"
  DUMP_TS=$(dump_epoch "$_name") || DUMP_TS=0
  [ -n "$DUMP_TS" ] || DUMP_TS=0
  _age=$(($(now) - DUMP_TS))
  if [ "$_age" -gt "$DRILL_MAX_DUMP_AGE_SECONDS" ]; then
    echo "error: the newest dump $_name is ${_age}s old, more than ${DRILL_MAX_DUMP_AGE_SECONDS}s: backups are not being taken" >&2
    return 1
  fi
  log "drilling $_dump ($(wc -c <"$_dump") bytes)"
  # The table of contents first: a truncated or mangled header fails here with a clear message.
  pg_restore --list "$_dump" >"$WORK/toc" 2>"$WORK/pg_restore.err" || {
    tail -n 3 "$WORK/pg_restore.err" >&2
    echo "error: $_name is unreadable (pg_restore --list failed): the dump is truncated or corrupt" >&2
    return 1
  }
  # Live counts before the restore: the dump is older than the database, never the other way round.
  live_psql -A -t -c "COPY ($COUNT_SQL) TO STDOUT" >"$WORK/live-counts" 2>"$WORK/live.err" || {
    tail -n 3 "$WORK/live.err" >&2
    echo "error: counting rows in the live database $DRILL_DATABASE on $LIVE_HOST:$LIVE_PORT as $LIVE_USER failed" >&2
    return 1
  }
  start_scratch || return 1
  scratch_psql postgres -c "CREATE DATABASE $SCRATCH_DB" || {
    echo "error: CREATE DATABASE $SCRATCH_DB on the scratch server failed" >&2
    return 1
  }
  # No owners or grants: the scratch server has none of the cluster's roles, and needs none.
  pg_restore --exit-on-error --no-owner --no-acl --host="$DRILL_SOCKET_DIR" --port="$DRILL_SCRATCH_PORT" --username="$SCRATCH_USER" \
    --dbname="$SCRATCH_DB" "$_dump" 2>"$WORK/pg_restore.err" || {
    tail -n 3 "$WORK/pg_restore.err" >&2
    echo "error: pg_restore of $_name failed: the dump is truncated or corrupt (or needs something the image lacks)" >&2
    return 1
  }
  # Compare in the scratch database: live counts loaded into a temp table, joined with its own.
  scratch_psql "$SCRATCH_DB" -A -t -F ' ' -v tol_pct="$DRILL_TOLERANCE_PERCENT" -v tol_rows="$DRILL_TOLERANCE_ROWS" \
    -v ignore="$DRILL_IGNORE_TABLES" >"$WORK/report" 2>"$WORK/compare.err" <<EOF || {
CREATE TEMP TABLE live_counts (schema_name name, table_name name, n bigint);
\\copy live_counts FROM '$WORK/live-counts'
CREATE TEMP TABLE restored_counts AS $COUNT_SQL;
CREATE TEMP TABLE compared AS
  SELECT coalesce(l.schema_name, r.schema_name) AS schema_name, coalesce(l.table_name, r.table_name) AS table_name,
         l.n AS live, r.n AS restored,
         CASE
           WHEN r.n IS NULL THEN 'MISSING'
           WHEN l.n IS NULL THEN 'EXTRA'
           WHEN abs(r.n - l.n) <= :tol_rows OR abs(r.n - l.n) * 100 <= :tol_pct * l.n THEN 'ok'
           ELSE 'COUNT'
         END AS verdict
  FROM live_counts l FULL JOIN restored_counts r ON l.schema_name = r.schema_name AND l.table_name = r.table_name
  WHERE format('%s.%s', coalesce(l.schema_name, r.schema_name), coalesce(l.table_name, r.table_name)) <> ALL (string_to_array(:'ignore', ' '));
SELECT 'table', verdict, regexp_replace(format('%I.%I', schema_name, table_name), '[[:cntrl:][:space:]]', '?', 'g'),
       coalesce(live::text, '-'), coalesce(restored::text, '-')
  FROM compared ORDER BY verdict <> 'ok' DESC, schema_name, table_name;
SELECT 'summary', count(*), count(*) FILTER (WHERE verdict <> 'ok') FROM compared;
EOF
    tail -n 3 "$WORK/compare.err" >&2
    echo "error: comparing the restored tables with the live ones failed" >&2
    return 1
  }
  _summary=$(grep '^summary ' "$WORK/report" | tail -n 1)
  # shellcheck disable=SC2086 # three words, split on purpose
  set -- $_summary
  CHECKED=${2:-0}
  FAILED=${3:-0}
  grep '^table ' "$WORK/report" | while read -r _t _verdict _name _live _restored; do
    [ "$_verdict" = ok ] || echo "error: $_verdict $_name: live $_live rows, restored $_restored" >&2
  done
  scratch_psql postgres -c "DROP DATABASE $SCRATCH_DB" || log "warning: DROP DATABASE $SCRATCH_DB failed (the server is removed anyway)"
  if [ "$CHECKED" -eq 0 ]; then
    echo "error: the live database and the dump have no tables: the drill proved nothing" >&2
    return 1
  fi
  if [ "$FAILED" -gt 0 ]; then
    echo "error: $FAILED of $CHECKED tables differ (MISSING: in the live database, not in the dump; EXTRA: only in the dump; COUNT: outside ${DRILL_TOLERANCE_PERCENT}% / ${DRILL_TOLERANCE_ROWS} rows)" >&2
    return 1
  fi
  log "$CHECKED tables restored and within ${DRILL_TOLERANCE_PERCENT}% / ${DRILL_TOLERANCE_ROWS} rows of the live counts"
}

write_status() {
  _result=$1 _t=$2 _dur=$3
  _error=$(printf '%s' "$4" | tr '\n\r' '  ' | cut -c1-500)
  _success=$(status_value last_success)
  [ -n "$_success" ] || _success=0
  if [ "$_result" = ok ]; then _success=$_t; fi
  mkdir -p "$(dirname "$DRILL_STATUS")"
  {
    echo "last_run=$_t"
    echo "last_run_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "last_result=$_result"
    echo "last_success=$_success"
    echo "last_error=$_error"
    echo "last_dump_timestamp=$DUMP_TS"
    echo "tables_checked=$CHECKED"
    echo "tables_failed=$FAILED"
    echo "duration_seconds=$_dur"
    echo "interval_seconds=$DRILL_INTERVAL_SECONDS"
  } >"$DRILL_STATUS.tmp" && mv "$DRILL_STATUS.tmp" "$DRILL_STATUS"
  if [ "$_result" = ok ]; then _ok=1; else _ok=0; fi
  write_metrics "$_ok" "$_t" "$_success" "$CHECKED" "$FAILED" "$_dur" "$DUMP_TS"
}

release() {
  stop_scratch
  [ -z "$WORK" ] || rm -rf "$WORK"
  WORK=""
  rmdir "$LOCK_DIR" 2>/dev/null
  return 0
}

# One drill, with a lock (the loop and an operator's --now never overlap), status and metrics.
run_drill() {
  check_settings || return 2
  if ! mkdir "$LOCK_DIR" 2>/dev/null; then
    _holder=$(cat "$LOCK_DIR/pid" 2>/dev/null)
    if [ -n "$_holder" ] && kill -0 "$_holder" 2>/dev/null; then
      echo "another restore drill is running (pid $_holder); wait for it, or read its log with docker logs" >&2
      return 2
    fi
    rm -rf "$LOCK_DIR"
    mkdir "$LOCK_DIR" || return 2
  fi
  echo "$$" >"$LOCK_DIR/pid"
  trap 'release; exit 1' TERM INT
  CHECKED=0 FAILED=0 DUMP_TS=0
  _start=$(now_ms)
  # \copy takes the live counts' path literally: it must be a plain path.
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/restore-drill.XXXXXX") || WORK=""
  if [ -z "$WORK" ] || ! whole_match '^/[A-Za-z0-9_./-]+$' "$WORK"; then
    echo "error: cannot create a work directory with a plain path under ${TMPDIR:-/tmp}" >&2
    release
    return 2
  fi
  drill_steps 2>"$WORK/errors"
  _rc=$?
  cat "$WORK/errors" >&2
  _msg=$(grep '^error: ' "$WORK/errors" | tail -n 1 | cut -c8-)
  _end=$(now_ms)
  _ms=$((_end - _start))
  _dur=$(printf '%d.%03d' $((_ms / 1000)) $((_ms % 1000)))
  if [ "$_rc" -eq 0 ]; then
    write_status ok "$(now)" "$_dur" ""
    log "drill PASSED in ${_dur}s"
  else
    write_status error "$(now)" "$_dur" "${_msg:-drill failed (exit $_rc)}"
    log "drill FAILED in ${_dur}s: ${_msg:-exit $_rc}"
    _rc=1
  fi
  release
  trap - TERM INT
  return "$_rc"
}

health() {
  [ -f "$DRILL_STATUS" ] || {
    echo "unhealthy: no restore drill has run yet ($DRILL_STATUS missing)"
    return 1
  }
  _result=$(status_value last_result)
  _success=$(status_value last_success)
  if [ "$_result" != ok ]; then
    echo "unhealthy: last drill failed: $(status_value last_error)"
    return 1
  fi
  _age=$(($(now) - ${_success:-0}))
  _max=$((DRILL_INTERVAL_SECONDS * 3 / 2))
  if [ "$_age" -gt "$_max" ]; then
    echo "unhealthy: last passing drill ${_age}s ago, more than ${_max}s (1.5 x interval)"
    return 1
  fi
  echo "healthy: last passing drill ${_age}s ago"
}

# Seconds until the next slot: $DRILL_AT (UTC) plus whole multiples of the interval.
seconds_until_next() {
  _h=${DRILL_AT%:*}
  _m=${DRILL_AT#*:}
  _h=${_h#0}
  _m=${_m#0}
  _off=$((_h * 3600 + _m * 60))
  _n=$(now)
  _next=$((_off + ((_n - _off) / DRILL_INTERVAL_SECONDS + 1) * DRILL_INTERVAL_SECONDS))
  echo $((_next - _n))
}

loop() {
  check_settings || exit 2
  _sleeper=""
  trap 'log "stopping"; [ -z "$_sleeper" ] || kill "$_sleeper" 2>/dev/null; release; exit 0' TERM INT
  log "scheduler started: drills at $DRILL_AT UTC every ${DRILL_INTERVAL_SECONDS}s, dumps of $DRILL_DATABASE in $DUMPS_DIR"
  if ! health >/dev/null 2>&1; then
    # A fresh deployment: the backup scheduler writes its first dump at start; wait for it.
    _waited=0
    while [ -z "$(newest_dump)" ] && [ "$_waited" -lt "$DRILL_FIRST_DUMP_WAIT_SECONDS" ]; do
      sleep 60 &
      _sleeper=$!
      wait "$_sleeper"
      _sleeper=""
      _waited=$((_waited + 60))
    done
    run_drill
    trap 'log "stopping"; [ -z "$_sleeper" ] || kill "$_sleeper" 2>/dev/null; release; exit 0' TERM INT
  fi
  while :; do
    _s=$(seconds_until_next)
    log "next drill in ${_s}s"
    sleep "$_s" &
    _sleeper=$!
    wait "$_sleeper"
    _sleeper=""
    run_drill
    trap 'log "stopping"; [ -z "$_sleeper" ] || kill "$_sleeper" 2>/dev/null; release; exit 0' TERM INT
  done
}

case "${1:-loop}" in
  loop) loop ;;
  --now | now) run_drill ;;
  health) health ;;
  status) cat "$DRILL_STATUS" ;;
  *)
    echo "usage: sh restore-drill.sh [loop|--now|health|status]" >&2
    exit 2
    ;;
esac
