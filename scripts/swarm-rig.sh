#!/usr/bin/env bash
# Namespace plumbing for the multi-node Swarm test rig (__tests__/support/swarm-rig.ts drives it).
#
# A run is named swrig<pid> after the process that owns it; everything it makes carries that name:
#   netns  <run>-br (the bridge), <run>-<node> (one per node), <run>-cl (the client)
#   cgroup /<run>-<node> in every hierarchy (the node daemon's --cgroup-parent: its containers)
#   dir    /tmp/<run> (data roots, exec roots, sockets, logs)
# Mounts made by a node (cgroups, overlay layers, netns files) live in the node's private mount
# namespace and vanish with its processes.
#
#   swarm-rig.sh net-up <run> <node>...        bridge netns + one netns per node + a client netns
#   swarm-rig.sh daemon <run> <node> <dir>     runs containerd + dockerd of <node> (foreground)
#   swarm-rig.sh link <run> <node> up|down     the node's veth, seen from the bridge
#   swarm-rig.sh kill-node <run> <node>        SIGKILL every process of the node (daemons and containers)
#   swarm-rig.sh down <run>                    removes everything of <run>; idempotent
#   swarm-rig.sh down-stale                    `down` for every run whose owner process is gone
set -euo pipefail

SUBNET_PREFIX=10.99.0
BRIDGE_ADDR=$SUBNET_PREFIX.1
CLIENT_ADDR=$SUBNET_PREFIX.100

die() { echo "swarm-rig: $*" >&2; exit 1; }

# Address of the i-th node (1-based): 10.99.0.11, .12, ...
node_addr() { echo "$SUBNET_PREFIX.$((10 + $1))"; }

net_up() {
  local run=$1; shift
  local br=$run-br
  ip netns add "$br"
  ip -n "$br" link set lo up
  # The bridge lives in a namespace of its own: in the host namespace br_netfilter and the host's
  # FORWARD policy (DROP) would drop the nodes' packets, and the host stays untouched.
  ip -n "$br" link add br0 type bridge
  ip -n "$br" addr add "$BRIDGE_ADDR/24" dev br0
  ip -n "$br" link set br0 up
  local i=0 node
  for node in "$@" cl; do
    local ns=$run-$node addr
    if [ "$node" = cl ]; then addr=$CLIENT_ADDR; else i=$((i + 1)); addr=$(node_addr $i); fi
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$br" link add "v-$node" type veth peer name eth0 netns "$ns"
    ip -n "$br" link set "v-$node" master br0 up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$BRIDGE_ADDR"
  done
}

# Host cgroup layout, repeated inside the node's mount namespace: `ip netns exec` mounts a fresh
# /sys without /sys/fs/cgroup, and dockerd refuses to start without the devices cgroup.
cgroup_mounts() {
  awk '$2 ~ "^/sys/fs/cgroup(/|$)" && ($3 == "cgroup" || $3 == "cgroup2") { print $3, $2, $4 }' /proc/self/mounts
}

daemon() {
  local run=$1 node=$2 dir=$3
  [ -d /sys/fs/cgroup ] || die "no /sys/fs/cgroup on this host"
  local mounts
  mounts=$(cgroup_mounts)
  [ -n "$mounts" ] || die "no cgroup filesystem mounted under /sys/fs/cgroup"
  # A UTS namespace so the node registers under its own hostname (placement constraints, node ls).
  exec ip netns exec "$run-$node" unshare --uts -- "$0" node-exec "$run" "$node" "$dir" "$mounts"
}

node_exec() {
  local run=$1 node=$2 dir=$3 mounts=$4
  hostname "$node"
  if [ "$(awk '$2 == "/sys/fs/cgroup" { print $3 }' <<<"$mounts")" = cgroup2 ]; then
    mount -t cgroup2 cgroup2 /sys/fs/cgroup
  else
    mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
    local fstype target opts keep
    while read -r fstype target opts; do
      [ "$target" = /sys/fs/cgroup ] && continue
      # Controller and name= options identify the hierarchy; the rest are mount flags.
      keep=$(tr ',' '\n' <<<"$opts" | { grep -Ev '^(rw|ro|relatime|noatime|nosuid|nodev|noexec|nsdelegate|memory_recursiveprot)$' || true; } | paste -sd, -)
      mkdir -p "$target"
      if [ "$fstype" = cgroup2 ]; then mount -t cgroup2 cgroup2 "$target"; else mount -t cgroup -o "${keep:-none}" cgroup "$target"; fi
    done <<<"$mounts"
  fi
  mkdir -p "$dir/containerd" "$dir/data" "$dir/exec"
  # Our own containerd: dockerd would otherwise share a system containerd at /run/containerd.
  cat >"$dir/containerd/config.toml" <<EOF
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$dir/containerd/containerd.sock"
[debug]
  level = "warn"
EOF
  containerd --config "$dir/containerd/config.toml" >>"$dir/containerd.log" 2>&1 &
  local i
  for i in $(seq 1 100); do [ -S "$dir/containerd/containerd.sock" ] && break; sleep 0.1; done
  [ -S "$dir/containerd/containerd.sock" ] || die "$node: containerd did not start (see $dir/containerd.log)"
  # no-new-privileges is the daemon default on every Swarm node (services cannot set it).
  printf '{"no-new-privileges": true, "log-driver": "json-file"}\n' >"$dir/daemon.json"
  exec dockerd \
    --config-file "$dir/daemon.json" \
    --data-root "$dir/data" \
    --exec-root "$dir/exec" \
    --pidfile "$dir/docker.pid" \
    --host "unix://$dir/docker.sock" \
    --containerd "$dir/containerd/containerd.sock" \
    --cgroup-parent "/$run-$node" \
    --log-level warn
}

link() {
  local run=$1 node=$2 state=$3
  ip -n "$run-br" link set "v-$node" "$state"
}

kill_netns_procs() {
  local ns=$1 pid
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
}

# Every process in the node's cgroups (its containers, whose network namespaces are their own).
kill_cgroup_procs() {
  local name=$1 top
  for top in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
    [ -d "$top" ] || continue
    # Cgroups vanish while we read them (their processes die): a failed cat is expected.
    { find "$top" -name cgroup.procs -exec cat {} + 2>/dev/null || true; } | while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done
  done
}

remove_cgroups() {
  local name=$1 top
  for top in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
    [ -d "$top" ] || continue
    find "$top" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

# Shim sockets of runc v2 tasks live on the host's /run (/run/containerd/s/<sha256 of
# "<containerd address>/<namespace>/<task id>">) and outlive a killed shim: the listening ones, and
# those named after the task bundles in the node's containerd state.
shim_sockets() {
  local ns=$1 dir=$2 bundle
  ip netns exec "$ns" ss -xlH 2>/dev/null | awk '{ print $5 }' | grep '^/run/containerd/s/' || true
  for bundle in "$dir"/containerd/state/io.containerd.runtime.v2.task/*/*; do
    [ -d "$bundle" ] || continue
    printf '/run/containerd/s/%s\n' "$(printf '%s' "$dir/containerd/containerd.sock/$(basename "$(dirname "$bundle")")/$(basename "$bundle")" | sha256sum | cut -d' ' -f1)"
  done
}

kill_node() {
  local run=$1 node=$2 ns=$1-$2
  local sockets
  sockets=$(shim_sockets "$ns" "/tmp/$run/$node")
  local _
  for _ in 1 2 3; do
    kill_netns_procs "$ns"
    kill_cgroup_procs "$ns"
    sleep 0.2
  done
  local s
  for s in $sockets; do rm -f "$s"; done
}

down() {
  local run=$1
  [[ "$run" =~ ^swrig[0-9]+$ ]] || die "not a rig run name: $run"
  local ns node
  for ns in $(ip netns list | awk '{ print $1 }' | grep "^$run-" || true); do
    node=${ns#"$run"-}
    [ "$node" = br ] || kill_node "$run" "$node"
  done
  for ns in $(ip netns list | awk '{ print $1 }' | grep "^$run-" || true); do
    remove_cgroups "$ns"
    ip netns del "$ns" 2>/dev/null || true
  done
  # Cgroups of nodes whose namespace is already gone.
  local top
  for top in /sys/fs/cgroup/*/"$run"-* /sys/fs/cgroup/"$run"-*; do
    [ -d "$top" ] || continue
    kill_cgroup_procs "$(basename "$top")"
    remove_cgroups "$(basename "$top")"
  done
  local dir=/tmp/$run
  if [ -d "$dir" ]; then
    # Nothing should be mounted there from the host's view; detach anything that is before deleting.
    awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
    rm -rf "$dir"
  fi
}

down_stale() {
  local run pid
  for run in $( { ip netns list | awk '{ print $1 }'; ls /tmp; ls /sys/fs/cgroup/pids /sys/fs/cgroup 2>/dev/null; } | grep -Eo '^swrig[0-9]+' | sort -u); do
    pid=${run#swrig}
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "swarm-rig: removing leftovers of $run (owner process $pid is gone)" >&2
      down "$run"
    fi
  done
}

cmd=${1:-}
[ -n "$cmd" ] || die "usage: $0 net-up|daemon|link|kill-node|down|down-stale ..."
shift
case "$cmd" in
  net-up) net_up "$@" ;;
  daemon) daemon "$@" ;;
  node-exec) node_exec "$@" ;;
  link) link "$@" ;;
  kill-node) kill_node "$@" ;;
  down) down "$@" ;;
  down-stale) down_stale ;;
  *) die "unknown command $cmd" ;;
esac
