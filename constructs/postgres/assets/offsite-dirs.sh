# shellcheck shell=sh
# PostgresBackup's copy step, inlined into the kit's offsite-copy.sh (copy_all, once the rclone remote
# is set): dumps, base backups and the WAL archive, each to <prefix>/<dir>. Only files the scheduler
# has signed go, each with its <file>.hmac: the bucket holds nothing a restore would refuse. A file
# unsigned longer than UNSIGNED_MINUTES (postgres-offsite.ts) fails the round after the signed ones
# are copied: the scheduler has stopped signing.
  _late=""
  # shellcheck disable=SC2043 # @@DIRS@@ becomes several words at synth
  for _d in @@DIRS@@; do
    [ -d "$BACKUP_ROOT/$_d" ] || continue
    _list="$OFFSITE_STATE_DIR/signed-files"
    # Temp names of the scheduler (.tmp-*, *.tmp) and of archive_command (*.tmp) are never listed.
    (cd "$BACKUP_ROOT/$_d" && find . -type f -name '*.hmac' ! -path '*/.tmp-*') | while read -r _h; do
      _f=${_h%.hmac}
      # A signature whose file retention removed stays behind (the scheduler drops it).
      if [ -f "$BACKUP_ROOT/$_d/$_f" ]; then printf '%s\n%s\n' "${_f#./}" "${_h#./}"; fi
    done > "$_list" || { echo "error: cannot list the signed files of $BACKUP_ROOT/$_d" >&2; return 1; }
    rclone copy --immutable --s3-no-check-bucket --files-from-raw "$_list" \
      --retries 3 --low-level-retries 5 --stats 0 \
      "$BACKUP_ROOT/$_d" ":s3:$OFFSITE_BUCKET/$OFFSITE_PREFIX/$_d" || { echo "error: off-host copy of $_d to $OFFSITE_ENDPOINT/$OFFSITE_BUCKET/$OFFSITE_PREFIX failed" >&2; return 1; }
    _late="$_late$(cd "$BACKUP_ROOT/$_d" && find . -type f -mmin +@@UNSIGNED_MINUTES@@ ! -name '*.hmac' ! -name '*.tmp' ! -name backup_label ! -path '*/.tmp-*' | while read -r _f; do
      [ -f "$_f.hmac" ] || printf ' %s/%s' "$_d" "${_f#./}"
    done)"
  done
  [ -z "$_late" ] || { echo "error: unsigned for over @@UNSIGNED_MINUTES@@ minutes, so not copied:$(echo "$_late" | cut -c1-300) (fix: read the scheduler's log, docker logs <env>-postgres-backup; it signs every @@SIGN_EVERY_SECONDS@@ s)" >&2; return 1; }
