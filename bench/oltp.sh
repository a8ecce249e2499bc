#!/bin/bash
# bench/oltp.sh -- what a backup costs the database's own work (issue 13; seed
# 003: "performance tests: system impact during backup").
#
#   SIZE=1024 SECONDS_EACH=60 CLIENTS=4 bash bench/oltp.sh
#
# One PostgreSQL 15 cluster holds a $SIZE MiB tenant database (bench/gen.sh)
# and a pgbench database (scale $SCALE).  pgbench (TPC-B-like, $CLIENTS
# clients, 2 threads) runs for $SECONDS_EACH s in each of these situations, in
# this order, and its tps is compared with the first:
#   idle      nothing else runs
#   pg_dump   bare `pg_dump -Fc -Z0 > /dev/null` of the tenant, in a loop
#   coffre    `coffre backup` of the tenant, in a loop, plain
#   unit      the same under the shipped coffre-backup@.service's settings:
#             Nice=5, IOSchedulingClass=best-effort/6 (ionice), and
#             CPUWeight=20 as a cgroup (v2 cpu.weight, or v1 cpu.shares 205)
#             when this machine lets us make one, which systemd would do
#             (systemd is not PID 1 here); the table says which were applied
# The server backend that pg_dump reads from stays in the server's cgroup and
# at its priority in every case, as it does in production.
#
# Output: a markdown table on stdout and in bench/results/<date>-oltp-<size>.md.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export TMPDIR=${BENCH_DIR:-/var/tmp/coffre-bench}
mkdir -p "$TMPDIR"
. "$here/../tests/integration/lib.sh"
_TAP_DONE=1
SIZE=${SIZE:-1024}
SCALE=${SCALE:-30}
CLIENTS=${CLIENTS:-4}
SECONDS_EACH=${SECONDS_EACH:-60}
OUT_DIR=${RESULTS_DIR:-$here/results}
mkdir -p "$OUT_DIR"
. "$here/common.sh"

# ---- the cluster, the tenant, pgbench's tables, coffre
pg_init src
pg_conf src "shared_buffers = 512MB" "max_wal_size = 4GB" "checkpoint_timeout = 30min" \
    "synchronous_commit = on" "fsync = on" "autovacuum = off" "max_connections = 40"
pg_start src
log "generating the $SIZE MiB tenant"
bash "$here/gen.sh" "$SRC_CONNINFO" bench "$SIZE" >&2
psql_at src -c "CREATE DATABASE oltp"
log "pgbench -i -s $SCALE"
as_pg pgbench -i -q -s "$SCALE" -h "$SRC_HOST" -p "$SRC_PORT" -U postgres oltp >/dev/null 2>&1
psql_at src bench -c "VACUUM (FREEZE, ANALYZE)"
psql_at src oltp -c "VACUUM (FREEZE, ANALYZE)"
psql_at src -c "CHECKPOINT"

hsm_init
hsm_token coffre 4321
pg_owns "$HSM_DIR"
mkdir -p "$TEST_TMP/repo"
pg_owns "$TEST_TMP/repo"
INSTANCE=bench CONNINFO="$SRC_CONNINFO" REPO="$TEST_TMP/repo" \
    KEKS="pkcs11:token=coffre;object=kek" PIN_FILE="$HSM_DIR/coffre.pin" coffre_conf "$TEST_TMP/coffre.conf"
pg_owns "$TEST_TMP/coffre.conf"
as_pg "$BIN" -c "$TEST_TMP/coffre.conf" keys init >/dev/null

# ---- a cgroup for the "unit" case, if this machine allows one
CG=""
if [ -w /sys/fs/cgroup/cgroup.subtree_control ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    mkdir -p /sys/fs/cgroup/coffre-bench && echo 20 >/sys/fs/cgroup/coffre-bench/cpu.weight &&
        CG=/sys/fs/cgroup/coffre-bench CG_WHAT="cgroup v2 cpu.weight 20"
elif [ -d /sys/fs/cgroup/cpu ] && mkdir -p /sys/fs/cgroup/cpu/coffre-bench 2>/dev/null; then
    echo 205 >/sys/fs/cgroup/cpu/coffre-bench/cpu.shares && CG=/sys/fs/cgroup/cpu/coffre-bench \
        CG_WHAT="cgroup v1 cpu.shares 205 (= CPUWeight 20)"
fi
[ -z "$CG" ] || on_exit "rmdir $CG 2>/dev/null || true"

# loop_start NAME CMD... -- run CMD as postgres again and again until loop_stop
loop_start() {
    local name=$1
    shift
    cat >"$TEST_TMP/loop-$name.sh" <<'EOF'
trap 'exit 0' TERM
while :; do "$@" >/dev/null 2>&1 || true; done
EOF
    as_pg bash "$TEST_TMP/loop-$name.sh" "$@" &
    LOOP=$!
}
loop_stop() {
    pkill -TERM -P "$LOOP" 2>/dev/null || true  # runuser's bash
    kill "$LOOP" 2>/dev/null || true
    # what the loop had started (a backup or a dump) ends with it
    pkill -KILL -f "$TEST_TMP/coffre -c $TEST_TMP/coffre.conf backup" 2>/dev/null || true
    pkill -KILL -f "pg_dump -Fc -Z0" 2>/dev/null || true
    wait "$LOOP" 2>/dev/null || true
    sleep 2
}

# pgbench_tps LABEL -> tps (and the run's output in $TEST_TMP/pgbench-LABEL.log)
pgbench_tps() {
    as_pg pgbench -n -c "$CLIENTS" -j 2 -T "$SECONDS_EACH" -h "$SRC_HOST" -p "$SRC_PORT" \
        -U postgres oltp >"$TEST_TMP/pgbench-$1.log" 2>&1
    sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$TEST_TMP/pgbench-$1.log" | tail -n 1
}

declare -A tps
log "idle: pgbench alone for $SECONDS_EACH s"
tps[idle]=$(pgbench_tps idle)
log "pg_dump -Z0 in a loop"
loop_start dump pg_dump -Fc -Z0 -d "$(pg_conninfo src bench)" -f /dev/null
sleep 3
tps[dump]=$(pgbench_tps dump)
loop_stop
log "coffre backup in a loop"
loop_start coffre "$BIN" -c "$TEST_TMP/coffre.conf" backup --db bench
sleep 3
tps[coffre]=$(pgbench_tps coffre)
loop_stop
log "coffre backup in a loop, with the unit's settings"
UNIT_WHAT="Nice=5, ionice best-effort 6"
cat >"$TEST_TMP/unit.sh" <<EOF
[ -z "$CG" ] || echo \$\$ >"$CG/cgroup.procs"
exec nice -n 5 ionice -c 2 -n 6 runuser -u postgres -- "\$@"
EOF
[ -z "$CG" ] || UNIT_WHAT="$UNIT_WHAT, $CG_WHAT"
[ -n "$CG" ] || UNIT_WHAT="$UNIT_WHAT (no cgroup: CPUWeight not applied)"
bash "$TEST_TMP/unit.sh" bash "$TEST_TMP/loop-coffre.sh" "$BIN" -c "$TEST_TMP/coffre.conf" backup --db bench &
LOOP=$!
sleep 3
tps[unit]=$(pgbench_tps unit)
loop_stop
backups=$(as_pg "$BIN" -c "$TEST_TMP/coffre.conf" list --json | grep -o '"state": *"complete"' | wc -l)

{
    echo "# OLTP impact of a backup, $(date -u +%Y-%m-%d)"
    echo
    echo "- command: \`SIZE=$SIZE SCALE=$SCALE CLIENTS=$CLIENTS SECONDS_EACH=$SECONDS_EACH bash bench/oltp.sh\`"
    echo "- coffre $REV, default settings; $(nproc) cores; PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- pgbench TPC-B-like, scale $SCALE, $CLIENTS clients, 2 threads, $SECONDS_EACH s each; tenant $SIZE MiB (bench/gen.sh); $backups backups completed during the runs"
    echo
    echo "| while pgbench runs | tps | vs idle |"
    echo "|---|---|---|"
    printf '| nothing | %s | 1.00 |\n' "${tps[idle]}"
    for k in dump coffre unit; do
        case $k in
            dump) label='bare `pg_dump -Fc -Z0 > /dev/null`, in a loop' ;;
            coffre) label='`coffre backup`, in a loop' ;;
            unit) label="\`coffre backup\`, in a loop, $UNIT_WHAT" ;;
        esac
        printf '| %s | %s | %.2f |\n' "$label" "${tps[$k]}" \
            "$(awk -v a="${tps[$k]}" -v b="${tps[idle]}" 'BEGIN { print (b > 0) ? a / b : 0 }')"
    done
} | tee "$OUT_DIR/$(date -u +%Y-%m-%d)-oltp-$SIZE.md"
