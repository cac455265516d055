# shellcheck shell=sh
# The whole-value check restore-dump.sh, restore-pitr.sh, restore-drill.sh and pre-migration-dump.sh
# run on their arguments and settings (whole_match <extended regex> <value>), inlined by their
# renderer in place of their WHOLE_MATCH placeholder.
whole_match() {
  # grep matches line by line (and dash's echo turns a typed "\n" into a newline), so
  # "<valid><newline><anything>" would pass on its first line: a newline fails at once.
  case $2 in *'
'*) return 1 ;; esac
  printf '%s\n' "$2" | grep -Eq "$1"
}
