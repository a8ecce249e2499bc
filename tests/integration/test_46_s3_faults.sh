#!/bin/bash
# test_46_s3_faults -- the fault matrix (docs/reliability.md) on an S3
# repository with Object Lock (a real Ceph RGW): backup (logical), verify,
# prune and restore (logical), each killed with SIGKILL and stopped with
# SIGTERM at the stages of test_41 (the same injection points), and the
# CLOCK column: coffre on a host a day ahead of or behind the S3 server.
#
# What differs from posix: a write is a PUT or a multipart upload (sent by
# 5 MiB parts, so the first buffer of an object is not on the server yet), a
# removal without a version is a delete marker, and every object is locked
# until lock_margin after its backup's start.  Every cell checks the four
# rules: no incomplete backup listed as complete (nor a verification recorded
# that did not end), no half-restored target, the next run succeeds, and the
# error (or, after kill -9, the next command) names the fault.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"
plan_start "test_46_s3_faults: kill -9, SIGTERM and clock skew on S3 with Object Lock"

needs_injection_points
for tool in ceph-mon ceph-osd radosgw radosgw-admin uuidgen openssl curl ss; do
    command -v "$tool" >/dev/null || skip_all "$tool not installed (sh tests/deps.sh)"
done
. "$(dirname "$0")/s3lib.sh"
rgw_start
BUCKET=coffre-matrix
s3 PUT "$S3_ENDPOINT/$BUCKET" -H "x-amz-bucket-object-lock-enabled: true"
status_is 200 "an Object Lock bucket"

# the source and keys of test_41; the repository is the bucket.  Every backup
# expires at once and is locked for LOCK seconds after its start; min_keep
# keeps them all from a plain prune, which only cleans leftovers
LOCK=8
two_db_source "$TEST_TMP/unused"
# app's dump above part_size (5 MiB): a multipart upload
psql_at src app -c "CREATE TABLE blob AS SELECT g AS id, encode(sha512(g::text::bytea), 'base64') || encode(sha512((g + 1)::text::bytea), 'hex') AS v FROM generate_series(1, 120000) g"
sed -i "s|^type = posix|type = s3\nendpoint = $S3_ENDPOINT\nbucket = $BUCKET\nregion = $S3_REGION\npart_size = 5M\nparts_in_flight = 2|; /^path = /d" \
    "$TEST_TMP/coffre.conf"
printf 'daily = 0\nweekly = 0\nmonthly = 0\nlock_margin = %ss\n' "$LOCK" >>"$TEST_TMP/coffre.conf"
{ cat "$TEST_TMP/coffre.conf"; printf 'min_keep = 100\n'; } >"$TEST_TMP/keep.conf"
{ cat "$TEST_TMP/coffre.conf"; printf 'min_keep = 1\n'; } >"$TEST_TMP/expire.conf"
export COFFRE_S3_BACKOFF_MS=20
C() { "$COFFRE" --config "$TEST_TMP/keep.conf" "$@"; }
E() { "$COFFRE" --config "$TEST_TMP/expire.conf" "$@"; }
C keys init >/dev/null

# every id listed, complete or not
all_ids() { C list 2>/dev/null | awk 'NR > 1 { print $1 }' | sort; }
# the incomplete backups listed
incomplete_ids() { C list 2>/dev/null | awk 'NR > 1 && / incomplete / { print $1 }'; }
# unfinished multipart uploads in the bucket
uploads() {
    s3 GET "$S3_ENDPOINT/$BUCKET?uploads="
    body | grep -c '<UploadId>' || true
}
# wait until leftovers are stale (stale_after = 1s) and no longer locked
unlocked() { sleep $((LOCK + 1)); }

run_ok "a first good backup" C backup
GOOD=$(cat "$LAST_OUT")
like "$(cat "$LAST_ERR")" "locked until" "the backup is locked by the storage"

# ---- backup (logical) -------------------------------------------------------
# K1 before the first object, K2 mid-object (its first buffer in the chain: no
# part is sent yet), K3 between objects (app stored, app2 not started), K4
# before the manifest, K5 after it.
for cell in "K1 backup-start" "K2 pump-mid@1" "K3 put-done@1" "K4 manifest-before" "K5 manifest-after"; do
    set -- $cell
    col=$1 point=$2
    before=$(complete_ids)
    sleep 1 # a new backup id (ids are start times)
    inject "backup $col kill -9" "$point=kill" 137 -- C backup
    after=$(complete_ids)
    if [ "$col" = K5 ]; then
        new=$(comm -13 <(echo "$before") <(echo "$after"))
        is "$(echo "$new" | grep -c .)" "1" "backup $col kill -9: the backup whose manifest was stored is listed"
        run_ok "backup $col kill -9: and it verifies" C verify "$new"
    else
        is "$after" "$before" "backup $col kill -9: nothing new is listed as complete"
        run_ok "backup $col kill -9: list" C list
        case $col in
        K1 | K2) unlike "$(cat "$LAST_OUT")" "incomplete" "backup $col kill -9: nothing was stored" ;;
        *)
            like "$(cat "$LAST_OUT")" "incomplete" "backup $col kill -9: list names the leftover incomplete"
            # stale (a second) but still locked: prune tries, the storage refuses,
            # and prune says so
            left=$(incomplete_ids)
            sleep 1.5
            run_ok "backup $col kill -9: prune while the leftover is locked" C prune
            like "$(grep "^skipped *$left " "$LAST_OUT")" "skipped: " \
                "backup $col kill -9: prune says it skips the locked leftover"
            like "$(grep "^skipped *$left " "$LAST_OUT")" "object(s) still locked by the storage" \
                "backup $col kill -9: and why"
            like "$(incomplete_ids)" "$left" "backup $col kill -9: the locked leftover is still listed incomplete"
            ;;
        esac
        unlocked
        run_ok "backup $col kill -9: prune" C prune
        case $col in
        K1 | K2) unlike "$(cat "$LAST_OUT")" "deleted" "backup $col kill -9: prune has nothing to remove" ;;
        *) like "$(grep deleted "$LAST_OUT")" "leftover of an incomplete backup" \
            "backup $col kill -9: prune names and removes the leftover" ;;
        esac
        unlike "$(C list)" "incomplete" "backup $col kill -9: no leftover after prune"
        is "$(uploads)" "0" "backup $col kill -9: no unfinished upload after prune"
    fi
    run_ok "backup $col kill -9: the next backup succeeds" C backup
    run_ok "backup $col kill -9: and verifies" C verify "$(cat "$LAST_OUT")"
done

# K2 with app's multipart upload open on the server (its first parts sent):
# no injection point marks it, so the test waits until the server lists the
# upload, then sends the signal; the cell fails if the upload was never seen
k2_open() { # LABEL SIGNAL: a backup, SIGNAL once its upload is open; status in rc
    local label=$1 pid n=0
    before=$(complete_ids)
    sleep 1
    "$COFFRE" --config "$TEST_TMP/keep.conf" backup >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
    pid=$! # coffre itself, not a subshell running C
    for _ in $(seq 1 300); do
        n=$(uploads)
        [ "$n" -gt 0 ] && break
        sleep 0.1
    done
    kill -"$2" "$pid" 2>/dev/null || true
    rc=0
    wait "$pid" || rc=$?
    is "$n" "1" "$label: the upload was open when the signal was sent"
}
k2_open "backup K2 (upload open) kill -9" KILL
is "$rc" "137" "backup K2 (upload open) kill -9: exit status 137"
is "$(complete_ids)" "$before" "backup K2 (upload open) kill -9: nothing new is listed as complete"
is "$(incomplete_ids)" "" "backup K2 (upload open) kill -9: an upload is not a backup"
is "$(uploads)" "1" "backup K2 (upload open) kill -9: the unfinished upload is left"
unlocked
run_ok "backup K2 (upload open) kill -9: prune" C prune
like "$(grep 'aborted unfinished upload of acme/backup/' "$LAST_OUT")" "/db/app.dump" \
    "backup K2 (upload open) kill -9: prune names and aborts the unfinished upload"
is "$(uploads)" "0" "backup K2 (upload open) kill -9: no unfinished upload after prune"
run_ok "backup K2 (upload open) kill -9: the next backup succeeds" C backup
run_ok "backup K2 (upload open) kill -9: and verifies" C verify "$(cat "$LAST_OUT")"

# SIGTERM: the backup removes what it stored and aborts its upload, as
# clean-up the signal does not cancel.  Under Object Lock a removal is a
# delete marker: the locked versions stay, and list (which reads through
# delete markers) names them incomplete until a prune after the lock date
for cell in "K1 backup-start" "K2 pump-mid@1" "K3 put-done@1" "K4 manifest-before"; do
    set -- $cell
    col=$1 point=$2
    before=$(complete_ids)
    sleep 1
    inject "backup $col SIGTERM" "$point=term" 8 -- C backup
    like "$(cat "$TEST_TMP/err")" "interrupted by signal SIGTERM" "backup $col SIGTERM: the error names the signal"
    like "$(cat "$TEST_TMP/err")" "not completed and is not restorable" "backup $col SIGTERM: says the backup is not restorable"
    is "$(complete_ids)" "$before" "backup $col SIGTERM: nothing new is listed as complete"
    is "$(uploads)" "0" "backup $col SIGTERM: no unfinished upload"
    left=$(incomplete_ids)
    case $col in
    K1 | K2) is "$left" "" "backup $col SIGTERM: nothing was stored" ;;
    *)
        ok "backup $col SIGTERM: the locked leftover is listed incomplete" test -n "$left"
        s3 GET "$S3_ENDPOINT/$BUCKET?prefix=acme%2Fbackup%2F$left%2F&versions="
        n_versions=$(body | grep -o '<Version>' | wc -l)
        ok "backup $col SIGTERM: it stored objects" test "$n_versions" -gt 0
        is "$(body | grep -o '<DeleteMarker>' | wc -l)" "$n_versions" \
            "backup $col SIGTERM: the clean-up removed each of them (a delete marker under the lock)"
        unlocked
        run_ok "backup $col SIGTERM: prune after the lock date" C prune
        like "$(grep "$left" "$LAST_OUT")" "leftover of an incomplete backup" "backup $col SIGTERM: prune names the leftover"
        is "$(incomplete_ids)" "" "backup $col SIGTERM: no leftover after prune"
        ;;
    esac
    run_ok "backup $col SIGTERM: the next backup succeeds" C backup
done
k2_open "backup K2 (upload open) SIGTERM" TERM
is "$rc" "8" "backup K2 (upload open) SIGTERM: exit status 8"
like "$(cat "$TEST_TMP/err")" "interrupted by signal SIGTERM" "backup K2 (upload open) SIGTERM: the error names the signal"
like "$(cat "$TEST_TMP/err")" "not completed and is not restorable" "backup K2 (upload open) SIGTERM: says the backup is not restorable"
is "$(complete_ids)" "$before" "backup K2 (upload open) SIGTERM: nothing new is listed as complete"
is "$(uploads)" "0" "backup K2 (upload open) SIGTERM: the multipart upload is aborted"
is "$(incomplete_ids)" "" "backup K2 (upload open) SIGTERM: nothing is left"
run_ok "backup K2 (upload open) SIGTERM: the next backup succeeds" C backup
# K5: SIGTERM once the manifest is stored: the backup is complete, and says so
before=$(complete_ids)
sleep 1
inject "backup K5 SIGTERM" "manifest-after=term" 0 -- C backup
ID=$(cat "$TEST_TMP/out")
ok "backup K5 SIGTERM: the completed backup's id is printed" test -n "$ID"
like "$(complete_ids)" "$ID" "backup K5 SIGTERM: it is listed"
run_ok "backup K5 SIGTERM: and it verifies" C verify "$ID"
# between the manifest's upload (the 4th object: app, app2, globals, manifest)
# and the check after it: the check must end, and what the backup says must
# be what list shows
before=$(complete_ids)
sleep 1
inject "backup SIGTERM after the manifest's upload" "put-done@4=term" 0 -- C backup
ID=$(cat "$TEST_TMP/out")
unlike "$(cat "$TEST_TMP/err")" "not restorable" "backup SIGTERM after the manifest's upload: not said to be unrestorable"
ok "backup SIGTERM after the manifest's upload: its id is printed" test -n "$ID"
is "$(comm -13 <(echo "$before") <(complete_ids))" "$ID" "backup SIGTERM after the manifest's upload: list shows that backup complete"
run_ok "backup SIGTERM after the manifest's upload: and it verifies" C verify "$ID"

# ---- CLOCK: coffre a day off the S3 server's clock ---------------------------
# S3 signs every request with the host's time; RGW refuses one dated more
# than 15 minutes off (RequestTimeTooSkewed).  libfaketime fakes the clock of
# coffre only.
FAKETIME_LIB=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketimeMT\.so\.1$' | head -1)
[ -n "$FAKETIME_LIB" ] || bail_out "libfaketime is not installed (make deps)"
skewed() { # CONF OFFSET COMMAND...: coffre (CONF: keep or expire) with its clock OFFSET off
    local conf=$1 offset=$2
    shift 2
    env LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$offset" \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        "$COFFRE" --config "$TEST_TMP/$conf.conf" "$@"
}
clock_says() { # LABEL: the error names the clocks and NTP
    like "$(cat "$LAST_ERR")" "RequestTimeTooSkewed" "$1: the error names the server's refusal"
    like "$(cat "$LAST_ERR")" "clocks of this host and of the S3 server differ" "$1: the error says the clocks differ"
    like "$(cat "$LAST_ERR")" "NTP" "$1: the hint names NTP"
}
for offset in +1d -1d; do
    label="CLOCK host a day $([ "$offset" = +1d ] && echo ahead || echo behind)"
    before=$(all_ids)
    sleep 1
    run_fails "$label: backup is refused" 5 skewed keep "$offset" backup
    clock_says "$label: backup"
    is "$(all_ids)" "$before" "$label: backup: nothing is listed, complete or not"
    is "$(uploads)" "0" "$label: backup: no unfinished upload"
    run_fails "$label: verify is refused" 5 skewed keep "$offset" verify "$GOOD"
    clock_says "$label: verify"
    run_fails "$label: prune is refused" 5 skewed expire "$offset" prune
    clock_says "$label: prune"
    is "$(all_ids)" "$before" "$label: prune: nothing is deleted"
    run_fails "$label: restore is refused" 5 skewed keep "$offset" restore "$GOOD" --db app --target "$(pg_conninfo src clock_r)" --create
    clock_says "$label: restore"
    is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'clock_r%'")" "0" "$label: restore: no database is created"
done
# coffre check compares the clocks from the server's Date header (issue 14): a host
# five minutes off still works with S3, and check says it is off
sed "/^\[coffre\]/a state_dir = $TEST_TMP/check-state" "$TEST_TMP/keep.conf" >"$TEST_TMP/check.conf"
run_ok "CLOCK: check with the clock right" "$COFFRE" --config "$TEST_TMP/check.conf" check --no-archive-check
like "$(cat "$LAST_OUT")" "this host's clock is within" "CLOCK: check says the clocks agree"
run_fails "CLOCK: check on a host 5 minutes ahead fails" any skewed check +5m check --no-archive-check
ok "CLOCK: check names the skew, its direction and the bucket" \
    grep -Eq "this host's clock is 30[0-2] s ahead of that of bucket" "$LAST_OUT"
like "$(cat "$LAST_OUT")" "NTP" "CLOCK: and says to use NTP"
run_fails "CLOCK: check on a host 2 minutes behind fails" any skewed check -2m check --no-archive-check
ok "CLOCK: behind, too" grep -Eq "this host's clock is 1(19|20|21) s behind that of bucket" "$LAST_OUT"
run_ok "CLOCK: with the clock right, the next backup succeeds" C backup
run_ok "CLOCK: and verifies" C verify "$(cat "$LAST_OUT")"

# ---- verify -----------------------------------------------------------------
run_ok "verify: a first record" C verify "$GOOD"
records() {
    s3 GET "$S3_ENDPOINT/$BUCKET?list-type=2&prefix=acme%2Fbackup%2F$GOOD%2Fverify-"
    body | grep -o '<Key>' | wc -l
}
n0=$(records)
ok "verify: its record is an object of the backup" test "$n0" -ge 1
for cell in "K1 verify-start" "K2 pump-mid@1" "K3 get-done@1" "K4 verify-before-record"; do
    set -- $cell
    inject "verify $1 kill -9" "$2=kill" 137 -- C verify "$GOOD"
    is "$(records)" "$n0" "verify $1 kill -9: no verification record is written"
    is "$(uploads)" "0" "verify $1 kill -9: no unfinished upload"
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
# every backup but the newest expires (min_keep = 1), and is unlocked LOCK
# seconds after its start.  The manifest is deleted first: K5 (manifest gone,
# objects not yet) is the first deletion, K2 (objects partly deleted) the
# second, K3 after a whole backup; K4 is the same instant as K1 or K3
newest=$(complete_ids | tail -1)
for cell in "K1 prune-start" "K5 prune-deleted@1" "K3 prune-backup-done@1" "K2 prune-deleted@2"; do
    set -- $cell
    unlocked
    run_ok "prune $1: leftovers of the cell before are cleaned" C prune
    before=$(complete_ids | wc -l)
    inject "prune $1 kill -9" "$2=kill" 137 -- E prune
    case $1 in
    K1) is "$(complete_ids | wc -l)" "$before" "prune $1 kill -9: nothing was deleted" ;;
    *) is "$(complete_ids | wc -l)" "$((before - 1))" "prune $1 kill -9: the backup being deleted is no longer listed as complete" ;;
    esac
    like "$(complete_ids)" "$newest" "prune $1 kill -9: the newest backup is kept"
    run_ok "prune $1 kill -9: every backup still listed verifies" C verify --all
    if [ "$1" = K5 ] || [ "$1" = K2 ]; then
        run_ok "prune $1 kill -9: the next prune" C prune
        like "$(grep deleted "$LAST_OUT")" "leftover of an incomplete backup" \
            "prune $1 kill -9: the next prune names what is left of the backup"
        unlike "$(C list)" "incomplete" "prune $1 kill -9: and removes it"
    fi
    sleep 1
    run_ok "backup between prune cells" C backup
done
unlocked
run_ok "prune SIGTERM: leftovers of the cell before are cleaned" C prune
before=$(complete_ids | wc -l)
inject "prune SIGTERM" "prune-deleted@1=term" 8 -- E prune
like "$(cat "$TEST_TMP/err")" "interrupted by signal SIGTERM" "prune SIGTERM: the error names the signal"
is "$(complete_ids | wc -l)" "$((before - 1))" "prune SIGTERM: it stopped within the first backup"
unlocked
run_ok "prune: the next prune succeeds" E prune
is "$(complete_ids | wc -l)" "1" "prune: one backup is left"
unlike "$(C list)" "incomplete" "prune: no leftover of a partly deleted backup"
run_ok "prune: the kept backup verifies" C verify --all
KEEP=$(complete_ids)

# ---- restore (logical) ------------------------------------------------------
fp_src=$(fingerprint src app)
drop_leftovers() { # DB: the temporary databases of killed restores into DB
    psql_at src -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname LIKE '${1}_coffre_%'" >/dev/null
    for left in $(psql_at src -c "SELECT datname FROM pg_database WHERE datname LIKE '${1}_coffre_%'"); do
        psql_at src -c "DROP DATABASE \"$left\"" >/dev/null
    done
}
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
    drop_leftovers "$db"
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
run_ok "restore SIGTERM: the next restore succeeds" C restore "$KEEP" --db app --target "$(pg_conninfo src t_k4)" --create
is "$(fingerprint src t_k4)" "$fp_src" "restore SIGTERM: the restored database is identical"
# --replace killed between its two renames, and stopped there by SIGTERM
run_ok "restore --replace: a target to replace" C restore "$KEEP" --db app --target "$(pg_conninfo src rep)" --create
psql_at src rep -c "CREATE TABLE marker (x int)"
inject "restore --replace K4 kill -9" "restore-between-renames=kill" 137 -- C restore "$KEEP" --db app --target "$(pg_conninfo src rep)" --replace
is "$(psql_at src rep -c "SELECT count(*) FROM pg_tables WHERE tablename = 'marker'")" "1" \
    "restore --replace killed between the renames: the target is still the old database"
is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'rep_old_%'")" "0" \
    "restore --replace killed between the renames: no half-renamed database"
drop_leftovers rep
# SIGTERM there: the two renames are one transaction, which the signal does
# not split: the restore ends, and says what it did
inject "restore --replace K4 SIGTERM" "restore-between-renames=term" 0 -- C restore "$KEEP" --db app --target "$(pg_conninfo src rep)" --replace
is "$(psql_at src rep -c "SELECT count(*) FROM pg_tables WHERE tablename = 'marker'")" "0" \
    "restore --replace SIGTERM between the renames: the target is the restored database"
is "$(fingerprint src rep)" "$fp_src" "restore --replace SIGTERM between the renames: and it is identical"
like "$(cat "$TEST_TMP/err")" "was kept as \"rep_old_" "restore --replace SIGTERM between the renames: it says where the old database is"
is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'rep_old_%'")" "1" \
    "restore --replace SIGTERM between the renames: the old database is kept aside, once"
is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'rep_coffre_%'")" "0" \
    "restore --replace SIGTERM between the renames: no temporary database is left"
run_ok "restore --replace: the next restore succeeds" C restore "$KEEP" --db app --target "$(pg_conninfo src rep)" --replace
is "$(psql_at src rep -c "SELECT count(*) FROM pg_tables WHERE tablename = 'marker'")" "0" "restore --replace: the target is the restored database"
# into an existing empty database: pg_restore runs in one transaction
psql_at src -c "CREATE DATABASE ex"
inject "restore (existing) K2 kill -9" "pump-mid@2=kill" 137 -- C restore "$KEEP" --db app --target "$(pg_conninfo src ex)"
is "$(psql_at src ex -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" "0" \
    "restore (existing) K2 kill -9: no half-restored target"
inject "restore (existing) K2 SIGTERM" "pump-mid@2=term" 8 -- C restore "$KEEP" --db app --target "$(pg_conninfo src ex)"
is "$(psql_at src ex -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" "0" \
    "restore (existing) K2 SIGTERM: no half-restored target"
run_ok "restore (existing): the next restore succeeds" C restore "$KEEP" --db app --target "$(pg_conninfo src ex)"
is "$(fingerprint src ex)" "$fp_src" "restore (existing): identical"

done_testing
