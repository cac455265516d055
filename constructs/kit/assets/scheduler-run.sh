# shellcheck shell=sh
# The run and health steps every backup scheduler shares (ScheduledBackup's and PostgresBackup's):
# the script defines STORE, STATUS, BACKUP_EVERY_SECONDS, log, now, status_value, run_steps and
# write_status, and its renderer inlines this file.
run_once() {
  _err="${TMPDIR:-/tmp}/$STORE-backup-run.$$.err"
  run_steps 2>"$_err"; _rc=$?
  cat "$_err" >&2
  if [ "$_rc" -eq 0 ]; then
    write_status ok ""
    log "run succeeded"
  else
    _msg=$(grep -v '^$' "$_err" | tail -n 2 | tr '\n' ' ')
    write_status error "${_msg:-run failed (exit $_rc)}"
    log "run FAILED: $_msg"
  fi
  rm -f "$_err"
  return "$_rc"
}

health() {
  [ -f "$STATUS" ] || { echo "unhealthy: no backup has run yet ($STATUS missing)"; return 1; }
  _result=$(status_value last_result); _success=$(status_value last_success)
  if [ "$_result" != ok ]; then echo "unhealthy: last run failed: $(status_value last_error)"; return 1; fi
  [ -n "$_success" ] || { echo "unhealthy: no successful backup recorded"; return 1; }
  _age=$(( $(now) - _success )); _max=$(( BACKUP_EVERY_SECONDS * 3 / 2 ))
  if [ "$_age" -gt "$_max" ]; then echo "unhealthy: last success ${_age}s ago, more than ${_max}s (1.5 x interval)"; return 1; fi
  echo "healthy: last success ${_age}s ago"
  return 0
}
