#!/bin/bash
# test_41_faults -- the fault matrix (docs/reliability.md) for the commands that
# work on one posix repository: backup (logical), verify, prune and restore
# (logical), each killed with SIGKILL and stopped with SIGTERM at every stage.
#
# The stages are reached with the injection points of the sanitizer build
# (common/inject.h): COFFRE_INJECT="point[@n]=kill|term" makes coffre kill
# itself exactly there, so no cell depends on timing.  Every cell checks the
# four rules: no incomplete backup listed as complete (nor a verification
# recorded that did not end), no half-restored target, the next run succeeds,
# and the error (or, after kill -9, the next command) names the fault.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"
plan_start "test_41_faults: kill -9 and SIGTERM at every stage"

needs_injection_points

two_db_source "$TEST_TMP/repo"
C() { "$COFFRE" --config "$TEST_TMP/coffre.conf" "$@"; }
C keys init >/dev/null

run_ok "a first good backup" C backup
GOOD=$(cat "$LAST_OUT")

# ---- backup (logical) -------------------------------------------------------
# K1 before the first object, K2 mid-object, K3 between objects (app stored,
# app2 not started), K4 before the manifest, K5 after it.
for cell in "K1 backup-start" "K2 pump-mid@1" "K3 put-done@1" "K4 manifest-before" "K5 manifest-after"; do
    set -- $cell
    col=$1 point=$2
    before=$(complete_ids)
    sleep 1 # a new backup id (ids are start times)
    inject "backup $col kill -9" "$point=kill" 137 -- C backup
    after=$(complete_ids)
    if [ "$col" = K5 ]; then
        # the manifest is stored: the backup is complete, and it is whole
        new=$(comm -13 <(echo "$before") <(echo "$after"))
        is "$(echo "$new" | grep -c .)" "1" "backup $col kill -9: the backup whose manifest was stored is listed"
        run_ok "backup $col kill -9: and it verifies" C verify "$new"
    else
        is "$after" "$before" "backup $col kill -9: nothing new is listed as complete"
        if [ "$col" != K1 ]; then
            # K2 leaves only the temporary file of the first dump (list does
            # not show it); K3 and K4 leave stored objects and no manifest
            run_ok "backup $col kill -9: list" C list
            if [ "$col" = K2 ]; then
                unlike "$(cat "$LAST_OUT")" "incomplete" "backup $col kill -9: a temporary file is not a backup"
            else
                like "$(cat "$LAST_OUT")" "incomplete" "backup $col kill -9: list names the leftover incomplete"
            fi
            sleep 2.1
            run_ok "backup $col kill -9: prune" C prune
            if [ "$col" = K2 ]; then
                like "$(grep 'aborted unfinished upload of acme/backup/' "$LAST_OUT")" "/db/app.dump" \
                    "backup $col kill -9: prune names and removes the unfinished write"
            else
                like "$(cat "$LAST_OUT")" "incomplete" "backup $col kill -9: prune names and removes the leftover"
            fi
            unlike "$(C list)" "incomplete" "backup $col kill -9: no leftover after prune"
            is "$(tmp_files)" "0" "backup $col kill -9: no temporary file after prune"
        fi
    fi
    run_ok "backup $col kill -9: the next backup succeeds" C backup
    run_ok "backup $col kill -9: and verifies" C verify "$(cat "$LAST_OUT")"
done

for cell in "K1 backup-start" "K2 pump-mid@1" "K3 put-done@1" "K4 manifest-before"; do
    set -- $cell
    col=$1 point=$2
    before=$(complete_ids)
    sleep 1
    inject "backup $col SIGTERM" "$point=term" 8 -- C backup
    like "$(cat "$TEST_TMP/err")" "interrupted by signal SIGTERM" "backup $col SIGTERM: the error names the signal"
    like "$(cat "$TEST_TMP/err")" "not completed and is not restorable" "backup $col SIGTERM: says the backup is not restorable"
    is "$(complete_ids)" "$before" "backup $col SIGTERM: nothing new is listed as complete"
    unlike "$(C list)" "incomplete" "backup $col SIGTERM: no leftover object"
    is "$(tmp_files)" "0" "backup $col SIGTERM: no temporary file"
    run_ok "backup $col SIGTERM: the next backup succeeds" C backup
done
# K5: SIGTERM once the manifest is stored: the backup is complete, and says so
before=$(complete_ids)
sleep 1
inject "backup K5 SIGTERM" "manifest-after=term" 0 -- C backup
ID=$(cat "$TEST_TMP/out")
ok "backup K5 SIGTERM: the completed backup's id is printed" test -n "$ID"
like "$(complete_ids)" "$ID" "backup K5 SIGTERM: it is listed"
run_ok "backup K5 SIGTERM: and it verifies" C verify "$ID"

# ---- CLOCK: hosts a day apart --------------------------------------------------
# prune treats an incomplete backup older than stale_after (1 day) as the
# leftover of a dead one.  A backup is stopped after its first object while a
# prune runs on a clock a day off (libfaketime), then goes on.
FAKETIME_LIB=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketimeMT\.so\.1$' | head -1)
[ -n "$FAKETIME_LIB" ] || bail_out "libfaketime is not installed (make deps)"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" # it is preloaded
# file dates come from the repository's file system, whose clock is right
export NO_FAKE_STAT=1
grep -v '^stale_after' "$TEST_TMP/coffre.conf" >"$TEST_TMP/clock.conf"
clock_cell() { # LABEL BACKUP_OFFSET PRUNE_OFFSET
    local label=$1
    before=$(complete_ids)
    sleep 1
    stop_at put-done@1 env LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$2" \
        "$COFFRE" --config "$TEST_TMP/clock.conf" backup
    pass "$label: the backup is stopped after its first object"
    sleep 2
    run_ok "$label: prune runs meanwhile" env LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$3" \
        "$COFFRE" --config "$TEST_TMP/clock.conf" prune
    cp "$LAST_OUT" "$TEST_TMP/prune.out"
    resume
}
# the backup's host is a day behind: its id says a day ago, but the storage
# dates its objects now, so prune (right on time) keeps it
clock_cell "CLOCK backup host a day behind" -1d +0
like "$(cat "$TEST_TMP/prune.out")" "kept: incomplete but recent" "CLOCK backup host a day behind: prune keeps the running backup"
is "$rc" "0" "CLOCK backup host a day behind: the backup completes"
new=$(comm -13 <(echo "$before") <(complete_ids))
is "$(echo "$new" | grep -c .)" "1" "CLOCK backup host a day behind: it is listed"
run_ok "CLOCK backup host a day behind: and it verifies" C verify "$new"
# the prune's host is a day ahead: nothing tells it the backup still runs, so
# it deletes the first object; the backup must then fail, not vouch for it
clock_cell "CLOCK prune host a day ahead" +0 +1d
like "$(cat "$TEST_TMP/prune.out")" "incomplete" "CLOCK prune host a day ahead: prune takes the running backup for a leftover"
is "$rc" "6" "CLOCK prune host a day ahead: the backup fails (exit 6)"
like "$(cat "$TEST_TMP/err")" "is no longer in the repository" "CLOCK prune host a day ahead: the error names the vanished object"
like "$(cat "$TEST_TMP/err")" "compare the clocks" "CLOCK prune host a day ahead: the hint names the clocks"
is "$(complete_ids)" "$before" "CLOCK prune host a day ahead: nothing new is listed as complete"
run_ok "CLOCK: the next backup succeeds" C backup
run_ok "CLOCK: and verifies" C verify "$(cat "$LAST_OUT")"

# ---- verify -----------------------------------------------------------------
# a record is written only for a verification that ended: after any kill or
# signal before it, the backup's last verification is still the earlier one
run_ok "verify: a first record" C verify "$GOOD"
records() { find "$REPO/acme/backup/$GOOD" -name 'verify-*' | wc -l; }
n0=$(records)
for cell in "K1 verify-start" "K2 pump-mid@1" "K3 get-done@1" "K4 verify-before-record"; do
    set -- $cell
    inject "verify $1 kill -9" "$2=kill" 137 -- C verify "$GOOD"
    is "$(records)" "$n0" "verify $1 kill -9: no verification record is written"
    is "$(tmp_files)" "0" "verify $1 kill -9: no temporary file"
    inject "verify $1 SIGTERM" "$2=term" 8 -- C verify "$GOOD"
    like "$(cat "$TEST_TMP/err")" "interrupted by signal SIGTERM" "verify $1 SIGTERM: the error names the signal"
    is "$(records)" "$n0" "verify $1 SIGTERM: no verification record is written"
done
inject "verify K5 kill -9" "verify-after-record=kill" 137 -- C verify "$GOOD"
is "$(records)" "$((n0 + 1))" "verify K5 kill -9: the ended verification is recorded"
run_ok "verify: the next verification succeeds" C verify --all
run_ok "verify: status reads the records" C status
unlike "$(cat "$LAST_OUT")" "failed" "verify: no backup counts as failed"

# ---- prune ------------------------------------------------------------------
# a policy where every backup but the newest expires.  The manifest is
# deleted first: K5 (manifest gone, objects not yet) is the first deletion,
# K2 (objects partly deleted) the second, K3 after a whole backup; K4 (before
# a backup's manifest) is the same instant as K1 or K3
{ cat "$TEST_TMP/coffre.conf"; printf 'daily = 0\nweekly = 0\nmonthly = 0\nmin_keep = 1\n'; } \
    >"$TEST_TMP/expire.conf"
E() { "$COFFRE" --config "$TEST_TMP/expire.conf" "$@"; }
newest=$(complete_ids | tail -1)
for cell in "K1 prune-start" "K5 prune-deleted@1" "K3 prune-backup-done@1" "K2 prune-deleted@2"; do
    set -- $cell
    # the leftovers of the cell before are stale after a second (two: dates are whole seconds): cleaned
    # here, so that the cell's prune starts with the oldest complete backup
    sleep 2.1
    run_ok "prune $1: leftovers of the cell before are cleaned" C prune
    before=$(complete_ids | wc -l)
    inject "prune $1 kill -9" "$2=kill" 137 -- E prune
    case $1 in
    K1) is "$(complete_ids | wc -l)" "$before" "prune $1 kill -9: nothing was deleted" ;;
    *) is "$(complete_ids | wc -l)" "$((before - 1))" "prune $1 kill -9: the backup being deleted is no longer listed as complete" ;;
    esac
    like "$(complete_ids)" "$newest" "prune $1 kill -9: the newest backup is kept"
    run_ok "prune $1 kill -9: every backup still listed verifies" C verify --all
    sleep 1
    run_ok "backup between prune cells" C backup
done
sleep 2.1
run_ok "prune SIGTERM: leftovers of the cell before are cleaned" C prune
before=$(complete_ids | wc -l)
inject "prune SIGTERM" "prune-deleted@1=term" 8 -- E prune
like "$(cat "$TEST_TMP/err")" "interrupted by signal SIGTERM" "prune SIGTERM: the error names the signal"
is "$(complete_ids | wc -l)" "$((before - 1))" "prune SIGTERM: it stopped within the first backup"
run_ok "prune: the next prune succeeds" E prune
is "$(complete_ids | wc -l)" "1" "prune: one backup is left"
unlike "$(C list)" "incomplete" "prune: no leftover of a partly deleted backup"
run_ok "prune: the kept backup verifies" C verify --all
KEEP=$(complete_ids)

# ---- restore (logical) ------------------------------------------------------
# --create: the target appears complete or not at all; a leftover temporary
# database is named by the next restore
fp_src=$(fingerprint src app)
for cell in "K1 restore-start" "K2 pump-mid@1" "K3 restore-fetched" "K4 restore-before-rename"; do
    set -- $cell
    db=r_$(echo "$1" | tr 'K' 'k')
    inject "restore --create $1 kill -9" "$2=kill" 137 -- C restore "$KEEP" --db app --target "$(pg_conninfo src "$db")" --create --jobs 2
    is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname = '$db'")" "0" "restore --create $1 kill -9: no half-restored target"
    run_ok "restore --create $1 kill -9: the next restore succeeds" C restore "$KEEP" --db app --target "$(pg_conninfo src "$db")" --create --jobs 2
    if [ "$1" != K1 ]; then
        like "$(cat "$LAST_ERR")" "temporary database of an earlier restore of \"$db\" that did not end" \
            "restore --create $1 kill -9: the leftover temporary database is named"
    fi
    is "$(fingerprint src "$db")" "$fp_src" "restore --create $1 kill -9: the restored database is identical"
    psql_at src -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname LIKE '${db}_coffre_%'" >/dev/null
    for left in $(psql_at src -c "SELECT datname FROM pg_database WHERE datname LIKE '${db}_coffre_%'"); do
        psql_at src -c "DROP DATABASE \"$left\"" >/dev/null
    done
done
inject "restore --create K5 kill -9" "restore-after-rename=kill" 137 -- C restore "$KEEP" --db app --target "$(pg_conninfo src r_k5)" --create
is "$(fingerprint src r_k5)" "$fp_src" "restore --create K5 kill -9: the renamed database is complete"
for cell in "K1 restore-start" "K2 pump-mid@1" "K3 restore-fetched" "K4 restore-before-rename"; do
    set -- $cell
    db=t_$(echo "$1" | tr 'K' 'k')
    inject "restore --create $1 SIGTERM" "$2=term" 8 -- C restore "$KEEP" --db app --target "$(pg_conninfo src "$db")" --create --jobs 2
    like "$(cat "$TEST_TMP/err")" "interrupted by signal SIGTERM" "restore --create $1 SIGTERM: the error names the signal"
    is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname LIKE '${db}%'")" "0" \
        "restore --create $1 SIGTERM: no database, temporary or not, is left"
done
# --replace killed between its two renames: the old database is still the target
run_ok "restore --replace: a target to replace" C restore "$KEEP" --db app --target "$(pg_conninfo src rep)" --create
psql_at src rep -c "CREATE TABLE marker (x int)"
inject "restore --replace K4 kill -9" "restore-between-renames=kill" 137 -- C restore "$KEEP" --db app --target "$(pg_conninfo src rep)" --replace
is "$(psql_at src rep -c "SELECT count(*) FROM pg_tables WHERE tablename = 'marker'")" "1" \
    "restore --replace killed between the renames: the target is still the old database"
is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'rep_old_%'")" "0" \
    "restore --replace killed between the renames: no half-renamed database"
run_ok "restore --replace: the next restore succeeds" C restore "$KEEP" --db app --target "$(pg_conninfo src rep)" --replace
is "$(psql_at src rep -c "SELECT count(*) FROM pg_tables WHERE tablename = 'marker'")" "0" "restore --replace: the target is the restored database"
is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'rep_old_%'")" "1" "restore --replace: the old database is kept aside"
# into an existing empty database: pg_restore runs in one transaction
psql_at src -c "CREATE DATABASE ex"
inject "restore (existing) K2 kill -9" "pump-mid@2=kill" 137 -- C restore "$KEEP" --db app --target "$(pg_conninfo src ex)"
is "$(psql_at src ex -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" "0" \
    "restore (existing) K2 kill -9: no half-restored target"
run_ok "restore (existing): the next restore succeeds" C restore "$KEEP" --db app --target "$(pg_conninfo src ex)"
is "$(fingerprint src ex)" "$fp_src" "restore (existing): identical"

done_testing
