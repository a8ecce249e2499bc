#!/bin/bash
# test_71_s3_faults -- faults between coffre and S3, injected by a proxy in
# front of a real RGW (tests/s3/faultproxy.py): 503 SlowDown and resets are
# retried and the backup completes; a server that keeps failing makes the
# backup fail cleanly (multipart upload aborted, no manifest, nothing listed);
# a stalled server is timed out; kill -9 mid-upload leaves nothing listed and
# prune aborts the leftover upload.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_71_s3_faults: retries, clean failures and kill -9 on S3"

for tool in ceph-mon ceph-osd radosgw radosgw-admin uuidgen openssl curl ss python3; do
    command -v "$tool" >/dev/null || skip_all "$tool not installed (sh tests/deps.sh)"
done
. "$(dirname "$0")/s3lib.sh"
rgw_start
BUCKET=coffre-faults
s3 PUT "$S3_ENDPOINT/$BUCKET" -H "x-amz-bucket-object-lock-enabled: true"
status_is 200 "an Object Lock bucket"

faultproxy_start
count() { grep -c "$1" "$PLOG" || true; }

pg_start src
psql_at src -c "CREATE DATABASE app"
psql_at src app -c "CREATE TABLE blob AS SELECT g AS id, encode(sha512(g::text::bytea), 'base64') || encode(sha512((g + 1)::text::bytea), 'hex') AS v FROM generate_series(1, 120000) g"
fingerprint src app >"$TEST_TMP/app.fp"
hsm_init
hsm_token coffre 4321
INSTANCE=acme CONNINFO="$(pg_conninfo src app)" DATABASES=app REPO=/unused \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" coffre_conf "$TEST_TMP/c.conf"
sed -i "s|^type = posix|type = s3\nendpoint = $PROXY\nbucket = $BUCKET\nregion = $S3_REGION\npart_size = 5M\nparts_in_flight = 2|; /^path = /d" "$TEST_TMP/c.conf"
printf '\n[retention]\nstale_after = 1s\n' >>"$TEST_TMP/c.conf"
export COFFRE_S3_BACKOFF_MS=20 COFFRE_S3_LOW_SPEED_SECONDS=3
C() { "$COFFRE" --config "$TEST_TMP/c.conf" "$@"; }
C keys init >/dev/null
n_complete() { C list | grep -c ' complete ' || true; }
no_uploads() {
    s3 GET "$S3_ENDPOINT/$BUCKET?uploads="
    is "$(body | grep -c '<UploadId>' || true)" "0" "$1"
}

# 1. 503 SlowDown on two part uploads: retried, the backup completes
set_rules '[{"match": {"method": "PUT", "query_contains": "uploadId"}, "action": "status", "status": 503, "code": "SlowDown", "times": 2}]'
run_ok "503 SlowDown twice on UploadPart: the backup completes" C backup
ID1=$(cat "$LAST_OUT")
is "$(count '"status": 503')" "2" "the proxy answered 503 twice"
run_ok "that backup verifies" C verify "$ID1"

# 2. a connection reset in the middle of a part
set_rules '[{"match": {"method": "PUT", "query_contains": "uploadId"}, "action": "reset", "after_bytes": 1000000, "times": 1}]'
run_ok "a reset mid-part: the backup completes" C backup
ID2=$(cat "$LAST_OUT")
run_ok "that backup restores exactly" C restore "$ID2" --target "$(pg_conninfo src after_reset)" --create
is "$(fingerprint src after_reset)" "$(cat "$TEST_TMP/app.fp")" "restored after a reset: identical"

# 3. a stalled server: the attempt times out and is retried
set_rules '[{"match": {"method": "PUT", "query_contains": "uploadId"}, "action": "stall", "seconds": 20, "times": 1}]'
t0=$(date +%s)
run_ok "a stalled part upload: timed out, retried, completes" C backup
diag "backup with a stalled part took $(( $(date +%s) - t0 )) s"

# 4. a server that keeps failing: the backup fails cleanly
set_rules '[{"match": {"method": "PUT", "query_contains": "uploadId"}, "action": "status", "status": 503, "code": "SlowDown", "times": 1000}]'
before=$(n_complete)
run_fails "503 on every part: the backup fails" 5 C backup
like "$(cat "$LAST_ERR")" "HTTP 503 SlowDown after 6 attempts" "the failure names the status and the attempts"
like "$(cat "$LAST_ERR")" "could not upload part" "the failure names the part"
like "$(cat "$LAST_ERR")" "was not completed and is not restorable" "the backup is said not restorable"
set_rules '[]'
is "$(n_complete)" "$before" "no new complete backup is listed"
no_uploads "the multipart upload was aborted"

# 5. kill -9 in the middle of an upload
set_rules '[{"match": {"method": "PUT", "query_contains": "uploadId"}, "action": "delay", "seconds": 2}]'
n0=$(count 'partNumber')
"$COFFRE" --config "$TEST_TMP/c.conf" backup >/dev/null 2>&1 &
bpid=$!
for _ in $(seq 200); do [ "$(count 'partNumber')" -gt "$n0" ] && break; sleep 0.1; done
diag "proxy saw $(( $(count partNumber) - n0 )) part requests before kill -9"
kill -9 "$bpid"
wait "$bpid" 2>/dev/null || true
pkill -9 -f "pg_dump.*app" 2>/dev/null || true
set_rules '[]'
is "$(n_complete)" "$before" "after kill -9 nothing new is listed as complete"
s3 GET "$S3_ENDPOINT/$BUCKET?uploads="
isnt "$(body | grep -c "<UploadId>" || true)" "0" "kill -9 left an unfinished upload"
sleep 2
run_ok "prune cleans the leftovers" C prune
like "$(cat "$LAST_OUT")" "aborted unfinished upload" "prune aborted the unfinished upload"
no_uploads "no unfinished upload is left"
run_ok "every complete backup still verifies" C verify --all

done_testing
