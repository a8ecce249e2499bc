#!/bin/bash
# test_88_physical_repo_faults -- the fault matrix (docs/reliability.md), the
# repository and PostgreSQL columns for backup --physical on posix: the
# repository turning read-only between two tar streams (REFUSE), full during
# one (FULL), and the server restarted during one (PG); then a drill whose
# record the read-only or full repository cannot take.  As in test_42, the
# backup is stopped at a stage (injection point, action "stop"), the fault is
# made, then the backup goes on.  As in test_80, the server archives with
# `coffre wal-push` as postgres, so every coffre command runs as postgres.
# Needs root (tmpfs mounts).
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"
plan_start "test_88_physical_repo_faults: read-only and full repository, server restart, physical"

needs_injection_points
if [ "$(id -u)" != 0 ]; then
    skip_all "needs root to mount a tmpfs repository"
fi
COFFRE=$(readlink -f "$COFFRE")
chown postgres "$TEST_TMP"
MNT="$TEST_TMP/mnt"
mkdir -p "$MNT"
mount -t tmpfs -o size=192m tmpfs "$MNT" || skip_all "cannot mount a tmpfs here"
on_exit "umount '$MNT'"
REPO="$MNT/repo"
hsm_init
hsm_token coffre 4321
CONF="$TEST_TMP/coffre.conf"
mkdir -p "$REPO" "$TEST_TMP/ts1" "$TEST_TMP/spool"
INSTANCE=acme CONNINFO="placeholder" REPO="$REPO" STATE_DIR="$TEST_TMP/spool" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$CONF.tmpl"
pg_owns "$HSM_DIR" "$MNT" "$REPO" "$TEST_TMP/ts1" "$TEST_TMP/spool"
chmod 755 "$HSM_DIR"

pg_init src
pg_conf src "archive_mode = on" \
    "archive_command = '$COFFRE --config $CONF wal-push %p'"
pg_start src
sed "s|^conninfo = .*|conninfo = $SRC_CONNINFO|" "$CONF.tmpl" >"$CONF"
printf '\n[wal]\narchive_timeout = 60s\n\n[retention]\nstale_after = 1s\n' >>"$CONF"
pg_owns "$CONF"
C() { as_pg "$COFFRE" --config "$CONF" "$@"; }
run_ok "keys init" C keys init

# two tar streams (base and the tablespace), so that a stage falls between them
psql_at src -c "CREATE TABLESPACE ts1 LOCATION '$TEST_TMP/ts1'"
psql_at src -c "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 100000) g"
psql_at src -c "CREATE TABLE in_ts TABLESPACE ts1 AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 100000) g"
run_ok "a first good backup --physical" C backup --physical

# no base backup left running on the server after the backup failed
no_backup_running() {
    local n=""
    for _ in $(seq 1 50); do
        n=$(psql_at src -c "SELECT count(*) FROM pg_stat_progress_basebackup")
        [ "$n" = 0 ] && return 0
        sleep 0.2
    done
    return 1
}
# paused POINT FAULT_COMMAND...: a backup --physical stopped at POINT while the
# fault is made, then resumed; its status in $rc, its output in $TEST_TMP/out, err
paused() {
    local point=$1
    shift
    sleep 1 # a new backup id
    # setpriv execs: the pid stop_at holds is coffre's own
    stop_at "$point" setpriv --reuid=postgres --regid=postgres --init-groups \
        "$COFFRE" --config "$CONF" backup --physical
    "$@"
    resume
}
# after_failure LABEL: nothing new listed, the leftovers pruned, the next backup good
after_failure() {
    is "$(complete_ids)" "$before" "$1: nothing new is listed as complete"
    ok "$1: the server's base backup ended" no_backup_running
    sleep 2.1
    run_ok "$1: prune" C prune
    unlike "$(C list)" "incomplete" "$1: prune removed the leftover"
    is "$(tmp_files)" "0" "$1: no temporary file after prune"
    run_ok "$1: the next backup --physical succeeds" C backup --physical
    run_ok "$1: and verifies" C verify "$(tail -n 1 "$LAST_OUT")"
}

# ---- REFUSE: the repository turns read-only between the two tar streams --------
before=$(complete_ids)
paused put-done@1 mount -o remount,ro "$MNT"
mount -o remount,rw "$MNT"
is "$rc" "5" "backup --physical REFUSE: fails (exit 5)"
like "$(cat "$TEST_TMP/err")" "Read-only file system" "backup --physical REFUSE: the error names the cause"
like "$(cat "$TEST_TMP/err")" "not completed and is not restorable" \
    "backup --physical REFUSE: says the backup is not restorable"
after_failure "backup --physical REFUSE"

# ---- FULL: the repository fills up during the first tar stream ------------------
before=$(complete_ids)
filler() { dd if=/dev/zero of="$MNT/filler" bs=1M status=none 2>/dev/null || true; }
paused pump-mid@1 filler
rm -f "$MNT/filler"
is "$rc" "5" "backup --physical FULL: fails (exit 5)"
like "$(cat "$TEST_TMP/err")" "No space left on device" "backup --physical FULL: the error names the cause"
like "$(cat "$TEST_TMP/err")" "Free space in the repository" "backup --physical FULL: the hint says what to do"
like "$(cat "$TEST_TMP/err")" "not completed and is not restorable" \
    "backup --physical FULL: says the backup is not restorable"
is "$(tmp_files)" "0" "backup --physical FULL: no temporary file is left"
after_failure "backup --physical FULL"

# ---- PG: the server restarts during the first tar stream ------------------------
before=$(complete_ids)
paused pump-mid@1 pg_restart src
is "$rc" "7" "backup --physical PG restart: fails (exit 7)"
like "$(cat "$TEST_TMP/err")" "not completed and is not restorable" \
    "backup --physical PG restart: says the backup is not restorable"
after_failure "backup --physical PG restart"


# ---- drill, REFUSE and FULL: the drill's record cannot be stored ---------------
# the drill reads the repository, restores and checks; only its evidence (the
# drill record, kept with the backup) cannot be written: exit 0 with the record
# warning (docs/drill.md), nothing half-written, the next drill records
run_ok "a logical backup to drill" C backup
drecords() { find "$REPO" -name 'drill-*' ! -name '.*' -type f | wc -l; }
drill_cell() { # LABEL CAUSE MAKE UNDO
    local label=$1 cause=$2 make=$3 undo=$4 n0
    n0=$(drecords)
    sleep 1 # a new record name
    $make
    _run C drill --scenario simple
    $undo
    is "$LAST_RC" "0" "$label: every check passed: exit 0"
    like "$(cat "$LAST_OUT")" "warning record: the drill record could not be stored" \
        "$label: the report warns that the record could not be stored"
    like "$(cat "$LAST_OUT")" "$cause" "$label: the warning names the cause"
    is "$(drecords)" "$n0" "$label: no drill record stored"
    is "$(tmp_files)" "0" "$label: no temporary file left"
    is "$(pgrep -f "postgres -D $TEST_TMP/spool/[d]rill/" | wc -l)" "0" "$label: no scratch server left running"
    run_ok "$label: the next drill passes" C drill --scenario simple
    is "$(drecords)" "$((n0 + 1))" "$label: and records it"
}
ro() { mount -o remount,ro "$MNT"; }
rw() { mount -o remount,rw "$MNT"; }
fill() { dd if=/dev/zero of="$MNT/filler" bs=1M status=none 2>/dev/null || true; }
unfill() { rm -f "$MNT/filler"; }
drill_cell "drill REFUSE" "Read-only file system" ro rw
drill_cell "drill FULL" "No space left on device" fill unfill

done_testing
