# bench/common.sh -- what the side-by-side benchmarks share (sourced after
# tests/integration/lib.sh): log lines, medians and ratios, the binary under
# test copied aside, and a wall-clock timer for commands run as postgres.
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# med "1 2 3" -> the median of a space-separated list
med() { echo "$1" | tr ' ' '\n' | grep . | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

# the binary under test ($COFFRE) copied into the run's directory as $BIN; $REV names the tree
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null
[ "$(id -u)" != 0 ] || chown postgres "$TEST_TMP"
cp "$COFFRE" "$TEST_TMP/coffre"
BIN=$TEST_TMP/coffre
REV=$(git -C "$(dirname "${BASH_SOURCE[0]}")/.." describe --always --dirty 2>/dev/null || echo "?")

# wall CMD... (as postgres) -> seconds; its stdout in $TEST_TMP/out.log
wall() {
    local t=$TEST_TMP/time.out
    /usr/bin/time -f '%e' -o "$t" runuser -u postgres -- "$@" >"$TEST_TMP/out.log" 2>"$TEST_TMP/err.log" ||
        { cat "$TEST_TMP/err.log" >&2; return 1; }
    cat "$t"
}

# pgbr_conf STANZA PGDATA HOST PORT [extra global lines...] -> a pgbackrest.conf
pgbr_conf() {
    local stanza=$1 data=$2 host=$3 port=$4 f=$TEST_TMP/pgbackrest-$1.conf
    shift 4
    mkdir -p "$TEST_TMP/pgbr-$stanza"/{repo,log,lock,spool}
    {
        echo "[global]"
        echo "repo1-path=$TEST_TMP/pgbr-$stanza/repo"
        echo "repo1-cipher-type=aes-256-cbc"
        echo "repo1-cipher-pass=$(head -c 24 /dev/urandom | base64)"
        echo "compress-type=zst"
        echo "compress-level=$LEVEL"
        echo "start-fast=y"
        echo "log-level-console=warn"
        echo "log-level-file=off"
        echo "log-path=$TEST_TMP/pgbr-$stanza/log"
        echo "lock-path=$TEST_TMP/pgbr-$stanza/lock"
        echo "spool-path=$TEST_TMP/pgbr-$stanza/spool"
        for l in "$@"; do echo "$l"; done
        echo "[$stanza]"
        echo "pg1-path=$data"
        echo "pg1-socket-path=$host"
        echo "pg1-port=$port"
        echo "pg1-user=postgres"
    } >"$f"
    chmod 600 "$f"
    pg_owns "$f" "$TEST_TMP/pgbr-$stanza"
    echo "$f"
}

# archive_both NAME COFFRE_CONF PGBR_CONF -- cluster NAME archives every WAL file with
# coffre and with pgBackRest (stanza NAME), restarted and its stanza created
archive_both() {
    pg_conf "$1" "archive_command = '$BIN -c $2 wal-push %p && pgbackrest --config=$3 --stanza=$1 archive-push %p'"
    pg_restart "$1"
    as_pg pgbackrest --config="$3" --stanza="$1" stanza-create >/dev/null
}

# fill_bench NAME SIZE_MIB -- database "bench" of cluster NAME from gen.sh, frozen,
# analysed and checkpointed; prints the cluster's size
fill_bench() {
    psql_at "$1" -c "CREATE DATABASE bench"
    log "generating a $2 MiB database"
    bash "$(dirname "${BASH_SOURCE[0]}")/gen.sh" "$(pg_conninfo "$1" bench)" bench "$2" >&2
    psql_at "$1" bench -c "VACUUM (FREEZE, ANALYZE)" >/dev/null
    psql_at "$1" -c "CHECKPOINT" >/dev/null
    psql_at "$1" -c "SELECT pg_size_pretty(sum(pg_database_size(datname))) FROM pg_database"
}
