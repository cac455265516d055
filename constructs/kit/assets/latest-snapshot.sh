# shellcheck shell=sh
# shellcheck disable=SC2154 # src is the restore script's first argument, BACKUP_ROOT its setting, both set before this part
# The snapshot a restore script restores (restoreArgs' stores, RabbitBackup's): for "latest", the
# newest of the scheduler's own names, then checks that src is a regular file and not a link. Its
# renderer inlines this file (latestSnapshot) with the suffix and the store name (or any: [a-z]*).
if [ "$src" = latest ]; then
  # Only the scheduler's names (<store>-<UTC stamp>@@SUFFIX@@), by stamp, none stamped in the future
  # and no link: a name sorting last ("zzz@@SUFFIX@@", "x<newline>...") or a link to another file,
  # planted in the volume, must not become "latest".
  src=""; _best=""; _now=$(date -u +%Y%m%d%H%M%S)
  for _p in "$BACKUP_ROOT/snapshots"/*@@SUFFIX@@; do
    _n=${_p##*/}; _n=${_n%@@SUFFIX@@}; _st=${_n##*-}; _store=${_n%-*}
    case $_st in [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z) ;; *) continue ;; esac
    case $_store in @@STORE@@) ;; *) continue ;; esac
    case $_store in '' | [!a-z]* | *[!a-z0-9-]*) continue ;; esac
    if [ -L "$_p" ] || [ ! -f "$_p" ]; then continue; fi
    _d=${_st%Z}; _d=${_d%T*}${_d#*T}
    if [ "$_d" -le "$_now" ] && { [ -z "$_best" ] || [ "$_d" -gt "$_best" ]; }; then _best=$_d; src=$_p; fi
  done
  [ -n "$src" ] || { echo "error: no snapshot in $BACKUP_ROOT/snapshots" >&2; exit 1; }
fi
[ -f "$src" ] || { echo "error: $src is not a file" >&2; exit 1; }
[ ! -L "$src" ] || { echo "error: $src is a symbolic link; give the snapshot file itself" >&2; exit 1; }
