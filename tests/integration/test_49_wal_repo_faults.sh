#!/bin/bash
# test_49_wal_repo_faults -- the fault matrix (docs/reliability.md), the
# repository columns for wal-push, sync and async, on posix: the repository
# refusing writes (a read-only remount: REFUSE) and full (a tmpfs filled up
# while a segment is written: FULL).  Each cell: the push fails with an error
# that names the cause and the segment, nothing is stored or vouched for
# (no object, no temporary file, no async record), and once the fault is gone
# the next push succeeds and wal-get serves the segment byte for byte.
# Needs root (tmpfs mounts).
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_49_wal_repo_faults: wal-push into a read-only and a full repository"

if [ "$(id -u)" != 0 ]; then
    skip_all "needs root to mount a tmpfs repository"
fi
MNT="$TEST_TMP/mnt"
mkdir -p "$MNT"
mount -t tmpfs -o size=112m tmpfs "$MNT" || skip_all "cannot mount a tmpfs here"
on_exit "umount '$MNT'"
REPO="$MNT/repo"
mkdir -p "$REPO" "$TEST_TMP/spool" "$TEST_TMP/scratch"

hsm_init
hsm_token coffre 4321
INSTANCE=acme CONNINFO="host=/nonexistent user=postgres dbname=postgres" REPO="$REPO" \
STATE_DIR="$TEST_TMP/spool" KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$TEST_TMP/coffre.conf"
printf '\n[wal]\nreadahead = 0\n' >>"$TEST_TMP/coffre.conf"
sed 's/^readahead = 0$/readahead = 0\nasync = true\npush_jobs = 2/' "$TEST_TMP/coffre.conf" \
    >"$TEST_TMP/async.conf"
C() { "$COFFRE" --config "$TEST_TMP/coffre.conf" "$@"; }
run_ok "keys init" C keys init

# a data directory with six 16 MiB segments, the first four ready (random: incompressible,
# so each object takes 16 MiB of the 112 MiB repository)
PGD="$TEST_TMP/pgdata"
mkdir -p "$PGD/pg_wal/archive_status"
for i in 1 2 3 4 5 6; do
    head -c $((16 * 1024 * 1024)) /dev/urandom >"$PGD/pg_wal/00000001000000000000000$i"
    [ "$i" -ge 5 ] || : >"$PGD/pg_wal/archive_status/00000001000000000000000$i.ready"
done
pg_owns "$HSM_DIR" "$REPO" "$TEST_TMP/spool" "$TEST_TMP/scratch" "$TEST_TMP/coffre.conf" \
    "$TEST_TMP/async.conf" "$PGD"

# push CONF SEGMENT -- wal-push as the archiver does it (from the data directory)
# (and, on success, marks it .done as the archiver does: async children skip those)
push() {
    _run as_pg env -C "$PGD" "$COFFRE" -v -c "$1" wal-push "pg_wal/$2"
    [ "$LAST_RC" != 0 ] || mv "$PGD/pg_wal/archive_status/$2.ready" "$PGD/pg_wal/archive_status/$2.done"
}
# objects SEGMENT -- how many objects the repository holds for SEGMENT
objects() { find "$REPO" -name "$1-*" ! -name '.*' -type f | wc -l; }
tmp_files() { find "$REPO" -name '.*' -type f | wc -l; }
# served SEGMENT -- wal-get gives back the segment byte for byte
served() {
    rm -f "$TEST_TMP/scratch/$1"
    as_pg "$COFFRE" -q -c "$TEST_TMP/coffre.conf" wal-get "$1" "$TEST_TMP/scratch/$1" &&
        cmp -s "$TEST_TMP/scratch/$1" "$PGD/pg_wal/$1"
}
# children_done SEGMENT -- no async child holds the claim on SEGMENT any more
children_done() {
    local f="$TEST_TMP/spool/pushed/$1.inflight"
    for _ in $(seq 1 150); do
        { [ ! -e "$f" ] || flock -n "$f" true; } && return 0
        sleep 0.2
    done
    return 1
}
# fill_but MIB -- fill the repository's file system but MIB MiB
fill_but() {
    dd if=/dev/zero of="$MNT/filler" bs=1M status=none 2>/dev/null || true
    truncate -s "-$1M" "$MNT/filler"
}

S1=000000010000000000000001 S2=000000010000000000000002
S3=000000010000000000000003 S4=000000010000000000000004
S5=000000010000000000000005 S6=000000010000000000000006

# ---- wal-push sync, REFUSE: the repository is read-only -----------------------
mount -o remount,ro "$MNT"
push "$TEST_TMP/coffre.conf" "$S1"
is "$LAST_RC" "5" "wal-push sync REFUSE: fails (exit 5)"
like "$(cat "$LAST_ERR")" "Read-only file system" "wal-push sync REFUSE: the error names the cause"
like "$(cat "$LAST_ERR")" "$S1" "wal-push sync REFUSE: and the segment"
mount -o remount,rw "$MNT"
is "$(objects "$S1")" "0" "wal-push sync REFUSE: nothing is stored"
is "$(tmp_files)" "0" "wal-push sync REFUSE: no temporary file"
push "$TEST_TMP/coffre.conf" "$S1"
is "$LAST_RC" "0" "wal-push sync REFUSE: the next push succeeds once the repository is writable"
ok "wal-push sync REFUSE: the segment is served, byte-identical" served "$S1"

# ---- wal-push sync, FULL: the repository fills up mid-segment -----------------
fill_but 4
push "$TEST_TMP/coffre.conf" "$S2"
is "$LAST_RC" "5" "wal-push sync FULL: fails (exit 5)"
like "$(cat "$LAST_ERR")" "No space left on device" "wal-push sync FULL: the error names the cause"
like "$(cat "$LAST_ERR")" "$S2" "wal-push sync FULL: and the segment"
is "$(objects "$S2")" "0" "wal-push sync FULL: nothing is stored"
is "$(tmp_files)" "0" "wal-push sync FULL: the temporary file is removed"
rm -f "$MNT/filler"
push "$TEST_TMP/coffre.conf" "$S2"
is "$LAST_RC" "0" "wal-push sync FULL: the next push succeeds once space is freed"
ok "wal-push sync FULL: the segment is served, byte-identical" served "$S2"

# ---- wal-push async, REFUSE: the call and its child both meet a read-only repository
mount -o remount,ro "$MNT"
push "$TEST_TMP/async.conf" "$S3"
rc3=$LAST_RC err3=$(cat "$LAST_ERR")
ok "wal-push async REFUSE: the child pushing the next segment ends" children_done "$S4"
mount -o remount,rw "$MNT"
is "$rc3" "5" "wal-push async REFUSE: fails (exit 5)"
like "$err3" "Read-only file system" "wal-push async REFUSE: the error names the cause"
like "$err3" "$S3" "wal-push async REFUSE: and the segment"
is "$(objects "$S3")$(objects "$S4")" "00" "wal-push async REFUSE: nothing is stored"
ok "wal-push async REFUSE: no record vouches for the next segment" test ! -e "$TEST_TMP/spool/pushed/$S4"
is "$(tmp_files)" "0" "wal-push async REFUSE: no temporary file"
push "$TEST_TMP/async.conf" "$S3"
is "$LAST_RC" "0" "wal-push async REFUSE: the next push succeeds once the repository is writable"
ok "wal-push async REFUSE: its child is done" children_done "$S4"
push "$TEST_TMP/async.conf" "$S4"
is "$LAST_RC" "0" "wal-push async REFUSE: and so does the push of the next segment"
ok "wal-push async REFUSE: the first is served, byte-identical" served "$S3"
ok "wal-push async REFUSE: the next one too" served "$S4"

# ---- wal-push async, FULL: room for neither segment ----------------------------
# (their .ready files only now: the async pushes above would have pushed them ahead)
: >"$PGD/pg_wal/archive_status/$S5.ready"
: >"$PGD/pg_wal/archive_status/$S6.ready"
pg_owns "$PGD"
fill_but 4
push "$TEST_TMP/async.conf" "$S5"
rc3=$LAST_RC err3=$(cat "$LAST_ERR")
ok "wal-push async FULL: the child pushing the next segment ends" children_done "$S6"
is "$rc3" "5" "wal-push async FULL: fails (exit 5)"
like "$err3" "No space left on device" "wal-push async FULL: the error names the cause"
like "$err3" "$S5" "wal-push async FULL: and the segment"
is "$(objects "$S5")$(objects "$S6")" "00" "wal-push async FULL: nothing is stored"
ok "wal-push async FULL: no record vouches for the next segment" test ! -e "$TEST_TMP/spool/pushed/$S6"
is "$(tmp_files)" "0" "wal-push async FULL: the temporary files are removed"
rm -f "$MNT/filler"
push "$TEST_TMP/async.conf" "$S5"
is "$LAST_RC" "0" "wal-push async FULL: the next push succeeds once space is freed"
ok "wal-push async FULL: its child is done" children_done "$S6"
push "$TEST_TMP/async.conf" "$S6"
is "$LAST_RC" "0" "wal-push async FULL: and so does the push of the next segment"
ok "wal-push async FULL: the first is served, byte-identical" served "$S5"
ok "wal-push async FULL: the next one too" served "$S6"

done_testing
