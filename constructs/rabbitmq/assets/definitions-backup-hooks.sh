# shellcheck shell=sh
# RabbitBackup hooks, sourced by the ScheduledBackup scheduler (backup.sh).
# Definitions only (vhosts, users with password hashes, permissions, policies, exchanges, queues,
# bindings): `rabbitmqctl export_definitions -` over Erlang distribution, written on this side.
# Messages are NOT in the export (see docs/runbooks/restore-stores.md).
: "${RABBITMQ_NODES:=@@NODES@@}"
: "${RABBITMQ_COOKIE_FILE:=@@COOKIE_FILE@@}"
: "${RABBITMQCTL:=rabbitmqctl}"
RABBITMQ_SOURCE=""

snapshot_describe() { echo "rabbitmq ${RABBITMQ_SOURCE:-$RABBITMQ_NODES}"; }

# The CLI reads the cookie from $HOME/.erlang.cookie and insists it is private: copy the secret
# there 0400 (HOME is a tmpfs). An empty RABBITMQ_COOKIE_FILE leaves an existing cookie alone.
@@INSTALL_COOKIE@@

# Definitions are replicated to every node: the first node that answers will do.
snapshot_take() {
  install_cookie || return 1
  for _n in $RABBITMQ_NODES; do
    if "$RABBITMQCTL" -n "$_n" export_definitions - > "$1" 2>"$1.log"; then
      rm -f "$1.log"; RABBITMQ_SOURCE=$_n; return 0
    fi
    echo "warning: export_definitions from $_n failed: $(grep -v '^$' "$1.log" | tail -n 1)" >&2
    rm -f "$1" "$1.log"
  done
  echo "error: no RabbitMQ node answered among: $RABBITMQ_NODES" >&2
  return 1
}

snapshot_verify() { grep -q '"rabbit_version"' "$1" && grep -q '"vhosts"' "$1" && grep -q '"users"' "$1"; }

# Counts without jq, from keys that appear exactly once per user and per binding.
count_key() { grep -o "\"$1\"" "$2" | wc -l | tr -d ' '; }
snapshot_items() { echo "users=$(count_key password_hash "$1") bindings=$(count_key destination_type "$1") source=$RABBITMQ_SOURCE"; }
