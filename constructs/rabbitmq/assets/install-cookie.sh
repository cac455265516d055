# shellcheck shell=sh
# install_cookie, shared by RabbitBackup's hooks and restore script and the users job (inlined at synth by
# installCookieFunction): expects RABBITMQ_COOKIE_FILE set and HOME writable (a tmpfs).
install_cookie() {
  [ -n "$RABBITMQ_COOKIE_FILE" ] || return 0
  [ -r "$RABBITMQ_COOKIE_FILE" ] || { echo "error: cannot read the Erlang cookie $RABBITMQ_COOKIE_FILE" >&2; return 1; }
  if cmp -s "$RABBITMQ_COOKIE_FILE" "$HOME/.erlang.cookie"; then return 0; fi
  (umask 0277 && cat "$RABBITMQ_COOKIE_FILE" > "$HOME/.erlang.cookie.new") || return 1
  mv -f "$HOME/.erlang.cookie.new" "$HOME/.erlang.cookie"
}
