# shellcheck shell=sh
# The loop every backup scheduler shares: runs at start unless a recent success is recorded, then at
# every seconds_until_next (the script's own schedule); after a failure it retries sooner.
loop() {
  _sleeper=""
  trap 'log "stopping"; [ -z "$_sleeper" ] || kill "$_sleeper" 2>/dev/null; exit 0' TERM INT
  log "scheduler started: @@STARTED@@"
  _ok=1
  if ! health >/dev/null 2>&1; then run_once || _ok=0; fi
  while :; do
    _s=$(seconds_until_next)
    if [ "$_ok" -eq 0 ] && [ "$_s" -gt "$BACKUP_RETRY_SECONDS" ]; then _s=$BACKUP_RETRY_SECONDS; fi
    log "next run in ${_s}s"
    sleep "$_s" &
    _sleeper=$!
    wait "$_sleeper"
    _sleeper=""
    _ok=1; run_once || _ok=0
  done
}
