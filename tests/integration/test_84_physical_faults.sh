#!/bin/bash
# test_84_physical_faults -- the fault matrix (docs/reliability.md) for the
# physical side: backup --physical, wal-push (sync) and restore --physical,
# each killed with SIGKILL and stopped with SIGTERM at every stage, through
# the injection points of the sanitizer build (common/inject.h).
#
# As in test_80, the server archives with `coffre wal-push` as postgres, so
# every coffre command runs as postgres.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"
plan_start "test_84_physical_faults: kill -9 and SIGTERM at every stage, physical"

needs_injection_points

COFFRE=$(readlink -f "$COFFRE")
[ "$(id -u)" != 0 ] || chown postgres "$TEST_TMP"
hsm_init
hsm_token coffre 4321
CONF="$TEST_TMP/coffre.conf"
REPO="$TEST_TMP/repo"
mkdir -p "$REPO" "$TEST_TMP/ts1" "$TEST_TMP/spool" "$TEST_TMP/restore"
INSTANCE=acme CONNINFO="placeholder" REPO="$REPO" STATE_DIR="$TEST_TMP/spool" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$CONF.tmpl"
pg_owns "$HSM_DIR" "$REPO" "$TEST_TMP/ts1" "$TEST_TMP/spool" "$TEST_TMP/restore"
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

psql_at src -c "CREATE TABLESPACE ts1 LOCATION '$TEST_TMP/ts1'"
psql_at src -c "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 100000) g"
psql_at src -c "CREATE TABLE in_ts TABLESPACE ts1 AS SELECT g AS id FROM generate_series(1, 20000) g"

# no base backup left running on the server after coffre died
# the backups' hidden temporary files (the archiver, pushing WAL meanwhile, has its own)
backup_tmp_files() { find "$REPO/acme/backup" -name '.*' -type f | wc -l; }

no_backup_running() {
    local n=""
    for _ in $(seq 1 50); do
        n=$(psql_at src -c "SELECT count(*) FROM pg_stat_progress_basebackup")
        [ "$n" = 0 ] && return 0
        sleep 0.2
    done
    return 1
}

# ---- backup --physical --------------------------------------------------------
# K1 BASE_BACKUP started, nothing stored; K2 mid-tar; K3 one tar stored, the
# next not started; K4 WAL archived, manifest not written; K5 after it.
for cell in "K1 backup-start" "K2 pump-mid@1" "K3 put-done@1" "K4 manifest-before" "K5 manifest-after"; do
    set -- $cell
    col=$1 point=$2
    before=$(complete_ids)
    sleep 1
    inject "backup --physical $col kill -9" "$point=kill" 137 -- C backup --physical
    ok "backup --physical $col kill -9: the server's base backup ended with the connection" no_backup_running
    if [ "$col" = K5 ]; then
        new=$(comm -13 <(echo "$before") <(complete_ids))
        is "$(echo "$new" | grep -c .)" "1" "backup --physical $col kill -9: the backup whose manifest was stored is listed"
        run_ok "backup --physical $col kill -9: and it verifies" C verify "$new"
    else
        is "$(complete_ids)" "$before" "backup --physical $col kill -9: nothing new is listed as complete"
        sleep 2.1
        run_ok "backup --physical $col kill -9: prune" C prune
        unlike "$(C list)" "incomplete" "backup --physical $col kill -9: prune removed the leftover"
        is "$(backup_tmp_files)" "0" "backup --physical $col kill -9: no temporary file after prune"
    fi
    run_ok "backup --physical $col kill -9: the next backup succeeds" C backup --physical
done
for cell in "K1 backup-start" "K2 pump-mid@1" "K3 put-done@1" "K4 manifest-before"; do
    set -- $cell
    before=$(complete_ids)
    sleep 1
    inject "backup --physical $1 SIGTERM" "$2=term" 8 -- C backup --physical
    like "$(cat "$TEST_TMP/err")" "interrupted by signal SIGTERM" "backup --physical $1 SIGTERM: the error names the signal"
    like "$(cat "$TEST_TMP/err")" "not completed and is not restorable" "backup --physical $1 SIGTERM: says the backup is not restorable"
    is "$(complete_ids)" "$before" "backup --physical $1 SIGTERM: nothing new is listed as complete"
    unlike "$(C list)" "incomplete" "backup --physical $1 SIGTERM: no leftover object"
    is "$(backup_tmp_files)" "0" "backup --physical $1 SIGTERM: no temporary file"
done
run_ok "backup --physical: the next backup succeeds" C backup --physical
ID=$(cat "$LAST_OUT")

# ---- wal-push (sync) ----------------------------------------------------------
# a WAL file of our own, pushed by hand: K1 hashed, not opened; K2 mid-object;
# K5 stored, exit status not yet returned
WALDIR="$TEST_TMP/walsrc"
mkdir -p "$WALDIR"
head -c 16777216 /dev/urandom >"$WALDIR/00000009000000000000002A"
pg_owns "$WALDIR"
wal_objects() { find "$REPO/acme/wal" -name '00000009000000000000002A-*' -type f | wc -l; }
for cell in "K1 wal-push-start" "K2 pump-mid@1"; do
    set -- $cell
    inject "wal-push $1 kill -9" "$2=kill" 137 -- C wal-push "$WALDIR/00000009000000000000002A"
    is "$(wal_objects)" "0" "wal-push $1 kill -9: nothing is archived"
    run_fails "wal-push $1 kill -9: wal-get finds nothing to serve" 1 C wal-get 00000009000000000000002A "$TEST_TMP/got"
    inject "wal-push $1 SIGTERM" "$2=term" 8 -- C wal-push "$WALDIR/00000009000000000000002A"
    like "$(cat "$TEST_TMP/err")" "interrupted by signal SIGTERM" "wal-push $1 SIGTERM: the error names the signal"
    is "$(wal_objects)" "0" "wal-push $1 SIGTERM: nothing is archived"
done
sleep 2.1
run_ok "wal-push: prune" C prune
is "$(tmp_files)" "0" "wal-push K2 kill -9: prune removed the temporary file"
inject "wal-push K5 kill -9" "put-done=kill" 137 -- C wal-push "$WALDIR/00000009000000000000002A"
is "$(wal_objects)" "1" "wal-push K5 kill -9: the segment is archived once"
run_ok "wal-push K5 kill -9: the archiver's retry succeeds" C wal-push "$WALDIR/00000009000000000000002A"
like "$(cat "$LAST_ERR")" "already archived" "wal-push K5 kill -9: the retry says it was already archived"
run_ok "wal-push: wal-get serves it" C wal-get 00000009000000000000002A "$TEST_TMP/got"
ok "wal-push: byte-identical" cmp -s "$WALDIR/00000009000000000000002A" "$TEST_TMP/got"

# ---- restore --physical -------------------------------------------------------
# K1 staging made, nothing extracted; K2 mid-tar; K3 one tar extracted; K4
# files checked, not renamed; K5 renamed.  The data directory appears whole or
# not at all; the next restore into the same DIR succeeds.
R="$TEST_TMP/restore"
restore_into() { # NAME: restore backup $ID into $R/NAME, tablespace in $R/NAME-ts
    C restore --physical "$ID" --immediate --no-archive --pgdata "$R/$1" \
        --tablespace-map "$TEST_TMP/ts1=$R/$1-ts"
}
for cell in "K1 restore-start" "K2 pump-mid@1" "K3 get-done@1" "K4 restore-before-rename"; do
    set -- $cell
    d=$(echo "$1" | tr 'K' 'k')
    inject "restore --physical $1 kill -9" "$2=kill" 137 -- restore_into "$d"
    ok "restore --physical $1 kill -9: no half-restored data directory" test ! -e "$R/$d"
    run_ok "restore --physical $1 kill -9: the next restore into the same directories succeeds" restore_into "$d"
    ok "restore --physical $1 kill -9: the data directory is complete" test -f "$R/$d/PG_VERSION" -a -f "$R/$d/backup_label"
    is "$(find "$R" -maxdepth 1 -name ".$d.coffre-restore-*" | wc -l)" "0" \
        "restore --physical $1 kill -9: the interrupted restore's staging directory is gone"
    inject "restore --physical $1 SIGTERM" "$2=term" 8 -- restore_into "$d-term"
    like "$(cat "$TEST_TMP/err")" "interrupted by signal SIGTERM" "restore --physical $1 SIGTERM: the error names the signal"
    like "$(cat "$TEST_TMP/err")" "nothing was restored into" "restore --physical $1 SIGTERM: says nothing was restored"
    ok "restore --physical $1 SIGTERM: no data directory, no staging, no tablespace directory" \
        test -z "$(find "$R" -maxdepth 1 -name "*$d-term*")"
done
inject "restore --physical K5 kill -9" "restore-after-rename=kill" 137 -- restore_into k5
ok "restore --physical K5 kill -9: the renamed data directory is complete" test -f "$R/k5/PG_VERSION" -a -f "$R/k5/backup_label"
run_ok "restore --physical K5: pg_verifybackup accepts it" as_pg "$PG_BIN/pg_verifybackup" -n "$R/k5"


# ---- restore --physical --start, PG: the restored server killed during recovery --
# stopped once the server it started runs (in recovery), the postmaster killed,
# then resumed: the restore fails naming the server and its log, and the data
# directory, complete, finishes its recovery when started again
d=pg-kill
port=$(_free_port)
stop_at restore-server-started setpriv --reuid=postgres --regid=postgres --init-groups \
    "$COFFRE" --config "$CONF" restore --physical "$ID" --immediate --pgdata "$R/$d" \
    --tablespace-map "$TEST_TMP/ts1=$R/$d-ts" --start --port "$port"
pass "restore --physical PG: stopped with the restored server started"
pm=$(head -n 1 "$R/$d/postmaster.pid")
kill -9 "$pm"
resume
is "$rc" "7" "restore --physical PG: fails (exit 7)"
like "$(cat "$TEST_TMP/err")" "the restored server stopped during recovery" "restore --physical PG: the error says the server stopped"
like "$(cat "$TEST_TMP/err")" "postgres.log" "restore --physical PG: and names its log"
like "$(cat "$TEST_TMP/err")" "pg_ctl -D $R/$d start" "restore --physical PG: and how to finish the recovery"
ok "restore --physical PG: the data directory is complete" test -f "$R/$d/PG_VERSION"
pkill -9 -f "postgres -D $R/[p]g-kill" 2>/dev/null || true # the killed postmaster's children
sleep 1
rm -f "$R/$d/postmaster.pid"
run_ok "restore --physical PG: started again, the server finishes its recovery" \
    as_pg "$PG_BIN/pg_ctl" -D "$R/$d" -o "-p $port -k $R/$d.coffre" -l "$R/$d.log" -w -t 60 start
is "$(as_pg "$PG_BIN/psql" -X -At -h "$R/$d.coffre" -p "$port" -d postgres -c "SELECT count(*) FROM t")" \
    "100000" "restore --physical PG: and holds the data"
as_pg "$PG_BIN/pg_ctl" -D "$R/$d" -m immediate stop >/dev/null 2>&1 || true

done_testing
