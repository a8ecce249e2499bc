#!/bin/bash
# test_15_check -- `coffre check`: on a good setup (PostgreSQL archiving with
# coffre wal-push, a posix repository, SoftHSM2) every line is ok and the exit
# status 0; then one failure at a time, each reported on its own line with a
# hint and a non-zero exit status: a wrong conninfo port, a read-only
# repository, a KEK missing from the token, a wrong PIN, a state directory
# that cannot be written, archive_mode off while archive_command runs coffre.
# No run leaves its probe object in the repository.
#
# The server archives with `coffre wal-push`, so coffre runs as postgres
# (as_pg), as in test_80_physical: chmod then works even when the test runs
# as root.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_15_check: coffre check, good and failing"

COFFRE=$(readlink -f "$COFFRE")   # the server runs it from its data directory
run_ok "coffre check --help, with no configuration" "$COFFRE" --config /nonexistent/coffre.conf check --help
like "$(cat "$LAST_OUT")" "Usage: coffre check [--json] [--no-archive-check]" "check --help prints its usage"
like "$("$COFFRE" --help)" "  check [--json] [--no-archive-check]" "coffre --help lists check"
run_fails "check with a missing configuration: exit 3" 3 "$COFFRE" --config /nonexistent/coffre.conf check
like "$(cat "$LAST_ERR")" 'could not read configuration file "/nonexistent/coffre.conf"' \
    "a configuration that does not parse is the error itself"
hsm_init
hsm_token coffre 4321
CONF="$TEST_TMP/coffre.conf"
REPO="$TEST_TMP/repo"
STATE="$TEST_TMP/state"
mkdir -p "$REPO" "$STATE"
INSTANCE=acme CONNINFO="placeholder" REPO="$REPO" STATE_DIR="$STATE" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$CONF.tmpl"
pg_owns "$HSM_DIR" "$REPO" "$STATE"
chmod 755 "$HSM_DIR"

pg_init src
pg_conf src "archive_mode = on" "archive_command = '$COFFRE --config $CONF wal-push %p'"
pg_start src
psql_at src -c "CREATE DATABASE app"
sed "s|^conninfo = .*|conninfo = $SRC_CONNINFO|; s|^\[postgres\]|[postgres]\ndatabases = app|" \
    "$CONF.tmpl" >"$CONF"
printf '\n[wal]\narchive_timeout = 30s\n' >>"$CONF"
pg_owns "$CONF"
C() { as_pg "$COFFRE" --config "$1" check "${@:2}"; }
# conf NAME SED-SCRIPT -- a variant of the good configuration
conf() {
    sed "$2" "$CONF" >"$TEST_TMP/$1.conf"
    pg_owns "$TEST_TMP/$1.conf"
}
# no_probe DESC -- nothing of coffre check's is left in the repository
no_probe() {
    is "$(find "$REPO" -path '*/check/*' -o -name '*probe*' | wc -l)" "0" "$1: no probe object left"
}
line() { grep -E "^$1 +$2 " "$LAST_OUT" || true; }
# like_re GOT ERE DESC -- like, with an extended regular expression
like_re() {
    if printf '%s\n' "$1" | grep -qE -- "$2"; then
        pass "$3"
    else
        fail "$3" "expected to match: '$2'" "got: '$(printf '%s' "$1" | head -c 2000)'"
    fi
}

run_ok "keys init" as_pg "$COFFRE" --config "$CONF" keys init

# ------------------------------------------------------------- all good
run_ok "check on a good setup exits 0" C "$CONF"
for name in config postgres globals repository archiving keys signing state alerts; do
    like_re "$(line ok "$name")" "^ok +$name " "good setup: $name is ok"
done
is "$(grep -cv '^ok ' "$LAST_OUT")" "0" "good setup: no line is anything but ok"
like_re "$(line ok archiving)" "WAL segment [0-9A-F]{24} reached the repository in [0-9]+ s" \
    "good setup: the forced WAL switch reached the repository"
like_re "$(line ok postgres)" 'PostgreSQL [0-9]+.*role "postgres" \(superuser\).*app' \
    "good setup: server version, role and database"
no_probe "good setup"
ok "good setup: the probe object was really written (its directory exists)" test -d "$REPO/acme/check"

# status without [metrics] or [alerts]: runs are not recorded, and it says so instead of
# a bare "healthy" above "last backup never recorded" (issue 14)
run_ok "a backup" as_pg "$COFFRE" --config "$CONF" backup
run_ok "status" as_pg "$COFFRE" --config "$CONF" status
like "$(cat "$LAST_OUT")" "healthy (0 issue(s)), from the repository only" \
    "status without [metrics]: the health is the repository's only"
like "$(cat "$LAST_OUT")" "runs are not recorded: add a [metrics] or [alerts] section" \
    "status without [metrics]: says runs are not recorded and how to record them"
unlike "$(cat "$LAST_OUT")" "never recorded" "status without [metrics]: no 'never recorded' lines"
run_ok "status --json" as_pg "$COFFRE" --config "$CONF" status --json
is "$(python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))["health"]; print(h["runs_recorded"], "metrics" in h["note"])' "$LAST_OUT")" \
    "False True" "status --json: runs_recorded false, with the note"

run_ok "check --json --no-archive-check exits 0" C "$CONF" --json --no-archive-check
is "$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(len(a), sorted({x["result"] for x in a}), all("name" in x and "detail" in x for x in a))' "$LAST_OUT")" \
    "9 ['ok'] True" "--json: nine checks, all ok, each with name and detail"
like "$(cat "$LAST_OUT")" 'WAL switch not checked (--no-archive-check)' \
    "--no-archive-check: the WAL switch is skipped and said so"

# ------------------------------------------------------------- failures
run_fails "check with an unknown option is a usage error" 2 C "$CONF" --nope
conf badport "s|port=$SRC_PORT|port=1|"
run_fails "wrong port: exit 7 (postgres)" 7 C "$TEST_TMP/badport.conf" --no-archive-check
like "$(line failed postgres)" 'could not connect' "wrong port: the postgres line fails and says why"
like "$(line failed postgres)" 'HINT: ' "wrong port: with a hint"
like "$(line ok repository)" "writable" "wrong port: the other checks still run"
like "$(cat "$LAST_ERR")" "checks failed" "wrong port: the summary on stderr"
no_probe "wrong port"
run_fails "wrong port, --json: exit 7" 7 C "$TEST_TMP/badport.conf" --json --no-archive-check
is "$(python3 -c 'import json,sys; a={x["name"]: x for x in json.load(open(sys.argv[1]))}; p=a["postgres"]; print(p["result"], "could not connect" in p["detail"], bool(p["hint"]), a["keys"]["result"], a["keys"]["hint"])' "$LAST_OUT")" \
    "failed True True ok None" "--json: the postgres check failed with detail and hint, keys ok without hint"

chmod 555 "$REPO/acme" "$REPO/acme/check"
run_fails "read-only repository: exit 5" 5 C "$CONF" --no-archive-check
like "$(line failed repository)" "is not writable: probe object \"acme/check/probe." \
    "read-only repository: the repository line fails and names the probe"
like "$(line failed repository)" 'HINT: ' "read-only repository: with a hint"
chmod 755 "$REPO/acme" "$REPO/acme/check"
no_probe "read-only repository"

conf nokek 's|object=coffre-kek|object=no-such-kek|'
run_fails "missing KEK: exit 4" 4 C "$TEST_TMP/nokek.conf" --no-archive-check
like "$(line failed keys)" 'no-such-kek' "missing KEK: the keys line fails and names the KEK"
like "$(line failed keys)" 'HINT: ' "missing KEK: with a hint"
no_probe "missing KEK"

(umask 077 && printf '%s' 9999 >"$HSM_DIR/wrong.pin")
pg_owns "$HSM_DIR/wrong.pin"
conf wrongpin "s|^pin_file = .*|pin_file = $HSM_DIR/wrong.pin|"
run_fails "wrong PIN: exit 4" 4 C "$TEST_TMP/wrongpin.conf" --no-archive-check
like "$(line failed keys)" 'CKR_PIN_INCORRECT' "wrong PIN: the keys line fails with the HSM's answer"
unlike "$(cat "$LAST_OUT" "$LAST_ERR")" '9999' "wrong PIN: the PIN is not echoed"
no_probe "wrong PIN"

conf nopinfile "s|^pin_file = .*|pin_file = $HSM_DIR/missing.pin|"
run_fails "missing PIN file: exit 3 (a file the configuration names)" 3 C "$TEST_TMP/nopinfile.conf" --no-archive-check
like "$(line failed keys)" "$HSM_DIR/missing.pin" "missing PIN file: the keys line fails and names the file"
no_probe "missing PIN file"

chmod 555 "$STATE"
run_fails "state_dir not writable: exit 5" 5 C "$CONF" --no-archive-check
like "$(line failed state)" "coffre.state_dir \"$STATE\" is not writable" \
    "state_dir not writable: the state line fails and names the directory"
like "$(line failed state)" 'HINT: ' "state_dir not writable: with a hint"
chmod 755 "$STATE"
no_probe "state_dir not writable"

psql_at src -c "ALTER SYSTEM SET archive_command = '/bin/true %p'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
run_fails "archive_command that is not coffre's: exit 7" 7 C "$CONF"
like "$(line failed archiving)" 'archive_command "/bin/true %p" does not run coffre wal-push' \
    "foreign archive_command: the archiving line fails and names it"
like "$(line failed archiving)" "HINT: Set archive_command = 'coffre --config FILE wal-push %p'" \
    "foreign archive_command: the hint gives the setting"

# an archive_command that names coffre but never archives: the WAL switch times out
conf slowwal 's|^archive_timeout = .*|archive_timeout = 2s|'
psql_at src -c "ALTER SYSTEM SET archive_command = 'false coffre wal-push %p'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
run_fails "WAL switch never archived: exit 7" 7 C "$TEST_TMP/slowwal.conf"
like_re "$(line failed archiving)" 'WAL segment [0-9A-F]{24} \(pg_switch_wal\) did not reach the repository within 2 s' \
    "WAL switch never archived: the archiving line fails and names the segment"
like "$(line failed archiving)" 'HINT: Look at pg_stat_archiver' "WAL switch never archived: with a hint"
no_probe "WAL switch never archived"
psql_at src -c "ALTER SYSTEM RESET archive_command" -c "SELECT pg_reload_conf()" >/dev/null

pg_stop src
pg_conf src "archive_mode = off"
pg_start src
run_fails "archive_mode off with coffre's archive_command: exit 7" 7 C "$CONF"
like "$(line failed archiving)" 'archive_mode is off but archive_command runs coffre wal-push' \
    "archive_mode off: the archiving line fails and says why"
like "$(line failed archiving)" 'HINT: Set archive_mode = on' "archive_mode off: the hint says what to set"
like "$(line ok postgres)" 'PostgreSQL' "archive_mode off: postgres still ok"
no_probe "archive_mode off"

# A repository behind a directory this user may not enter (issue 14: the error
# said "could not create repository directory" for one that exists): the error
# says it cannot be reached, and the hint names the user, the directory, its
# mode and owner, and the right missing.
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$TEST_TMP/locked/repo"
    pg_owns "$TEST_TMP/locked/repo"
    chmod 700 "$TEST_TMP/locked" # root's, and postgres may not enter it
    conf locked "s|^path = .*|path = $TEST_TMP/locked/repo|"
    run_fails "repository behind a directory postgres may not enter: list exits 5" 5 \
        as_pg "$COFFRE" --config "$TEST_TMP/locked.conf" list
    like "$(cat "$LAST_ERR")" "could not reach repository directory \"$TEST_TMP/locked/repo\"" \
        "it says the directory cannot be reached, not that it cannot be created"
    like "$(cat "$LAST_ERR")" "User postgres (uid $(id -u postgres)) may not enter \"$TEST_TMP/locked\" (mode 0700, owner root:root)" \
        "the hint names the user, the directory, its mode and owner"
    like "$(cat "$LAST_ERR")" "search (x) right" "and the right missing"
    chmod 755 "$TEST_TMP/locked"
else
    diag "not root: the unreachable-repository case needs another user's directory"
fi

done_testing
