#!/bin/bash
# test_43_hsm_faults -- the fault matrix (docs/reliability.md), HSM column: the
# PKCS#11 module fails mid-run.  keys.module is tests/p11shim, which forwards
# to SoftHSM2 and answers CKR_DEVICE_REMOVED while a trigger file exists.  A
# command is stopped at a stage (injection point, action "stop"), the HSM is
# "removed", then the command goes on: it must fail naming the token, list
# nothing new, record nothing, restore nothing; the next run, with the HSM
# back, succeeds.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"
plan_start "test_43_hsm_faults: the HSM fails mid-run"

needs_injection_points
SHIM="$(dirname "$COFFRE")/tests/p11shim.so"
[ -f "$SHIM" ] || bail_out "$SHIM is missing (make unit builds it)"

pg_start src
for db in app app2; do
    psql_at src -c "CREATE DATABASE $db"
    psql_at src "$db" -c "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 100000) g"
done
hsm_init
hsm_token coffre 4321
export COFFRE_P11SHIM_MODULE="$SOFTHSM_MODULE" COFFRE_P11SHIM_FAIL="$TEST_TMP/hsm-removed"
REPO="$TEST_TMP/repo"
INSTANCE=acme CONNINFO="$(pg_conninfo src app)" DATABASES="app, app2" REPO="$REPO" MODULE="$SHIM" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$TEST_TMP/coffre.conf"
C() { "$COFFRE" --config "$TEST_TMP/coffre.conf" "$@"; }
run_ok "keys init through the shim" C keys init
run_ok "a first good backup" C backup
GOOD=$(cat "$LAST_OUT")
touch "$COFFRE_P11SHIM_FAIL"
run_fails "the shim works: with the HSM removed, keys check fails" 4 C keys check
like "$(cat "$LAST_ERR")" "CKR_DEVICE_REMOVED" "the shim works: the error names the module's answer"
rm -f "$COFFRE_P11SHIM_FAIL"

# removed_at POINT COMMAND...: the command stopped at POINT, the HSM removed,
# the command resumed; status in $rc, output in $TEST_TMP/out and err; the
# HSM is back afterwards
removed_at() {
    local point=$1
    shift
    stop_at "$point" "$COFFRE" --config "$TEST_TMP/coffre.conf" "$@"
    touch "$COFFRE_P11SHIM_FAIL"
    resume
    rm -f "$COFFRE_P11SHIM_FAIL"
}

# backup: between two dumps (the next data key cannot be wrapped), and before
# the manifest (it cannot be signed)
for cell in "between two dumps:put-done@1" "before the manifest:manifest-before"; do
    label="backup, HSM removed ${cell%%:*}"
    before=$(complete_ids)
    sleep 1
    removed_at "${cell#*:}" backup
    is "$rc" "4" "$label: exit 4"
    like "$(cat "$TEST_TMP/err")" "CKR_DEVICE_REMOVED" "$label: the error names the module's answer"
    like "$(cat "$TEST_TMP/err")" "not completed and is not restorable" "$label: says the backup is not restorable"
    is "$(complete_ids)" "$before" "$label: nothing new is listed as complete"
    unlike "$(C list)" "incomplete" "$label: its objects were removed"
    run_ok "$label: the next backup succeeds with the HSM back" C backup
    run_ok "$label: and verifies" C verify "$(cat "$LAST_OUT")"
done

# verify: the HSM goes away after the first object; no record is written
records() { find "$REPO/acme/backup/$GOOD" -name 'verify-*' | wc -l; }
n0=$(records)
removed_at get-done@1 verify "$GOOD"
is "$rc" "4" "verify, HSM removed after the first object: exit 4"
like "$(cat "$TEST_TMP/err")" "CKR_DEVICE_REMOVED" "verify, HSM removed: the error names the module's answer"
is "$(records)" "$n0" "verify, HSM removed: no verification record (a key problem is no verdict on the data)"
run_ok "verify, HSM back: the next verification succeeds" C verify "$GOOD"

# prune: the HSM answers CKR_DEVICE_REMOVED from the start; no manifest can be read, so
# every backup is kept, and the run fails instead of passing as one with nothing to do
before=$(complete_ids)
touch "$COFFRE_P11SHIM_FAIL"
_run C prune
rm -f "$COFFRE_P11SHIM_FAIL"
is "$LAST_RC" "4" "prune, HSM removed: exit 4"
like "$(cat "$LAST_ERR")" "CKR_DEVICE_REMOVED" "prune, HSM removed: the error names the module's answer"
like "$(cat "$LAST_ERR")" "prune kept" "prune, HSM removed: and says what it kept unjudged"
like "$(cat "$LAST_OUT")" "kept: manifest unreadable here" "prune, HSM removed: every backup is kept"
is "$(complete_ids)" "$before" "prune, HSM removed: every complete backup is still listed"
run_ok "prune, HSM back: the next prune passes" C prune
unlike "$(cat "$LAST_OUT")" "unreadable" "prune, HSM back: it reads every manifest"

# restore --create: the HSM goes away before the first object is decrypted
removed_at restore-start restore "$GOOD" --db app --target "$(pg_conninfo src r1)" --create
is "$rc" "4" "restore, HSM removed: exit 4"
like "$(cat "$TEST_TMP/err")" "CKR_DEVICE_REMOVED" "restore, HSM removed: the error names the module's answer"
is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'r1%'")" "0" \
    "restore, HSM removed: no database, temporary or not"
run_ok "restore, HSM back: the next restore succeeds" C restore "$GOOD" --db app --target "$(pg_conninfo src r1)" --create
is "$(fingerprint src r1)" "$(fingerprint src app)" "restore, HSM back: identical"

done_testing
