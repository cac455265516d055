# shellcheck shell=sh
# EdgeBackup hooks, sourced by the ScheduledBackup scheduler (backup.sh).
# A tar of Caddy's data directory: ACME account keys, issued certificates and their keys, the
# internal CA. Restoring it lets a rebuilt host serve the same certificates at once instead of
# requesting new ones in a burst (Let's Encrypt: 5 duplicate certificates per week per name set).
# Caddy writes each file to a temp name and renames it, so a tar taken during a renewal holds the
# old or the new file; the lock directory is left out (stale locks would stall a restored Caddy).
: "${CADDY_DATA:=@@DATA_DIR@@}"

snapshot_describe() { echo "caddy data $CADDY_DATA"; }

snapshot_take() {
  [ -d "$CADDY_DATA/caddy" ] || { echo "error: $CADDY_DATA/caddy does not exist (has the edge started once?)" >&2; return 1; }
  tar -czf "$1" -C "$CADDY_DATA" --exclude ./caddy/locks ./caddy
}

snapshot_verify() { tar -tzf "$1" >/dev/null; }

snapshot_items() {
  _list=$(tar -tzf "$1")
  _certs=$(echo "$_list" | grep -c '^\./caddy/certificates/.*\.crt$')
  _accounts=$(echo "$_list" | grep -c '^\./caddy/acme/.*/users/.*\.json$')
  echo "certificates=$_certs acme_accounts=$_accounts files=$(echo "$_list" | grep -vc '/$')"
}
