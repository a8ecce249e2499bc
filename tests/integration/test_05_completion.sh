#!/bin/bash
# test_05_completion -- bash completion (completion/coffre): commands, subcommands,
# options, and the backup ids of a real repository read with the --config given on
# the line, silently nothing for a configuration that does not exist; and make
# install puts it in place, make uninstall removes every file make install wrote.
set -eu
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
plan_start "test_05_completion: bash completion, make install and uninstall"

BASH_COMPLETION=${BASH_COMPLETION:-/usr/share/bash-completion/bash_completion}
[ -r "$BASH_COMPLETION" ] || skip_all "bash-completion is not installed (make deps installs it)"
COMPLETION="$REPO_ROOT/completion/coffre"

# `coffre` on the line is the binary under test
mkdir -p "$TEST_TMP/bin"
ln -s "$COFFRE" "$TEST_TMP/bin/coffre"

# complete_line LINE -- what completing LINE (the cursor at its end; words split at
# spaces) puts in COMPREPLY, one a line, in a new bash that sourced bash-completion
# and completion/coffre; that shell's stderr is in $TEST_TMP/complete.err.
complete_line() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    PATH="$TEST_TMP/bin:$PATH" bash --norc --noprofile -c '
        . "$1" && . "$2" || exit 1
        line=$3
        read -ra COMP_WORDS <<<"$line"
        [[ $line == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE=$line
        COMP_POINT=${#line}
        _coffre coffre "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        [ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"
    ' complete_line "$BASH_COMPLETION" "$COMPLETION" "$1" 2>"$TEST_TMP/complete.err" ||
        echo "(could not source the completion: status $?)"
}
lines() { printf '%s\n' "$@"; }

# ---- the completion file
spec=$(bash --norc --noprofile -c '. "$1" && . "$2" && complete -p coffre' _ \
    "$BASH_COMPLETION" "$COMPLETION" 2>&1) || true
is "$spec" "complete -F _coffre coffre" "sourcing completion/coffre registers _coffre for coffre"
if command -v shellcheck >/dev/null; then
    ok "shellcheck finds nothing in completion/coffre" shellcheck -s bash "$COMPLETION"
fi

# ---- commands, subcommands, options
is "$(complete_line 'coffre rest')" "restore" "coffre rest -> restore"
is "$(complete_line 'coffre migrate ' | sort)" "$(lines finalize plan rollback run status)" \
    "coffre migrate -> its five subcommands"
is "$(complete_line 'coffre restore --phy')" "--physical" "coffre restore --phy -> --physical"
is "$(complete_line 'coffre keys ' | sort)" \
    "$(lines check export-public export-signer import-public init list)" \
    "coffre keys -> every subcommand cli/keys.c accepts"
is "$(complete_line 'coffre alert ' | sort)" "$(lines check test)" "coffre alert -> check, test"
is "$(complete_line 'coffre --allow')" "--allow-unsigned" "a global option"
# every command coffre --help lists, and no other
want=$("$COFFRE" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' | sort -u)
is "$(complete_line 'coffre ' | sort)" "$want" "coffre -> the commands of coffre --help"
# the options each command's --help names are offered for it
for cmd in backup list verify restore drill prune status; do
    offered=$(complete_line "coffre $cmd --")
    missing=""
    for o in $("$COFFRE" "$cmd" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        [ "$o" = --physical ] || [ "$o" = --wal ] ||
            printf '%s\n' "$offered" | grep -qx -- "$o" || missing="$missing $o"
    done
    is "$missing" "" "coffre $cmd -- offers every option of coffre $cmd --help"
done
is "$(complete_line 'coffre restore --physical --st')" "--start" \
    "restore --physical offers the physical restore's options"
unlike "$(complete_line 'coffre restore --physical --')" "--target" \
    "and not the logical restore's"
is "$(complete_line 'coffre drill --scenario simple,p' | sort)" \
    "$(lines simple,partial simple,pitr)" "drill --scenario completes a list's last element"
mkdir -p "$TEST_TMP/pgdata.d" && : >"$TEST_TMP/pgdata.f"
is "$(complete_line "coffre restore --physical --pgdata $TEST_TMP/pgdata")" \
    "$TEST_TMP/pgdata.d" "--pgdata completes directories only"
is "$(complete_line "coffre drill --junit $TEST_TMP/pgdata." | sort)" \
    "$(lines "$TEST_TMP/pgdata.d" "$TEST_TMP/pgdata.f")" "--junit completes files"
is "$(complete_line "coffre --config $TEST_TMP/pgdata.f")" "$TEST_TMP/pgdata.f" \
    "--config completes files"

# ---- backup ids, from a real repository
pg_start src
hsm_init
hsm_token coffre 4321
INSTANCE=acme CONNINFO="$SRC_CONNINFO" REPO="$TEST_TMP/repo" DATABASES=postgres \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$TEST_TMP/coffre.conf"
CONF="$TEST_TMP/coffre.conf"
run_ok "keys init" "$COFFRE" --config "$CONF" keys init
run_ok "a first backup" "$COFFRE" --config "$CONF" backup
ID1=$(cat "$LAST_OUT")
sleep 1 # ids are times to the second
run_ok "a second backup" "$COFFRE" --config "$CONF" backup
ID2=$(cat "$LAST_OUT")
isnt "$ID1" "$ID2" "two backups, two ids"
ids=$(lines "$ID1" "$ID2" | sort)

is "$(complete_line "coffre -c $CONF verify " | sort)" "$ids" \
    "coffre -c FILE verify -> the repository's backup ids"
is "$(cat "$TEST_TMP/complete.err")" "" "and nothing on stderr"
is "$(complete_line "coffre --config=$CONF restore " | sort)" "$ids" \
    "coffre --config=FILE restore -> the ids"
is "$(complete_line "coffre -q --config $CONF drill --backup " | sort)" "$ids" \
    "drill --backup -> the ids"
is "$(complete_line "coffre -c $CONF cat ${ID1:0:4}" | sort)" "$(lines "$ID1/" "$ID2/")" \
    "cat -> ID/"
is "$(complete_line "coffre -c $CONF verify $ID1 ")" "" "verify takes one id"
is "$(complete_line "coffre -c $CONF verify --all ")" "" "and none with --all"
is "$(COFFRE_CONFIG=$CONF complete_line "coffre verify " | sort)" "$ids" \
    "without --config, coffre's own default (COFFRE_CONFIG) is used"

is "$(complete_line "coffre -c $TEST_TMP/nonexistent.conf verify ")" "" \
    "a configuration that does not exist: no ids"
is "$(cat "$TEST_TMP/complete.err")" "" "and nothing on stderr"
is "$(COFFRE_CONFIG=$TEST_TMP/nonexistent.conf complete_line "coffre restore ")" "" \
    "no --config and no default configuration: no ids"
is "$(cat "$TEST_TMP/complete.err")" "" "and nothing on stderr"

# ---- make install, make uninstall
dest="$TEST_TMP/dest"
mkdir -p "$dest/usr/bin"
: >"$dest/usr/bin/someone-else" # not coffre's: uninstall must leave it
run_ok "make install DESTDIR PREFIX=/usr" make -C "$REPO_ROOT" install DESTDIR="$dest" PREFIX=/usr
ok "the completion is installed in /usr/share/bash-completion/completions/coffre" \
    cmp "$COMPLETION" "$dest/usr/share/bash-completion/completions/coffre"
ok "the binary is installed" test -x "$dest/usr/bin/coffre"
installed=$(cd "$dest" && find . ! -type d ! -name someone-else | wc -l)
ok "make install wrote the binary, man page, docs, units, completion ($installed files)" \
    test "$installed" -ge 10
run_ok "make uninstall DESTDIR PREFIX=/usr" \
    make -C "$REPO_ROOT" uninstall DESTDIR="$dest" PREFIX=/usr
is "$(cd "$dest" && find . ! -type d | sort)" "./usr/bin/someone-else" \
    "make uninstall removed every file make install wrote, and only those"
ok "and coffre's doc directory" test ! -e "$dest/usr/share/doc/coffre"

done_testing
