#!/bin/bash
# test_47_walstream_faults -- the fault matrix (docs/reliability.md), row
# "wal-stream": a real `coffre wal-stream` against PostgreSQL 15, killed at
# K1-K5 through the injection points of the sanitizer build (common/inject.h),
# stopped by SIGTERM at K2 and K4 and while streaming, with the HSM failing
# (tests/p11shim), with its posix repository turning read-only or full, with
# its spool full, and killed with a history file in its spool at a timeline
# switch (a followed standby promoted).
#
# Every cell runs on one spool and one slot (but the timeline switch, whose
# wal-stream follows the standby as another instance), so each cell's "next
# run" is also the run that must cope with what the fault left.  Each cell checks: the
# injection point fired; what the spool and the repository hold at that stage;
# no WAL that wal-get serves is incomplete (byte-identical to pg_wal, or a
# stored partial's bytes followed by zeros); the slot's restart_lsn never
# passed what is durable (the spool and the repository); the next run on the
# same spool and slot archives everything, with no gap.  1 MiB segments keep
# it fast.  REFUSE and FULL need root (a tmpfs repository).
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"
plan_start "test_47_walstream_faults: wal-stream killed, stopped and failing at every stage"

needs_injection_points
SHIM="$(dirname "$COFFRE")/tests/p11shim.so"
[ -f "$SHIM" ] || bail_out "$SHIM is missing (make unit builds it)"

PG_INITDB_OPTS="--wal-segsize=1" pg_init src
pg_conf src "wal_keep_size = 512MB"
pg_start src
psql_at src -c "CREATE TABLE t (id int, v text)"
SEGSZ=$(psql_at src -c "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'")
[ "$SEGSZ" = 1048576 ] || bail_out "wal_segment_size is $SEGSZ, not 1 MiB"
PER=$((4294967296 / SEGSZ)) # segments per "log" (the middle 8 digits of a name)

# as root, the repository and the spool (state_dir) are each a tmpfs, so that
# they can turn read-only or fill up
IS_ROOT=0
REPO="$TEST_TMP/repo"
STATE="$TEST_TMP/state"
if [ "$(id -u)" = 0 ]; then
    MNT="$TEST_TMP/mnt"
    SMNT="$TEST_TMP/smnt"
    mkdir -p "$MNT" "$SMNT"
    if mount -t tmpfs -o size=64m tmpfs "$MNT"; then
        on_exit "umount '$MNT'"
        if mount -t tmpfs -o size=8m tmpfs "$SMNT"; then
            on_exit "umount '$SMNT'"
            IS_ROOT=1
            REPO="$MNT/repo"
            STATE="$SMNT/state"
        fi
    fi
fi
hsm_init
hsm_token coffre 4321
export COFFRE_P11SHIM_MODULE="$SOFTHSM_MODULE" COFFRE_P11SHIM_FAIL="$TEST_TMP/hsm-removed"
SPOOL="$STATE/stream"
CONF="$TEST_TMP/coffre.conf"
INSTANCE=acme CONNINFO="$(pg_conninfo src)" REPO="$REPO" STATE_DIR="$STATE" MODULE="$SHIM" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$CONF"
# uploads of partials only at SIGTERM: the n-th object stored is the n-th segment
printf '\n[wal]\nupload_interval = 600\n\n[retention]\nstale_after = 1s\n' >>"$CONF"
CONF_FAST="$TEST_TMP/coffre-fast.conf"
sed 's/^upload_interval = 600$/upload_interval = 1/' "$CONF" >"$CONF_FAST"
C() { "$COFFRE" --config "$CONF" "$@"; }
run_ok "keys init through the shim" C keys init
SLOT=coffre_acme
WALDIR="$REPO/acme/wal"

# ---------------------------------------------------------------- helpers

# wait_until SECONDS CMD...: poll CMD every 0.2 s
wait_until() {
    local n=$(($1 * 5))
    shift
    for _ in $(seq 1 "$n"); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

WS_PID="" WS_N=0 WS_LOG="" WS_WRAP=""
# ws_start CONF [INJECT]: wal-stream in the background, log in $WS_LOG, pid in
# $WS_PID.  A wrapper shell waits for it and writes its status: the test's own
# shell never reaps a killed wal-stream (so it prints no "Killed" line).
ws_start() {
    WS_N=$((WS_N + 1))
    WS_LOG="$TEST_TMP/ws$WS_N.log"
    rm -f "$TEST_TMP/ws.pid" "$TEST_TMP/ws.rc"
    # shellcheck disable=SC2016
    COFFRE_INJECT="${2:-}" sh -c '"$@" & echo $! >"$0.pid"; wait $!; echo $? >"$0.rc"' \
        "$TEST_TMP/ws" "$COFFRE" --config "$1" wal-stream >"$WS_LOG" 2>&1 &
    WS_WRAP=$!
    for _ in $(seq 1 100); do
        [ -s "$TEST_TMP/ws.pid" ] && break
        sleep 0.05
    done
    WS_PID=$(cat "$TEST_TMP/ws.pid")
}
# at exit, the wal-stream still running, if any: checked by its command line,
# never a pid that may since belong to another process (pid_max can be small)
ws_cleanup() {
    [ -n "$WS_PID" ] || return 0
    tr '\0' ' ' <"/proc/$WS_PID/cmdline" 2>/dev/null | grep -q -- "--config $TEST_TMP/.*wal-stream" &&
        kill -9 "$WS_PID"
}
on_exit ws_cleanup
ws_state() { awk '{ print $3 }' "/proc/$WS_PID/stat" 2>/dev/null; }
ws_alive() { local s; s=$(ws_state); [ -n "$s" ] && [ "$s" != Z ]; }
ws_stopped() { [ "$(ws_state)" = T ]; }
# ws_wait SECONDS: until wal-stream exits; its status in $rc (124: it did not, killed)
ws_wait() {
    for _ in $(seq 1 $(($1 * 10))); do
        [ -s "$TEST_TMP/ws.rc" ] && break
        sleep 0.1
    done
    if [ ! -s "$TEST_TMP/ws.rc" ]; then
        kill -9 "$WS_PID" 2>/dev/null || true
        wait "$WS_WRAP" || true
        rc=124
        return 0
    fi
    wait "$WS_WRAP" || true
    rc=$(cat "$TEST_TMP/ws.rc")
}
# streaming: a walsender streams to the slot
streaming() {
    [ "$(psql_at src -c "SELECT count(*) FROM pg_stat_replication r JOIN pg_replication_slots s
        ON s.active_pid = r.pid WHERE s.slot_name = '$SLOT' AND r.state = 'streaming'")" = 1 ]
}

switch_wal() { # N: N segments, each after some WAL
    for _ in $(seq 1 "$1"); do
        psql_at src -c "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g" \
            -c "SELECT pg_switch_wal()" >/dev/null
    done
}
# last_done: the newest segment the server has completed
last_done() { psql_at src -c "SELECT pg_walfile_name(pg_current_wal_flush_lsn() - 1)"; }

lsn_int() { echo $((16#${1%/*} * 4294967296 + 16#${1#*/})); }
seg_name() { printf '00000001%08X%08X' $(($1 / PER)) $(($1 % PER)); }
# cur_seg: the segment the server writes into (pg_walfile_name names the
# previous one at a segment boundary)
cur_seg() { seg_name $(($(lsn_int "$(psql_at src -c "SELECT pg_current_wal_flush_lsn()")") / SEGSZ)); }
segno() { echo $((16#${1:8:8} * PER + 16#${1:16:8})); }

# repo_segments: complete segments of timeline 1 in the repository, sorted
repo_segments() {
    find "$WALDIR" -type f -regextype posix-extended \
        -regex '.*/00000001[0-9A-F]{16}-[0-9a-f]{64}(-[st][A-Za-z0-9_-]+)?' 2>/dev/null |
        sed 's|.*/||; s|-.*||' | sort -u
}
has_segment() { repo_segments | grep -qx "$1"; }
# objects SEG: how many complete objects hold SEG (no partials, no temporary files)
objects() { find "$WALDIR" -type f -name "$1-*" ! -name '.*' 2>/dev/null | wc -l; }
# all_objects: every WAL object (no temporary files)
all_objects() { find "$WALDIR" -type f ! -name '.*' 2>/dev/null | wc -l; }
# max_partial SEG: the highest offset of SEG's stored partials (0 if none)
max_partial() {
    local f o max=0
    while IFS= read -r f; do
        o=${f##*.partial.}
        o=$((16#${o%%-*}))
        [ "$o" -le "$max" ] || max=$o
    done < <(find "$WALDIR" -type f -name "$1.partial.*" ! -name '.*' 2>/dev/null)
    echo "$max"
}
# spool_complete: the complete segments in the spool
spool_complete() {
    find "$SPOOL" -maxdepth 1 -type f -regextype posix-extended -regex '.*/[0-9A-F]{24}' \
        -printf '%f\n' 2>/dev/null | sort
}

# served_right SEG: wal-get serves nothing for SEG (status 1), or exactly the
# server's segment, or (only partials stored) the longest partial's bytes,
# which are the server's, followed by zeros.  Never an incomplete segment.
served_right() {
    local s=$1 got="$TEST_TMP/got" r=0 p
    rm -f "$got"
    C wal-get "$s" "$got" >/dev/null 2>"$TEST_TMP/wal-get.err" || r=$?
    if [ "$r" = 1 ]; then
        [ "$(objects "$s")" = 0 ] && [ "$(max_partial "$s")" = 0 ]
        return
    fi
    [ "$r" = 0 ] || { diag "wal-get $s: status $r" "$(cat "$TEST_TMP/wal-get.err")"; return 1; }
    if [ "$(objects "$s")" != 0 ]; then
        cmp -s "$got" "$SRC_PGDATA/pg_wal/$s" || { diag "wal-get $s: differs from pg_wal"; return 1; }
        return 0
    fi
    p=$(max_partial "$s")
    if [ "$(stat -c %s "$got")" = "$SEGSZ" ] &&
        cmp -s <(head -c "$p" "$got") <(head -c "$p" "$SRC_PGDATA/pg_wal/$s") &&
        cmp -s <(tail -c +$((p + 1)) "$got") <(head -c $((SEGSZ - p)) /dev/zero); then
        return 0
    fi
    diag "wal-get $s: not the partial's $p bytes then zeros"
    return 1
}
# identical SEG: wal-get serves SEG byte-identical to pg_wal
identical() {
    rm -f "$TEST_TMP/got"
    C wal-get "$1" "$TEST_TMP/got" >/dev/null 2>&1 && cmp -s "$TEST_TMP/got" "$SRC_PGDATA/pg_wal/$1"
}

# slot_ok LABEL: the slot's restart_lsn is within what is durable, that is every
# byte of WAL before it, from the first segment archived, is in the repository
# (a complete segment, or a partial long enough) or in the spool (a complete
# segment, or the partial being written, long enough)
slot_ok() {
    local label=$1 r n off s name have bad="" size
    r=$(psql_at src -c "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'")
    n=$(lsn_int "$r")
    off=$((n % SEGSZ))
    n=$((n / SEGSZ))
    have=$( (repo_segments; spool_complete) | sort -u)
    for s in $(seq "$FIRST_SEGNO" $((n - 1))); do
        name=$(seg_name "$s")
        printf '%s\n' "$have" | grep -qx "$name" || { bad="$name is neither stored nor in the spool"; break; }
    done
    if [ -z "$bad" ] && [ "$off" -gt 0 ]; then
        name=$(seg_name "$n")
        if ! printf '%s\n' "$have" | grep -qx "$name"; then
            size=$(max_partial "$name")
            if [ -f "$SPOOL/$name.partial" ] && [ "$(stat -c %s "$SPOOL/$name.partial")" -gt "$size" ]; then
                size=$(stat -c %s "$SPOOL/$name.partial")
            fi
            [ "$size" -ge "$off" ] || bad="$name holds $size bytes durable, the slot is at byte $off"
        fi
    fi
    if [ -z "$bad" ]; then
        pass "$label: the slot's restart_lsn ($r) never passed what is durable"
    else
        fail "$label: the slot's restart_lsn ($r) never passed what is durable" "$bad" \
            "spool: $(ls "$SPOOL" | tr '\n' ' ')"
    fi
}

# no_gap LABEL: every segment from the first archived to the newest is stored
no_gap() {
    local segs last want
    segs=$(repo_segments)
    last=$(printf '%s\n' "$segs" | tail -n 1)
    want=$(($(segno "$last") - FIRST_SEGNO + 1))
    is "$(printf '%s\n' "$segs" | awk -v f="$FIRST" '$0 >= f' | wc -l)" "$want" \
        "$1: no gap in the archive ($FIRST .. $last)"
}

# ws_term LABEL: SIGTERM the running wal-stream; exit 0
ws_term() {
    kill -TERM "$WS_PID"
    ws_wait 60
    is "$rc" 0 "$1: SIGTERM, exit 0"
}

# next_run LABEL: the next run on the same spool and slot streams, archives
# everything the server completes, with no gap, and stops cleanly
next_run() {
    local label=$1 last
    ws_start "$CONF"
    ok "$label: the next run on the same spool and slot streams" wait_until 30 streaming
    switch_wal 2
    last=$(last_done)
    if wait_until 30 has_segment "$last"; then
        pass "$label: the next run archives everything up to $last"
    else
        fail "$label: the next run archives everything up to $last" "$(tail -n 20 "$WS_LOG")"
    fi
    no_gap "$label"
    is "$(spool_complete)" "" "$label: no complete segment is left in the spool"
    ws_term "$label: the next run"
}

# killed LABEL POINT: wal-stream (started with POINT=kill) died there
killed() {
    ws_wait 60
    is "$rc" 137 "$1: exit status 137"
    like "$(cat "$WS_LOG")" "injection point \"${2%%[@=]*}\"" "$1: the fault was injected at its stage"
}

# ---------------------------------------------------------------- baseline

ws_start "$CONF"
ok "baseline: wal-stream streams" wait_until 30 streaming
run_ok "baseline: backup --physical, its WAL archived by wal-stream" C backup --physical
switch_wal 2
LAST=$(last_done)
ok "baseline: segments are archived" wait_until 30 has_segment "$LAST"
FIRST=$(repo_segments | head -n 1)
FIRST_SEGNO=$(segno "$FIRST")
psql_at src -c "INSERT INTO t VALUES (1, 'before the stop')" >/dev/null
sleep 1.2 # flushed and reported
PSEG=$(cur_seg)
ws_term "TERM while streaming"
ok "TERM while streaming: the partial is uploaded before exit" test "$(max_partial "$PSEG")" -gt 0
ok "TERM while streaming: and kept in the spool" test -f "$SPOOL/$PSEG.partial"
ok "TERM while streaming: wal-get serves the partial, the server's bytes then zeros" served_right "$PSEG"
slot_ok "TERM while streaming"
next_run "TERM while streaming"
like "$(cat "$WS_LOG")" "resume point from the spool" "TERM while streaming: the next run resumes from the spool"

# ---------------------------------------------------------------- K1

switch_wal 1 # WAL waiting for it
n0=$(all_objects)
ws_start "$CONF" "walstream-ready=kill"
killed "wal-stream K1 kill -9" walstream-ready
is "$(all_objects)" "$n0" "wal-stream K1 kill -9: nothing was stored"
is "$(tmp_files)" 0 "wal-stream K1 kill -9: no temporary file"
slot_ok "wal-stream K1 kill -9"
next_run "wal-stream K1 kill -9"

# ---------------------------------------------------------------- K2

ws_start "$CONF" "pump-mid@1=kill"
ok "wal-stream K2 kill -9 (segment): streaming" wait_until 30 streaming
switch_wal 1
killed "wal-stream K2 kill -9 (segment)" pump-mid
K2SEG=$(spool_complete)
is "$(echo "$K2SEG" | grep -c .)" 1 "wal-stream K2 kill -9 (segment): the segment is complete in the spool"
is "$(objects "$K2SEG")" 0 "wal-stream K2 kill -9 (segment): and not stored"
is "$(tmp_files)" 1 "wal-stream K2 kill -9 (segment): killed mid-object (one temporary file)"
ok "wal-stream K2 kill -9 (segment): wal-get serves nothing incomplete" served_right "$K2SEG"
slot_ok "wal-stream K2 kill -9 (segment)"
next_run "wal-stream K2 kill -9 (segment)"
like "$(cat "$WS_LOG")" "archived $K2SEG" "wal-stream K2 kill -9 (segment): the next run stores the spool's segment"
ok "wal-stream K2 kill -9 (segment): the segment is served, byte-identical" identical "$K2SEG"

# a partial being stored (upload_interval = 1)
PSEG=$(cur_seg)
p0=$(max_partial "$PSEG")
ws_start "$CONF_FAST" "pump-mid@1=kill"
ok "wal-stream K2 kill -9 (partial): streaming" wait_until 30 streaming
psql_at src -c "INSERT INTO t VALUES (2, 'a partial')" >/dev/null
killed "wal-stream K2 kill -9 (partial)" pump-mid
is "$(max_partial "$PSEG")" "$p0" "wal-stream K2 kill -9 (partial): no new partial is stored"
is "$(tmp_files)" 2 "wal-stream K2 kill -9 (partial): killed mid-object (one more temporary file)"
ok "wal-stream K2 kill -9 (partial): wal-get serves nothing incomplete" served_right "$PSEG"
slot_ok "wal-stream K2 kill -9 (partial)"
next_run "wal-stream K2 kill -9 (partial)"
sleep 2.1 # stale_after = 1s, counted in whole seconds of the file's date
run_ok "wal-stream K2 kill -9: prune" C prune
is "$(tmp_files)" 0 "wal-stream K2 kill -9: prune removed the temporary files"
[ "$(tmp_files)" = 0 ] ||
    diag "now $(date +%T.%N)" "$(find "$REPO" -name '.*' -type f -printf '%TT %s %p\n')"
like "$(cat "$LAST_OUT" "$LAST_ERR")" "unfinished upload of acme/wal/0000000100000000/$K2SEG" \
    "wal-stream K2 kill -9: prune names the segment's"
like "$(cat "$LAST_OUT" "$LAST_ERR")" "unfinished upload of acme/wal/0000000100000000/$PSEG.partial." \
    "wal-stream K2 kill -9: and the partial's"
# prune also removed the WAL before the backup: the archive starts at the backup's
FIRST=$(repo_segments | head -n 1)
FIRST_SEGNO=$(segno "$FIRST")

# ---------------------------------------------------------------- K3

ws_start "$CONF" "walstream-archived@1=kill"
ok "wal-stream K3 kill -9: streaming" wait_until 30 streaming
A=$(cur_seg)
switch_wal 3
killed "wal-stream K3 kill -9" walstream-archived
like "$(cat "$WS_LOG")" "archived $A" "wal-stream K3 kill -9: killed after the first segment it archived"
is "$(objects "$A")" 1 "wal-stream K3 kill -9: the first segment is stored"
ok "wal-stream K3 kill -9: and no longer in the spool" test ! -e "$SPOOL/$A" -a ! -e "$SPOOL/$A.partial"
B=$(seg_name $(($(segno "$A") + 1)))
is "$(objects "$B")" 0 "wal-stream K3 kill -9: the next one is not"
ok "wal-stream K3 kill -9: the stored segment is served, byte-identical" identical "$A"
ok "wal-stream K3 kill -9: wal-get serves nothing incomplete for the next one" served_right "$B"
slot_ok "wal-stream K3 kill -9"
next_run "wal-stream K3 kill -9"

# ---------------------------------------------------------------- K4

ws_start "$CONF" "walstream-renamed@1=kill"
ok "wal-stream K4 kill -9: streaming" wait_until 30 streaming
switch_wal 2
killed "wal-stream K4 kill -9" walstream-renamed
SEG=$(spool_complete)
is "$(echo "$SEG" | grep -c .)" 1 "wal-stream K4 kill -9: a complete segment is in the spool"
is "$(objects "$SEG")" 0 "wal-stream K4 kill -9: not stored"
is "$(tmp_files)" 0 "wal-stream K4 kill -9: no upload begun"
ok "wal-stream K4 kill -9: wal-get serves nothing incomplete" served_right "$SEG"
slot_ok "wal-stream K4 kill -9"
next_run "wal-stream K4 kill -9"
like "$(cat "$WS_LOG")" "archived $SEG" "wal-stream K4 kill -9: the next run stores the spool's segment"
ok "wal-stream K4 kill -9: served byte-identical" identical "$SEG"

# ---------------------------------------------------------------- K5

ws_start "$CONF" "walstream-stored@1=kill"
ok "wal-stream K5 kill -9: streaming" wait_until 30 streaming
switch_wal 2
killed "wal-stream K5 kill -9" walstream-stored
SEG=$(spool_complete)
is "$(echo "$SEG" | grep -c .)" 1 "wal-stream K5 kill -9: the segment is still in the spool"
is "$(objects "$SEG")" 1 "wal-stream K5 kill -9: and stored"
ok "wal-stream K5 kill -9: served byte-identical" identical "$SEG"
slot_ok "wal-stream K5 kill -9"
next_run "wal-stream K5 kill -9"
like "$(cat "$WS_LOG")" "archived $SEG" "wal-stream K5 kill -9: the next run finds it stored and removes it"
is "$(objects "$SEG")" 1 "wal-stream K5 kill -9: the next run removed it from the spool, stored once"

# ---------------------------------------------------------------- TERM at K2, K4

for cell in "K2:pump-mid@1" "K4:walstream-renamed@1"; do
    label="wal-stream ${cell%%:*} SIGTERM" point=${cell#*:}
    ws_start "$CONF" "$point=term"
    ok "$label: streaming" wait_until 30 streaming
    switch_wal 1
    SEG=$(last_done) # the first segment it completes
    ws_wait 60
    is "$rc" 0 "$label: exit 0"
    like "$(cat "$WS_LOG")" "injection point \"${point%@*}\"" "$label: the fault was injected at its stage"
    is "$(spool_complete)" "" "$label: the segment cut short is stored before exit"
    is "$(objects "$SEG")" 1 "$label: once"
    is "$(tmp_files)" 0 "$label: no temporary file"
    ok "$label: served byte-identical" identical "$SEG"
    slot_ok "$label"
    next_run "$label"
done

# ---------------------------------------------------------------- HSM

ws_start "$CONF" "walstream-renamed@1=stop"
ok "wal-stream HSM: streaming" wait_until 30 streaming
switch_wal 1
ok "wal-stream HSM: stopped with a complete segment in the spool" wait_until 30 ws_stopped
SEG=$(spool_complete)
touch "$COFFRE_P11SHIM_FAIL"
kill -CONT "$WS_PID"
ws_wait 60
rm -f "$COFFRE_P11SHIM_FAIL"
is "$rc" 4 "wal-stream HSM removed before a segment's upload: exit 4"
like "$(cat "$WS_LOG")" "CKR_DEVICE_REMOVED" "wal-stream HSM: the error names the module's answer"
like "$(cat "$WS_LOG")" "$SEG" "wal-stream HSM: and the segment"
is "$(spool_complete)" "$SEG" "wal-stream HSM: the segment stays in the spool"
is "$(objects "$SEG")" 0 "wal-stream HSM: nothing stored"
is "$(tmp_files)" 0 "wal-stream HSM: no temporary file"
ok "wal-stream HSM: wal-get serves nothing incomplete" served_right "$SEG"
slot_ok "wal-stream HSM"
next_run "wal-stream HSM"
ok "wal-stream HSM: with the HSM back, the segment is served byte-identical" identical "$SEG"

# ---------------------------------------------------------------- REFUSE, FULL

# repo_fault LABEL FAULT UNDO MESSAGE: wal-stream stopped with a complete
# segment in the spool, the fault made, resumed: it keeps running and retries,
# says why, keeps the segment; once the fault is undone it stores it by itself
repo_fault() {
    local label=$1 fault=$2 undo=$3 msg=$4 seg last
    ws_start "$CONF" "walstream-renamed@1=stop"
    ok "$label: streaming" wait_until 30 streaming
    switch_wal 1
    ok "$label: stopped with a complete segment in the spool" wait_until 30 ws_stopped
    seg=$(spool_complete)
    eval "$fault"
    kill -CONT "$WS_PID"
    ok "$label: the upload fails and is retried" wait_until 20 grep -q "retrying in" "$WS_LOG"
    like "$(cat "$WS_LOG")" "$msg" "$label: the error names the cause"
    like "$(cat "$WS_LOG")" "$seg" "$label: and the segment"
    switch_wal 1 # the server goes on meanwhile
    sleep 1
    ok "$label: wal-stream keeps running" ws_alive
    is "$(spool_complete)" "$seg" "$label: the segment stays in the spool"
    is "$(objects "$seg")" 0 "$label: nothing stored"
    is "$(tmp_files)" 0 "$label: no temporary file"
    slot_ok "$label"
    eval "$undo"
    ok "$label: once the repository is back, the same process stores it" wait_until 30 has_segment "$seg"
    switch_wal 2
    last=$(last_done)
    ok "$label: and archives everything after" wait_until 30 has_segment "$last"
    no_gap "$label"
    ok "$label: served byte-identical" identical "$seg"
    ws_term "$label"
    next_run "$label"
}
if [ "$IS_ROOT" = 1 ]; then
    repo_fault "wal-stream REFUSE" "mount -o remount,ro '$MNT'" "mount -o remount,rw '$MNT'" \
        "Read-only file system"
    repo_fault "wal-stream FULL" \
        "dd if=/dev/zero of='$MNT/filler' bs=1M count=64 status=none 2>/dev/null || true" \
        "rm -f '$MNT/filler'" "No space left on device"

    # the spool's own file system full: writing fails, the session ends and is
    # retried; nothing is acknowledged that is not in the spool
    label="wal-stream FULL (spool)"
    ws_start "$CONF"
    ok "$label: streaming" wait_until 30 streaming
    psql_at src -c "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g" >/dev/null
    sleep 1.2
    dd if=/dev/zero of="$SMNT/filler" bs=64k status=none 2>/dev/null || true
    switch_wal 1
    SEG=$(last_done)
    ok "$label: writing the spool fails and is retried" wait_until 20 grep -q "retrying in" "$WS_LOG"
    like "$(cat "$WS_LOG")" "No space left on device" "$label: the error names the cause"
    like "$(cat "$WS_LOG")" "could not write to spool segment" "$label: and the spool"
    ok "$label: wal-stream keeps running" ws_alive
    is "$(objects "$SEG")" 0 "$label: the segment is not stored"
    slot_ok "$label"
    rm -f "$SMNT/filler"
    ok "$label: once space is freed, the same process archives the segment" \
        wait_until 30 has_segment "$SEG"
    ok "$label: served byte-identical" identical "$SEG"
    ws_term "$label"
    next_run "$label"
else
    diag "REFUSE and FULL skipped: they need root (tmpfs mounts)"
fi

# ---------------------------------------------------------------- K4 at a timeline switch

# wal-stream follows a standby (instance acme2, its own spool) that is
# promoted: at the end of timeline 1 it stores the old timeline's last
# partial, then writes the new history file into the spool and stores it from
# there.  Killed once the file is in the spool (walstream-history): the next
# run stores it first, then follows timeline 2.
mkdir -p "$TEST_TMP/stby"
chmod 755 "$TEST_TMP/stby"
pg_owns "$TEST_TMP/stby"
as_pg "$PG_BIN/pg_basebackup" -h "$SRC_HOST" -p "$SRC_PORT" -U postgres \
    -D "$TEST_TMP/stby/data" -R -X stream -c fast >/dev/null 2>&1
pg_start stby
CONF2="$TEST_TMP/coffre-stby.conf"
sed -e "s|^instance = acme$|instance = acme2|" -e "s|^state_dir = .*|state_dir = $TEST_TMP/state2|" \
    -e "s|^conninfo = .*|conninfo = $(pg_conninfo stby)|" "$CONF" >"$CONF2"
SPOOL2="$TEST_TMP/state2/stream"
HIST2="$REPO/acme2/wal/history"
C2() { "$COFFRE" --config "$CONF2" "$@"; }
label="wal-stream K4 kill -9 (history file, timeline switch)"
stby_streaming() {
    [ "$(psql_at stby -c "SELECT count(*) FROM pg_stat_replication r JOIN pg_replication_slots s
        ON s.active_pid = r.pid WHERE s.slot_name = 'coffre_acme2' AND r.state = 'streaming'")" = 1 ]
}
ws_start "$CONF2" "walstream-history=kill"
ok "$label: wal-stream follows the standby" wait_until 30 stby_streaming
psql_at src -c "INSERT INTO t SELECT g, 'tl1' FROM generate_series(1, 100) g" >/dev/null
SRC_END=$(psql_at src -c "SELECT pg_current_wal_flush_lsn()")
caught_up() { [ "$(psql_at stby -c "SELECT pg_last_wal_replay_lsn() >= '$SRC_END'")" = t ]; }
ok "$label: the standby replayed everything" wait_until 30 caught_up
sleep 1.2 # received by wal-stream, flushed
as_pg "$PG_BIN/pg_ctl" -D "$STBY_PGDATA" promote -w >/dev/null
killed "$label" walstream-history
ok "$label: the old timeline's last partial is stored" \
    test -n "$(find "$REPO/acme2/wal" -type f -name '00000001*.partial.*' ! -name '.*')"
ok "$label: the history file is in the spool" test -f "$SPOOL2/00000002.history"
is "$(find "$HIST2" -type f -name '00000002.history-*' ! -name '.*' 2>/dev/null | wc -l)" 0 \
    "$label: and not stored"
run_fails "$label: wal-get serves nothing for it" 1 C2 wal-get 00000002.history "$TEST_TMP/got-hist"
# timeline 1 ends in the partial just stored (its file left the spool): the
# slot's restart_lsn is at most its end
p=$(find "$REPO/acme2/wal" -type f -name '00000001*.partial.*' ! -name '.*' | sed 's|.*/||' |
    sort | tail -n 1)
off=${p#*.partial.}
durable=$(($(segno "${p%%.partial.*}") * SEGSZ + 16#${off%%-*}))
r=$(psql_at stby -c "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'coffre_acme2'")
ok "$label: the slot's restart_lsn ($r) never passed what is durable" \
    test "$(lsn_int "$r")" -le "$durable"
ws_start "$CONF2"
ok "$label: the next run follows timeline 2" wait_until 30 stby_streaming
like "$(cat "$WS_LOG")" "archived 00000002.history" "$label: it stores the spool's history file first"
ok "$label: and removes it from the spool" test ! -e "$SPOOL2/00000002.history"
psql_at stby -c "INSERT INTO t VALUES (2, 'on timeline 2')" -c "SELECT pg_switch_wal()" >/dev/null
TL2_DONE=$(psql_at stby -c "SELECT pg_walfile_name(pg_current_wal_flush_lsn() - 1)")
has_tl2() { find "$REPO/acme2/wal" -type f -name "$TL2_DONE-*" ! -name '.*' 2>/dev/null | grep -q .; }
ok "$label: segments of timeline 2 are archived ($TL2_DONE)" wait_until 30 has_tl2
run_ok "$label: wal-get serves the history file" C2 wal-get 00000002.history "$TEST_TMP/got-hist"
ok "$label: as the server has it" cmp -s "$TEST_TMP/got-hist" "$STBY_PGDATA/pg_wal/00000002.history"
is "$(find "$HIST2" -type f -name '00000002.history-*' ! -name '.*' | wc -l)" 1 "$label: stored once"
rm -f "$TEST_TMP/got-tl2"
C2 wal-get "$TL2_DONE" "$TEST_TMP/got-tl2" >/dev/null 2>&1 || true
ok "$label: the timeline 2 segment is served byte-identical" \
    cmp -s "$TEST_TMP/got-tl2" "$STBY_PGDATA/pg_wal/$TL2_DONE"
ws_term "$label: the next run"

# ---------------------------------------------------------------- the whole archive

n_bad=0 n=0
for s in $(repo_segments); do
    [ "$s" \< "$FIRST" ] && continue
    n=$((n + 1))
    identical "$s" || { n_bad=$((n_bad + 1)); diag "$s differs"; }
done
is "$n_bad" 0 "every archived segment ($n) is served byte-identical to pg_wal"
run_ok "verify --wal passes" C verify --wal
like "$(cat "$LAST_OUT")" "WAL continuous from" "the archive is continuous"
if grep -q "runtime error\|AddressSanitizer\|LeakSanitizer" "$TEST_TMP"/ws*.log; then
    fail "no sanitizer report" "$(grep -h -A5 "runtime error\|Sanitizer" "$TEST_TMP"/ws*.log | head -20)"
else
    pass "no sanitizer report"
fi

done_testing
