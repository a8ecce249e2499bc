#!/bin/bash
# test_70_s3 -- coffre on a real S3 with Object Lock (Ceph RGW over https):
#   - a round trip through S3 gives the same database as through posix;
#   - every object is created with COMPLIANCE retention from its GFS class,
#     multipart ones included (Ceph Pacific ignores lock headers there);
#   - a locked backup can be neither deleted nor overwritten before its date,
#     by coffre or by raw S3 calls with the same credentials; prune skips it,
#     then deletes it once the date has passed;
#   - a bucket without Object Lock is refused unless explicitly allowed.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_70_s3: S3 repository with Object Lock"

for tool in ceph-mon ceph-osd radosgw radosgw-admin uuidgen openssl curl ss; do
    command -v "$tool" >/dev/null || skip_all "$tool not installed (sh tests/deps.sh)"
done
. "$(dirname "$0")/s3lib.sh"
rgw_start
TLS=$S3_ENDPOINT_TLS
BUCKET=coffre-worm
s3 PUT "$TLS/$BUCKET" -H "x-amz-bucket-object-lock-enabled: true"
status_is 200 "an Object Lock bucket"
s3 PUT "$TLS/unlocked"
status_is 200 "a bucket without Object Lock"

pg_start src
psql_at src -c "CREATE DATABASE app"
psql_file src app "$TESTS_DIR/fixture.sql"
# enough data for a multipart upload with 5 MiB parts
psql_at src app -c "CREATE TABLE app.blob AS SELECT g AS id, encode(sha512(g::text::bytea), 'base64') || encode(sha512((g + 1)::text::bytea), 'hex') AS v FROM generate_series(1, 120000) g"
fingerprint src app >"$TEST_TMP/app.fp"
hsm_init
hsm_token coffre 4321
(umask 077; printf '%s' "$AWS_ACCESS_KEY_ID" >"$TEST_TMP/s3.access"; printf '%s' "$AWS_SECRET_ACCESS_KEY" >"$TEST_TMP/s3.secret")

s3_conf() { # PATH BUCKET [extra lines]
    INSTANCE=acme CONNINFO="$(pg_conninfo src app)" DATABASES=app REPO=/unused \
    KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" coffre_conf "$1"
    sed -i "s|^type = posix|type = s3\nendpoint = $TLS\nbucket = $2\nregion = $S3_REGION\nprefix = backups\nca_file = $S3_CA_FILE\naccess_key_file = $TEST_TMP/s3.access\nsecret_key_file = $TEST_TMP/s3.secret\npart_size = 5M\nparts_in_flight = 2|; /^path = /d" "$1"
    printf '%b' "${3:-}" >>"$1"
}
# every class expires at once; the lock lasts lock_margin (seconds)
s3_conf "$TEST_TMP/s3.conf" "$BUCKET" '\n[retention]\ndaily = 0\nweekly = 0\nmonthly = 0\nmin_keep = 0\nlock_margin = 25s\nstale_after = 1s\n'
C() { env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$COFFRE" --config "$TEST_TMP/s3.conf" "$@"; }
C keys init >/dev/null

run_ok "backup to S3" C backup
ID=$(cat "$LAST_OUT")
like "$(cat "$LAST_ERR")" "locked until" "backup reports its lock date"
run_ok "list" C list
like "$(grep "$ID" "$LAST_OUT")" " complete " "the S3 backup is complete"
run_ok "verify" C verify "$ID"
run_ok "restore from S3" C restore "$ID" --target "$(pg_conninfo src from_s3)" --create
is "$(fingerprint src from_s3)" "$(cat "$TEST_TMP/app.fp")" "a round trip through S3 gives the same database"

# what the server holds: every object locked in COMPLIANCE mode
KEY_DUMP="backups/acme/backup/$ID/db/app.dump"
KEY_MAN="backups/acme/backup/$ID/manifest"
s3 GET "$TLS/$BUCKET?list-type=2&prefix=backups%2Facme%2Fbackup%2F$ID%2F"
n_objects=$(body | grep -o "<Key>" | wc -l)
is "$n_objects" "4" "the backup is four objects (dump, globals, manifest, verification record)"
s3 HEAD "$TLS/$BUCKET/$KEY_DUMP"
DUMP_VERSION=$(header x-amz-version-id)
like "$(header content-length)" "" "dump object is there"
dump_size=$(header content-length)
if [ "${dump_size:-0}" -gt $((5 * 1024 * 1024)) ]; then pass "the dump was a multipart upload ($dump_size bytes)"; else fail "the dump was a multipart upload" "size $dump_size"; fi
s3 GET "$TLS/$BUCKET/$KEY_DUMP?retention=&versionId=$DUMP_VERSION"
like "$(body)" "<Mode>COMPLIANCE</Mode>" "the multipart dump is locked in COMPLIANCE mode"
s3 HEAD "$TLS/$BUCKET/$KEY_MAN"
MAN_VERSION=$(header x-amz-version-id)
s3 GET "$TLS/$BUCKET/$KEY_MAN?retention=&versionId=$MAN_VERSION"
like "$(body)" "<Mode>COMPLIANCE</Mode>" "the manifest is locked in COMPLIANCE mode"

# ransomware with the same credentials: delete and overwrite
s3 DELETE "$TLS/$BUCKET/$KEY_DUMP?versionId=$DUMP_VERSION"
status_is 403 "raw S3: the locked dump version cannot be deleted"
s3 DELETE "$TLS/$BUCKET/$KEY_MAN?versionId=$MAN_VERSION"
status_is 403 "raw S3: the locked manifest version cannot be deleted"
printf 'ransom' >"$TEST_TMP/garbage"
s3 PUT "$TLS/$BUCKET/$KEY_DUMP" -T "$TEST_TMP/garbage"
diag "raw overwrite of the dump key: HTTP $CODE (a new version; the locked one stays)"
s3 GET "$TLS/$BUCKET/$KEY_DUMP?versionId=$DUMP_VERSION"
is "$CODE" "200" "the locked dump version is still readable after an overwrite"
run_ok "coffre still restores the backup after the overwrite attack" C restore "$ID" --target "$(pg_conninfo src after_attack)" --create
is "$(fingerprint src after_attack)" "$(cat "$TEST_TMP/app.fp")" "the restored database is still exact"
s3 DELETE "$TLS/$BUCKET/$KEY_DUMP"
diag "raw DELETE without a version: HTTP $CODE (a delete marker)"
run_ok "coffre still verifies the backup after a delete marker" C verify "$ID"

# prune: expired at once, but locked for lock_margin
run_ok "prune while locked" C prune
like "$(grep "$ID" "$LAST_OUT")" "kept: expired but locked until" "prune skips a locked backup with a reason"
run_ok "the backup is still complete" C verify "$ID"
lock=$(C list --json | sed -n 's/.*"lock_until": "\(.*\)".*/\1/p' | head -1)
lock_epoch=$(date -u -d "$lock" +%s)
while [ "$(date +%s)" -le "$lock_epoch" ]; do sleep 1; done
sleep 1
run_ok "prune after the lock date" C prune
like "$(grep "$ID" "$LAST_OUT")" "deleted" "prune deletes the backup once its lock date has passed"
s3 GET "$TLS/$BUCKET?prefix=backups%2Facme%2Fbackup%2F$ID%2F&versions="
is "$(body | grep -c '<Key>' || true)" "0" "no version of any object of the backup is left"
is "$(C list | tail -n +2 | wc -l)" "0" "nothing is listed"

# a bucket without Object Lock
s3_conf "$TEST_TMP/unlocked.conf" unlocked
run_fails "a bucket without Object Lock is refused" 3 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$COFFRE" --config "$TEST_TMP/unlocked.conf" backup
like "$(cat "$LAST_ERR")" 'coffre: error: bucket "unlocked" does not have Object Lock enabled' "unlocked bucket: exact message"
s3_conf "$TEST_TMP/allowed.conf" unlocked
sed -i 's/^part_size = 5M/part_size = 5M\nallow_unlocked_bucket = true/' "$TEST_TMP/allowed.conf"
run_ok "allow_unlocked_bucket = true lets it write" env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$COFFRE" --config "$TEST_TMP/allowed.conf" backup
like "$(cat "$LAST_ERR")" "warning" "... with a warning"

# coffre check on S3 (issue 14): the repository line says what the bucket offers
chk() { # CONF: check without the archiving test, its state in the test's directory
    sed "/^\[coffre\]/a state_dir = $TEST_TMP/chk-state" "$1" >"$TEST_TMP/chk.conf"
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$COFFRE" --config "$TEST_TMP/chk.conf" \
        check --no-archive-check
}
run_ok "check on the locked bucket" chk "$TEST_TMP/s3.conf"
like "$(grep '^ok       repository' "$LAST_OUT")" "Object Lock enabled, lock_mode = compliance" \
    "check: writable, Object Lock, the mode coffre locks with"
like "$(grep '^ok       clock' "$LAST_OUT")" "within" "check: the clocks agree"
run_fails "check on a bucket without Object Lock fails" any chk "$TEST_TMP/unlocked.conf"
like "$(grep '^failed   repository' "$LAST_OUT")" 'bucket "unlocked" does not have Object Lock enabled' \
    "check: the unlocked bucket is named"
run_ok "check with allow_unlocked_bucket: a warning, not a failure" chk "$TEST_TMP/allowed.conf"
like "$(grep '^warning  repository' "$LAST_OUT")" "has no Object Lock" \
    "check: the unprotected bucket is a warning"

# wrong credentials
printf 'wrongsecret' >"$TEST_TMP/s3.secret"
run_fails "a wrong secret key is refused" 3 C list
like "$(cat "$LAST_ERR")" "secret_key_file" "wrong secret: the hint names the key files"
unlike "$(cat "$LAST_ERR")" "wrongsecret" "the secret is not echoed"

done_testing
