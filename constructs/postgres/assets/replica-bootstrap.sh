# shellcheck shell=sh
set -eu
umask 077
printf '%s:%s:*:%s:%s\n' @@PRIMARY_HOST_WORD@@ @@PRIMARY_PORT@@ @@REPLICATION_ROLE_WORD@@ "$(cat @@PASSWORD_FILE@@)" > @@PASSFILE@@
export PGPASSFILE=@@PASSFILE@@ PGAPPNAME=@@APPLICATION_NAME@@
if [ -z "$(ls -A @@DATA_DIR@@)" ]; then
  echo "replica: @@DATA_DIR@@ is empty; cloning @@PRIMARY_HOST@@:@@PRIMARY_PORT@@ through slot @@SLOT@@"
  pg_receivewal -h @@PRIMARY_HOST@@ -p @@PRIMARY_PORT@@ -U @@REPLICATION_ROLE@@ -w -S @@SLOT@@ --create-slot --if-not-exists
  pg_basebackup -h @@PRIMARY_HOST@@ -p @@PRIMARY_PORT@@ -U @@REPLICATION_ROLE@@ -w -D @@DATA_DIR@@ -S @@SLOT@@ -R -X stream -c fast
elif [ ! -f @@DATA_DIR@@/PG_VERSION ]; then
  echo "replica: @@DATA_DIR@@ is neither empty nor a data directory; refusing to overwrite it" >&2
  exit 1
fi
chmod 0700 @@DATA_DIR@@
exec @@POSTGRES_COMMAND@@
