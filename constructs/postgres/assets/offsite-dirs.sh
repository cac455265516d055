# shellcheck shell=sh
# PostgresBackup's copy step, inlined into the kit's offsite-copy.sh (copy_all, once the rclone remote
# is set): dumps, base backups and the WAL archive, each to <prefix>/<dir>.
  # shellcheck disable=SC2043 # @@DIRS@@ becomes several words at synth
  for _d in @@DIRS@@; do
    [ -d "$BACKUP_ROOT/$_d" ] || continue
    # Temp names of the scheduler (.tmp-*) and of archive_command (*.tmp) are never copied.
    rclone copy --immutable --s3-no-check-bucket --exclude '.tmp-*/**' --exclude '.tmp-*' --exclude '*.tmp' \
      --retries 3 --low-level-retries 5 --stats 0 \
      "$BACKUP_ROOT/$_d" ":s3:$OFFSITE_BUCKET/$OFFSITE_PREFIX/$_d" || { echo "error: off-host copy of $_d to $OFFSITE_ENDPOINT/$OFFSITE_BUCKET/$OFFSITE_PREFIX failed" >&2; return 1; }
  done
