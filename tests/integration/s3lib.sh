# shellcheck shell=bash
# tests/integration/s3lib.sh -- plain SigV4 S3 requests with curl, for tests that
# check what the server holds independently of coffre; the test RGW and the
# fault proxy.  Source after lib.sh; call rgw_start before the first request.
#
#   s3 METHOD URL [curl args...]   sets CODE (HTTP status, 000 if none) and
#                                   CURL_RC; body in $BODY, headers in $HDRS
#   header NAME, body, md5_b64 FILE, status_is CODE DESC

BODY=$TEST_TMP/body
HDRS=$TEST_TMP/headers
CODE=""
CURL_RC=0

# s3 METHOD URL [curl args...] -- a SigV4 request; sets CODE (HTTP status, 000 if
# none) and CURL_RC, body in $BODY, response headers in $HDRS.
s3() {
    local method=$1 url=$2 how
    shift 2
    if [ "$method" = HEAD ]; then how=(-I); else how=(-X "$method"); fi  # -X HEAD waits for a body
    : >"$BODY"
    CURL_RC=0
    CODE=$(curl -sS --noproxy '*' --max-time 20 --cacert "$S3_CA_FILE" \
        --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "${how[@]}" \
        -D "$HDRS" -o "$BODY" -w '%{http_code}' "$@" "$url" 2>"$TEST_TMP/curl.err") || CURL_RC=$?
}
header() { tr -d '\r' <"$HDRS" | sed -n "s/^$1: //Ip" | tail -n 1; }
body() { cat "$BODY"; }
md5_b64() { openssl md5 -binary "$1" | base64; }
# the S3 status code, with the error body as a diagnostic when it is not WANT
status_is() {
    if [ "$CODE" = "$1" ]; then pass "$2"; else fail "$2" "status $CODE, expected $1" "$(head -c 600 "$BODY")" "$(cat "$TEST_TMP/curl.err")"; fi
}


# rgw_start -- a disposable Ceph RGW in $TEST_TMP/s3 (tests/s3/rgw.sh), purged at
# exit; exports what rgw.sh prints (S3_ENDPOINT, S3_ENDPOINT_TLS, S3_CA_FILE,
# S3_REGION, AWS_*)
rgw_start() {
    local out
    on_exit "$(printf 'bash %q purge %q' "$REPO_ROOT/tests/s3/rgw.sh" "$TEST_TMP/s3")"
    out=$(bash "$REPO_ROOT/tests/s3/rgw.sh" start "$TEST_TMP/s3" 2>"$TEST_TMP/rgw.log") ||
        bail_out "rgw.sh start: $(tail -5 "$TEST_TMP/rgw.log")"
    eval "$out"
}

# faultproxy_start -- tests/s3/faultproxy.py in front of $S3_ENDPOINT (plain
# HTTP), stopped at exit.  Sets PROXY (its URL), RULES (its rules file, empty:
# every request forwarded) and PLOG (one JSON line per request); set_rules JSON
# replaces the rules atomically.
faultproxy_start() {
    RULES=$TEST_TMP/rules.json
    PLOG=$TEST_TMP/proxy.jsonl
    echo '[]' >"$RULES"
    python3 "$REPO_ROOT/tests/s3/faultproxy.py" --listen 127.0.0.1:0 --upstream "${S3_ENDPOINT#http://}" \
        --control "$RULES" --port-file "$TEST_TMP/proxy.port" --log "$PLOG" 2>"$TEST_TMP/proxy.err" &
    on_exit "kill $!"
    for _ in $(seq 100); do [ -s "$TEST_TMP/proxy.port" ] && break; sleep 0.05; done
    [ -s "$TEST_TMP/proxy.port" ] || bail_out "faultproxy.py did not start: $(tail -3 "$TEST_TMP/proxy.err")"
    PROXY=http://127.0.0.1:$(cat "$TEST_TMP/proxy.port")
}
set_rules() { printf '%s\n' "$1" >"$RULES.tmp" && mv "$RULES.tmp" "$RULES"; }
