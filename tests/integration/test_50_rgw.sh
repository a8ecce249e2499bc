#!/bin/bash
# test_50_rgw -- the S3 test bed: a real Ceph RADOS Gateway (tests/s3/rgw.sh) and
# the fault-injection proxy (tests/s3/faultproxy.py).  Proves, with plain curl
# SigV4, the S3 Object Lock behaviour the S3 repository driver relies on, and
# that the proxy injects the faults its tests will need.  See tests/s3/README.md.
set -eu
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
plan_start "test_50_rgw: Ceph RGW with Object Lock, fault proxy"

for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph uuidgen openssl curl ss; do
    command -v "$tool" >/dev/null || skip_all "$tool not installed (sh tests/deps.sh)"
done
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || skip_all "python3 not installed"

S3_DIR=$TEST_TMP/s3
RGW_SH=$REPO_ROOT/tests/s3/rgw.sh
rgw() { bash "$RGW_SH" "$@"; }
on_exit "$(printf 'bash %q purge %q' "$RGW_SH" "$S3_DIR")"

t0=$(date +%s%N)
if env_out=$(rgw start "$S3_DIR" 2>"$TEST_TMP/rgw-start.log"); then
    eval "$env_out"
    pass "rgw.sh start ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
else
    fail "rgw.sh start" "$(tail -n 20 "$TEST_TMP/rgw-start.log")"
    done_testing
fi
like "$S3_ENDPOINT_TLS" "https://127.0.0.1:" "S3_ENDPOINT_TLS is https"
ok "S3_CA_FILE exists" test -s "$S3_CA_FILE"
run_ok "rgw.sh status: all daemons running" rgw status "$S3_DIR"
is "$(rgw start "$S3_DIR" 2>/dev/null)" "$env_out" "start on a running cluster prints the same exports"

# ---------------------------------------------------------------- S3 via curl

. "$(dirname "$0")/s3lib.sh"

TLS=$S3_ENDPOINT_TLS
LOCKED=locked-$$
PLAIN=plain-$$
printf 'coffre backup object\n' >"$TEST_TMP/obj"

s3 PUT "$TLS/$LOCKED" -H "x-amz-bucket-object-lock-enabled: true"
status_is 200 "CreateBucket with object lock enabled (https)"
s3 GET "$TLS/$LOCKED?object-lock="
status_is 200 "GetObjectLockConfiguration"
like "$(body)" "<ObjectLockEnabled>Enabled</ObjectLockEnabled>" "object lock is Enabled"
s3 GET "$TLS/$LOCKED?versioning="
like "$(body)" "<Status>Enabled</Status>" "versioning was switched on with the lock"

# COMPLIANCE retention a few seconds ahead; the DELETE after expiry ends the test
until_epoch=$(($(date +%s) + 6))
until_date=$(date -u -d "@$until_epoch" +%Y-%m-%dT%H:%M:%SZ)
s3 PUT "$TLS/$LOCKED/base/manifest" -T "$TEST_TMP/obj" -H "Content-MD5: $(md5_b64 "$TEST_TMP/obj")" \
    -H "x-amz-object-lock-mode: COMPLIANCE" -H "x-amz-object-lock-retain-until-date: $until_date"
status_is 200 "PutObject with COMPLIANCE retention until $until_date"
version=$(header x-amz-version-id)
isnt "$version" "" "PutObject returns a version id"
s3 GET "$TLS/$LOCKED/base/manifest?retention=&versionId=$version"
like "$(body)" "<Mode>COMPLIANCE</Mode><RetainUntilDate>${until_date%Z}" "GetObjectRetention: COMPLIANCE until $until_date"
diag "RGW retention: $(body)"
s3 HEAD "$TLS/$LOCKED/base/manifest?versionId=$version"
is "$CODE $(header x-amz-object-lock-mode)" "200 COMPLIANCE" "HeadObject (-I) shows the lock mode"
s3 DELETE "$TLS/$LOCKED/base/manifest?versionId=$version"
status_is 403 "DeleteObject of the locked version is refused"
like "$(body)" "<Code>AccessDenied</Code>" "... with AccessDenied"
s3 DELETE "$TLS/$LOCKED/base/manifest?versionId=$version" -H "x-amz-bypass-governance-retention: true"
status_is 403 "... even with the governance bypass header"
s3 GET "$TLS/$LOCKED/base/manifest?versionId=$version"
is "$CODE $(body)" "200 $(cat "$TEST_TMP/obj")" "the locked version is intact"

# Pacific gaps: lock headers on CreateMultipartUpload are ignored (the driver
# sets the retention after Complete) and the Complete result has an empty ETag.
# A single (last, so small) part is enough.
s3 POST "$TLS/$LOCKED/base/big?uploads=" \
    -H "x-amz-object-lock-mode: COMPLIANCE" -H "x-amz-object-lock-retain-until-date: $until_date"
upload_id=$(body | sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p')
isnt "$CODE/$upload_id" "200/" "CreateMultipartUpload"
s3 PUT "$TLS/$LOCKED/base/big?partNumber=1&uploadId=$upload_id" -T "$TEST_TMP/obj"
etag=$(header etag)
s3 POST "$TLS/$LOCKED/base/big?uploadId=$upload_id" \
    --data-binary "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>$etag</ETag></Part></CompleteMultipartUpload>"
status_is 200 "UploadPart + CompleteMultipartUpload"
mp_version=$(header x-amz-version-id)
diag "CompleteMultipartUploadResult ETag: '$(body | sed -n 's:.*<ETag>\(.*\)</ETag>.*:\1:p')' (empty on Pacific)"
s3 GET "$TLS/$LOCKED/base/big?retention=&versionId=$mp_version"
diag "retention after Complete: $CODE $(body | head -c 300)"
s3 PUT "$TLS/$LOCKED/base/big?retention=&versionId=$mp_version" \
    --data-binary "<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>$until_date</RetainUntilDate></Retention>"
status_is 200 "PutObjectRetention on the completed multipart version"
s3 DELETE "$TLS/$LOCKED/base/big?versionId=$mp_version"
status_is 403 "... which then cannot be deleted"

s3 PUT "$TLS/$PLAIN"
status_is 200 "CreateBucket without object lock"
s3 PUT "$TLS/$PLAIN/x" -T "$TEST_TMP/obj" -H "Content-MD5: $(md5_b64 "$TEST_TMP/obj")" \
    -H "x-amz-object-lock-mode: COMPLIANCE" -H "x-amz-object-lock-retain-until-date: $until_date"
status_is 400 "PutObject with lock headers into a bucket without lock"
like "$(body)" "<Code>InvalidRequest</Code>" "... InvalidRequest"
s3 GET "$TLS/$LOCKED/base/manifest?versionId=$version" --cacert /dev/null
isnt "$CURL_RC" 0 "https with a CA that is not ours fails"

# ---------------------------------------------------------------- fault proxy

RULES=$TEST_TMP/rules.json
PROXY_LOG=$TEST_TMP/proxy.jsonl
echo '[]' >"$RULES"
"$PYTHON" "$REPO_ROOT/tests/s3/faultproxy.py" --listen 127.0.0.1:0 --upstream "${S3_ENDPOINT#http://}" \
    --control "$RULES" --port-file "$TEST_TMP/proxy.port" --log "$PROXY_LOG" 2>"$TEST_TMP/proxy.err" &
proxy_pid=$!
on_exit "kill $proxy_pid"
for _ in $(seq 100); do [ -s "$TEST_TMP/proxy.port" ] && break; sleep 0.05; done
ok "faultproxy writes its port" test -s "$TEST_TMP/proxy.port"
PROXY=http://127.0.0.1:$(cat "$TEST_TMP/proxy.port")

set_rules() { printf '%s\n' "$1" >"$RULES.tmp" && mv "$RULES.tmp" "$RULES"; }
log_count() { grep -c "$1" "$PROXY_LOG" || true; }

s3 GET "$PROXY/$PLAIN/x"
status_is 404 "requests go through the proxy to RGW"

set_rules '[{"match": {"method": "PUT", "path_contains": "/retry"}, "action": "status", "status": 503, "code": "SlowDown", "times": 2}]'
codes=""
for _ in 1 2 3; do
    s3 PUT "$PROXY/$PLAIN/retry" -T "$TEST_TMP/obj"
    codes="$codes $CODE"
    [ "$CODE" != 503 ] || last_503=$(body)
done
is "$codes" " 503 503 200" "status rule: 503, 503, then the PUT reaches RGW"
like "${last_503:-}" "<Code>SlowDown</Code>" "the injected 503 has an S3 error body"
is "$(log_count '"path": "/'"$PLAIN"'/retry"')" 3 "the proxy log counts 3 PUT attempts"
is "$(log_count '"action": "status"')" 2 "... 2 of them answered by the proxy"
s3 GET "$PROXY/$PLAIN/retry"
is "$CODE $(body)" "200 $(cat "$TEST_TMP/obj")" "the third PUT stored the object"

head -c 300000 /dev/urandom >"$TEST_TMP/big"
set_rules '[{"match": {"method": "PUT"}, "action": "reset", "after_bytes": 100000, "times": 1}]'
s3 PUT "$PROXY/$PLAIN/big" -T "$TEST_TMP/big"
isnt "$CURL_RC" 0 "reset rule: curl fails with a connection error (curl exit $CURL_RC)"
like "$(cat "$TEST_TMP/curl.err")" "reset" "... 'Connection reset by peer'"
s3 PUT "$PROXY/$PLAIN/big" -T "$TEST_TMP/big"
status_is 200 "the retried upload goes through (times: 1)"
is "$(log_count '"action": "reset"')" 1 "the proxy log shows one reset"

set_rules '[{"match": {"method": "GET"}, "action": "drop_response_after", "bytes": 5000, "times": 1}]'
s3 GET "$PROXY/$PLAIN/big"
is "$CURL_RC" 18 "drop_response_after: curl sees a truncated body (exit 18)"
cp "$BODY" "$TEST_TMP/partial"
s3 GET "$PROXY/$PLAIN/big" -H "Range: bytes=$(stat -c %s "$TEST_TMP/partial")-"
status_is 206 "GET with Range resumes"
cat "$BODY" >>"$TEST_TMP/partial"
ok "partial + resumed range == the object" cmp -s "$TEST_TMP/partial" "$TEST_TMP/big"

set_rules '[{"action": "stall", "seconds": 3, "times": 1}]'
s3 GET "$PROXY/$PLAIN/big" --max-time 1
is "$CURL_RC" 28 "stall rule: the client times out (exit 28)"
set_rules '[]'
s3 GET "$PROXY/$PLAIN/retry"
status_is 200 "the proxy serves new connections during a stall"

# ---------------------------------------------------------------- retention expiry

while [ "$(date +%s)" -le "$until_epoch" ]; do sleep 0.2; done
s3 DELETE "$TLS/$LOCKED/base/manifest?versionId=$version"
status_is 204 "DeleteObject of the version once its retain-until date has passed"

t0=$(date +%s%N)
run_ok "rgw.sh stop" rgw stop "$S3_DIR"
diag "stop took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
run_fails "rgw.sh status after stop: exit 3" 3 rgw status "$S3_DIR"
done_testing
