#!/bin/bash
# test_72_s3_slow -- the fault matrix (docs/reliability.md), the SLOW column
# and the S3 half of the CLOCK column, for every command (wal-stream and
# migrate included):
# a repository that answers late, and one that stays stalled, for every
# command that talks to it.  coffre reaches a real RGW through
# tests/s3/faultproxy.py.
#
#   late:    every request waits 0.3 s; each command completes, and its
#            result is right (the restores are identical, the backups verify).
#   stalled: the writes (PUT) or the object reads (GET under backup/ or wal/)
#            are never answered.  Each attempt is timed out
#            (COFFRE_S3_LOW_SPEED_SECONDS), the retries give up, and the
#            command fails naming the timeout and the object; nothing is
#            listed as complete, recorded or half-restored; once the
#            repository answers again the same command succeeds.
#
#   clock:   coffre a day ahead of or behind the S3 server: each request is
#            refused (RequestTimeTooSkewed); the error says the clocks differ
#            and names NTP, and nothing is stored or left behind.
#
# PostgreSQL archives its own WAL straight to the RGW (not through the proxy),
# so a stall in a cell does not hold the archiver.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_72_s3_slow: a late and a stalled S3 repository"

for tool in ceph-mon ceph-osd radosgw radosgw-admin uuidgen openssl curl ss python3; do
    command -v "$tool" >/dev/null || skip_all "$tool not installed (sh tests/deps.sh)"
done
COFFRE=$(readlink -f "$COFFRE")
[ "$(id -u)" != 0 ] || chown postgres "$TEST_TMP"
. "$(dirname "$0")/s3lib.sh"
rgw_start
BUCKET=coffre-slow
s3 PUT "$S3_ENDPOINT/$BUCKET" -H "x-amz-bucket-object-lock-enabled: true"
status_is 200 "an Object Lock bucket"

faultproxy_start
LATE='[{"action": "delay", "seconds": 0.3}]'
stall() { # METHOD [PATH_PART]: every such request stalls
    set_rules "[{\"match\": {\"method\": \"$1\"${2:+, \"path_contains\": \"$2\"}}, \"action\": \"stall\", \"seconds\": 30}]"
}

hsm_init
hsm_token coffre 4321
STATE="$TEST_TMP/state"
mkdir -p "$STATE" "$TEST_TMP/wstate"
(umask 077; printf '%s' "$AWS_ACCESS_KEY_ID" >"$TEST_TMP/s3.access"; printf '%s' "$AWS_SECRET_ACCESS_KEY" >"$TEST_TMP/s3.secret")
s3conf() { # FILE ENDPOINT INSTANCE STATE_DIR
    INSTANCE=$3 CONNINFO="host=/nonexistent user=postgres dbname=postgres" REPO=/unused STATE_DIR=$4 \
    KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" coffre_conf "$1"
    sed -i "s|^type = posix|type = s3\nendpoint = $2\nbucket = $BUCKET\nregion = $S3_REGION\nprefix = slow\npart_size = 5M\nparts_in_flight = 2\naccess_key_file = $TEST_TMP/s3.access\nsecret_key_file = $TEST_TMP/s3.secret|; /^path = /d" "$1"
}
s3conf "$TEST_TMP/direct.conf" "$S3_ENDPOINT" acme "$STATE"
pg_owns "$HSM_DIR" "$STATE" "$TEST_TMP/wstate" "$TEST_TMP/s3.access" "$TEST_TMP/s3.secret" "$TEST_TMP/direct.conf"
chmod 755 "$HSM_DIR"

pg_init src
pg_conf src "archive_mode = on" "archive_command = '$COFFRE --config $TEST_TMP/direct.conf wal-push %p'"
pg_start src
sed -i "s|^conninfo = .*|conninfo = $(pg_conninfo src app)\ndatabases = app|" "$TEST_TMP/direct.conf"
printf '\n[wal]\nreadahead = 0\n' >>"$TEST_TMP/direct.conf"
sed "s|^endpoint = .*|endpoint = $PROXY|" "$TEST_TMP/direct.conf" >"$TEST_TMP/c.conf"
# wal-push cells push made-up segments, for an instance of their own
s3conf "$TEST_TMP/w.conf" "$PROXY" walcells "$TEST_TMP/wstate"
printf '\n[wal]\nreadahead = 0\n' >>"$TEST_TMP/w.conf"
sed 's/^readahead = 0$/readahead = 0\nasync = true\npush_jobs = 2/' "$TEST_TMP/w.conf" >"$TEST_TMP/wa.conf"
pg_owns "$TEST_TMP/c.conf" "$TEST_TMP/w.conf" "$TEST_TMP/wa.conf"
export COFFRE_S3_BACKOFF_MS=20 COFFRE_S3_LOW_SPEED_SECONDS=1
C() { as_pg "$COFFRE" --config "$TEST_TMP/c.conf" "$@"; }

psql_at src -c "CREATE DATABASE app"
psql_at src app -c "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 200000) g"
psql_at src app -c "CREATE INDEX ON t (v)"
fingerprint src app >"$TEST_TMP/app.fp"
run_ok "keys init" C keys init

# what the bucket holds, read past the proxy
keys_under() { # PREFIX: the keys under slow/PREFIX, one per line
    s3 GET "$S3_ENDPOINT/$BUCKET?list-type=2&prefix=slow%2F${1//\//%2F}"
    [ "$CODE" = 200 ] || bail_out "listing slow/$1: HTTP $CODE $(head -c 300 "$BODY")"
    body | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g' | sort
}
complete_ids() { C list 2>/dev/null | awk '$0 ~ / complete / { print $1 }' | sort; }
all_ids() { C list 2>/dev/null | awk 'NR > 1 { print $1 }' | sort; }
uploads() {
    s3 GET "$S3_ENDPOINT/$BUCKET?uploads="
    body | grep -c '<UploadId>' || true
}
# slow_error LABEL: the error names the timeout and what it was doing
slow_error() {
    like "$(cat "$LAST_ERR")" "Operation too slow" "$1: the error names the timeout"
    like "$(cat "$LAST_ERR")" "after 6 attempts" "$1: and the attempts"
}

# a made-up data directory for the wal-push cells: random 16 MiB segments
PGD="$TEST_TMP/pgdata"
mkdir -p "$PGD/pg_wal/archive_status"
for i in 1 2 3 4 5 6; do
    head -c $((16 * 1024 * 1024)) /dev/urandom >"$PGD/pg_wal/00000001000000000000000$i"
done
pg_owns "$PGD"
ready() { # SEGMENT...: the archiver would push these (async children push ahead)
    for s in "$@"; do as_pg touch "$PGD/pg_wal/archive_status/$s.ready"; done
}
push() { # CONF SEGMENT: wal-push as the archiver runs it; .done on success
    [ -e "$PGD/pg_wal/archive_status/$2.done" ] || ready "$2"
    _run as_pg env -C "$PGD" "$COFFRE" -c "$1" wal-push "pg_wal/$2"
    [ "$LAST_RC" != 0 ] || mv -f "$PGD/pg_wal/archive_status/$2.ready" "$PGD/pg_wal/archive_status/$2.done"
}
served() { # SEGMENT: wal-get gives it back byte for byte
    rm -f "$TEST_TMP/got"
    as_pg "$COFFRE" -q -c "$TEST_TMP/w.conf" wal-get "$1" "$TEST_TMP/got" &&
        cmp -s "$TEST_TMP/got" "$PGD/pg_wal/$1"
}
children_done() { # no async child holds a claim
    for _ in $(seq 1 200); do
        pgrep -f "[w]a.conf wal-push" >/dev/null || return 0
        sleep 0.2
    done
    return 1
}
S=(x 000000010000000000000001 000000010000000000000002 000000010000000000000003
    000000010000000000000004 000000010000000000000005 000000010000000000000006)

# ---- late: every request waits 0.3 s --------------------------------------------
set_rules "$LATE"
t0=$(date +%s)
run_ok "SLOW late: backup completes" C backup
LID=$(cat "$LAST_OUT")
run_ok "SLOW late: backup --physical completes" C backup --physical
PID=$(cat "$LAST_OUT")
# what the checks below count is there to be counted
like "$(keys_under "acme/backup/$LID/")" "acme/backup/$LID/manifest" "the bucket listing past the proxy shows the backup's manifest"
run_ok "SLOW late: verify passes" C verify "$LID"
run_ok "SLOW late: restore completes" C restore "$LID" --target "$(pg_conninfo src late)" --create
is "$(fingerprint src late)" "$(cat "$TEST_TMP/app.fp")" "SLOW late: the restored database is identical"
run_ok "SLOW late: restore --physical completes" C restore --physical "$PID" --immediate --no-archive --pgdata "$TEST_TMP/late-pgdata"
run_ok "SLOW late: pg_verifybackup accepts the data directory" as_pg "$PG_BIN/pg_verifybackup" -n "$TEST_TMP/late-pgdata"
push "$TEST_TMP/w.conf" "${S[1]}"
is "$LAST_RC" "0" "SLOW late: wal-push sync stores its segment"
like "$(keys_under walcells/wal/)" "/${S[1]}-" "SLOW late: the bucket holds it"
push "$TEST_TMP/wa.conf" "${S[2]}"
is "$LAST_RC" "0" "SLOW late: wal-push async stores its segment"
ok "SLOW late: its children end" children_done
run_ok "SLOW late: prune completes" C prune
run_ok "SLOW late: drill passes" C drill --scenario simple
diag "the late cells took $(( $(date +%s) - t0 )) s"
set_rules '[]'
ok "SLOW late: wal-get serves the sync segment" served "${S[1]}"
ok "SLOW late: and the async one" served "${S[2]}"

# ---- stalled: backup, logical and physical (PUT never answered) -------------------
for kind in logical physical; do
    label="SLOW stalled: backup${kind/logical/}"
    [ "$kind" = logical ] && args=() || { args=(--physical); label="SLOW stalled: backup --physical"; }
    before=$(all_ids)
    sleep 1
    stall PUT
    run_fails "$label fails" 5 C backup "${args[@]}"
    set_rules '[]'
    slow_error "$label"
    like "$(cat "$LAST_ERR")" "not completed and is not restorable" "$label: the error says it is not restorable"
    is "$(comm -13 <(echo "$before") <(complete_ids))" "" "$label: nothing new is listed as complete"
    is "$(uploads)" "0" "$label: no unfinished upload"
    run_ok "$label: the next backup succeeds" C backup "${args[@]}"
    run_ok "$label: and verifies" C verify "$(cat "$LAST_OUT")"
done

# ---- stalled: wal-push sync and async ----------------------------------------------
stall PUT /wal/
push "$TEST_TMP/w.conf" "${S[3]}"
set_rules '[]'
is "$LAST_RC" "5" "SLOW stalled: wal-push sync fails (exit 5)"
slow_error "SLOW stalled: wal-push sync"
like "$(cat "$LAST_ERR")" "${S[3]}" "SLOW stalled: wal-push sync: the error names the segment"
is "$(keys_under walcells/wal/ | grep -c "${S[3]}" || true)" "0" "SLOW stalled: wal-push sync: nothing is stored"
push "$TEST_TMP/w.conf" "${S[3]}"
is "$LAST_RC" "0" "SLOW stalled: wal-push sync: the next push succeeds"
ok "SLOW stalled: wal-push sync: wal-get serves it" served "${S[3]}"

ready "${S[4]}" "${S[5]}" "${S[6]}"
stall PUT /wal/
push "$TEST_TMP/wa.conf" "${S[4]}"
rc4=$LAST_RC err4=$(cat "$LAST_ERR")
ok "SLOW stalled: wal-push async: its children end" children_done
set_rules '[]'
is "$rc4" "5" "SLOW stalled: wal-push async fails (exit 5)"
like "$err4" "Operation too slow" "SLOW stalled: wal-push async: the error names the timeout"
like "$err4" "${S[4]}" "SLOW stalled: wal-push async: and the segment"
is "$(keys_under walcells/wal/ | grep -Ec "${S[4]}|${S[5]}|${S[6]}" || true)" "0" "SLOW stalled: wal-push async: nothing is stored"
ok "SLOW stalled: wal-push async: no record vouches for a later segment" \
    test -z "$(ls "$TEST_TMP/wstate/pushed" 2>/dev/null | grep -E "${S[5]}|${S[6]}" | grep -v inflight)"
for i in 4 5 6; do push "$TEST_TMP/wa.conf" "${S[$i]}"; [ "$LAST_RC" = 0 ] || break; done
is "$LAST_RC" "0" "SLOW stalled: wal-push async: the next pushes succeed"
children_done || true
ok "SLOW stalled: wal-push async: wal-get serves them" eval 'served "${S[4]}" && served "${S[5]}" && served "${S[6]}"'

# ---- stalled: the readers (GET of objects never answered) ------------------------
records() { keys_under "acme/backup/$LID/" | grep -c '/verify-' || true; }
drecords() { keys_under "acme/backup/" | grep -c '/drill-' || true; }
r0=$(records)
stall GET /backup/
run_fails "SLOW stalled: verify fails" 5 C verify "$LID"
set_rules '[]'
slow_error "SLOW stalled: verify"
like "$(cat "$LAST_ERR")" "$LID" "SLOW stalled: verify: the error names the backup"
is "$(records)" "$r0" "SLOW stalled: verify: no verification record is stored"
run_ok "SLOW stalled: verify: the next verify passes" C verify "$LID"
is "$(records)" "$((r0 + 1))" "SLOW stalled: verify: which stores its record"

stall GET /backup/
run_fails "SLOW stalled: restore fails" 5 C restore "$LID" --target "$(pg_conninfo src stalled)" --create
set_rules '[]'
slow_error "SLOW stalled: restore"
is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname LIKE '%stalled%'")" "0" \
    "SLOW stalled: restore: no database is left, temporary or not"
run_ok "SLOW stalled: restore: the next restore completes" C restore "$LID" --target "$(pg_conninfo src stalled)" --create
is "$(fingerprint src stalled)" "$(cat "$TEST_TMP/app.fp")" "SLOW stalled: restore: identical"

stall GET /backup/
run_fails "SLOW stalled: restore --physical fails" 5 C restore --physical "$PID" --immediate --no-archive --pgdata "$TEST_TMP/st-pgdata"
set_rules '[]'
slow_error "SLOW stalled: restore --physical"
ok "SLOW stalled: restore --physical: no data directory, no staging" \
    test -z "$(ls -A "$TEST_TMP" | grep st-pgdata)"
run_ok "SLOW stalled: restore --physical: the next restore completes" \
    C restore --physical "$PID" --immediate --no-archive --pgdata "$TEST_TMP/st-pgdata"
run_ok "SLOW stalled: restore --physical: pg_verifybackup accepts it" as_pg "$PG_BIN/pg_verifybackup" -n "$TEST_TMP/st-pgdata"

d0=$(drecords)
h0=$(C drill --history | awk 'NR > 1' | wc -l)
stall GET /backup/
_run C drill --scenario simple
set_rules '[]'
isnt "$LAST_RC" "0" "SLOW stalled: drill fails"
slow_error "SLOW stalled: drill"
is "$(drecords)" "$d0" "SLOW stalled: drill: no drill record is stored"
is "$(C drill --history | awk 'NR > 1' | wc -l)" "$h0" "SLOW stalled: drill: --history lists no new drill"
is "$(pgrep -f "postgres -D $STATE/[d]rill/" | wc -l)" "0" "SLOW stalled: drill: no scratch server is left running"
run_ok "SLOW stalled: drill: the next drill passes" C drill --scenario simple
is "$(drecords)" "$((d0 + 1))" "SLOW stalled: drill: which stores its record"

before=$(all_ids)
stall GET /backup/
run_fails "SLOW stalled: prune fails" 5 C prune
set_rules '[]'
slow_error "SLOW stalled: prune"
like "$(cat "$LAST_ERR")" "unjudged" "SLOW stalled: prune: the error says what it kept unjudged"
is "$(all_ids)" "$before" "SLOW stalled: prune: nothing is deleted"
run_ok "SLOW stalled: prune: the next prune completes" C prune
run_ok "SLOW stalled: every complete backup still verifies" C verify --all

# ---- CLOCK: coffre a day off the S3 server's clock ------------------------------
# RGW refuses a request signed more than 15 minutes off (RequestTimeTooSkewed);
# test_46 has backup, verify, prune and restore; here the other commands.
# libfaketime fakes the clock of coffre only.
FAKETIME_LIB=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketimeMT\.so\.1$' | head -1)
[ -n "$FAKETIME_LIB" ] || bail_out "libfaketime is not installed (make deps)"
skewed() { # OFFSET CONF COMMAND...: coffre as postgres with its clock OFFSET off
    local offset=$1 conf=$2
    shift 2
    as_pg env LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$offset" \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        "$COFFRE" --config "$conf" "$@"
}
clock_says() { # LABEL: the error names the server's refusal, the clocks and NTP
    like "$(cat "$LAST_ERR")" "RequestTimeTooSkewed" "$1: the error names the server's refusal"
    like "$(cat "$LAST_ERR")" "clocks of this host and of the S3 server differ" "$1: the error says the clocks differ"
    like "$(cat "$LAST_ERR")" "NTP" "$1: the hint names NTP"
}
for offset in +1d -1d; do
    label="CLOCK host a day $([ "$offset" = +1d ] && echo ahead || echo behind)"
    seg=$([ "$offset" = +1d ] && echo 000000010000000000000007 || echo 000000010000000000000008)
    head -c $((16 * 1024 * 1024)) /dev/urandom >"$PGD/pg_wal/$seg"
    pg_owns "$PGD/pg_wal/$seg"
    ready "$seg"
    before=$(all_ids)
    sleep 1
    run_fails "$label: backup --physical is refused" 5 skewed "$offset" "$TEST_TMP/c.conf" backup --physical
    clock_says "$label: backup --physical"
    is "$(all_ids)" "$before" "$label: backup --physical: nothing is listed, complete or not"
    is "$(uploads)" "0" "$label: backup --physical: no unfinished upload"
    _run as_pg env -C "$PGD" LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$offset" \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        "$COFFRE" -c "$TEST_TMP/w.conf" wal-push "pg_wal/$seg"
    is "$LAST_RC" "5" "$label: wal-push sync is refused (exit 5)"
    clock_says "$label: wal-push sync"
    _run as_pg env -C "$PGD" LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$offset" \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        "$COFFRE" -c "$TEST_TMP/wa.conf" wal-push "pg_wal/$seg"
    is "$LAST_RC" "5" "$label: wal-push async is refused (exit 5)"
    clock_says "$label: wal-push async"
    ok "$label: wal-push async: its children end" children_done
    is "$(keys_under walcells/wal/ | grep -c "$seg" || true)" "0" "$label: wal-push: nothing is stored"
    run_fails "$label: restore --physical is refused" 5 skewed "$offset" "$TEST_TMP/c.conf" \
        restore --physical "$PID" --immediate --no-archive --pgdata "$TEST_TMP/clock-pgdata"
    clock_says "$label: restore --physical"
    ok "$label: restore --physical: no data directory, no staging" \
        test -z "$(ls -A "$TEST_TMP" | grep clock-pgdata)"
    d0=$(drecords)
    _run skewed "$offset" "$TEST_TMP/c.conf" drill --scenario simple
    isnt "$LAST_RC" "0" "$label: drill fails"
    clock_says "$label: drill"
    is "$(drecords)" "$d0" "$label: drill: no drill record is stored"
    is "$(pgrep -f "postgres -D $STATE/[d]rill/" | wc -l)" "0" "$label: drill: no scratch server is left running"
    push "$TEST_TMP/w.conf" "$seg"
    is "$LAST_RC" "0" "$label: with the clock right, wal-push stores the segment"
done
run_ok "CLOCK: with the clock right, backup --physical succeeds" C backup --physical
run_ok "CLOCK: and verifies" C verify "$(cat "$LAST_OUT")"
run_ok "CLOCK: with the clock right, the drill passes" C drill --scenario simple


# ---- wal-stream: late, stalled, a day off -----------------------------------------
# an instance of its own (its slot coffre_streamcells), streaming from src
mkdir -p "$TEST_TMP/sstate"
s3conf "$TEST_TMP/ws.conf" "$PROXY" streamcells "$TEST_TMP/sstate"
sed -i "s|^conninfo = .*|conninfo = $(pg_conninfo src postgres)|" "$TEST_TMP/ws.conf"
printf '\n[wal]\nupload_interval = 2\n' >>"$TEST_TMP/ws.conf"
WS_N=0
ws_start() { # [ENV...]: wal-stream in the background, its log in $WS_LOG
    WS_N=$((WS_N + 1))
    WS_LOG="$TEST_TMP/ws$WS_N.log"
    env "$@" "$COFFRE" --config "$TEST_TMP/ws.conf" wal-stream >"$WS_LOG" 2>&1 &
    WS_PID=$!
    on_exit "kill -9 $WS_PID 2>/dev/null"
}
ws_stop() { kill -TERM "$WS_PID" 2>/dev/null || true; wait "$WS_PID" 2>/dev/null || true; }
wait_until() { # SECONDS CMD...
    local n=$(($1 * 5))
    shift
    for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.2; done
    return 1
}
streaming() {
    [ "$(psql_at src -c "SELECT count(*) FROM pg_stat_replication r JOIN pg_replication_slots s
        ON s.active_pid = r.pid WHERE s.slot_name = 'coffre_streamcells' AND r.state = 'streaming'")" = 1 ]
}
switch() { # a segment completed, its name printed (the stream tells it complete once the
    local seg  # next segment's WAL comes, hence the second INSERT)
    psql_at src app -c "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g" >/dev/null
    seg=$(psql_at src -c "SELECT pg_walfile_name(pg_switch_wal())")
    psql_at src app -c "INSERT INTO t VALUES (0, 'next')" >/dev/null
    echo "$seg"
}
stored() { keys_under streamcells/wal/ | grep -q "/$1-"; }
# slot_holds SEG: the slot's restart_lsn is not past SEG (the server keeps it)
slot_holds() {
    local r
    r=$(psql_at src -c "SELECT pg_walfile_name(restart_lsn) FROM pg_replication_slots WHERE slot_name = 'coffre_streamcells'")
    [ -n "$r" ] && { [[ "$r" < "$1" ]] || [ "$r" = "$1" ]; }
}

set_rules "$LATE"
ws_start
ok "wal-stream SLOW late: streaming" wait_until 30 streaming
seg=$(switch)
ok "wal-stream SLOW late: the segment reaches the repository" wait_until 60 stored "$seg"

stall PUT /wal/
seg=$(switch)
# (each attempt of a small object takes about 6 s to be timed out, not 1: seen 5 in 30 s)
ok "wal-stream SLOW stalled: the upload times out and is retried" wait_until 90 grep -q "retrying in" "$WS_LOG"
like "$(cat "$WS_LOG")" "Operation too slow" "wal-stream SLOW stalled: the log names the timeout"
ok "wal-stream SLOW stalled: wal-stream keeps running" kill -0 "$WS_PID"
is "$(stored "$seg" && echo stored || echo absent)" "absent" "wal-stream SLOW stalled: the segment is not stored meanwhile"
ok "wal-stream SLOW stalled: the slot keeps the segment" slot_holds "$seg"
set_rules '[]'
ok "wal-stream SLOW stalled: once the repository answers, the same process stores it" wait_until 60 stored "$seg"
seg=$(switch)
ok "wal-stream SLOW stalled: and the next one" wait_until 60 stored "$seg"
ws_stop

for offset in +1d -1d; do
    label="wal-stream CLOCK host a day $([ "$offset" = +1d ] && echo ahead || echo behind)"
    seg=$(switch)
    ws_start LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$offset" \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
    ok "$label: the error says the clocks differ" \
        wait_until 40 grep -q "clocks of this host and of the S3 server differ" "$WS_LOG"
    like "$(cat "$WS_LOG")" "NTP" "$label: the hint names NTP"
    is "$(stored "$seg" && echo stored || echo absent)" "absent" "$label: nothing is stored"
    ok "$label: the slot keeps the segment" slot_holds "$seg"
    ws_stop
    ws_start
    ok "$label: with the clock right, the segment reaches the repository" wait_until 60 stored "$seg"
    ws_stop
done


# ---- migrate: its final backup late, stalled, a day off ----------------------------
# src's database app is also a "managed" shared database: tenant acme, its
# schema and role; an "on-premise" cluster is the destination
pg_start onprem
psql_at src -c "CREATE ROLE acme LOGIN NOSUPERUSER NOCREATEDB NOREPLICATION"
psql_at src app -c "CREATE SCHEMA tenant_acme AUTHORIZATION acme"
psql_at src -c "ALTER ROLE acme SET search_path = tenant_acme, public"
tenant_sql() {
    "$PG_BIN/psql" -X -At -q -v ON_ERROR_STOP=1 -h "$SRC_HOST" -p "$SRC_PORT" -U acme -d app "$@"
}
tenant_sql <<'SQL'
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 5000) g;
SQL
ACME_FP=$(fingerprint src app tenant_acme)
mkdir -p "$TEST_TMP/mstate"
FORMULA=managed SCHEMA=tenant_acme s3conf "$TEST_TMP/m.conf" "$PROXY" shared "$TEST_TMP/mstate"
sed -i "s|^conninfo = .*|conninfo = $(pg_conninfo src app)|" "$TEST_TMP/m.conf"
M() { "$COFFRE" --config "$TEST_TMP/m.conf" "$@"; }
TO_ONPREM() { echo "host=$ONPREM_HOST port=$ONPREM_PORT user=postgres dbname=$1"; }
last_mig() {
    M migrate status --json | python3 -c '
import json, sys
print([m["id"] for m in json.load(sys.stdin)][-1])'
}
# back LABEL DB: after rollback, the tenant writes at the source, which is
# unchanged, and the destination holds nothing of it
back() {
    run_ok "$1: the tenant writes at the source again" \
        tenant_sql -c "BEGIN; INSERT INTO customers (id, name) VALUES (-1, 'probe'); ROLLBACK"
    is "$(fingerprint src app tenant_acme)" "$ACME_FP" "$1: the source is unchanged"
    is "$(psql_at onprem -c "SELECT count(*) FROM pg_database WHERE datname LIKE '$2%'")" "0" \
        "$1: no database left at the destination"
    is "$(psql_at onprem -c "SELECT count(*) FROM pg_roles WHERE rolname = 'acme'")" "0" \
        "$1: no role left at the destination"
}
run_ok "migrate: a first backup of the tenant" M backup

set_rules "$LATE"
sleep 1
run_ok "migrate SLOW late: the run reaches the cut-over point" M migrate run --to "$(TO_ONPREM acme_late)"
like "$(cat "$LAST_OUT")" "all equal" "migrate SLOW late: and verifies both sides equal"
set_rules '[]'
is "$(fingerprint onprem acme_late tenant_acme)" "$ACME_FP" "migrate SLOW late: the destination holds the tenant, identical"
run_ok "migrate SLOW late: rollback" M migrate rollback --id "$(last_mig)" --force
back "migrate SLOW late" acme_late

sleep 1
stall PUT /backup/
run_fails "migrate SLOW stalled: the run fails" 5 M migrate run --to "$(TO_ONPREM acme_stalled)"
set_rules '[]'
slow_error "migrate SLOW stalled"
like "$(M migrate status)" "backed-up" "migrate SLOW stalled: status shows the step that failed"
run_ok "migrate SLOW stalled: rollback" M migrate rollback --id "$(last_mig)"
like "$(cat "$LAST_OUT")" ": rolled-back" "migrate SLOW stalled: the migration is rolled back"
back "migrate SLOW stalled" acme_stalled

for offset in +1d -1d; do
    label="migrate CLOCK host a day $([ "$offset" = +1d ] && echo ahead || echo behind)"
    sleep 1
    n0=$(M migrate status --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
    _run env LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$offset" \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        "$COFFRE" --config "$TEST_TMP/m.conf" migrate run --to "$(TO_ONPREM acme_clock)"
    isnt "$LAST_RC" "0" "$label: the run fails"
    clock_says "$label"
    n1=$(M migrate status --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
    if [ "$n1" != "$n0" ]; then
        run_ok "$label: rollback" M migrate rollback --id "$(last_mig)"
    else
        pass "$label: no migration was journalled"
    fi
    back "$label" acme_clock
done
sleep 1
run_ok "migrate: with the clock right and the repository answering, the run reaches the cut-over point" \
    M migrate run --to "$(TO_ONPREM acme_ok)"
is "$(fingerprint onprem acme_ok tenant_acme)" "$ACME_FP" "migrate: the destination holds the tenant, identical"
run_ok "migrate: and rolls back" M migrate rollback --id "$(last_mig)" --force
back "migrate" acme_ok

done_testing
