#!/bin/bash
# test_86_drill_s3 -- coffre drill with an S3 repository (a real Ceph RGW with
# Object Lock): every scenario passes from backups and WAL stored in the
# bucket, and the drill records are stored there, locked like their backup.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_86_drill_s3: recovery drills from S3"

for tool in ceph-mon ceph-osd radosgw radosgw-admin uuidgen openssl curl ss; do
    command -v "$tool" >/dev/null || skip_all "$tool not installed (sh tests/deps.sh)"
done
COFFRE=$(readlink -f "$COFFRE")
[ "$(id -u)" != 0 ] || chown postgres "$TEST_TMP"
. "$(dirname "$0")/s3lib.sh"
rgw_start
BUCKET=coffre-drill
s3 PUT "$S3_ENDPOINT_TLS/$BUCKET" -H "x-amz-bucket-object-lock-enabled: true"
status_is 200 "an Object Lock bucket"

hsm_init
hsm_token coffre 4321
CONF="$TEST_TMP/coffre.conf"
STATE="$TEST_TMP/state"
mkdir -p "$STATE"
(umask 077; printf '%s' "$AWS_ACCESS_KEY_ID" >"$TEST_TMP/s3.access"; printf '%s' "$AWS_SECRET_ACCESS_KEY" >"$TEST_TMP/s3.secret")
cp "$S3_CA_FILE" "$TEST_TMP/ca.pem"
INSTANCE=acme CONNINFO="placeholder" REPO=/unused STATE_DIR="$STATE" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" coffre_conf "$CONF.tmpl"
sed -i "s|^type = posix|type = s3\nendpoint = $S3_ENDPOINT_TLS\nbucket = $BUCKET\nregion = $S3_REGION\nprefix = backups\nca_file = $TEST_TMP/ca.pem\naccess_key_file = $TEST_TMP/s3.access\nsecret_key_file = $TEST_TMP/s3.secret|; /^path = /d" "$CONF.tmpl"
pg_owns "$HSM_DIR" "$STATE" "$TEST_TMP/s3.access" "$TEST_TMP/s3.secret" "$TEST_TMP/ca.pem"
chmod 755 "$HSM_DIR"

pg_init src
pg_conf src "archive_mode = on" "archive_command = '$COFFRE --config $CONF wal-push %p'"
pg_start src
sed "s|^conninfo = .*|conninfo = $SRC_CONNINFO|" "$CONF.tmpl" >"$CONF"
printf '\n[wal]\narchive_timeout = 120s\n' >>"$CONF"
pg_owns "$CONF"
C() { as_pg "$COFFRE" --config "$CONF" "$@"; }

run_ok "keys init" C keys init
psql_at src -c "CREATE DATABASE fixture"
psql_file src fixture "$TESTS_DIR/fixture.sql"
run_ok "logical backup into S3" C backup
LID=$(cat "$LAST_OUT")
run_ok "physical backup into S3" C backup --physical
PID=$(cat "$LAST_OUT")
psql_at src -c "CREATE TABLE ticks (id int)"
for i in 1 2 3 4; do psql_at src -c "INSERT INTO ticks VALUES ($i)"; sleep 0.5; done
SEG=$(psql_at src -c "SELECT pg_walfile_name(pg_switch_wal())")
for _ in $(seq 1 240); do
    last=$(psql_at src -c "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
    [[ "$last" < "$SEG" ]] || break
    sleep 0.5
done

run_ok "drill: every scenario from S3" C drill --json
python3 - "$LAST_OUT" >"$TEST_TMP/json.check" 2>&1 <<'PY' && pass "all four scenarios ran and passed" || fail "all four scenarios ran and passed" "$(cat "$TEST_TMP/json.check")"
import json, sys
d = json.load(open(sys.argv[1]))
ran = {s["scenario"]: s for s in d["scenarios"] if s["ran"]}
assert d["ok"] and set(ran) == {"simple", "partial", "total", "pitr"}, (d["ok"], list(ran))
assert all(s["ok"] for s in ran.values())
assert all(s["record"].startswith("acme/backup/") for s in ran.values()), [s["record"] for s in ran.values()]
PY
ok "no server or directory left" sh -c "! pgrep -f '$STATE/[d]rill/' >/dev/null && [ -z \"\$(ls -A '$STATE/drill' 2>/dev/null)\" ]"

rec=$(s3 GET "$S3_ENDPOINT_TLS/$BUCKET?list-type=2&prefix=backups%2Facme%2Fbackup%2F$LID%2Fdrill-" >/dev/null; body | sed -n 's:.*<Key>\([^<]*drill-[^<]*\)</Key>.*:\1:p' | head -1)
ok "the drill record of the logical backup is in the bucket" test -n "$rec"
s3 GET "$S3_ENDPOINT_TLS/$BUCKET/$rec?retention="
like "$(body)" "<Mode>COMPLIANCE</Mode>" "the drill record is locked like its backup"
run_ok "drill --history from S3" C drill --history
is "$(grep -c ' passed ' "$LAST_OUT")" "4" "history lists the four scenarios"

done_testing
