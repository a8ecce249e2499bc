#!/bin/bash
# test_83_cluster -- restore/cluster.c, the servers coffre starts and stops
# itself, through tests/unit/cluster_driver: a scratch cluster (initdb, start,
# query, stop; nothing left), a kept one only its owner can reach, a restored
# PGDATA whose configuration lives elsewhere (Debian's layout), a PGDATA whose
# own settings must not win, SIGTERM while waiting for recovery, a timeout, a
# server that dies at start and one whose recovery ends before its target,
# and the refusals (root, a non-empty work directory, a socket path too long).
#
# Every case checks that no server process and no work directory are left.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_83_cluster: scratch servers coffre starts and stops itself"

DRIVER=${CLUSTER_DRIVER:-$(dirname "$(readlink -f "$COFFRE")")/tests/cluster_driver}
[ -x "$DRIVER" ] || bail_out "no cluster driver at $DRIVER (make unit, or make asan)"
W="$TEST_TMP/w"
mkdir -p "$W"
pg_owns "$W"
PG_USER=$(as_pg id -un)
D() { as_pg "$DRIVER" "$@"; }
# gone DIR DESC: no process has DIR on its command line, and DIR does not exist
gone() {
    if pgrep -f -- "$1" >/dev/null; then
        fail "$2: no server process is left" "$(pgrep -af -- "$1")"
    else
        pass "$2: no server process is left"
    fi
    ok "$2: the work directory is removed" test ! -e "$1"
}

# ------------------------------------------------------------- initdb, start, stop
run_ok "scratch: initdb, start, query, stop" D --wait --sql "SELECT current_user" \
    --sql "SHOW listen_addresses" --sql "SHOW unix_socket_directories" "$W/s1"
like "$(cat "$LAST_OUT")" "conninfo: host=$W/s1/socket port=" "scratch: the conninfo names the socket directory"
like "$(cat "$LAST_OUT")" "recovery: in_recovery=0" "scratch: a new cluster is not in recovery"
like "$(cat "$LAST_OUT")" "sql: $PG_USER" "scratch: the OS user is the superuser"
like "$(cat "$LAST_OUT")" "$(printf 'sql: \nsql: %s' "$W/s1/socket")" "scratch: no TCP address, our socket directory"
like "$(cat "$LAST_OUT")" "stopped" "scratch: stopped"
gone "$W/s1" "scratch"

# ------------------------------------------------------------- keep: only its owner can reach it
run_ok "keep: the server is left running" D --keep --no-stop --sql "SELECT 1" "$W/s2"
CONNINFO2=$(sed -n 's/^conninfo: //p' "$LAST_OUT")
run_ok "keep: it answers on the printed conninfo" as_pg "$PG_BIN/psql" -X -At -d "$CONNINFO2" -c "SELECT 42"
is "$(cat "$LAST_OUT")" "42" "keep: and runs queries"
is "$(stat -c %a "$W/s2") $(stat -c %a "$W/s2/socket") $(stat -c %a "$W/s2"/socket/.s.PGSQL.*[0-9])" \
    "700 700 700" "keep: work directory, socket directory and socket are 0700"
like "$(cat "$W/s2/pg_hba.conf")" "local all all trust" "keep: our own pg_hba.conf"
if [ "$(id -u)" = 0 ]; then
    run_fails "keep: another OS user cannot connect" any runuser -u nobody -- \
        "$PG_BIN/psql" -X -At -d "$CONNINFO2" -c "SELECT 1"
fi
as_pg "$PG_BIN/pg_ctl" -D "$W/s2/data" stop -m fast -w >/dev/null
rm -rf "$W/s2"

# ------------------------------------------------------------- refusals
mkdir -p "$W/full"
echo mine >"$W/full/file"
pg_owns "$W/full"
run_fails "a non-empty work directory is refused" 5 D "$W/full"
like "$(cat "$LAST_ERR")" "coffre: error: work directory \"$W/full\" exists and is not empty" "its message"
is "$(ls -A "$W/full")" "file" "and it is untouched"
LONG="$W/$(printf 'x%.0s' $(seq 1 90))"
run_fails "a socket path too long is refused" 2 D "$LONG"
like "$(cat "$LAST_ERR")" "socket directory \"$LONG/socket\" is too long" "its message"
ok "nothing is left of it" test ! -e "$LONG"
if [ "$(id -u)" = 0 ]; then
    run_fails "root is refused" 2 "$DRIVER" "$W/root"
    like "$(cat "$LAST_ERR")" "coffre: error: a PostgreSQL server cannot be run as root" "root: message"
    like "$(cat "$LAST_ERR")" "HINT: Run coffre as the PostgreSQL OS user" "root: hint"
    ok "root: nothing is created" test ! -e "$W/root"
fi

# ------------------------------------------------------------- restored data directories
pg_start src
psql_at src -c "CREATE TABLE t AS SELECT g FROM generate_series(1, 123) g"
as_pg "$PG_BIN/pg_basebackup" -h "$SRC_HOST" -p "$SRC_PORT" -U postgres -D "$W/pristine" -X stream \
    >/dev/null 2>&1
copy() { # NAME: a copy of the base backup in $W/NAME
    cp -a "$W/pristine" "$W/$1"
}

# Debian keeps postgresql.conf, pg_hba.conf and pg_ident.conf in /etc/postgresql
copy debian
mkdir -p "$TEST_TMP/etc"
mv "$W/debian/postgresql.conf" "$W/debian/pg_hba.conf" "$W/debian/pg_ident.conf" "$TEST_TMP/etc/"
run_ok "Debian layout: a PGDATA without its configuration starts" D --pgdata "$W/debian" \
    --sql "SHOW config_file" --sql "SHOW data_directory" --sql "SELECT count(*) FROM t" "$W/c1"
like "$(cat "$LAST_OUT")" "sql: $W/c1/postgresql.conf" "Debian layout: config_file is ours"
like "$(cat "$LAST_OUT")" "sql: $W/debian" "Debian layout: on the adopted data directory"
like "$(cat "$LAST_OUT")" "sql: 123" "Debian layout: with its data"
ok "Debian layout: nothing was written into the PGDATA" test ! -e "$W/debian/postgresql.conf"
ok "Debian layout: the adopted PGDATA is kept" test -f "$W/debian/PG_VERSION" -a ! -e "$W/debian/postmaster.pid"
gone "$W/c1" "Debian layout"

# the PGDATA's own settings point at the source: the command line wins
copy hostile
cat >>"$W/hostile/postgresql.conf" <<EOF
data_directory = '$SRC_PGDATA'
port = $SRC_PORT
listen_addresses = 'localhost'
unix_socket_directories = '$SRC_HOST'
hba_file = '/nonexistent/pg_hba.conf'
external_pid_file = '$SRC_HOST/hostile.pid'
logging_collector = on
EOF
run_ok "settings: a PGDATA naming the source's directories starts apart" D --pgdata "$W/hostile" \
    --sql "SELECT current_setting('data_directory') || ' ' || current_setting('port') || ' [' || current_setting('listen_addresses') || '] ' || current_setting('unix_socket_directories')" \
    "$W/c2"
PORT2=$(sed -n 's/^conninfo: .* port=\([0-9]*\) .*/\1/p' "$LAST_OUT")
like "$(cat "$LAST_OUT")" "sql: $W/hostile $PORT2 [] $W/c2/socket" "settings: data directory, port, addresses and socket are ours"
isnt "$PORT2" "$SRC_PORT" "settings: not the source's port"
ok "settings: no external pid file in the source's directory" test ! -e "$SRC_HOST/hostile.pid"
is "$(psql_at src -c "SELECT count(*) FROM t")" "123" "settings: the source is untouched"
gone "$W/c2" "settings"

# a standby that never ends recovery: SIGTERM while waiting
copy standby
touch "$W/standby/standby.signal"
pg_owns "$W/standby"
D --pgdata "$W/standby" --wait "$W/c3" >"$TEST_TMP/c3.out" 2>"$TEST_TMP/c3.err" &
RUNNER=$!
for _ in $(seq 1 100); do
    grep -q '^started' "$TEST_TMP/c3.out" 2>/dev/null && break
    sleep 0.2
done
sleep 1
kill -TERM "$(pgrep -f "^$DRIVER .*$W/c3")"
rc=0
wait "$RUNNER" || rc=$?
is "$rc" "8" "SIGTERM while waiting for recovery: exit 8"
like "$(cat "$TEST_TMP/c3.err")" "interrupted by signal SIGTERM" "SIGTERM: says so"
gone "$W/c3" "SIGTERM"
ok "SIGTERM: the adopted PGDATA is stopped" test ! -e "$W/standby/postmaster.pid"

# the same standby, with a timeout
run_fails "timeout: recovery that does not end in time fails" 7 D --pgdata "$W/standby" --wait \
    --timeout 3 "$W/c4"
like "$(cat "$LAST_ERR")" "coffre: error: recovery did not end within 3 s" "timeout: message"
like "$(cat "$LAST_ERR")" "had replayed WAL up to" "timeout: says how far it got"
gone "$W/c4" "timeout"

# a server that dies at start
copy broken
echo "shared_preload_libraries = 'coffre_no_such_library'" >>"$W/broken/postgresql.conf"
run_fails "a server that cannot start fails" 7 D --pgdata "$W/broken" "$W/c5"
like "$(cat "$LAST_ERR")" "coffre: error: could not start the scratch server" "dies at start: message"
like "$(cat "$LAST_ERR")" 'FATAL:  could not access file "coffre_no_such_library"' "dies at start: the log line that says why"
like "$(cat "$LAST_ERR")" "HINT: See the server log $W/c5/postgres.log." "dies at start: the hint names the log"
gone "$W/c5" "dies at start"

# a recovery that ends before its target: PostgreSQL stops, and says why
copy target
touch "$W/target/recovery.signal"
cat >>"$W/target/postgresql.auto.conf" <<EOF
restore_command = 'false'
recovery_target_time = '2099-01-01 00:00:00+00'
EOF
pg_owns "$W/target"
run_fails "recovery ending before its target fails" 7 D --pgdata "$W/target" --wait "$W/c6"
like "$(cat "$LAST_ERR")" "coffre: error: recovery ended before the recovery target was reached" \
    "target not reached: message"
like "$(cat "$LAST_ERR")" "FATAL:  recovery ended before configured recovery target was reached" \
    "target not reached: PostgreSQL's line"
gone "$W/c6" "target not reached"

done_testing
