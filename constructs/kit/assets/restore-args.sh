# shellcheck shell=sh
# shellcheck disable=SC2154 # src and data are the restore script's arguments, set before this part
# The argument checks of a store's restore.sh (RedisBackup's, GrafanaBackup's, EdgeBackup's):
# `<snapshot|latest> <data directory>`. The script sets BACKUP_ROOT, src ($1) and data ($2) first,
# and its renderer inlines this file (restoreArgs); for latest, src becomes the newest snapshot
# that finished (latest-snapshot.sh).
if [ -z "$src" ] || [ -z "$data" ]; then echo "usage: sh restore.sh <snapshot@@SUFFIX@@|latest> <data directory>" >&2; exit 2; fi
@@LATEST@@
[ -d "$data" ] || { echo "error: $data is not a directory" >&2; exit 1; }
