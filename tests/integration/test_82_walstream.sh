#!/bin/bash
# test_82_walstream -- `coffre wal-stream` against a real PostgreSQL 15:
# complete segments reach the repository byte-identical to pg_wal; the
# partial segment is uploaded within upload_interval of a COMMIT; kill -9 and
# a restart leave no gap and the slot never passes what was durable; the
# systemd notify/watchdog protocol; SIGTERM stops cleanly with exit 0;
# synchronous mode lets synchronous_standby_names = '<slot>' commits return.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_82_walstream: streaming WAL into the repository"

command -v python3 >/dev/null || skip_all "python3 is needed for the notify listener"

pg_start src
psql_at src -c "CREATE TABLE t (id int, v text)"
hsm_init
hsm_token coffre 4321
REPO="$TEST_TMP/repo"
SPOOL="$TEST_TMP/spool"
CONF="$TEST_TMP/coffre.conf"
INSTANCE=acme CONNINFO="$(pg_conninfo src)" REPO="$REPO" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$CONF"
cat >>"$CONF" <<CONF

[wal]
spool = $SPOOL
upload_interval = 2
CONF
C() { "$COFFRE" --config "$CONF" "$@"; }
run_ok "keys init" C keys init
like "$(cat "$LAST_ERR")" '"wal.spool" is deprecated: use "coffre.state_dir"' \
    "[wal] spool still works, with a deprecation warning"
SLOT=coffre_acme
WALDIR="$REPO/acme/wal"

# ---------------------------------------------------------------- helpers

NOTIFY_SOCK="$TEST_TMP/notify.sock"
NOTIFY_LOG="$TEST_TMP/notify.log"
: >"$NOTIFY_LOG"
python3 - "$NOTIFY_SOCK" "$NOTIFY_LOG" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(65536).decode(errors="replace") + "\n")
        f.flush()
PY
NOTIFY_PID=$!
on_exit "kill $NOTIFY_PID"
for _ in $(seq 1 50); do [ -S "$NOTIFY_SOCK" ] && break; sleep 0.1; done

WS_PID=""
# ws_start CONF LOG -- run wal-stream in the background as systemd would.
ws_start() {
    NOTIFY_SOCKET="$NOTIFY_SOCK" WATCHDOG_USEC=2000000 "$COFFRE" --config "$1" wal-stream \
        >>"$2" 2>&1 &
    WS_PID=$!
    on_exit "kill -9 $WS_PID"
}

# wait_until SECONDS CMD... -- poll CMD every 0.2 s.
wait_until() {
    local n=$(($1 * 5))
    shift
    for _ in $(seq 1 "$n"); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

# Complete segments of timeline 1 in the repository, one name a line, sorted.
repo_segments() {
    find "$WALDIR" -type f -regextype posix-extended \
        -regex '.*/00000001[0-9A-F]{16}-[0-9a-f]{64}(-[st][A-Za-z0-9_-]+)?' 2>/dev/null |
        sed 's|.*/||; s|-.*||' | sort -u
}
# The stored object file of WAL name $1 (the first found).
repo_object() {
    find "$WALDIR" -type f -name "$1-*" | sort | tail -n 1
}
has_segment() { repo_segments | grep -qx "$1"; }
switch_wal() { # N -- N segments' worth of switches, each after some WAL
    local i
    for i in $(seq 1 "$1"); do
        psql_at src -c "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g" \
            -c "SELECT pg_switch_wal()" >/dev/null
    done
}
cur_segment() { psql_at src -c "SELECT pg_walfile_name(pg_current_wal_flush_lsn())"; }
# segment name + byte count -> LSN text
seg_lsn() { # NAME BYTES
    local log=$((16#${1:8:8})) seg=$((16#${1:16:8}))
    printf '%X/%X' "$log" $((seg * 16777216 + $2))
}

# ---------------------------------------------------------------- 1. streaming

WS_LOG="$TEST_TMP/ws1.log"
ws_start "$CONF" "$WS_LOG"
ok "READY=1 once streaming" wait_until 20 grep -qx "READY=1" "$NOTIFY_LOG"
ok "the physical slot exists" test "$(psql_at src -c "SELECT slot_type FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = physical

FIRST=$(cur_segment)
switch_wal 3
LAST_DONE=$(psql_at src -c "SELECT pg_walfile_name(pg_current_wal_flush_lsn() - 1)")
if wait_until 20 has_segment "$LAST_DONE"; then
    pass "switched segments appear in the repository"
else
    fail "switched segments appear in the repository" "want $LAST_DONE" "$(repo_segments)" \
        "$(tail -n 20 "$WS_LOG")"
fi

# Every archived segment still in pg_wal decrypts byte-identical to it.
n_cmp=0 n_bad=0
for seg in $(repo_segments); do
    [ -f "$SRC_PGDATA/pg_wal/$seg" ] || continue
    want=$(sha256sum <"$SRC_PGDATA/pg_wal/$seg" | cut -d' ' -f1)
    got=BAD
    C cat "$(repo_object "$seg")" >"$TEST_TMP/plain" && got=$(sha256sum <"$TEST_TMP/plain" | cut -d' ' -f1)
    n_cmp=$((n_cmp + 1))
    [ "$want" = "$got" ] || { n_bad=$((n_bad + 1)); diag "$seg: pg_wal $want, repository $got"; }
done
ok "archived segments decrypt byte-identical to pg_wal ($n_cmp compared)" \
    test "$n_cmp" -ge 3 -a "$n_bad" = 0
like "$(repo_segments)" "$FIRST" "the first segment streamed is archived too"

# ---------------------------------------------------------------- 2. partial upload

psql_at src -c "SET synchronous_commit = on" \
    -c "INSERT INTO t VALUES (424242, 'the commit to find')" >/dev/null
read -r PSEG POFF < <(psql_at src -F ' ' -c \
    "SELECT file_name, file_offset FROM pg_walfile_name_offset(pg_current_wal_flush_lsn())")
t0=$(date +%s)
partial_covers() {
    local f off
    for f in $(find "$WALDIR" -type f -name "$PSEG.partial.*" 2>/dev/null); do
        off=${f##*.partial.}
        off=$((16#${off%%-*}))
        [ "$off" -ge "$POFF" ] && { PARTIAL_OBJ=$f; PARTIAL_OFF=$off; return 0; }
    done
    return 1
}
PARTIAL_OBJ="" PARTIAL_OFF=0
if wait_until 8 partial_covers; then
    elapsed=$(($(date +%s) - t0))
    ok "the partial holding the COMMIT is uploaded within upload_interval (${elapsed} s)" \
        test "$elapsed" -le 4
    want=$(head -c "$PARTIAL_OFF" "$SRC_PGDATA/pg_wal/$PSEG" | sha256sum | cut -d' ' -f1)
    got=$(C cat "$PARTIAL_OBJ" | sha256sum | cut -d' ' -f1)
    is "$got" "$want" "the partial is the first OFFSET bytes of the server's segment"
    like "$(C cat "$PARTIAL_OBJ" | tr -c '[:print:]' '\n')" "the commit to find" \
        "the partial holds the committed row"
else
    fail "the partial holding the COMMIT is uploaded within upload_interval" \
        "want $PSEG offset >= $POFF" "$(find "$WALDIR" -name "$PSEG*")"
    fail "the partial is the first OFFSET bytes of the server's segment"
    fail "the partial holds the committed row"
fi

# ---------------------------------------------------------------- 3. kill -9, restart

# WAL keeps coming while wal-stream dies.
( for _ in $(seq 1 6); do switch_wal 1; sleep 0.3; done ) &
LOAD=$!
sleep 1.5
kill -9 "$WS_PID"
wait "$WS_PID" 2>/dev/null || true
wait "$LOAD"
sleep 0.5
RESTART=$(psql_at src -c "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'")
# What was durable when wal-stream died: the spool's newest partial (its
# segment start + its size), else the newest complete segment anywhere.
DURABLE=""
newest_partial=$(ls "$SPOOL/stream" | grep '\.partial$' | sort | tail -n 1 || true)
if [ -n "$newest_partial" ]; then
    DURABLE=$(seg_lsn "${newest_partial%.partial}" "$(stat -c %s "$SPOOL/stream/$newest_partial")")
fi
newest_full=$( (repo_segments; ls "$SPOOL/stream" | grep -x '[0-9A-F]\{24\}' || true) | sort | tail -n 1)
full_end=$(seg_lsn "$newest_full" 16777216)
[ -n "$DURABLE" ] || DURABLE=$full_end
DURABLE=$(psql_at src -c "SELECT greatest('$DURABLE'::pg_lsn, '$full_end'::pg_lsn)")
is "$(psql_at src -c "SELECT '$RESTART'::pg_lsn <= '$DURABLE'::pg_lsn")" t \
    "the slot's restart_lsn ($RESTART) never passed what was durable ($DURABLE)"

# Restart in synchronous mode, as a synchronous standby of the server.
CONF2="$TEST_TMP/coffre-sync.conf"
sed 's/^upload_interval = 2$/upload_interval = 2\nsynchronous = true/' "$CONF" >"$CONF2"
psql_at src -c "ALTER SYSTEM SET synchronous_standby_names = '$SLOT'" -c "SELECT pg_reload_conf()" >/dev/null
: >"$NOTIFY_LOG"
WS_LOG2="$TEST_TMP/ws2.log"
ws_start "$CONF2" "$WS_LOG2"
ok "restarted wal-stream is ready" wait_until 20 grep -qx "READY=1" "$NOTIFY_LOG"
is_sync() {
    [ "$(psql_at src -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$SLOT'")" = sync ]
}
ok "it is the server's synchronous standby" wait_until 10 is_sync
run_ok "a synchronous COMMIT returns (flush reported at once)" timeout 10 \
    "$PG_BIN/psql" -X -At -q -v ON_ERROR_STOP=1 -h "$SRC_HOST" -p "$SRC_PORT" -U postgres \
    -c "SET synchronous_commit = on" -c "INSERT INTO t VALUES (1, 'sync')"
# The server restarts under it: wal-stream reconnects by itself.
pg_restart src
ok "a lost connection is retried with backoff" wait_until 10 grep -q "retrying in" "$WS_LOG2"
ok "it streams again after the server came back" wait_until 20 is_sync
switch_wal 2
LAST_DONE=$(psql_at src -c "SELECT pg_walfile_name(pg_current_wal_flush_lsn() - 1)")
ok "segments written while it was down and after are archived" wait_until 20 has_segment "$LAST_DONE"

# No gap: every segment from the first to the last archived is there.
segs=$(repo_segments)
first=$(echo "$segs" | head -n 1) last=$(echo "$segs" | tail -n 1)
want_n=$((16#${last:16:8} - 16#${first:16:8} + 1))
is "$(echo "$segs" | wc -l)" "$want_n" "no gap in the archived segments ($first .. $last)"

# ---------------------------------------------------------------- 4. notify, SIGTERM

sleep 2.5
ok "WATCHDOG=1 pings at half of WATCHDOG_USEC" \
    test "$(grep -cx 'WATCHDOG=1' "$NOTIFY_LOG")" -ge 2
like "$(grep '^STATUS=' "$NOTIFY_LOG" | tail -n 1)" "STATUS=streaming timeline 1, flushed " \
    "STATUS= reports the flush position"

psql_at src -c "ALTER SYSTEM RESET synchronous_standby_names" -c "SELECT pg_reload_conf()" >/dev/null
psql_at src -c "INSERT INTO t VALUES (7, 'before the stop')" >/dev/null
sleep 0.5
read -r PSEG POFF < <(psql_at src -F ' ' -c \
    "SELECT file_name, file_offset FROM pg_walfile_name_offset(pg_current_wal_flush_lsn())")
kill -TERM "$WS_PID"
rc=0
wait "$WS_PID" || rc=$?
is "$rc" 0 "SIGTERM: wal-stream exits 0"
ok "SIGTERM: STOPPING=1 is sent" grep -qx "STOPPING=1" "$NOTIFY_LOG"
ok "SIGTERM: the partial is uploaded before exit" partial_covers
# wal-get serves the newest partial, zero-padded, while the segment is incomplete
if [ -z "$(find "$WALDIR" -type f -name "$PSEG-*")" ]; then
    run_ok "wal-get serves the segment from its partial" C wal-get "$PSEG" "$TEST_TMP/got-seg"
    is "$(stat -c %s "$TEST_TMP/got-seg" 2>/dev/null)" 16777216 "  ... as a full-size segment"
    PARTIAL_OFF=0
    partial_covers || true
    is "$(head -c "$PARTIAL_OFF" "$TEST_TMP/got-seg" 2>/dev/null | sha256sum)" \
        "$(head -c "$PARTIAL_OFF" "$SRC_PGDATA/pg_wal/$PSEG" | sha256sum)" \
        "  ... whose first bytes are the server's"
fi
# ---------------------------------------------------------------- 5. timeline switch

# wal-stream follows a standby (a cascading slot); the standby is promoted:
# the old timeline's last partial, the history file and the new timeline's
# segments all reach the repository.
mkdir -p "$TEST_TMP/stby"
chmod 755 "$TEST_TMP/stby"
pg_owns "$TEST_TMP/stby"
as_pg "$PG_BIN/pg_basebackup" -h "$SRC_HOST" -p "$SRC_PORT" -U postgres \
    -D "$TEST_TMP/stby/data" -R -X stream -c fast >/dev/null 2>&1
pg_start stby
CONF3="$TEST_TMP/coffre-stby.conf"
sed -e "s|^instance = acme$|instance = acme2|" -e "s|^spool = .*|spool = $TEST_TMP/spool2|" \
    -e "s|^conninfo = .*|conninfo = $(pg_conninfo stby)|" "$CONF" >"$CONF3"
WALDIR2="$REPO/acme2/wal"
: >"$NOTIFY_LOG"
WS_LOG3="$TEST_TMP/ws3.log"
ws_start "$CONF3" "$WS_LOG3"
ok "wal-stream follows the standby" wait_until 20 grep -qx "READY=1" "$NOTIFY_LOG"
switch_wal 1
# some WAL after the switch, so that timeline 1 ends in the middle of a segment
psql_at src -c "INSERT INTO t SELECT g, 'tl1' FROM generate_series(1, 1000) g" >/dev/null
SRC_END=$(psql_at src -c "SELECT pg_current_wal_flush_lsn()")
caught_up() { [ "$(psql_at stby -c "SELECT pg_last_wal_replay_lsn() >= '$SRC_END'")" = t ]; }
ok "the standby replayed everything" wait_until 20 caught_up
sleep 0.5
as_pg "$PG_BIN/pg_ctl" -D "$STBY_PGDATA" promote -w >/dev/null
psql_at stby -c "INSERT INTO t VALUES (2, 'on timeline 2')" -c "SELECT pg_switch_wal()" >/dev/null
TL2_DONE=$(psql_at stby -c "SELECT pg_walfile_name(pg_current_wal_flush_lsn() - 1)")
has_tl2() { find "$WALDIR2" -type f -name "$TL2_DONE-*" 2>/dev/null | grep -q .; }
if wait_until 20 has_tl2; then
    pass "segments of the new timeline are archived ($TL2_DONE)"
else
    fail "segments of the new timeline are archived ($TL2_DONE)" "$(find "$WALDIR2" -type f | sed 's|.*/||')" \
        "$(tail -n 20 "$WS_LOG3")"
fi
hist=$(find "$WALDIR2/history" -type f -name '00000002.history-*' 2>/dev/null | head -n 1)
if [ -n "$hist" ]; then
    is "$(C cat "$hist" | sha256sum)" "$(sha256sum <"$STBY_PGDATA/pg_wal/00000002.history")" \
        "the history file is stored as the server has it"
else
    fail "the history file is stored as the server has it" "$(find "$WALDIR2" -type f | sed 's|.*/||')"
fi
ok "the old timeline's last segment is stored as a partial" \
    test -n "$(find "$WALDIR2" -type f -name '00000001*.partial.*')"
got=BAD
C cat "$(find "$WALDIR2" -type f -name "$TL2_DONE-*" | head -n 1)" >"$TEST_TMP/plain" &&
    got=$(sha256sum <"$TEST_TMP/plain" | cut -d' ' -f1)
is "$got" "$(sha256sum <"$STBY_PGDATA/pg_wal/$TL2_DONE" | cut -d' ' -f1)" \
    "the new timeline's segment decrypts byte-identical to pg_wal"
like "$(cat "$WS_LOG3")" "timeline 1 ends; following timeline 2" "the switch is logged"
kill -TERM "$WS_PID"
rc=0
wait "$WS_PID" || rc=$?
is "$rc" 0 "SIGTERM after a timeline switch: exit 0"

unlike "$(cat "$WS_LOG" "$WS_LOG3")" "ERROR" "no error logged"
if grep -q "runtime error\|AddressSanitizer\|LeakSanitizer" "$WS_LOG" "$WS_LOG2" "$WS_LOG3"; then
    fail "no sanitizer report" "$(grep -h -A5 "runtime error\|Sanitizer" "$WS_LOG" "$WS_LOG2" "$WS_LOG3" | head -20)"
else
    pass "no sanitizer report"
fi

done_testing
