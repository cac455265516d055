# shellcheck shell=sh
# log and fail, shared by the config-reload jobs' scripts (inlined at synth by jobLogFunctions):
# every line carries a UTC timestamp and the job's name; fail logs to stderr and exits 1.
log() { printf '%s @@JOB@@: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
fail() {
  log "FAILED: $*" >&2
  exit 1
}
