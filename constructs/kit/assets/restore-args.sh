# shellcheck shell=sh
# shellcheck disable=SC2154 # src and data are the restore script's arguments, set before this part
# The argument checks of a store's restore.sh (RedisBackup's, GrafanaBackup's, EdgeBackup's):
# `<snapshot|latest> <data directory>`. The script sets BACKUP_ROOT, src ($1) and data ($2) first,
# and its renderer inlines this file (restoreArgs); for latest, src becomes the newest snapshot
# that finished.
if [ -z "$src" ] || [ -z "$data" ]; then echo "usage: sh restore.sh <snapshot@@SUFFIX@@|latest> <data directory>" >&2; exit 2; fi
if [ "$src" = latest ]; then
  # Only the scheduler's names (<store>-<UTC stamp>@@SUFFIX@@), by stamp, none stamped in the future
  # and no link: a name sorting last ("zzz@@SUFFIX@@", "x<newline>...") or a link to another file,
  # planted in the volume, must not become "latest".
  src=""; _best=""; _now=$(date -u +%Y%m%d%H%M%S)
  for _p in "$BACKUP_ROOT/snapshots"/*@@SUFFIX@@; do
    _n=${_p##*/}; _n=${_n%@@SUFFIX@@}; _st=${_n##*-}; _store=${_n%-*}
    case $_st in [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z) ;; *) continue ;; esac
    case $_store in '' | [!a-z]* | *[!a-z0-9-]*) continue ;; esac
    if [ -L "$_p" ] || [ ! -f "$_p" ]; then continue; fi
    _d=${_st%Z}; _d=${_d%T*}${_d#*T}
    if [ "$_d" -le "$_now" ] && { [ -z "$_best" ] || [ "$_d" -gt "$_best" ]; }; then _best=$_d; src=$_p; fi
  done
  [ -n "$src" ] || { echo "error: no snapshot in $BACKUP_ROOT/snapshots" >&2; exit 1; }
fi
[ -f "$src" ] || { echo "error: $src is not a file" >&2; exit 1; }
[ ! -L "$src" ] || { echo "error: $src is a symbolic link; give the snapshot file itself" >&2; exit 1; }
[ -d "$data" ] || { echo "error: $data is not a directory" >&2; exit 1; }
