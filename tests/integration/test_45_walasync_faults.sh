#!/bin/bash
# test_45_walasync_faults -- the fault matrix (docs/reliability.md), row
# "wal-push async": kill -9 at K1-K5 and SIGTERM, through the injection points
# of the sanitizer build (common/inject.h).  COFFRE_INJECT reaches the detached
# children (wal-push --spool-only) through their environment, so one setting
# can kill the call, its children, or both.
#
# The archiver is played by the test on a fake pg_wal (random 1 MiB segments
# with .ready files; a segment answered 0 becomes .done), then by a real
# PostgreSQL whose archive_command runs async wal-push with its children
# killed at K4.  Every coffre command runs as postgres, as the archiver does.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"
plan_start "test_45_walasync_faults: async wal-push killed and stopped at every stage"

needs_injection_points

COFFRE=$(readlink -f "$COFFRE")
[ "$(id -u)" != 0 ] || chown postgres "$TEST_TMP"
hsm_init
hsm_token coffre 4321
CONF="$TEST_TMP/coffre.conf"
REPO="$TEST_TMP/repo"
SPOOL="$TEST_TMP/spool"
FAKE="$TEST_TMP/fake"
mkdir -p "$REPO" "$SPOOL" "$FAKE/pg_wal/archive_status" "$TEST_TMP/got"
INSTANCE=acme CONNINFO="host=/nonexistent user=postgres dbname=postgres" REPO="$REPO" \
STATE_DIR="$SPOOL" KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$CONF"
printf '\n[wal]\nreadahead = 0\nasync = true\npush_jobs = 3\narchive_timeout = 60s\n\n[retention]\nstale_after = 1s\n' \
    >>"$CONF"
pg_owns "$HSM_DIR" "$REPO" "$SPOOL" "$FAKE" "$TEST_TMP/got" "$CONF"
chmod 755 "$HSM_DIR"
C() { as_pg "$COFFRE" --config "$CONF" "$@"; }
run_ok "keys init" C keys init

# P SEG [-v]: the archiver's call for SEG (in the fake data directory)
P() {
    local seg=$1
    shift
    as_pg env -C "$FAKE" "$COFFRE" "$@" --config "$CONF" wal-push "pg_wal/$seg"
}
# children: the pids of this test's detached children (wal-push --spool-only)
children() {
    local p
    for p in /proc/[0-9]*; do
        tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "-c $CONF .*wal-push --spool-only" &&
            echo "${p#/proc/}"
    done
    return 0
}
# child_of SEG: the pid of the child pushing SEG
child_of() {
    local p
    for p in $(children); do
        tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q -- "pg_wal/$1 " && echo "$p"
    done
    return 0
}
# wait_children: until every child has exited (60 s at most)
wait_children() {
    for _ in $(seq 1 600); do
        [ -z "$(children)" ] && return 0
        sleep 0.1
    done
    return 1
}
# stopped PID...: until each is stopped (SIGSTOP at an injection point)
stopped() {
    local p
    for _ in $(seq 1 200); do
        sleep 0.1
        for p in "$@"; do
            [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" = T ] || continue 2
        done
        return 0
    done
    return 1
}
on_exit 'for p in $(children); do kill -9 $p; done'
# objects SEG: how many WAL objects hold SEG
objects() { find "$REPO/acme/wal" -name "$1-*" ! -name '.*' -type f 2>/dev/null | wc -l; }
# marker SEG / claim SEG: the child's marker, its claim file
marker() { test -f "$SPOOL/pushed/$1"; }
claim_file() { test -f "$SPOOL/pushed/$1.inflight"; }
# done_seg SEG: the archiver's bookkeeping after a 0
done_seg() { mv "$FAKE/pg_wal/archive_status/$1.ready" "$FAKE/pg_wal/archive_status/$1.done"; }
# served SEG...: every one is served by wal-get, byte-identical
served() {
    local s
    for s in "$@"; do
        rm -f "$TEST_TMP/got/$s"
        C wal-get "$s" "$TEST_TMP/got/$s" >/dev/null 2>&1 || return 1
        cmp -s "$FAKE/pg_wal/$s" "$TEST_TMP/got/$s" || return 1
    done
}
# new_segs: three new ready segments A B C (the call for A starts children for B, C)
SEGNO=0
new_segs() {
    local s
    for v in A B C; do
        SEGNO=$((SEGNO + 1))
        s=$(printf '00000007000000000000%04X' "$SEGNO")
        head -c 1048576 /dev/urandom >"$FAKE/pg_wal/$s"
        : >"$FAKE/pg_wal/archive_status/$s.ready"
        eval "$v=$s"
    done
    pg_owns "$FAKE"
}

# ---- K1: the call's own segment not started (its children are started) ------
new_segs
inject "wal-push async K1 kill -9" "wal-push-spawned=kill" 137 -- P "$A"
ok "wal-push async K1 kill -9: the children end" wait_children
is "$(objects "$A")" "0" "wal-push async K1 kill -9: the call's segment is not archived"
run_fails "wal-push async K1 kill -9: wal-get finds nothing to serve" 1 C wal-get "$A" "$TEST_TMP/got/x"
ok "wal-push async K1 kill -9: the children it started stored their segments and markers" \
    eval 'marker "$B" && marker "$C" && [ "$(objects "$B")" = 1 ] && [ "$(objects "$C")" = 1 ]'
run_ok "wal-push async K1 kill -9: the archiver's retry succeeds" P "$A"
done_seg "$A"
run_ok "wal-push async K1 kill -9: the next segment is answered" P "$B" -v
like "$(cat "$LAST_ERR")" "was archived by an async push" "wal-push async K1 kill -9: from the child's marker"
done_seg "$B"
run_ok "wal-push async K1 kill -9: and the one after" P "$C"
done_seg "$C"
ok "wal-push async K1 kill -9: every segment is served, byte-identical" served "$A" "$B" "$C"

# ---- K2: every process mid-object (the call and both children) --------------
new_segs
inject "wal-push async K2 kill -9" "pump-mid@1=kill" 137 -- P "$A"
ok "wal-push async K2 kill -9: the children end" wait_children
is "$(( $(objects "$A") + $(objects "$B") + $(objects "$C") ))" "0" "wal-push async K2 kill -9: nothing is archived"
is "$(tmp_files)" "3" "wal-push async K2 kill -9: the call and both children were killed mid-object"
ok "wal-push async K2 kill -9: no marker" eval '! marker "$A" && ! marker "$B" && ! marker "$C"'
for s in "$A" "$B" "$C"; do
    run_fails "wal-push async K2 kill -9: wal-get finds nothing to serve for $s" 1 C wal-get "$s" "$TEST_TMP/got/x"
done
for s in "$A" "$B" "$C"; do
    run_ok "wal-push async K2 kill -9: the archiver's call for $s succeeds" P "$s"
    done_seg "$s"
done
ok "wal-push async K2 kill -9: every segment is served, byte-identical" served "$A" "$B" "$C"
ok "wal-push async K2 kill -9: the children end" wait_children
# stale_after = 1s, and prune compares ages in whole seconds: 1.1 s can read as 1, not
# older than 1 (the clean-clone CI hit it); 2.1 s is always more than one second
sleep 2.1
run_ok "wal-push async K2 kill -9: prune" C prune
is "$(tmp_files)" "0" "wal-push async K2 kill -9: prune removed the temporary files"

# ---- K3: one child's marker written, another child running; the call killed
# while it waits for the running one ------------------------------------------
new_segs
rc=0
COFFRE_INJECT="wal-push-marker-before=stop" P "$A" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
is "$rc" "0" "wal-push async K3: the first call stores its own segment"
done_seg "$A"
cb=$(child_of "$B")
cc=$(child_of "$C")
ok "wal-push async K3: both children stopped after storing, before their markers" \
    eval 'test -n "$cb" && test -n "$cc" && stopped $cb $cc'
kill -CONT "$cc"
for _ in $(seq 1 100); do marker "$C" && break; sleep 0.1; done
ok "wal-push async K3: one child wrote its marker" marker "$C"
inject "wal-push async K3 kill -9" "wal-push-waiting=kill" 137 -- P "$B"
ok "wal-push async K3 kill -9: the other child's marker is not consumed" marker "$C"
ok "wal-push async K3 kill -9: the waited-for child's segment has no marker yet" eval '! marker "$B"'
kill -CONT "$cb"
ok "wal-push async K3 kill -9: the children end" wait_children
run_ok "wal-push async K3 kill -9: the archiver's retry succeeds" P "$B" -v
like "$(cat "$LAST_ERR")" "was archived by an async push" "wal-push async K3 kill -9: from the child's marker"
done_seg "$B"
run_ok "wal-push async K3 kill -9: the next call succeeds" P "$C" -v
like "$(cat "$LAST_ERR")" "was archived by an async push" "wal-push async K3 kill -9: from the other marker"
done_seg "$C"
is "$(objects "$A")$(objects "$B")$(objects "$C")" "111" "wal-push async K3 kill -9: each segment archived once"
ok "wal-push async K3 kill -9: every segment is served, byte-identical" served "$A" "$B" "$C"

# ---- K4: the children killed with their segments stored, no marker ----------
new_segs
rc=0
COFFRE_INJECT="wal-push-marker-before=kill" P "$A" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
is "$rc" "0" "wal-push async K4 kill -9: the call stores its own segment"
done_seg "$A"
ok "wal-push async K4 kill -9: the children end" wait_children
ok "wal-push async K4 kill -9: the children were killed after storing, before their markers" \
    eval '[ "$(objects "$B")$(objects "$C")" = 11 ] && ! marker "$B" && ! marker "$C" && claim_file "$B" && claim_file "$C"'
# (the call for B starts a new child for C, whose claim is free: C is answered either way)
run_ok "wal-push async K4 kill -9: the archiver's call for the next segment succeeds" P "$B"
like "$(cat "$LAST_ERR")" "was already archived (same sha256)" "wal-push async K4 kill -9: pushed again, found archived"
done_seg "$B"
ok "wal-push async K4 kill -9: the children end" wait_children
run_ok "wal-push async K4 kill -9: the archiver's call for the last segment succeeds" P "$C"
done_seg "$C"
is "$(objects "$A")$(objects "$B")$(objects "$C")" "111" "wal-push async K4 kill -9: each segment archived once"
ok "wal-push async K4 kill -9: every segment is served, byte-identical" served "$A" "$B" "$C"

# ---- K5: the children killed with their markers written; the call killed
# once it took its marker ---------------------------------------------------------
new_segs
rc=0
COFFRE_INJECT="wal-push-marker-after=kill" P "$A" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
is "$rc" "0" "wal-push async K5 kill -9: the call stores its own segment"
done_seg "$A"
ok "wal-push async K5 kill -9: the children end" wait_children
ok "wal-push async K5 kill -9: the children were killed after their markers" \
    eval 'marker "$B" && marker "$C" && claim_file "$B" && claim_file "$C"'
run_ok "wal-push async K5 kill -9: the next call succeeds" P "$B" -v
like "$(cat "$LAST_ERR")" "was archived by an async push" "wal-push async K5 kill -9: from the child's marker"
ok "wal-push async K5 kill -9: which it consumed" eval '! marker "$B"'
done_seg "$B"
inject "wal-push async K5 kill -9 (the call, marker taken)" "wal-push-marker-taken=kill" 137 -- P "$C"
ok "wal-push async K5 kill -9 (the call): the marker is consumed" eval '! marker "$C"'
run_ok "wal-push async K5 kill -9 (the call): the archiver's retry succeeds" P "$C"
like "$(cat "$LAST_ERR")" "was already archived (same sha256)" "wal-push async K5 kill -9 (the call): pushed again, found archived"
done_seg "$C"
is "$(objects "$A")$(objects "$B")$(objects "$C")" "111" "wal-push async K5 kill -9: each segment archived once"
ok "wal-push async K5 kill -9: every segment is served, byte-identical" served "$A" "$B" "$C"

# ---- SIGTERM ----------------------------------------------------------------------
# before its own segment: exit 8, the children go on
new_segs
inject "wal-push async SIGTERM before its segment" "wal-push-spawned=term" 8 -- P "$A"
like "$(cat "$TEST_TMP/err")" "interrupted by signal SIGTERM" "wal-push async SIGTERM before its segment: the error names the signal"
ok "wal-push async SIGTERM before its segment: the children end" wait_children
is "$(objects "$A")" "0" "wal-push async SIGTERM before its segment: its segment is not archived"
is "$(tmp_files)" "0" "wal-push async SIGTERM before its segment: no temporary file"
for s in "$A" "$B" "$C"; do
    run_ok "wal-push async SIGTERM before its segment: the archiver's call for $s succeeds" P "$s"
    done_seg "$s"
done
ok "wal-push async SIGTERM before its segment: every segment is served, byte-identical" served "$A" "$B" "$C"

# mid-object, the call and its children: each stops, nothing stored
new_segs
inject "wal-push async SIGTERM mid-object" "pump-mid@1=term" 8 -- P "$A"
like "$(cat "$TEST_TMP/err")" "interrupted by signal SIGTERM" "wal-push async SIGTERM mid-object: the error names the signal"
ok "wal-push async SIGTERM mid-object: the children end" wait_children
is "$(( $(objects "$A") + $(objects "$B") + $(objects "$C") ))" "0" "wal-push async SIGTERM mid-object: nothing is archived"
is "$(tmp_files)" "0" "wal-push async SIGTERM mid-object: no temporary file"
ok "wal-push async SIGTERM mid-object: no marker" eval '! marker "$A" && ! marker "$B" && ! marker "$C"'
for s in "$A" "$B" "$C"; do
    run_ok "wal-push async SIGTERM mid-object: the archiver's call for $s succeeds" P "$s"
    done_seg "$s"
done
ok "wal-push async SIGTERM mid-object: every segment is served, byte-identical" served "$A" "$B" "$C"
ok "wal-push async SIGTERM mid-object: the children end" wait_children

# while it waits for the child pushing its segment: exit 8 at once (it waited
# up to archive_timeout, then answered from the marker: exit 0 after SIGTERM)
new_segs
rc=0
COFFRE_INJECT="wal-push-marker-before=stop" P "$A" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
is "$rc" "0" "wal-push async SIGTERM while waiting: the first call stores its own segment"
done_seg "$A"
cb=$(child_of "$B")
cc=$(child_of "$C")
ok "wal-push async SIGTERM while waiting: the children are stopped before their markers" \
    eval 'test -n "$cb" && test -n "$cc" && stopped $cb $cc'
t0=$(date +%s)
rc=0
as_pg timeout 30 env -C "$FAKE" COFFRE_INJECT="wal-push-waiting=term" "$COFFRE" --config "$CONF" wal-push "pg_wal/$B" \
    >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
t1=$(date +%s)
is "$rc" "8" "wal-push async SIGTERM while waiting for a child: exit status 8"
like "$(cat "$TEST_TMP/err")" "injection point \"wal-push-waiting\"" "wal-push async SIGTERM while waiting: the fault was injected at its stage"
like "$(cat "$TEST_TMP/err")" "interrupted by signal SIGTERM" "wal-push async SIGTERM while waiting: the error names the signal"
ok "wal-push async SIGTERM while waiting: it exits at once ($((t1 - t0)) s)" test $((t1 - t0)) -le 5
kill -CONT "$cb" "$cc"
ok "wal-push async SIGTERM while waiting: the children end" wait_children
for s in "$B" "$C"; do
    run_ok "wal-push async SIGTERM while waiting: the archiver's call for $s succeeds" P "$s" -v
    like "$(cat "$LAST_ERR")" "was archived by an async push" "wal-push async SIGTERM while waiting: $s from the child's marker"
    done_seg "$s"
done
ok "wal-push async SIGTERM while waiting: every segment is served, byte-identical" served "$A" "$B" "$C"

# ---- a real archiver whose children are killed at K4 ------------------------------
pg_init src
pg_conf src "archive_mode = on" "archive_timeout = 0" "wal_keep_size = 256MB" \
    "archive_command = 'while [ -e $TEST_TMP/hold ]; do sleep 0.1; done; COFFRE_INJECT=wal-push-marker-before=kill $COFFRE --config $CONF wal-push %p'"
pg_start src
sed "s|^conninfo = .*|conninfo = $SRC_CONNINFO|" "$CONF" >"$CONF.pg"
mv "$CONF.pg" "$CONF"
pg_owns "$CONF"
wait_archived() {
    for _ in $(seq 1 240); do
        [ "$(psql_at src -c "select archived_count from pg_stat_archiver")" -ge "$1" ] && return 0
        sleep 0.5
    done
    return 1
}
run_ok "real archiver: backup --physical" C backup --physical
before=$(psql_at src -c "select archived_count from pg_stat_archiver")
claims_before=$(find "$SPOOL/pushed" -name '0000000100*.inflight' | wc -l)
# the archiver held (its command waits while $TEST_TMP/hold exists) while 8
# segments fill up: its next call finds them ready and starts children
psql_at src -c "create table t (g int, v text)"
touch "$TEST_TMP/hold"
for _ in $(seq 1 8); do
    psql_at src -c "insert into t select g, md5(g::text) from generate_series(1, 20000) g" >/dev/null
    psql_at src -c "select pg_switch_wal()" >/dev/null
done
rm -f "$TEST_TMP/hold"
ok "real archiver: the server archived every segment" \
    wait_archived $((before + 8))
is "$(psql_at src -c "select failed_count from pg_stat_archiver")" "0" "real archiver: no archive_command failed"
ok "real archiver: the children end" wait_children
n_killed=$(($(find "$SPOOL/pushed" -name '0000000100*.inflight' | wc -l) - claims_before))
ok "real archiver: children were killed at K4 ($n_killed claims left, no marker)" \
    eval 'test "$n_killed" -gt 0 && test -z "$(find "$SPOOL/pushed" -name "0000000100*" ! -name "*.inflight")"'
like "$(cat "$SRC_LOG")" "was already archived (same sha256)" "real archiver: a killed child's segment was pushed again by the archiver's call"
done_segs=$(cd "$SRC_PGDATA/pg_wal/archive_status" && ls -- *.done | sed 's/\.done$//' | grep -E '^[0-9A-F]{24}$')
n_bad=0
for s in $done_segs; do
    rm -f "$TEST_TMP/got/$s"
    if ! C wal-get "$s" "$TEST_TMP/got/$s" >/dev/null 2>&1 || ! cmp -s "$TEST_TMP/got/$s" "$SRC_PGDATA/pg_wal/$s"; then
        n_bad=$((n_bad + 1))
    fi
done
is "$n_bad" "0" "real archiver: every segment marked done ($(echo "$done_segs" | wc -l)) is served, byte-identical"
run_ok "real archiver: verify --wal passes" C verify --wal
like "$(cat "$LAST_OUT")" "WAL continuous from" "real archiver: the archive is continuous"

done_testing
