# shellcheck shell=sh
# GrafanaBackup hooks, sourced by the ScheduledBackup scheduler (backup.sh).
# SQLite's online backup API (sqlite3 `.backup`, or Python's sqlite3 Connection.backup): pages are
# copied under a read transaction, so the copy is one consistent state while Grafana keeps running.
# The pinned Grafana image (Alpine) ships neither sqlite3 nor python3, hence a separate image.
: "${GRAFANA_DB:=@@DB_FILE@@}"
: "${SQLITE_TOOL:=auto}"

snapshot_describe() { echo "grafana sqlite $GRAFANA_DB"; }

sqlite_tool() {
  if [ "$SQLITE_TOOL" != auto ]; then echo "$SQLITE_TOOL"; return 0; fi
  if command -v sqlite3 >/dev/null 2>&1; then echo sqlite3; elif command -v python3 >/dev/null 2>&1; then echo python3; else echo none; fi
}

# sqlite_query <db> <sql>: the first column of the first row.
sqlite_query() {
  case $(sqlite_tool) in
    sqlite3) sqlite3 -readonly -batch -noheader "$1" "$2" | head -n 1 ;;
    python3) python3 -c 'import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=10)
print(c.execute(sys.argv[2]).fetchone()[0])' "$1" "$2" ;;
    *) echo "error: neither sqlite3 nor python3 in this image" >&2; return 1 ;;
  esac
}

# sqlite_backup <live db> <new file>: online backup, waiting up to 10 s for Grafana's write locks.
sqlite_backup() {
  case $(sqlite_tool) in
    sqlite3) sqlite3 -readonly -batch "$1" ".timeout 10000" ".backup '$2'" ;;
    python3) python3 -c 'import sqlite3, sys
src = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=10)
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close()
src.close()' "$1" "$2" ;;
    *) echo "error: neither sqlite3 nor python3 in this image" >&2; return 1 ;;
  esac
}

snapshot_take() {
  [ -f "$GRAFANA_DB" ] || { echo "error: $GRAFANA_DB does not exist (has Grafana started once?)" >&2; return 1; }
  rm -f "$1.db"
  sqlite_backup "$GRAFANA_DB" "$1.db" || { rm -f "$1.db"; return 1; }
  gzip -c "$1.db" > "$1" || { rm -f "$1.db"; return 1; }
  rm -f "$1.db"
}

# Decompressed next to the snapshot (same volume: the tmpfs may be smaller than the database).
snapshot_verify() {
  gzip -dc "$1" > "$1.check" || { rm -f "$1.check"; return 1; }
  _r=$(sqlite_query "$1.check" "PRAGMA integrity_check")
  rm -f "$1.check"
  [ "$_r" = ok ] || { echo "error: integrity_check says: $_r" >&2; return 1; }
}

snapshot_items() {
  gzip -dc "$1" > "$1.items" || { rm -f "$1.items"; return 0; }
  _tables=$(sqlite_query "$1.items" "SELECT count(*) FROM sqlite_master WHERE type = 'table'")
  # One statement summing every table's rows (table names come from sqlite_master, quoted).
  _sql=$(sqlite_query "$1.items" "SELECT 'SELECT ' || group_concat('(SELECT count(*) FROM \"' || replace(name, '\"', '\"\"') || '\")', ' + ') FROM sqlite_master WHERE type = 'table'")
  _rows=$(sqlite_query "$1.items" "$_sql")
  rm -f "$1.items"
  echo "tables=$_tables rows=$_rows"
}
