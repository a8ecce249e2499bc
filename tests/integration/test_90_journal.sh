#!/bin/bash
# test_90_journal -- under systemd (JOURNAL_STREAM names stderr) coffre logs to
# the journal with structured fields: COFFRE_INSTANCE, COFFRE_COMMAND,
# COFFRE_ERROR_CLASS/DETAIL/HINT for the final error, COFFRE_ALERT for alert
# messages; nothing goes to stderr.  The journal is a stand-in listening on
# /run/systemd/journal/socket inside a private mount namespace (unshare -m,
# tmpfs on /run), so the host's /run is untouched.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_90_journal: structured journal fields"

unshare -m true 2>/dev/null || skip_all "unshare -m is not permitted here"
hsm_init
hsm_token coffre 4321
INSTANCE=acme CONNINFO="host=$TEST_TMP/nowhere port=1 dbname=postgres" REPO="$TEST_TMP/repo" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$TEST_TMP/c.conf"
printf '\n[metrics]\nstate_dir = %s\n[alerts]\nwebhook_url = http://127.0.0.1:1/hook\n' \
    "$TEST_TMP/state" >>"$TEST_TMP/c.conf"
"$COFFRE" --config "$TEST_TMP/c.conf" keys init >/dev/null

J="$TEST_TMP/journal.jsonl"
cat >"$TEST_TMP/inside.sh" <<INSIDE
set -eu
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/journal
/usr/bin/python3 "$TESTS_DIR/journal_listener.py" /run/systemd/journal/socket "$J" &
L=\$!
for _ in \$(seq 1 50); do [ -e "$J.ready" ] && break; sleep 0.1; done
: >"$TEST_TMP/stderr"
rc=0
JOURNAL_STREAM=\$(stat -c '%d:%i' "$TEST_TMP/stderr") \
    "$COFFRE" --config "$TEST_TMP/c.conf" backup >"$TEST_TMP/stdout" 2>>"$TEST_TMP/stderr" || rc=\$?
echo "\$rc" >"$TEST_TMP/rc"
sleep 0.5
kill \$L
INSIDE
unshare -m bash "$TEST_TMP/inside.sh"
is "$(cat "$TEST_TMP/rc")" "7" "the backup fails (no server): exit status 7"
is "$(cat "$TEST_TMP/stderr")" "" "nothing on stderr: everything went to the journal"
ok "journal entries received" test -s "$J"
field() { # field ENTRY-FILTER-FIELD=VALUE WANTED-FIELD: value of WANTED in the first matching entry
    /usr/bin/python3 -c '
import json, sys
k, v = sys.argv[2].split("=", 1)
for line in open(sys.argv[1]):
    e = json.loads(line)
    if k in e and e[k].startswith(v):
        print(e.get(sys.argv[3], "")); break' "$J" "$1" "$2"
}
is "$(field PRIORITY=3 SYSLOG_IDENTIFIER)" "coffre" "the error entry: SYSLOG_IDENTIFIER=coffre"
is "$(field PRIORITY=3 COFFRE_INSTANCE)" "acme" "the error entry: COFFRE_INSTANCE"
is "$(field PRIORITY=3 COFFRE_COMMAND)" "backup" "the error entry: COFFRE_COMMAND"
like "$(field COFFRE_ERROR_CLASS= COFFRE_BACKUP_ID)" "$(date -u +%Y%m%dT)" "the final error: COFFRE_BACKUP_ID of the failed backup"
is "$(field COFFRE_ERROR_CLASS= COFFRE_ERROR_CLASS)" "postgres" "the final error: COFFRE_ERROR_CLASS"
like "$(field COFFRE_ERROR_CLASS= MESSAGE)" "could not connect" "the final error's MESSAGE says what failed"
isnt "$(field COFFRE_ERROR_CLASS= COFFRE_HINT)" "" "the final error carries its hint"
is "$(field COFFRE_ALERT=CoffreBackupFailed COFFRE_ALERT_STATUS)" "firing" "alert messages carry COFFRE_ALERT"
like "$(field COFFRE_ALERT=CoffreBackupFailed MESSAGE)" "CoffreBackupFailed" "the alert entry names the alert"
is "$(field PRIORITY=4 COFFRE_INSTANCE)" "acme" "warnings carry the instance too"
done_testing
