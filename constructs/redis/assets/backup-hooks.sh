# shellcheck shell=sh
# RedisBackup hooks, sourced by the ScheduledBackup scheduler (backup.sh).
# A consistent point-in-time snapshot: `redis-cli --rdb` asks the server for a full sync (it forks
# and writes an RDB of one instant, like BGSAVE) and streams it here; redis-check-rdb verifies it.
: "${REDIS_HOSTS:=@@HOSTS@@}"
: "${REDIS_PORT:=@@PORT@@}"
: "${REDIS_BACKUP_USER:=@@USER@@}"
: "${REDIS_PASSWORD_FILE:=@@PASSWORD_FILE@@}"
REDIS_SOURCE=""

snapshot_describe() { echo "redis ${REDIS_SOURCE:-$REDIS_HOSTS} port $REDIS_PORT as $REDIS_BACKUP_USER"; }

rcli() {
  # The password travels in REDISCLI_AUTH, never on the command line.
  REDISCLI_AUTH=$(cat "$REDIS_PASSWORD_FILE") || { echo "error: cannot read $REDIS_PASSWORD_FILE" >&2; return 1; }
  export REDISCLI_AUTH
  _rh=$1; shift
  redis-cli --no-auth-warning -h "$_rh" -p "$REDIS_PORT" --user "$REDIS_BACKUP_USER" "$@"
}

# The first host that is a master, or a replica whose link to its master is up (never a stale copy).
snapshot_take() {
  for _h in $REDIS_HOSTS; do
    _info=$(rcli "$_h" info replication 2>&1 | tr -d '\r') || { echo "warning: $_h: $_info" >&2; continue; }
    case $_info in
      *role:master*) ;;
      *role:slave*)
        case $_info in *master_link_status:up*) ;; *) echo "warning: $_h is a replica out of sync; skipped" >&2; continue ;; esac ;;
      *) echo "warning: $_h: unexpected INFO reply: $(echo "$_info" | head -n 1)" >&2; continue ;;
    esac
    if rcli "$_h" --rdb "$1" >/dev/null 2>"$1.log"; then
      rm -f "$1.log"; REDIS_SOURCE=$_h; return 0
    fi
    echo "warning: redis-cli --rdb from $_h failed: $(tail -n 1 "$1.log")" >&2
    rm -f "$1" "$1.log"
  done
  echo "error: no usable Redis node among: $REDIS_HOSTS" >&2
  return 1
}

snapshot_verify() { redis-check-rdb "$1" 2>&1 | grep -q 'RDB looks OK'; }

snapshot_items() {
  _k=$(redis-check-rdb "$1" 2>&1 | sed -n 's/.*\[info\] \([0-9][0-9]*\) keys read.*/\1/p' | head -n 1)
  echo "keys=${_k:-unknown} source=$REDIS_SOURCE"
}
