#!/bin/bash
# test_80_physical -- physical backups and point-in-time recovery: a base
# backup with a tablespace through BASE_BACKUP, list and verify, PITR to a
# time taken between two commits (exactly the rows committed before it), a
# tablespace moved with --tablespace-map, --immediate, pg_verifybackup on what
# was restored, and the failures: a non-empty DIR, a corrupted base.tar, WAL
# archiving that does not work.
#
# The server archives with `coffre wal-push`, so it runs coffre as postgres:
# every coffre command here runs as postgres too (as_pg), and the config, the
# PIN, the token directory and the repository belong to postgres.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_80_physical: base backup, PITR, tablespaces, failures"

if grep -qa "wal-push is not implemented" "$COFFRE"; then
    skip_all "coffre wal-push is not available in this build"
fi

COFFRE=$(readlink -f "$COFFRE")   # the server runs it from its data directory
[ "$(id -u)" != 0 ] || chown postgres "$TEST_TMP"  # coffre (as postgres) creates DIRs here
hsm_init
hsm_token coffre 4321
CONF="$TEST_TMP/coffre.conf"
mkdir -p "$TEST_TMP/repo" "$TEST_TMP/ts1" "$TEST_TMP/spool"
INSTANCE=acme CONNINFO="placeholder" REPO="$TEST_TMP/repo" STATE_DIR="$TEST_TMP/spool" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$CONF.tmpl"
pg_owns "$HSM_DIR" "$TEST_TMP/repo" "$TEST_TMP/ts1" "$TEST_TMP/spool"
chmod 755 "$HSM_DIR"

pg_init src
pg_conf src "archive_mode = on" \
    "archive_command = '$COFFRE --config $CONF wal-push %p'"
pg_start src
sed "s|^conninfo = .*|conninfo = $SRC_CONNINFO|" "$CONF.tmpl" >"$CONF"
printf '\n[wal]\narchive_timeout = 60s\n' >>"$CONF"
pg_owns "$CONF"
C() { as_pg "$COFFRE" --config "$CONF" "$@"; }

run_ok "keys init" C keys init

psql_at src -c "CREATE TABLESPACE ts1 LOCATION '$TEST_TMP/ts1'"
psql_at src -c "CREATE TABLE base_rows AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g"
psql_at src -c "CREATE TABLE in_ts (id int, v text) TABLESPACE ts1"
psql_at src -c "INSERT INTO in_ts SELECT g, repeat('x', g % 50) FROM generate_series(1, 2000) g"
psql_at src -c "CREATE TABLE pitr (id int PRIMARY KEY, at timestamptz NOT NULL)"
TS_SUM=$(psql_at src -c "SELECT sum(length(v)) || '/' || count(*) FROM in_ts")

# ------------------------------------------------------------- the base backup
run_ok "backup --physical" C -v backup --physical
ID=$(cat "$LAST_OUT")
like "$ID" "Z" "backup --physical prints its id"
like "$(cat "$LAST_ERR")" "waiting for WAL" "it waits for its WAL to reach the repository"
if [ "$(nproc)" -ge 2 ]; then # [compression] workers = auto, the default
    like "$(cat "$LAST_ERR")" "compressing with one zstd worker thread" \
        "a base backup compresses in a zstd thread (workers = auto, 2 cores or more)"
fi
ok "base.tar, the tablespace tar and backup_manifest are stored" \
    test -f "$TEST_TMP/repo/acme/backup/$ID/base.tar" -a -f "$TEST_TMP/repo/acme/backup/$ID/backup_manifest" \
    -a "$(ls "$TEST_TMP/repo/acme/backup/$ID" | grep -c '^[0-9]*\.tar$')" = 1
if grep -rqa "PG_VERSION" "$TEST_TMP/repo/acme/backup/$ID"; then
    fail "the stored tars are encrypted" "found a plaintext file name"
else
    pass "the stored tars are encrypted"
fi
run_ok "list" C list
like "$(grep "$ID" "$LAST_OUT")" "physical" "list shows the kind"
like "$(grep "$ID" "$LAST_OUT")" "cluster + 1 tblspc" "list shows what it holds"
like "$(grep "$ID" "$LAST_OUT")" "complete" "the physical backup is complete"
run_ok "verify ID" C verify "$ID"
is "$(cat "$LAST_OUT")" "backup $ID: ok" "verify decrypts and checks every object"
run_ok "backup --physical --json" C backup --physical --json
ID2=$(sed -n 's/.*"id": "\([^"]*\)".*/\1/p' "$LAST_OUT")
like "$(cat "$LAST_OUT")" '"kind": "physical"' "--json describes the physical backup"
like "$(cat "$LAST_OUT")" '"stop_lsn": "' "--json gives the stop LSN"

# ------------------------------------------------------------- PITR rows around T
for i in 1 2 3 4 5; do
    psql_at src -c "INSERT INTO pitr VALUES ($i, clock_timestamp())"
    sleep 0.1
done
sleep 0.3
T=$(psql_at src -c "SELECT clock_timestamp()")
sleep 0.3
for i in 6 7 8 9 10; do
    psql_at src -c "INSERT INTO pitr VALUES ($i, clock_timestamp())"
    [ "$i" != 7 ] || L=$(psql_at src -c "SELECT pg_current_wal_insert_lsn()")
    sleep 0.1
done
SEG=$(psql_at src -c "SELECT pg_walfile_name(pg_switch_wal())")
for _ in $(seq 1 120); do
    last=$(psql_at src -c "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
    [[ "$last" < "$SEG" ]] || break
    sleep 0.5
done
is "$(psql_at src -c "SELECT count(*) FROM pitr")" "10" "ten rows committed, five on each side of T"
note "recovery target time: $T"

# ------------------------------------------------------------- restore to T, --start
mkdir -p "$TEST_TMP/pitr" "$TEST_TMP/ts1_pitr"
pg_owns "$TEST_TMP/pitr" "$TEST_TMP/ts1_pitr"
PITR_PORT=$(_free_port)
PITR_HOST="$TEST_TMP/pitr"
on_exit "as_pg $PG_BIN/pg_ctl -D $TEST_TMP/pitr/data stop -m immediate"
run_ok "restore --physical --time T --start" C restore --physical --time "$T" \
    --pgdata "$TEST_TMP/pitr/data" --tablespace-map "$TEST_TMP/ts1=$TEST_TMP/ts1_pitr" \
    --start --port "$PITR_PORT" --socket-dir "$TEST_TMP/pitr"
like "$(cat "$LAST_OUT")" "restored backup $ID2 into $TEST_TMP/pitr/data" \
    "the newest backup finished before T is chosen"
like "$(cat "$LAST_OUT")" "recovery finished: replayed up to LSN" "restore reports where recovery stopped"
like "$(cat "$LAST_ERR")" "pg_verifybackup: the restored files match" "pg_verifybackup passed"
is "$(psql_at pitr -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM pitr")" "1,2,3,4,5" \
    "the restored cluster holds exactly the rows committed before T"
is "$(psql_at pitr -c "SELECT pg_is_in_recovery()")" "f" "the restored cluster was promoted"
is "$(psql_at pitr -c "SELECT sum(length(v)) || '/' || count(*) FROM in_ts")" "$TS_SUM" \
    "the tablespace's table came back in its mapped location"
is "$(readlink "$TEST_TMP/pitr/data/pg_tblspc/$(psql_at src -c "SELECT oid FROM pg_tablespace WHERE spcname = 'ts1'")")" \
    "$TEST_TMP/ts1_pitr" "pg_tblspc points to the mapped location"
is "$(psql_at pitr -c "SELECT count(*) FROM base_rows")" "5000" "the base data is there"

# ------------------------------------------------------------- --latest after a timeline switch
# The promoted cluster is timeline 2 and archives into the same repository
# (its archive_command came with the backup): rows written there must come
# back from a restore to the end of WAL, which has to follow 00000002.history.
is "$(psql_at pitr -c "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)")" "00000002" \
    "the restored cluster runs on timeline 2"
for i in 101 102 103; do
    psql_at pitr -c "INSERT INTO pitr VALUES ($i, clock_timestamp())"
done
SEG2=$(psql_at pitr -c "SELECT pg_walfile_name(pg_switch_wal())")
for _ in $(seq 1 120); do
    last=$(psql_at pitr -c "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
    [[ "$last" < "$SEG2" ]] || break
    sleep 0.5
done
is "$last" "$SEG2" "timeline 2's segments are archived by coffre wal-push"
as_pg "$PG_BIN/pg_ctl" -D "$TEST_TMP/pitr/data" stop -m fast -w >/dev/null 2>&1 || true
mkdir -p "$TEST_TMP/latest"
pg_owns "$TEST_TMP/latest"
LATEST_PORT=$(_free_port)
LATEST_HOST="$TEST_TMP/latest"
on_exit "as_pg $PG_BIN/pg_ctl -D $TEST_TMP/latest/data stop -m immediate"
run_ok "restore --physical --latest (no target) --start" C restore --physical --latest --no-archive \
    --pgdata "$TEST_TMP/latest/data" --tablespace-map "$TEST_TMP/ts1=$TEST_TMP/ts1_latest" \
    --start --port "$LATEST_PORT" --socket-dir "$TEST_TMP/latest"
is "$(psql_at latest -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM pitr")" "1,2,3,4,5,101,102,103" \
    "--latest follows the switch to timeline 2: its rows, and none of timeline 1's after T"
is "$(psql_at latest -c "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)")" "00000003" \
    "and promotes a timeline 3 after it"
as_pg "$PG_BIN/pg_ctl" -D "$TEST_TMP/latest/data" stop -m fast -w >/dev/null 2>&1 || true

# ------------------------------------------------------------- restore to an LSN
# The restore above promoted timeline 2, branched at T: L (after T) is on
# timeline 1 only, which "latest" would not follow.
mkdir -p "$TEST_TMP/lsn"
pg_owns "$TEST_TMP/lsn"
on_exit "as_pg $PG_BIN/pg_ctl -D $TEST_TMP/lsn/data stop -m immediate"
# no --port/--socket-dir: coffre picks a port and a socket directory of the
# restored server's own, and says how to reach it
# with a libpq password and systemd credentials in coffre's environment: the
# server it starts gets neither (issue 12, finding 6)
run_ok "restore --physical --lsn L --timeline current --start" \
    as_pg env PGPASSWORD=coffre-test-password CREDENTIALS_DIRECTORY="$TEST_TMP/no-credentials" \
    "$COFFRE" --config "$CONF" restore --physical --lsn "$L" \
    --timeline current --no-archive --pgdata "$TEST_TMP/lsn/data" --tablespace-map "$TEST_TMP/ts1=$TEST_TMP/ts1_lsn" \
    --start
LSN_PID=$(head -n 1 "$TEST_TMP/lsn/data/postmaster.pid")
ok "the restored server's environment holds neither PGPASSWORD nor CREDENTIALS_DIRECTORY" \
    sh -c "tr '\\0' '\\n' </proc/$LSN_PID/environ | grep -q '^PATH=' &&
           ! tr '\\0' '\\n' </proc/$LSN_PID/environ | grep -q '^PGPASSWORD=\\|^CREDENTIALS_DIRECTORY='"
LSN_HOST=$(sed -n 's/^connect with: psql "host=\([^ ]*\) port=.*/\1/p' "$LAST_OUT")
LSN_PORT=$(sed -n 's/^connect with: psql "host=[^ ]* port=\([0-9]*\) .*/\1/p' "$LAST_OUT")
is "$LSN_HOST" "$TEST_TMP/lsn/data.coffre/socket" "--start picks a socket directory of the restored server's own"
like "$(cat "$LAST_OUT")" "the restored server keeps running: socket directory $LSN_HOST, port $LSN_PORT" \
    "--start says where the restored server runs"
like "$(cat "$LAST_OUT")" "stop it with: pg_ctl -D $TEST_TMP/lsn/data stop" "and how to stop it"
ok "the new timeline of the promoted server is reported" \
    grep -Eq '^recovery finished: replayed up to LSN .*, timeline [2-9]$' "$LAST_OUT"
is "$(stat -c %a "$LSN_HOST")" "700" "its socket directory is private"
is "$(psql_at lsn -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM pitr")" "1,2,3,4,5,6,7" \
    "the cluster restored to L holds exactly the rows committed before L"
as_pg "$PG_BIN/pg_ctl" -D "$TEST_TMP/lsn/data" stop -m fast -w >/dev/null 2>&1 || true

# ------------------------------------------------------------- --immediate, no --start
mkdir -p "$TEST_TMP/imm"
pg_owns "$TEST_TMP/imm"
run_ok "restore --physical ID --immediate --no-archive" C restore --physical "$ID" --immediate --no-archive \
    --pgdata "$TEST_TMP/imm/data" --tablespace-map "$TEST_TMP/ts1=$TEST_TMP/ts1_imm"
ok "recovery.signal is written" test -f "$TEST_TMP/imm/data/recovery.signal"
like "$(cat "$TEST_TMP/imm/data/postgresql.auto.conf")" "recovery_target = 'immediate'" "the target is written"
like "$(cat "$TEST_TMP/imm/data/postgresql.auto.conf")" "restore_command = '" "restore_command is written"
like "$(cat "$TEST_TMP/imm/data/postgresql.auto.conf")" "wal-get %f %p'" "restore_command runs coffre wal-get"
like "$(cat "$TEST_TMP/imm/data/postgresql.auto.conf")" "archive_mode = 'off'" "--no-archive turns archiving off"
run_ok "pg_verifybackup passes on what was restored" as_pg "$PG_BIN/pg_verifybackup" -n "$TEST_TMP/imm/data"
pg_start imm
is "$(psql_at imm -c "SELECT count(*) FROM pitr")" "0" "--immediate stops at the end of the base backup"
is "$(psql_at imm -c "SELECT sum(length(v)) || '/' || count(*) FROM in_ts")" "$TS_SUM" "the tablespace round trip is exact"
pg_stop imm

# ------------------------------------------------------------- failures
# a target beyond the archived WAL: PostgreSQL stops, coffre says why
mkdir -p "$TEST_TMP/future"
pg_owns "$TEST_TMP/future"
on_exit "as_pg $PG_BIN/pg_ctl -D $TEST_TMP/future/data stop -m immediate"
run_fails "a target beyond the archived WAL fails" 7 C restore --physical \
    --time "2099-01-01 00:00:00+00" --pgdata "$TEST_TMP/future/data" \
    --tablespace-map "$TEST_TMP/ts1=$TEST_TMP/ts1_future" \
    --start --port "$(_free_port)" --socket-dir "$TEST_TMP/future"
like "$(cat "$LAST_ERR")" "recovery ended before the recovery target was reached" \
    "the error says the target was not reached"

# --start without --port/--socket-dir must follow the restored server only,
# never the one postgres.conninfo names (here the running source, which is
# not in recovery): a target the WAL never reaches fails, it is not reported
# as the end of recovery.
mkdir -p "$TEST_TMP/noport"
pg_owns "$TEST_TMP/noport"
on_exit "as_pg $PG_BIN/pg_ctl -D $TEST_TMP/noport/data stop -m immediate"
run_fails "--start without --port/--socket-dir follows only the restored server" 7 C restore \
    --physical "$ID" --time "2099-01-01 00:00:00+00" --no-archive --pgdata "$TEST_TMP/noport/data" \
    --tablespace-map "$TEST_TMP/ts1=$TEST_TMP/ts1_noport" --start
like "$(cat "$LAST_ERR")" "recovery ended before the recovery target was reached" \
    "it fails with the restored server's reason"
unlike "$(cat "$LAST_OUT")" "recovery finished" "and does not take the source's state for the end of recovery"

mkdir -p "$TEST_TMP/full/data"
echo keep >"$TEST_TMP/full/data/mine"
pg_owns "$TEST_TMP/full"
run_fails "restore into a non-empty DIR is refused" 5 C restore --physical --latest \
    --pgdata "$TEST_TMP/full/data" --tablespace-map "$TEST_TMP/ts1=$TEST_TMP/ts1_full"
like "$(cat "$LAST_ERR")" "exists and is not empty" "the error says why"
is "$(ls -A "$TEST_TMP/full/data")" "mine" "the non-empty DIR is untouched"
ok "no tablespace directory was created" test ! -e "$TEST_TMP/ts1_full"

if [ "$(id -u)" = 0 ]; then
    run_fails "restore --start as root is refused" 2 "$COFFRE" --config "$CONF" restore \
        --physical --pgdata "$TEST_TMP/never/data" --start
    like "$(cat "$LAST_ERR")" "must not run as root" "the error says why"

    # Issue 12, finding 4: root never extracts an archive as itself.
    # rootx/ is root's; the restore must still give everything to postgres.
    R() { "$COFFRE" --config "$CONF" restore --physical "$ID" --immediate --no-archive \
        --pgdata "$TEST_TMP/rootx/data" --tablespace-map "$TEST_TMP/ts1=$TEST_TMP/ts1_rootx" "$@"; }
    mkdir -p "$TEST_TMP/rootx"
    run_fails "restore --physical as root without --as-user is refused" 2 R
    like "$(cat "$LAST_ERR")" "does not extract a backup as root" "the error says why"
    like "$(cat "$LAST_ERR")" "--as-user postgres" "the hint names --as-user"
    ok "refused as root: nothing was created" test ! -e "$TEST_TMP/rootx/data" -a ! -e "$TEST_TMP/ts1_rootx"
    run_fails "--as-user root is refused" 2 R --as-user root
    like "$(cat "$LAST_ERR")" "must not name root" "the error says why"
    run_fails "--as-user naming no OS user is refused" 2 R --as-user coffre-no-such-user
    like "$(cat "$LAST_ERR")" 'no OS user "coffre-no-such-user"' "the error names the user"
    run_ok "restore --physical as root with --as-user postgres" R --as-user postgres
    is "$(find "$TEST_TMP/rootx/data" "$TEST_TMP/ts1_rootx" ! -user postgres | head -3)" "" \
        "--as-user: every restored file and link belongs to postgres"
    is "$(find "$TEST_TMP/rootx/data" "$TEST_TMP/ts1_rootx" ! -group "$(id -gn postgres)" | head -3)" "" \
        "--as-user: and to postgres's group"
    is "$(stat -c %a "$TEST_TMP/rootx/data")" "700" "--as-user: the data directory has mode 0700"
    is "$(find "$HSM_DIR" "$TEST_TMP/repo" "$TEST_TMP/spool" ! -user postgres | head -3)" "" \
        "--as-user: the restore as root left nothing of root's in the token, repository or spool"
    run_ok "--as-user: pg_verifybackup passes, run as postgres" \
        as_pg "$PG_BIN/pg_verifybackup" -n "$TEST_TMP/rootx/data"
    chown postgres "$TEST_TMP/rootx"   # the server's log and socket go beside its data
    pg_start rootx
    is "$(psql_at rootx -c "SELECT sum(length(v)) || '/' || count(*) FROM in_ts")" "$TS_SUM" \
        "--as-user: the restored server starts as postgres, tablespace included"
    pg_stop rootx
fi

mkdir -p "$TEST_TMP/inuse"
pg_owns "$TEST_TMP/inuse"
run_fails "a tablespace location in use is refused" 5 C restore --physical "$ID" \
    --pgdata "$TEST_TMP/inuse/data"
like "$(cat "$LAST_ERR")" "tablespace directory \"$TEST_TMP/ts1\" exists and is not empty" "it names the location"
is "$(ls -A "$TEST_TMP/inuse")" "" "no staging directory is left behind"

# archiving that does not work: the backup waits archive_timeout, then fails
sed 's/^archive_timeout = .*/archive_timeout = 3s/' "$CONF" >"$CONF.short"
pg_owns "$CONF.short"
psql_at src -c "ALTER SYSTEM SET archive_command = '/bin/false'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
run_fails "backup --physical fails when WAL never reaches the repository" 5 \
    as_pg "$COFFRE" --config "$CONF.short" backup --physical
like "$(cat "$LAST_ERR")" "did not reach the repository within 3 s" "the error names the timeout"
like "$(cat "$LAST_ERR")" "archive_command" "the hint points at archive_command/wal-stream"
# interrupted while it waits: exit 8, nothing left
as_pg "$COFFRE" --config "$CONF" backup --physical >"$TEST_TMP/term.out" 2>"$TEST_TMP/term.err" &
RUNNER=$!
for _ in $(seq 1 100); do
    grep -q "waiting for WAL" "$TEST_TMP/term.err" 2>/dev/null && break
    sleep 0.2
done
CHILD=$(pgrep -P "$RUNNER" || echo "$RUNNER")
kill -TERM "$CHILD"
rc=0
wait "$RUNNER" || rc=$?
isnt "$rc" "0" "SIGTERM while waiting for WAL: the backup fails"
like "$(cat "$TEST_TMP/term.err")" "interrupted by signal SIGTERM" "it says it was interrupted"
like "$(cat "$TEST_TMP/term.err")" "was not completed and is not restorable" "the interrupted backup says so"
psql_at src -c "ALTER SYSTEM RESET archive_command" -c "SELECT pg_reload_conf()" >/dev/null
run_ok "list after the failed backup" C list --json
is "$(grep -c '"state": "complete"' "$LAST_OUT")" "2" "no new complete backup is listed"
is "$(find "$TEST_TMP/repo/acme/backup" -name base.tar | wc -l)" "2" "the failed backup's objects were removed"

# a corrupted base.tar: refused, nothing left behind
obj="$TEST_TMP/repo/acme/backup/$ID/base.tar"
size=$(stat -c %s "$obj")
flip_byte "$obj" $((size / 2))
mkdir -p "$TEST_TMP/bad"
pg_owns "$TEST_TMP/bad"
run_fails "a corrupted base.tar is refused" 6 C restore --physical "$ID" --immediate \
    --pgdata "$TEST_TMP/bad/data" --tablespace-map "$TEST_TMP/ts1=$TEST_TMP/ts1_bad"
like "$(cat "$LAST_ERR")" "nothing was restored" "the error says nothing was restored"
ok "DIR was not created" test ! -e "$TEST_TMP/bad/data"
is "$(ls -A "$TEST_TMP/bad")" "" "no staging directory is left behind"
is "$(ls -A "$TEST_TMP/ts1_bad" 2>/dev/null)" "" "nothing is left in the tablespace location"
run_fails "verify reports the corruption" 6 C verify "$ID"

# ------------------------------------------------------------- from a standby
# A standby cannot switch WAL: the last segment is archived once the primary
# switches it, so the primary ticks (write + pg_switch_wal) while it waits.
mkdir -p "$TEST_TMP/stby" "$TEST_TMP/ts1_stby"
pg_owns "$TEST_TMP/stby" "$TEST_TMP/ts1_stby"
as_pg "$PG_BIN/pg_basebackup" -h "$SRC_HOST" -p "$SRC_PORT" -U postgres -D "$TEST_TMP/stby/data" \
    -R -X stream --tablespace-mapping="$TEST_TMP/ts1=$TEST_TMP/ts1_stby" >/dev/null 2>&1
pg_start stby
sed "s|^conninfo = .*|conninfo = $STBY_CONNINFO|" "$CONF" >"$CONF.stby"
pg_owns "$CONF.stby"
psql_at src -c "CREATE TABLE tick (i int)"
( for i in $(seq 1 60); do
      psql_at src -c "INSERT INTO tick VALUES ($i)" -c "SELECT pg_switch_wal()" >/dev/null 2>&1 || true
      sleep 1
  done ) &
TICKER=$!
on_exit "kill $TICKER"
run_ok "backup --physical from a standby" as_pg "$COFFRE" --config "$CONF.stby" backup --physical --json
kill "$TICKER" 2>/dev/null || true
like "$(cat "$LAST_OUT")" '"from_standby": true' "the manifest records that it came from a standby"
SID=$(sed -n 's/.*"id": "\([^"]*\)".*/\1/p' "$LAST_OUT")
run_ok "verify the standby's backup" C verify "$SID"

# ------------------------------------------------------------- a corrupted WAL segment
# Recovery from the standby's backup needs the segments after its start: flip
# a byte in the first of them.  wal-get refuses it with a status above 125, so
# PostgreSQL stops recovery instead of ending it early, and --start says so.
wal_start=$(C cat "$SID/manifest" | sed -n 's/.*"wal_start": "\([0-9A-F]*\)".*/\1/p')
victim=$(ls "$TEST_TMP/repo/acme/wal/${wal_start:0:16}/" | grep "^$wal_start-" | head -n 1)
ok "the backup's first WAL segment is in the repository ($wal_start)" test -n "$victim"
vobj="$TEST_TMP/repo/acme/wal/${wal_start:0:16}/$victim"
flip_byte "$vobj" $(($(stat -c %s "$vobj") / 2))
mkdir -p "$TEST_TMP/badwal"
pg_owns "$TEST_TMP/badwal"
on_exit "as_pg $PG_BIN/pg_ctl -D $TEST_TMP/badwal/data stop -m immediate"
run_fails "a restore through a corrupted WAL segment fails" 7 C restore --physical "$SID" --no-archive \
    --pgdata "$TEST_TMP/badwal/data" --tablespace-map "$TEST_TMP/ts1_stby=$TEST_TMP/ts1_badwal" \
    --start --port "$(_free_port)" --socket-dir "$TEST_TMP/badwal"
like "$(cat "$TEST_TMP/badwal/data.coffre/postgres.log" 2>/dev/null; cat "$LAST_ERR")" \
    "$wal_start" "the failure names the corrupted segment"
unlike "$(cat "$LAST_OUT")" "recovery finished" "and recovery is not reported as finished"

done_testing
