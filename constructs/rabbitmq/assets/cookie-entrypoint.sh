# shellcheck shell=sh
set -eu
umask 0277
cat @@COOKIE_FILE@@ > "$HOME/.erlang.cookie.new"
mv -f "$HOME/.erlang.cookie.new" "$HOME/.erlang.cookie"
exec docker-entrypoint.sh "$@"
