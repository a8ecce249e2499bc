#!/bin/bash
# test_05_cli -- the command table (cli/commands.c): every command that
# `coffre --help` lists answers its own --help without a configuration, an
# HSM or a repository; an unknown command and a bad global option are usage
# errors (status 2); a missing configuration is status 3.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_05_cli: the command table"

run_ok "coffre --help" "$COFFRE" --help
HELP=$(cat "$LAST_OUT")
like "$HELP" "Usage: coffre [--config FILE]" "--help shows the global usage"
# every command and variant the table holds, as --help lists them
cmds=$(printf '%s\n' "$HELP" | sed -n 's/^  \([a-z-]*\)\( --[a-z]*\)\{0,1\} .*/\1\2/p' | sort -u)
n=$(printf '%s\n' "$cmds" | grep -c .)
ok "--help lists at least the 15 commands and variants of the table ($n)" test "$n" -ge 15
while read -r cmd variant; do
    name="$cmd${variant:+ $variant}"
    # shellcheck disable=SC2086 # variant is one option or empty
    run_ok "coffre $name --help, with no configuration" \
        "$COFFRE" --config /nonexistent/coffre.conf $cmd $variant --help
    like "$(cat "$LAST_OUT")" "Usage: coffre $cmd" "$name --help prints its usage"
done <<<"$cmds"
like "$(COFFRE_CONFIG=/nonexistent "$COFFRE" restore --physical --help)" \
    "--pgdata DIR" "restore --physical --help is the physical restore's"
like "$("$COFFRE" backup --physical --help)" "BASE_BACKUP" \
    "backup --physical --help is the base backup's"

run_fails "an unknown command" 2 "$COFFRE" nope
like "$(cat "$LAST_ERR")" 'unknown command "nope"' "it names the command"
run_fails "a bad global option" 2 "$COFFRE" --nope list
run_fails "no command" 2 "$COFFRE"
like "$(cat "$LAST_ERR")" "Usage: coffre" "no command prints the usage"
run_ok "--version" "$COFFRE" --version
like "$(cat "$LAST_OUT")" "coffre " "--version names coffre"

run_fails "a missing configuration file" 3 "$COFFRE" --config /nonexistent/coffre.conf list
like "$(cat "$LAST_ERR")" 'could not read configuration file "/nonexistent/coffre.conf"' \
    "the missing configuration is named"

done_testing
