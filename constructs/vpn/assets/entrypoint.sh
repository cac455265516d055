#!/bin/sh
# UpdateIO VPN gateway entrypoint: rendered by constructs/vpn/renderers/wireguard.ts, do not edit.
#   run | health | public-key | ensure-key
set -e

[ -n "$VPN_CONFIG" ] || VPN_CONFIG=@@CONFIG_PATH@@
[ -n "$VPN_INTERFACE" ] || VPN_INTERFACE=@@INTERFACE@@
[ -n "$VPN_PRIVATE_KEY_FILE" ] || VPN_PRIVATE_KEY_FILE=@@PRIVATE_KEY_FILE@@
[ -n "$VPN_KEY_MODE" ] || VPN_KEY_MODE=@@KEY_MODE@@
[ -n "$VPN_EXPECTED_PUBLIC_KEY" ] || VPN_EXPECTED_PUBLIC_KEY=@@EXPECTED_PUBLIC_KEY@@

log() { echo "vpn-gateway: $*" >&2; }
die() { log "$*"; exit 1; }

require_tools() {
  for tool in wg wg-quick ip @@IPTABLES@@; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not in the image; it needs wireguard-tools (wg, wg-quick), iproute2 and @@IPTABLES@@"
  done
}

ensure_key() {
  if [ ! -s "$VPN_PRIVATE_KEY_FILE" ]; then
    [ "$VPN_KEY_MODE" = generated ] || die "no private key in $VPN_PRIVATE_KEY_FILE: @@MISSING_KEY_HINT@@"
    log "first start: generating the server private key into $VPN_PRIVATE_KEY_FILE"
    (umask 077 && wg genkey > "$VPN_PRIVATE_KEY_FILE.new")
    mv "$VPN_PRIVATE_KEY_FILE.new" "$VPN_PRIVATE_KEY_FILE"
  fi
  pub=$(wg pubkey < "$VPN_PRIVATE_KEY_FILE" 2>/dev/null) || die "$VPN_PRIVATE_KEY_FILE does not hold a WireGuard private key (44 base64 characters, as wg genkey prints)"
  if [ -n "$VPN_EXPECTED_PUBLIC_KEY" ] && [ "$pub" != "$VPN_EXPECTED_PUBLIC_KEY" ]; then
    die "the private key belongs to public key $pub, not to the configured $VPN_EXPECTED_PUBLIC_KEY: supply the matching private key or correct publicKey"
  fi
  echo "vpn-gateway: server public key: $pub (give it to the peers; read it again with: docker exec @@CONTAINER_NAME@@ wg show $VPN_INTERFACE public-key)"
}

case "$1" in
  ""|run)
    require_tools
    ensure_key
    trap 'log "stopping"; wg-quick down "$VPN_CONFIG" || true; exit 0' TERM INT
    wg-quick up "$VPN_CONFIG"
    log "$VPN_INTERFACE is up; peers: $(wg show "$VPN_INTERFACE" peers | wc -l)"
    while :; do
      sleep 3600 &
      wait $! || true
    done
    ;;
  health)
    live=$(wg show "$VPN_INTERFACE" public-key 2>/dev/null) || die "$VPN_INTERFACE is not up"
    want=$(wg pubkey < "$VPN_PRIVATE_KEY_FILE" 2>/dev/null) || die "cannot read the private key in $VPN_PRIVATE_KEY_FILE"
    [ "$live" = "$want" ] || die "$VPN_INTERFACE runs without the server key (it shows $live)"
    ;;
  public-key)
    wg pubkey < "$VPN_PRIVATE_KEY_FILE"
    ;;
  ensure-key)
    ensure_key
    ;;
  *)
    die "unknown command $1 (run, health, public-key, ensure-key)"
    ;;
esac
