# shellcheck shell=sh
# shellcheck disable=SC2154 # src is the restore script's first argument, BACKUP_ROOT its setting, both set before this part
# The snapshot a restore script restores (restoreArgs' stores, RabbitBackup's): for "latest", the
# newest of the scheduler's own names whose signature verifies, then checks that src is a regular
# file, not a link, and signed with the store's key. Its renderer inlines this file
# (latestSnapshot) with the suffix, the store name (or any: [a-z]*), the key file and
# snapshot-mac.sh.
: "${BACKUP_SIGNING_KEY_FILE:=@@KEY_FILE@@}"
@@SNAPSHOT_MAC@@
if [ "$src" != latest ] && [ "${RESTORE_UNSIGNED:-}" = yes ]; then
  echo "warning: RESTORE_UNSIGNED=yes: $src is restored without checking its signature" >&2
elif ! signing_key_ok "$BACKUP_SIGNING_KEY_FILE"; then
  echo "error: cannot read the signing key $BACKUP_SIGNING_KEY_FILE (32 to 64 letters and digits): mount the backup job's secrets (-v <env>-<store>-backup-secrets:/run/secrets:ro) or set BACKUP_SIGNING_KEY_FILE" >&2
  exit 1
fi
if [ "$src" = latest ]; then
  # Only the scheduler's names (<store>-<UTC stamp>@@SUFFIX@@), by stamp, none stamped in the future,
  # no link, and signed: a name sorting last ("zzz@@SUFFIX@@", "x<newline>..."), a link to another
  # file, or a file planted in the volume or the bucket must not become "latest".
  src=""; _best=""; _unsigned=0; _signed=""; _now=$(date -u +%Y%m%d%H%M%S)
  for _p in "$BACKUP_ROOT/snapshots"/*@@SUFFIX@@; do
    _n=${_p##*/}; _n=${_n%@@SUFFIX@@}; _st=${_n##*-}; _store=${_n%-*}
    case $_st in [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z) ;; *) continue ;; esac
    case $_store in @@STORE@@) ;; *) continue ;; esac
    case $_store in '' | [!a-z]* | *[!a-z0-9-]*) continue ;; esac
    if [ -L "$_p" ] || [ ! -f "$_p" ]; then continue; fi
    _d=${_st%Z}; _d=${_d%T*}${_d#*T}
    if [ "$_d" -le "$_now" ] && { [ -z "$_best" ] || [ "$_d" -gt "$_best" ]; }; then
      # Checked only when it would be the newest so far: an older one is never read.
      if snapshot_signed "$BACKUP_SIGNING_KEY_FILE" "$_p"; then
        _best=$_d; src=$_p; _signed=$_p
      else
        _unsigned=$((_unsigned + 1)); echo "warning: skipped ${_p##*/}: no valid signature (${_p##*/}.hmac)" >&2
      fi
    fi
  done
  if [ -z "$src" ] && [ "$_unsigned" -gt 0 ]; then
    echo "error: no signed snapshot in $BACKUP_ROOT/snapshots ($_unsigned skipped without a valid signature: written before signing, with another key, or not by the backup job); check one and give its path with RESTORE_UNSIGNED=yes" >&2
    exit 1
  fi
  [ -n "$src" ] || { echo "error: no snapshot in $BACKUP_ROOT/snapshots" >&2; exit 1; }
fi
[ -f "$src" ] || { echo "error: $src is not a file" >&2; exit 1; }
[ ! -L "$src" ] || { echo "error: $src is a symbolic link; give the snapshot file itself" >&2; exit 1; }
if [ "$src" != "${_signed:-}" ] && [ "${RESTORE_UNSIGNED:-}" != yes ] && ! snapshot_signed "$BACKUP_SIGNING_KEY_FILE" "$src"; then
  echo "error: $src has no valid signature ($src.hmac, with this store's key): it was not written by the backup job under this name, or before signing; check it and set RESTORE_UNSIGNED=yes to restore it anyway" >&2
  exit 1
fi
