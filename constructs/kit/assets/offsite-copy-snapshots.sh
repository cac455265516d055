# shellcheck shell=sh
# ScheduledBackup's copy step, inlined into offsite-copy.sh's copy_all once the rclone remote is set.
  [ -d "$BACKUP_ROOT/snapshots" ] || return 0
  # Copy, never sync: a snapshot pruned here stays remote (the bucket's lifecycle rule expires it).
  rclone copy --immutable --s3-no-check-bucket --exclude '.tmp-*' --retries 3 --low-level-retries 5 --stats 0 \
    "$BACKUP_ROOT/snapshots" ":s3:$OFFSITE_BUCKET/$OFFSITE_PREFIX" || { echo "error: off-host copy to $OFFSITE_ENDPOINT/$OFFSITE_BUCKET/$OFFSITE_PREFIX failed" >&2; return 1; }
