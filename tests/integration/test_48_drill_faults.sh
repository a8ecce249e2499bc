#!/bin/bash
# test_48_drill_faults -- the fault matrix (docs/reliability.md), drill row:
# `coffre drill --scenario simple,partial` (a logical backup of one database)
# killed with SIGKILL or SIGTERM at each stage (injection points), and with
# the HSM failing mid-run (tests/p11shim).  Each cell proves: no drill is
# recorded as passed that did not run to the end (--history, the records in
# the repository, the metrics, the JUnit file), what is left behind (a killed
# drill leaves its scratch server running: the next drill stops and removes
# it, and says so), the next drill succeeds, and, where coffre can speak, the
# exit status and the error name the fault.
#
# Every coffre runs as the postgres user (PostgreSQL refuses root) through
# setpriv, which execs: the pid the test holds is coffre's own.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"
plan_start "test_48_drill_faults: drill killed, stopped, or losing its HSM"

needs_injection_points
COFFRE=$(readlink -f "$COFFRE")
SHIM="$(dirname "$COFFRE")/tests/p11shim.so"
[ -f "$SHIM" ] || bail_out "$SHIM is missing (make unit builds it)"
[ "$(id -u)" != 0 ] || chown postgres "$TEST_TMP"

pg_start src
psql_at src -c "CREATE DATABASE app"
psql_at src app -c "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 300000) g"
psql_at src app -c "CREATE INDEX ON t (v)"
hsm_init
hsm_token coffre 4321
export COFFRE_P11SHIM_MODULE="$SOFTHSM_MODULE" COFFRE_P11SHIM_FAIL="$TEST_TMP/hsm-removed"
REPO="$TEST_TMP/repo"
STATE="$TEST_TMP/state"
OUT="$TEST_TMP/evidence"
CONF="$TEST_TMP/coffre.conf"
mkdir -p "$REPO" "$STATE" "$OUT"
INSTANCE=acme CONNINFO="$(pg_conninfo src app)" DATABASES="app" REPO="$REPO" MODULE="$SHIM" \
STATE_DIR="$STATE" KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$CONF"
printf '\n[metrics]\ntextfile = %s\nstate_dir = %s\n' "$OUT/coffre.prom" "$STATE/metrics" >>"$CONF"
pg_owns "$HSM_DIR" "$REPO" "$STATE" "$OUT" "$CONF"
chmod 755 "$HSM_DIR"

# coffre as postgres, exec'd (no runuser between: $! is coffre); the environment is kept
if [ "$(id -u)" = 0 ]; then
    PGU=(setpriv --reuid=postgres --regid=postgres --init-groups)
else
    PGU=()
fi
C() { "${PGU[@]}" "$COFFRE" --config "$CONF" "$@"; }

run_ok "keys init through the shim" C keys init
run_ok "a logical backup to drill" C backup
BID=$(cat "$LAST_OUT")
run_ok "a first drill passes" C drill --scenario simple,partial
like "$(cat "$LAST_OUT")" "passed (" "the first drill says passed"

# what the repository and the state say about drills
records() { find "$REPO/acme/backup/${RID:-$BID}" -name 'drill-*' | wc -l; }
history_passed() { C drill --history | grep -c ' passed ' || true; }
history_lines() { C drill --history | awk 'NR > 1' | wc -l; }
last_success() { sed -n 's/^coffre_drill_last_success_timestamp_seconds{[^}]*} //p' "$OUT/coffre.prom"; }
# [d]: the pattern must not match the shell that runs pgrep
# postmasters: a backend just forked still shows the postmaster's command line
# (under load, long enough to be counted), so a process whose parent matches is not one
servers() {
    local n=0 p pp
    for p in $(pgrep -f "postgres -D $STATE/[d]rill/"); do
        pp=$(ps -o ppid= -p "$p" | tr -d ' ')
        [ -n "$pp" ] || continue # gone meanwhile
        tr '\0' ' ' <"/proc/$pp/cmdline" 2>/dev/null | grep -q "postgres -D $STATE/drill/" || n=$((n + 1))
    done
    echo "$n"
}
procs() { pgrep -f "$STATE/[d]rill/" | wc -l; }                 # any process from a drill directory
restorers() { pgrep -f "pg_restore .*$STATE/[d]rill/" | wc -l; }
drill_dirs() { ls -A "$STATE/drill" 2>/dev/null | wc -l; }

# snapshot: what a cell must not change
snapshot() {
    R0=$(records)
    H0=$(history_passed)
    L0=$(history_lines)
    S0=$(last_success)
    sleep 1 # the next drill's record gets a new name (one per second)
}

# nothing_recorded LABEL: the interrupted drill recorded nothing, passed or not
nothing_recorded() {
    local label=$1
    is "$(records)" "$R0" "$label: no drill record stored"
    is "$(history_lines)" "$L0" "$label: --history lists no new drill"
    is "$(last_success)" "$S0" "$label: the metrics' last success is unchanged"
}

# k5_consistent LABEL: the two records a drill stored just before it was
# stopped say what it found: simple and partial of $BID, every check passed,
# no problem; and the metrics, which the stopped run never wrote, do not count
# it as a success
k5_consistent() {
    local label=$1
    C drill --history --json >"$TEST_TMP/history.json"
    ok "$label: the stored records are complete and consistent" python3 -c "
import json, sys
v = json.load(open('$TEST_TMP/history.json'))
last = max(r['time'] for r in v)
new = [r for r in v if r['time'] == last]
assert sorted(r['scenario'] for r in new) == ['partial', 'simple'], new
for r in new:
    assert r['backup'] == '$BID' and r['ok'] is True and r['failed'] == 0 and r['checks'] > 0, r
    assert r['problem'] is None, r"
    is "$(last_success)" "$S0" "$label: the metrics' last success is unchanged (the run never ended)"
}

# junit_not_passed LABEL FILE: absent, or it does not say passed
junit_not_passed() {
    local label=$1 file=$2
    if [ ! -e "$file" ]; then
        pass "$label: no JUnit file written"
        return
    fi
    ok "$label: the JUnit file does not say passed" python3 -c "
import sys, xml.etree.ElementTree as ET
r = ET.parse('$file').getroot()
sys.exit(0 if int(r.get('failures')) > 0 or r.findall('.//error') else 1)"
}

# left_by_kill LABEL: a kill -9 leaves the drill's directory and its scratch
# server running (the postmaster is a child of coffre in its own session);
# sets LEFT to the directory's name, <time>-<pid of the killed coffre>
left_by_kill() {
    local label=$1
    is "$(drill_dirs)" "1" "$label: the killed drill left its directory"
    is "$(servers)" "1" "$label: and its scratch server running"
    LEFT=$(ls "$STATE/drill")
}

# next_drill LABEL: the next drill succeeds, and leaves nothing behind; after
# a kill ($LEFT set), it stopped and removed what the killed drill left, and said so
next_drill() {
    local label=$1
    run_ok "$label: the next drill passes" C drill --scenario "${NEXT:-simple}"
    if [ -n "${LEFT:-}" ]; then
        like "$(cat "$LAST_ERR")" "removed \"$STATE/drill/$LEFT\", left by drill process ${LEFT##*-} that did not end; stopped its scratch server, pid " \
            "$label: the next drill names the leftover it stopped and removed"
    fi
    LEFT=
    ok "$label: after the next drill, no process runs from a drill directory" test "$(procs)" = 0
    ok "$label: after the next drill, no drill directory left" test "$(drill_dirs)" = 0
    is "$(history_passed)" "$((H0 + 1))" "$label: --history has one more passed drill, the next one"
}

# shellcheck disable=SC2054 # "simple,partial" is one argument
DRILL=(drill --scenario simple,partial --junit "$OUT/cell.xml")

# stopped_drill POINT: a drill started in the background, stopped at POINT
# ($STOPPED_PID is coffre itself: setpriv execs)
stopped_drill() {
    rm -f "$OUT/cell.xml"
    stop_at "$1" "${PGU[@]}" "$COFFRE" --config "$CONF" "${DRILL[@]}"
}

# signal_mid_restore SIGNAL: the drill stopped once its archive is fetched,
# resumed, and sent SIGNAL while pg_restore runs into the scratch server (K2)
signal_mid_restore() {
    local sig=$1 seen=0
    stopped_drill restore-fetched
    kill -CONT "$STOPPED_PID"
    for _ in $(seq 1 500); do
        if pgrep -P "$STOPPED_PID" -x pg_restore >/dev/null; then
            seen=1
            break
        fi
        sleep 0.01
    done
    kill "-$sig" "$STOPPED_PID" 2>/dev/null || true
    rc=0
    wait "$STOPPED_PID" || rc=$?
    ok "drill K2 $sig: the signal came while pg_restore ran into the scratch server" test "$seen" = 1
}

# ------------------------------------------------------------- kill -9 at each stage
for cell in "K1:drill-scenario-start@1" "K2:" "K3:drill-scenario-start@2" "K4:drill-before-records" \
    "K5:drill-after-records"; do
    k=${cell%%:*} spec=${cell#*:}
    label="drill $k kill -9"
    snapshot
    rm -f "$OUT/cell.xml"
    if [ "$k" = K2 ]; then
        signal_mid_restore KILL
        is "$rc" "137" "$label: exit status 137"
    else
        inject "$label" "$spec=kill" 137 -- C "${DRILL[@]}"
    fi
    left_by_kill "$label"
    if [ "$k" = K2 ]; then
        diag "$label: $(restorers) pg_restore process(es) go on, orphaned, into the scratch server"
    fi
    if [ "$k" = K5 ]; then
        is "$(records)" "$((R0 + 2))" "$label: both scenarios' records were stored"
        is "$(history_passed)" "$((H0 + 2))" "$label: --history says both passed (they ran to the end)"
        k5_consistent "$label"
        H0=$((H0 + 2))
    else
        nothing_recorded "$label"
    fi
    junit_not_passed "$label" "$OUT/cell.xml"
    next_drill "$label"
done

# ------------------------------------------------------------- SIGTERM at each stage
# coffre lives: exit 8 naming the signal, the report says INTERRUPTED, and it
# stops and removes what it started itself
for cell in "K1:drill-scenario-start@1" "K2:" "K3:drill-scenario-start@2" "K4:drill-before-records" \
    "K5:drill-after-records"; do
    k=${cell%%:*} spec=${cell#*:}
    label="drill $k SIGTERM"
    snapshot
    rm -f "$OUT/cell.xml"
    if [ "$k" = K2 ]; then
        signal_mid_restore TERM
        is "$rc" "8" "$label: exit status 8"
    else
        inject "$label" "$spec=term" 8 -- C "${DRILL[@]}"
    fi
    like "$(cat "$TEST_TMP/err")" "interrupted by signal SIGTERM" "$label: the error names the signal"
    like "$(cat "$TEST_TMP/out")" "INTERRUPTED" "$label: the report says interrupted"
    unlike "$(cat "$TEST_TMP/out")" "passed (" "$label: the report does not say passed"
    ok "$label: no process runs from a drill directory" test "$(procs)" = 0
    ok "$label: no drill directory left" test "$(drill_dirs)" = 0
    if [ "$k" = K5 ]; then
        is "$(records)" "$((R0 + 2))" "$label: both scenarios' records were stored before the signal"
        is "$(history_passed)" "$((H0 + 2))" "$label: --history says both passed (they ran to the end)"
        k5_consistent "$label"
        H0=$((H0 + 2))
    else
        nothing_recorded "$label"
        junit_not_passed "$label" "$OUT/cell.xml"
    fi
    next_drill "$label"
done

# ------------------------------------------------------------- the HSM fails mid-run
# removed_at POINT: the drill stopped at POINT, the HSM removed, the drill
# resumed; status in $rc, output in $TEST_TMP/out and err; the HSM is back afterwards
removed_at() {
    stopped_drill "$1"
    touch "$COFFRE_P11SHIM_FAIL"
    resume
    rm -f "$COFFRE_P11SHIM_FAIL"
}
# K1 (before the integrity check) and K3 (simple passed, partial's restore
# next): a key problem is no verdict on the backup, so the drill stops with
# the key's error, exit 4, and records nothing (the HSM is also needed to
# store a record)
for cell in "K1:drill-scenario-start@1" "K3:drill-scenario-start@2"; do
    k=${cell%%:*} spec=${cell#*:}
    label="drill, HSM removed at $k"
    snapshot
    removed_at "$spec"
    is "$rc" "4" "$label: exit status 4"
    like "$(cat "$TEST_TMP/err")" "CKR_DEVICE_REMOVED" "$label: the error names the module's answer"
    unlike "$(cat "$TEST_TMP/err")" "drill checks failed" "$label: it is not reported as failed checks"
    unlike "$(cat "$TEST_TMP/out")" "passed (" "$label: the report does not say passed"
    ok "$label: no process runs from a drill directory" test "$(procs)" = 0
    ok "$label: no drill directory left" test "$(drill_dirs)" = 0
    nothing_recorded "$label"
    junit_not_passed "$label" "$OUT/cell.xml"
    next_drill "$label"
done
# K4: every check passed, the records cannot be stored: the drill ran to the
# end, and says what it could not keep (the `record` warning, docs/drill.md)
label="drill, HSM removed at K4"
snapshot
removed_at drill-before-records
is "$rc" "0" "$label: every check passed: exit 0"
like "$(cat "$TEST_TMP/out")" "warning record: the drill record could not be stored with backup $BID: " \
    "$label: the report warns that the record could not be stored"
like "$(cat "$TEST_TMP/out")" "CKR_DEVICE_REMOVED" "$label: the warning names the module's answer"
is "$(records)" "$R0" "$label: no drill record stored"
is "$(history_lines)" "$L0" "$label: --history lists no new drill"
ok "$label: no process runs from a drill directory" test "$(procs)" = 0
ok "$label: no drill directory left" test "$(drill_dirs)" = 0
next_drill "$label"

# ------------------------------------------------------------- the scratch server dies mid-run
# PG: the drill stopped once the database is restored into the scratch server
# (before its rename), the scratch postmaster killed, the drill resumed
label="drill, scratch server killed"
snapshot
stopped_drill restore-before-rename
pm=$(head -1 "$STATE"/drill/*/logical/data/postmaster.pid)
kill -9 "$pm"
resume
is "$rc" "7" "$label: exit status 7 (PostgreSQL), not 9: the backup was not judged"
like "$(cat "$TEST_TMP/err")" "the drill's scratch server stopped answering during the restore or the checks of database \"app\"" \
    "$label: the error names the fault"
unlike "$(cat "$TEST_TMP/err")" "drill checks failed" "$label: it is not reported as failed checks"
nothing_recorded "$label"
junit_not_passed "$label" "$OUT/cell.xml"
ok "$label: no process runs from a drill directory" test "$(procs)" = 0
ok "$label: no drill directory left" test "$(drill_dirs)" = 0
next_drill "$label"

# ------------------------------------------------------------- the repository refuses the records
# REFUSE: stopped at K4, the backup's directory made read-only for the drill's
# user, resumed: the drill ran to the end, only its evidence could
# not be kept (the `record` warning of docs/drill.md)
label="drill, repository refusing the records"
snapshot
stopped_drill drill-before-records
chmod a-w "$REPO/acme/backup/$BID"
resume
chmod u+w "$REPO/acme/backup/$BID"
is "$rc" "0" "$label: every check passed: exit 0"
like "$(cat "$TEST_TMP/out")" "warning record: the drill record could not be stored with backup $BID: " \
    "$label: the report warns that the record could not be stored"
like "$(cat "$TEST_TMP/out")" "Permission denied" "$label: the warning names the cause"
is "$(records)" "$R0" "$label: no drill record stored"
is "$(history_lines)" "$L0" "$label: --history lists no new drill"
ok "$label: no temporary file left in the backup" \
    sh -c "[ -z \"\$(find '$REPO/acme/backup/$BID' -name '.*' -type f)\" ]"
ok "$label: no process runs from a drill directory" test "$(procs)" = 0
next_drill "$label"

# ------------------------------------------------------------- --keep stays the operator's
# the clean-up of killed drills must not touch a directory that --keep left on purpose
label="a drill run with --keep"
run_ok "$label" C drill --scenario simple --keep
kept=$(ls "$STATE/drill")
run_ok "$label: the next drill passes" C drill --scenario simple
unlike "$(cat "$LAST_ERR")" "left by drill process" "$label: the next drill does not take it for a leftover"
is "$(ls "$STATE/drill")" "$kept" "$label: its directory is still there"
is "$(servers)" "1" "$label: its scratch server still runs"
for d in "$STATE"/drill/*/logical/data; do
    "${PGU[@]}" "$PG_BIN/pg_ctl" -D "$d" stop -m immediate >/dev/null 2>&1 || true
done
rm -rf "$STATE/drill"

# ------------------------------------------------------------- total: a restored server killed
# The physical scenarios run their restored server from <drill dir>/<scenario>/data:
# a drill killed while it runs leaves it there, which the next drill must find too.
# K2 for total: drill-server-started, the restored server started, in recovery.
pg_conf src "archive_mode = on" "archive_command = '$COFFRE --config $CONF wal-push %p'"
pg_restart src
run_ok "a physical backup to drill" C backup --physical
RID=$(cat "$LAST_OUT")
NEXT=total
label="drill total K2 kill -9"
snapshot
rm -f "$OUT/cell.xml"
inject "$label" "drill-server-started=kill" 137 -- C drill --scenario total --junit "$OUT/cell.xml"
left_by_kill "$label"
nothing_recorded "$label"
junit_not_passed "$label" "$OUT/cell.xml"
next_drill "$label"
label="drill total K2 SIGTERM"
snapshot
rm -f "$OUT/cell.xml"
inject "$label" "drill-server-started=term" 8 -- C drill --scenario total --junit "$OUT/cell.xml"
like "$(cat "$TEST_TMP/err")" "interrupted by signal SIGTERM" "$label: the error names the signal"
ok "$label: no process runs from a drill directory" test "$(procs)" = 0
ok "$label: no drill directory left" test "$(drill_dirs)" = 0
nothing_recorded "$label"
junit_not_passed "$label" "$OUT/cell.xml"
next_drill "$label"

done_testing
