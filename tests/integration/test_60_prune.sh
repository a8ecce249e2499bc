#!/bin/bash
# test_60_prune -- GFS classes and prune on a posix repository: classes are
# recorded and listed, expired backups are deleted (manifest first), min_keep
# is honoured, leftovers of incomplete backups are removed, --dry-run changes
# nothing.  (Object Lock is tested against a real S3 in test_70.)
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_60_prune: retention classes and prune"

pg_start src
psql_at src -c "CREATE DATABASE app"
psql_at src app -c "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g"
hsm_init
hsm_token coffre 4321
REPO="$TEST_TMP/repo"
INSTANCE=acme CONNINFO="$(pg_conninfo src app)" DATABASES=app REPO="$REPO" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$TEST_TMP/keep.conf"
C() { "$COFFRE" --config "$TEST_TMP/keep.conf" "$@"; }
C keys init >/dev/null
# a policy where everything expires at once, but one verified backup must stay
{ cat "$TEST_TMP/keep.conf"; printf '\n[retention]\ndaily = 0\nweekly = 0\nmonthly = 0\nmin_keep = 1\nstale_after = 1m\n'; } \
    >"$TEST_TMP/expire.conf"
E() { "$COFFRE" --config "$TEST_TMP/expire.conf" "$@"; }

for i in 1 2 3; do
    run_ok "backup $i" C backup
    eval "ID$i=\$(cat \"\$LAST_OUT\")"
    sleep 1
done
run_ok "list" C list
like "$(grep "$ID1" "$LAST_OUT")" " monthly " "the first backup of the month is monthly"
like "$(grep "$ID2" "$LAST_OUT")" " daily " "the next one is daily"
C cat "$ID1/manifest" >"$TEST_TMP/m1.json"
like "$(cat "$TEST_TMP/m1.json")" '"class": "monthly"' "the manifest records the class"
like "$(cat "$TEST_TMP/m1.json")" '"lock_until": null' "no lock date on a posix repository"

# default policy 7/4/12: nothing has expired
run_ok "prune with the default policy" C prune
is "$(grep -c '^keep' "$LAST_OUT")" "3" "the default policy keeps all three"
like "$(grep "$ID2" "$LAST_OUT")" "kept: within its daily retention" "prune says why it keeps"

# a leftover of a failed backup from long ago (its files dated then: prune
# ages an incomplete backup by its newest object too), and one from a minute ago
mkdir -p "$REPO/acme/backup/20200101T000000Z/db"
cp "$REPO/acme/backup/$ID1/db/app.dump" "$REPO/acme/backup/20200101T000000Z/db/app.dump"
touch -d 2020-01-01T00:00:00Z "$REPO/acme/backup/20200101T000000Z/db/app.dump"
NOW_ID=$(date -u +%Y%m%dT%H%M%SZ)-9
mkdir -p "$REPO/acme/backup/$NOW_ID/db"
cp "$REPO/acme/backup/$ID1/db/app.dump" "$REPO/acme/backup/$NOW_ID/db/app.dump"
# an old id whose object was written now: its host's clock is behind
mkdir -p "$REPO/acme/backup/20210101T000000Z/db"
cp "$REPO/acme/backup/$ID1/db/app.dump" "$REPO/acme/backup/20210101T000000Z/db/app.dump"

run_ok "prune --dry-run" E prune --dry-run
like "$(cat "$LAST_OUT")" "would delete   $ID1" "dry run: would delete the oldest"
like "$(cat "$LAST_OUT")" "would delete   $ID2" "dry run: would delete the second"
like "$(grep "$ID3" "$LAST_OUT")" "kept: expired, but retention.min_keep needs it" "dry run: min_keep keeps the newest"
like "$(grep 20200101T000000Z "$LAST_OUT")" "leftover of an incomplete backup" "dry run: the old leftover would go"
like "$(grep "$NOW_ID" "$LAST_OUT")" "kept: incomplete but recent" "dry run: a recent incomplete backup may be running"
like "$(grep 20210101T000000Z "$LAST_OUT")" "kept: incomplete but recent" \
    "dry run: an old id with a fresh object may be running on a host whose clock is behind"
is "$(C list | tail -n +2 | wc -l)" "6" "dry run: nothing changed"
deletions=$(grep -c '^would delete' "$LAST_OUT" || true)
run_ok "status under the same policy" E status
like "$(cat "$LAST_OUT")" "prune would delete $deletions" \
    "status counts what prune would delete, and ages leftovers as prune does"

run_ok "prune --json" E prune --json
like "$(cat "$LAST_OUT")" '"action": "deleted"' "prune --json reports deletions"
run_ok "list after prune" C list
is "$(tail -n +2 "$LAST_OUT" | awk '{print $1}' | tr '\n' ' ')" "20210101T000000Z $ID3 $NOW_ID " "only the newest backup and the recent leftovers remain"
is "$(find "$REPO/acme/backup/$ID1" -type f 2>/dev/null | wc -l)" "0" "every object of a pruned backup is gone"
run_ok "the kept backup still verifies" C verify "$ID3"
run_ok "a second prune changes nothing" E prune
is "$(grep -c '^deleted' "$LAST_OUT" || true)" "0" "nothing more to delete"

# a failed verification makes a backup unverified: min_keep then keeps the
# newest backup that verified, not the newest one
for i in 4 5; do
    sleep 1
    run_ok "backup $i" C backup
    eval "ID$i=\$(cat \"\$LAST_OUT\")"
done
run_ok "verify of a good backup is recorded" C verify "$ID4"
ls "$REPO/acme/backup/$ID4" >"$TEST_TMP/ls4"
like "$(cat "$TEST_TMP/ls4")" "verify-" "the verification record is stored with the backup"
run_ok "the record does not upset verify itself" C verify "$ID4"
printf 'X' | dd of="$REPO/acme/backup/$ID5/db/app.dump" bs=1 seek=200 conv=notrunc 2>/dev/null
run_fails "verify of a damaged backup fails" 6 C verify "$ID5"
run_ok "prune after a failed verification" E prune
like "$(grep "$ID4" "$LAST_OUT")" "kept: expired, but retention.min_keep needs it" "min_keep keeps the newest verified backup"
like "$(grep "$ID5" "$LAST_OUT")" "deleted" "the unverified newer backup does not count for min_keep"
like "$(grep "$ID3" "$LAST_OUT")" "deleted" "older verified backups beyond min_keep go"

done_testing
