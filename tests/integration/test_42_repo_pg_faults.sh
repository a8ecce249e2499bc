#!/bin/bash
# test_42_repo_pg_faults -- the fault matrix (docs/reliability.md), the
# repository and PostgreSQL columns for a logical backup on posix: the
# repository turning read-only mid-backup (REFUSE), the repository full and
# then freed (FULL), and the server restarted mid-dump and between dumps (PG).
# A backup is stopped at a stage (injection point, action "stop"), the fault is
# made, then the backup goes on.  Needs root (tmpfs mounts).
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"
plan_start "test_42_repo_pg_faults: read-only and full repository, server restarts"

needs_injection_points
if [ "$(id -u)" != 0 ]; then
    skip_all "needs root to mount a tmpfs repository"
fi
MNT="$TEST_TMP/mnt"
mkdir -p "$MNT"
mount -t tmpfs -o size=64m tmpfs "$MNT" || skip_all "cannot mount a tmpfs here"
on_exit "umount '$MNT'"

two_db_source "$MNT/repo"
C() { "$COFFRE" --config "$TEST_TMP/coffre.conf" "$@"; }
C keys init >/dev/null
run_ok "a first good backup" C backup

# paused POINT FAULT_COMMAND...: a backup stopped at POINT while the fault is
# made, then resumed; its status in $rc, its output in $TEST_TMP/out, err
paused() {
    local point=$1
    shift
    sleep 1 # a new backup id
    stop_at "$point" "$COFFRE" --config "$TEST_TMP/coffre.conf" backup
    "$@"
    resume
}

# ---- REFUSE: the repository turns read-only between two dumps ----------------
before=$(complete_ids)
paused put-done@1 mount -o remount,ro "$MNT"
is "$rc" "5" "REFUSE: the backup fails (exit 5)"
like "$(cat "$TEST_TMP/err")" "Read-only file system" "REFUSE: the error names the cause"
like "$(cat "$TEST_TMP/err")" "app2.dump" "REFUSE: the error names the object"
like "$(cat "$TEST_TMP/err")" "not completed and is not restorable" "REFUSE: says the backup is not restorable"
is "$(complete_ids)" "$before" "REFUSE: nothing new is listed as complete"
mount -o remount,rw "$MNT"
run_ok "REFUSE: the next backup succeeds once the repository is writable" C backup
run_ok "REFUSE: and verifies" C verify "$(cat "$LAST_OUT")"
sleep 2.1
run_ok "REFUSE: prune" C prune
unlike "$(C list)" "incomplete" "REFUSE: no leftover after prune"
is "$(tmp_files)" "0" "REFUSE: no temporary file"

# ---- FULL: the repository fills up mid-backup, then is freed ----------------
before=$(complete_ids)
filler() { dd if=/dev/zero of="$MNT/filler" bs=1M count=64 status=none 2>/dev/null || true; }
paused pump-mid@1 filler
is "$rc" "5" "FULL: the backup fails (exit 5)"
like "$(cat "$TEST_TMP/err")" "No space left on device" "FULL: the error names the cause"
like "$(cat "$TEST_TMP/err")" "Free space in the repository" "FULL: the hint says what to do"
is "$(complete_ids)" "$before" "FULL: nothing new is listed as complete"
is "$(tmp_files)" "0" "FULL: no temporary file is left"
rm -f "$MNT/filler"
run_ok "FULL: the next backup succeeds once space is freed" C backup
run_ok "FULL: and verifies" C verify "$(cat "$LAST_OUT")"

# ---- verify, REFUSE: the verdict stands, its record cannot be written -----------
vid=$(complete_ids | tail -n 1)
records() { find "$REPO" -name 'verify-*' ! -name '.*' -type f | wc -l; }
nrec=$(records)
mount -o remount,ro "$MNT"
run_ok "verify REFUSE: the backup still verifies (exit 0: the data was read and checked)" C verify "$vid"
like "$(cat "$LAST_ERR")" "could not record the verification of backup $vid" \
    "verify REFUSE: a warning says that no record was written"
like "$(cat "$LAST_ERR")" "Read-only file system" "verify REFUSE: and why"
mount -o remount,rw "$MNT"
is "$(records)" "$nrec" "verify REFUSE: no record was stored"
is "$(tmp_files)" "0" "verify REFUSE: no temporary file"
run_ok "verify REFUSE: the next verify once writable" C verify "$vid"
is "$(records)" "$((nrec + 1))" "verify REFUSE: records it"

# ---- verify, FULL: the verdict stands, its record does not fit -----------------
dd if=/dev/zero of="$MNT/filler" bs=1M status=none 2>/dev/null || true
run_ok "verify FULL: the backup still verifies (exit 0: the data was read and checked)" C verify "$vid"
like "$(cat "$LAST_ERR")" "could not record the verification of backup $vid" \
    "verify FULL: a warning says that no record was written"
like "$(cat "$LAST_ERR")" "No space left on device" "verify FULL: and why"
rm -f "$MNT/filler"
is "$(records)" "$((nrec + 1))" "verify FULL: no record was stored"
is "$(tmp_files)" "0" "verify FULL: no temporary file"
sleep 1 # a new record name
run_ok "verify FULL: the next verify once space is freed" C verify "$vid"
is "$(records)" "$((nrec + 2))" "verify FULL: records it"

# ---- prune, REFUSE: an incomplete backup (killed after its first dump) stays ----
sleep 1 # a new backup id
stop_at put-done@1 "$COFFRE" --config "$TEST_TMP/coffre.conf" backup
kill -9 "$STOPPED_PID"
wait "$STOPPED_PID" || true
sleep 2.1 # its objects are stale (stale_after = 1 s)
like "$(C list)" "incomplete" "prune REFUSE: an incomplete backup is there to remove"
inc=$(C list | awk '/incomplete/ { print $1 }')
mount -o remount,ro "$MNT"
before=$(complete_ids)
_run C prune
mount -o remount,rw "$MNT"
is "$LAST_RC" "5" "prune REFUSE: fails (exit 5)"
like "$(cat "$LAST_ERR")" "Read-only file system" "prune REFUSE: the error names the cause"
like "$(cat "$LAST_ERR")" "$inc" "prune REFUSE: and the backup it could not remove"
is "$(complete_ids)" "$before" "prune REFUSE: the complete backups are all listed"
run_ok "prune REFUSE: the next prune once writable" C prune
unlike "$(C list)" "incomplete" "prune REFUSE: removes the incomplete backup"
for id in $(complete_ids); do
    C verify "$id" >/dev/null 2>&1 || fail "prune REFUSE: backup $id no longer verifies"
done
pass "prune REFUSE: every complete backup still verifies"

# ---- PG: the server restarts mid-dump, and between two dumps ------------------
before=$(complete_ids)
paused pump-mid@1 pg_restart src
is "$rc" "7" "PG restart mid-dump: the backup fails (exit 7)"
like "$(cat "$TEST_TMP/err")" "pg_dump" "PG restart mid-dump: the error names pg_dump"
like "$(cat "$TEST_TMP/err")" "not completed and is not restorable" "PG restart mid-dump: says the backup is not restorable"
is "$(complete_ids)" "$before" "PG restart mid-dump: nothing new is listed as complete"
is "$(tmp_files)" "0" "PG restart mid-dump: no temporary file is left"
run_ok "PG restart mid-dump: the next backup succeeds" C backup
before=$(complete_ids)
paused put-done@1 pg_restart src
is "$rc" "0" "PG restart between two dumps: the backup completes (each dump has its own snapshot)"
new=$(comm -13 <(echo "$before") <(complete_ids))
is "$(echo "$new" | grep -c .)" "1" "PG restart between two dumps: it is listed"
run_ok "PG restart between two dumps: and verifies" C verify "$new"
run_ok "PG restart between two dumps: and restores" C restore "$new" --db app2 --target "$(pg_conninfo src back2)" --create
is "$(fingerprint src back2)" "$(fingerprint src app2)" "PG restart between two dumps: the restored database is identical"

# ---- restore logical, PG: the target server restarts during pg_restore ---------
rid=$(complete_ids | tail -n 1)
stop_at pump-mid@1 "$COFFRE" --config "$TEST_TMP/coffre.conf" restore "$rid" --db app2 \
    --target "$(pg_conninfo src rpg)" --create
pg_restart src
resume
is "$rc" "7" "restore PG restart: fails (exit 7)"
like "$(cat "$TEST_TMP/err")" "pg_restore" "restore PG restart: the error names pg_restore"
# the maintenance connection died with the server: coffre reconnects to drop its temporary
# database (it once said "was dropped" after a DROP that had failed on the dead connection)
like "$(cat "$TEST_TMP/err")" "was dropped; \"rpg\" was not created" \
    "restore PG restart: the temporary database is dropped, and the error says so"
is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname = 'rpg'")" "0" \
    "restore PG restart: no half-restored target"
run_ok "restore PG restart: the next restore succeeds" C restore "$rid" --db app2 \
    --target "$(pg_conninfo src rpg)" --create
is "$(fingerprint src rpg)" "$(fingerprint src app2)" "restore PG restart: the restored database is identical"
is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'rpg%'")" "1" \
    "restore PG restart: no temporary database is left"

done_testing
