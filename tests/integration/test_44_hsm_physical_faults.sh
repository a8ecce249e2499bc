#!/bin/bash
# test_44_hsm_physical_faults -- the fault matrix (docs/reliability.md), HSM
# column, physical side: backup --physical, wal-push (sync and async) and restore
# --physical with the PKCS#11 module failing mid-run.  As in test_43,
# keys.module is tests/p11shim, which forwards to SoftHSM2 and answers
# CKR_DEVICE_REMOVED while a trigger file exists; a command is stopped at a
# stage (injection point, action "stop"), the HSM is "removed", then the
# command goes on.  It must fail naming the token, list nothing new, archive
# nothing, restore nothing; the next run, with the HSM back, succeeds.
#
# As in test_84, the server archives with `coffre wal-push` (through the same
# shim) as postgres, so every coffre command runs as postgres.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"
plan_start "test_44_hsm_physical_faults: the HSM fails mid-run, physical"

needs_injection_points
COFFRE=$(readlink -f "$COFFRE")
SHIM="$(dirname "$COFFRE")/tests/p11shim.so"
[ -f "$SHIM" ] || bail_out "$SHIM is missing (make unit builds it)"

[ "$(id -u)" != 0 ] || chown postgres "$TEST_TMP"
hsm_init
hsm_token coffre 4321
export COFFRE_P11SHIM_MODULE="$SOFTHSM_MODULE" COFFRE_P11SHIM_FAIL="$TEST_TMP/hsm-removed"
CONF="$TEST_TMP/coffre.conf"
REPO="$TEST_TMP/repo"
R="$TEST_TMP/restore"
mkdir -p "$REPO" "$TEST_TMP/spool" "$R"
INSTANCE=acme CONNINFO="placeholder" REPO="$REPO" STATE_DIR="$TEST_TMP/spool" MODULE="$SHIM" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$CONF.tmpl"
pg_owns "$HSM_DIR" "$REPO" "$TEST_TMP/spool" "$R"
chmod 755 "$HSM_DIR"

# the archiver inherits COFFRE_P11SHIM_*: it loses the HSM with the command
pg_init src
pg_conf src "archive_mode = on" \
    "archive_command = '$COFFRE --config $CONF wal-push %p'"
pg_start src
sed "s|^conninfo = .*|conninfo = $SRC_CONNINFO|" "$CONF.tmpl" >"$CONF"
printf '\n[wal]\narchive_timeout = 60s\n\n[retention]\nstale_after = 1s\n' >>"$CONF"
pg_owns "$CONF"
C() { as_pg "$COFFRE" --config "$CONF" "$@"; }
run_ok "keys init through the shim" C keys init
psql_at src -c "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 100000) g"
run_ok "a first good physical backup" C backup --physical
GOOD=$(cat "$LAST_OUT")

touch "$COFFRE_P11SHIM_FAIL"
run_fails "the shim works: with the HSM removed, keys check fails" 4 C keys check
like "$(cat "$LAST_ERR")" "CKR_DEVICE_REMOVED" "the shim works: the error names the module's answer"
rm -f "$COFFRE_P11SHIM_FAIL"

# removed_at POINT COMMAND...: the command stopped at POINT, the HSM removed,
# the command resumed; status in $rc, output in $TEST_TMP/out and err; the
# HSM is back afterwards
# (stop_at of faults.sh watches the process it started: here that is runuser,
# so the stopped coffre is found by its state and command line)
removed_at() {
    local point=$1 p pid="" ppid
    shift
    COFFRE_INJECT="$point=stop" "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
    STOPPED_PID=$!
    for _ in $(seq 1 100); do
        for p in /proc/[0-9]*; do
            [ "$(awk '{ print $3 }' "$p/stat" 2>/dev/null)" = T ] || continue
            tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "$COFFRE --config $CONF" || continue
            pid=${p#/proc/}
        done
        [ -z "$pid" ] || break
        sleep 0.1
    done
    [ -n "$pid" ] || bail_out "$* never reached $point"
    touch "$COFFRE_P11SHIM_FAIL"
    ppid=$(awk '{ print $4 }' "/proc/$pid/stat")
    rc=0
    kill -CONT "$pid" "$ppid"
    wait "$STOPPED_PID" || rc=$?
    rm -f "$COFFRE_P11SHIM_FAIL"
}
# no base backup left running on the server
no_backup_running() {
    for _ in $(seq 1 50); do
        [ "$(psql_at src -c "SELECT count(*) FROM pg_stat_progress_basebackup")" = 0 ] && return 0
        sleep 0.2
    done
    return 1
}

# ---- backup --physical: after base.tar (the next object's data key cannot be
# wrapped), and before the manifest (it cannot be signed) ---------------------
for cell in "after base.tar:put-done@1" "before the manifest:manifest-before"; do
    label="backup --physical, HSM removed ${cell%%:*}"
    before=$(complete_ids)
    sleep 1
    removed_at "${cell#*:}" C backup --physical
    is "$rc" "4" "$label: exit 4"
    like "$(cat "$TEST_TMP/err")" "CKR_DEVICE_REMOVED" "$label: the error names the module's answer"
    like "$(cat "$TEST_TMP/err")" "not completed and is not restorable" "$label: says the backup is not restorable"
    is "$(complete_ids)" "$before" "$label: nothing new is listed as complete"
    unlike "$(C list)" "incomplete" "$label: its objects were removed"
    is "$(tmp_files)" "0" "$label: no temporary file"
    ok "$label: the server's base backup ended" no_backup_running
    run_ok "$label: the next backup succeeds with the HSM back" C backup --physical
    run_ok "$label: and verifies" C verify "$(cat "$LAST_OUT")"
done

# ---- wal-push (sync): the file hashed, no object opened, then the HSM gone ----
WALDIR="$TEST_TMP/walsrc"
SEG=00000009000000000000002A
mkdir -p "$WALDIR"
head -c 16777216 /dev/urandom >"$WALDIR/$SEG"
pg_owns "$WALDIR"
wal_objects() { find "$REPO/acme/wal" -name "$SEG-*" -type f | wc -l; }
removed_at wal-push-start C wal-push "$WALDIR/$SEG"
is "$rc" "4" "wal-push, HSM removed: exit 4"
like "$(cat "$TEST_TMP/err")" "CKR_DEVICE_REMOVED" "wal-push, HSM removed: the error names the module's answer"
like "$(cat "$TEST_TMP/err")" "$SEG" "wal-push, HSM removed: the error names the WAL file"
is "$(wal_objects)" "0" "wal-push, HSM removed: nothing is archived"
is "$(tmp_files)" "0" "wal-push, HSM removed: no temporary file"
run_fails "wal-push, HSM removed: wal-get finds nothing to serve" 1 C wal-get "$SEG" "$TEST_TMP/got"
run_ok "wal-push, HSM back: the archiver's retry succeeds" C wal-push "$WALDIR/$SEG"
is "$(wal_objects)" "1" "wal-push, HSM back: the segment is archived once"
run_ok "wal-push, HSM back: wal-get serves it" C wal-get "$SEG" "$TEST_TMP/got"
ok "wal-push, HSM back: byte-identical" cmp -s "$WALDIR/$SEG" "$TEST_TMP/got"

# ---- wal-push (async): children started, then the HSM gone before the call's own push ----
# the call's own segment A, and B that its child pushes meanwhile (push_jobs = 2)
sed 's/^archive_timeout = 60s$/archive_timeout = 60s\nasync = true\npush_jobs = 2/' "$CONF" \
    >"$TEST_TMP/async.conf"
grep -q '^async = true$' "$TEST_TMP/async.conf" || bail_out "async.conf: no [wal] async"
APG="$TEST_TMP/apg"
SA=00000009000000000000003A SB=00000009000000000000003B
mkdir -p "$APG/pg_wal/archive_status"
for s in "$SA" "$SB"; do
    head -c 16777216 /dev/urandom >"$APG/pg_wal/$s"
    : >"$APG/pg_wal/archive_status/$s.ready"
done
pg_owns "$APG" "$TEST_TMP/async.conf"
A() { as_pg env -C "$APG" "$COFFRE" --config "$TEST_TMP/async.conf" "$@"; }
objects_of() { find "$REPO/acme/wal" -name "$1-*" -type f | wc -l; }
child_done() {
    local f="$TEST_TMP/spool/pushed/$SB.inflight"
    for _ in $(seq 1 150); do
        { [ ! -e "$f" ] || flock -n "$f" true; } && return 0
        sleep 0.2
    done
    return 1
}
CONF_SAVED=$CONF
CONF="$TEST_TMP/async.conf" # removed_at finds the stopped call by its configuration
removed_at wal-push-spawned A wal-push "pg_wal/$SA"
CONF=$CONF_SAVED
is "$rc" "4" "wal-push async, HSM removed: exit 4"
like "$(cat "$TEST_TMP/err")" "CKR_DEVICE_REMOVED" "wal-push async, HSM removed: the error names the module's answer"
like "$(cat "$TEST_TMP/err")" "$SA" "wal-push async, HSM removed: the error names the WAL file"
is "$(objects_of "$SA")" "0" "wal-push async, HSM removed: the call's segment is not archived"
ok "wal-push async, HSM removed: the child pushing the next segment ends" child_done
# the child raced the removal: it stored its segment and recorded it, or did neither
if [ -e "$TEST_TMP/spool/pushed/$SB" ]; then
    is "$(objects_of "$SB")" "1" "wal-push async, HSM removed: the child's record vouches for a stored segment"
else
    is "$(objects_of "$SB")" "0" "wal-push async, HSM removed: the child recorded nothing and stored nothing"
fi
is "$(tmp_files)" "0" "wal-push async, HSM removed: no temporary file"
run_ok "wal-push async, HSM back: the archiver's retry succeeds" A wal-push "pg_wal/$SA"
run_ok "wal-push async, HSM back: and the next segment's push" A wal-push "pg_wal/$SB"
is "$(objects_of "$SA")$(objects_of "$SB")" "11" "wal-push async, HSM back: each segment is archived once"
n_ok=0
for s in "$SA" "$SB"; do
    rm -f "$TEST_TMP/got"
    C wal-get "$s" "$TEST_TMP/got" >/dev/null 2>&1 && cmp -s "$APG/pg_wal/$s" "$TEST_TMP/got" &&
        n_ok=$((n_ok + 1))
done
is "$n_ok" "2" "wal-push async, HSM back: both are served, byte-identical"

# ---- restore --physical: nothing extracted yet, and after the first object ----
restore_into() { # NAME: restore backup $GOOD into $R/NAME
    C restore --physical "$GOOD" --immediate --no-archive --pgdata "$R/$1"
}
for cell in "before the first object:restore-start:r1" "after the first object:get-done@1:r2"; do
    IFS=: read -r where point d <<<"$cell"
    label="restore --physical, HSM removed $where"
    removed_at "$point" restore_into "$d"
    is "$rc" "4" "$label: exit 4"
    like "$(cat "$TEST_TMP/err")" "CKR_DEVICE_REMOVED" "$label: the error names the module's answer"
    like "$(cat "$TEST_TMP/err")" "nothing was restored into" "$label: says nothing was restored"
    ok "$label: no data directory, no staging directory" test -z "$(find "$R" -maxdepth 1 -name "*$d*")"
    run_ok "$label: the next restore into the same directory succeeds" restore_into "$d"
    run_ok "$label: and pg_verifybackup accepts it" as_pg "$PG_BIN/pg_verifybackup" -n "$R/$d"
done

done_testing
