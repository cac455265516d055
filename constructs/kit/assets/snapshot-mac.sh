# shellcheck shell=sh
# Snapshot signatures, inlined into ScheduledBackup's scheduler and the stores' restore scripts:
# HMAC-SHA256 (RFC 2104) of "<snapshot name>\n" and the snapshot's bytes, keyed with the store's own
# Terraform-generated secret ($BACKUP_SIGNING_KEY_FILE), written beside it as "<snapshot>.hmac".
# A file planted in the bucket, or a real snapshot copied under a newer name, does not verify.
# The stores' images ship sha256sum and od (coreutils or busybox) but no HMAC tool, so the
# construction is written out; the tests check it against RFC 4231's vectors and Node's crypto.

# One byte (0-255) as a printf %b octal escape, into $_mo, by shell arithmetic: no command
# substitution, which forks (a MAC needs 160 of these; forking for each took 0.3 s).
mac_octal() { _mo="\\0$((($1 >> 6) & 7))$((($1 >> 3) & 7))$(($1 & 7))"; }

# The key file's bytes XOR a pad byte (decimal), zero-filled to SHA-256's 64-byte block, as %b
# escapes. Keys longer than a block are refused (signing_key_ok), never hashed down.
mac_pad() {
  _ml=""
  _mn=0
  for _mb in $(od -An -v -tu1 "$1"); do
    mac_octal $((_mb ^ $2))
    _ml="$_ml$_mo"
    _mn=$((_mn + 1))
  done
  mac_octal "$2"
  _mz=$_mo
  while [ "$_mn" -lt 64 ]; do
    _ml="$_ml$_mz"
    _mn=$((_mn + 1))
  done
  printf '%s' "$_ml"
}

# 64 hex digits as %b escapes (the inner digest, as bytes).
mac_hex_bytes() {
  _mh=$1
  _ml=""
  while [ -n "$_mh" ]; do
    mac_octal $((0x${_mh%"${_mh#??}"}))
    _ml="$_ml$_mo"
    _mh=${_mh#??}
  done
  printf '%s' "$_ml"
}

# hmac_sha256 <key file>: the hex HMAC-SHA256 of stdin.
hmac_sha256() {
  _mi=$({ printf '%b' "$(mac_pad "$1" 54)" && cat; } | sha256sum | cut -c1-64) || return 1
  { printf '%b' "$(mac_pad "$1" 92)" && printf '%b' "$(mac_hex_bytes "$_mi")"; } | sha256sum | cut -c1-64
}

# signing_key_ok <key file>: 0 for 32 to 64 letters and digits (a GeneratedSecret), no newline.
signing_key_ok() {
  [ -f "$1" ] && [ -r "$1" ] || return 1
  _mk=$(cat "$1") || return 1
  case $_mk in '' | *[!A-Za-z0-9]*) return 1 ;; esac
  # $(...) drops trailing newlines: the file must hold exactly the key.
  [ "$(wc -c <"$1" | tr -d ' ')" -eq "${#_mk}" ] && [ "${#_mk}" -ge 32 ] && [ "${#_mk}" -le 64 ]
}

# snapshot_mac <key file> <name> <file>: the hex signature of a snapshot stored as <name>.
snapshot_mac() {
  [ -f "$3" ] && [ -r "$3" ] || return 1
  { printf '%s\n' "$2" && cat "$3"; } | hmac_sha256 "$1"
}

# snapshot_signed <key file> <snapshot path> [name]: 0 when <path>.hmac, a regular file, holds the
# snapshot's signature under <name>, by default its own file name.
snapshot_signed() {
  [ -f "$2.hmac" ] && [ ! -L "$2.hmac" ] || return 1
  _mw=$(sed -n 's/^hmac-sha256 \([0-9a-f]\{64\}\)$/\1/p' "$2.hmac" | head -n 1)
  [ -n "$_mw" ] || return 1
  _mg=$(snapshot_mac "$1" "${3:-${2##*/}}" "$2") || return 1
  [ "$_mg" = "$_mw" ]
}
