#!/bin/bash
# bench/drill.sh -- the RTO a drill measures, side by side with what an
# operator would run by hand, in one run on one machine.
#
#   SIZES="1024 5120" RUNS=1 PARTS="logical physical" bash bench/drill.sh
#
# logical (for each size in $SIZES, MiB): a database from bench/gen.sh, then
#   baseline  createdb + pg_restore [-j N] from a local unencrypted pg_dump -Fc -Z0 file
#   coffre    coffre drill --scenario simple ([drill] jobs = N) of a coffre backup of it;
#             its restore phase (fetch + restore + index) against the baseline, its
#             checks phase (verify, row counts, amcheck...) reported apart
#   for N = 1 and N = $JOBS.
# physical (the first size): a cluster archived by both tools, then
#   baseline  pgbackrest restore into a new directory (process-max 1 and $PGBR_PROCESS_MAX)
#   coffre    coffre drill --scenario total: its restore phase (files, pg_verifybackup)
#             against it; recovery (WAL replay until the server accepts connections)
#             and checks reported apart
# zstd level $LEVEL and encryption on for both tools; posix repositories on the
# same disk.  Target (issue 10): the drill's restore phase <= 1.10x the baseline.
# Output: markdown on stdout and in bench/results/<date>-drill-<sizes>.md.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export TMPDIR=${BENCH_DIR:-/var/tmp/coffre-bench}
mkdir -p "$TMPDIR"
. "$here/../tests/integration/lib.sh"
_TAP_DONE=1
SIZES=${SIZES:-1024 5120}
RUNS=${RUNS:-1}
JOBS=${JOBS:-2}
LEVEL=${LEVEL:-3}
PGBR_PROCESS_MAX=${PGBR_PROCESS_MAX:-2}
PARTS=${PARTS:-"logical physical"}
OUT_DIR=${RESULTS_DIR:-$here/results}
mkdir -p "$OUT_DIR"
if [[ " $PARTS " == *" physical "* ]]; then
    command -v pgbackrest >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbackrest >/dev/null
fi
. "$here/common.sh"
# drill_figures JSON SCENARIO -> "fetch restore index recovery checks"
drill_figures() {
    python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = [s for s in d["scenarios"] if s["scenario"] == sys.argv[2]][0]
assert d["ok"] and s["ok"], (d["error"], [c for c in s["checks"] if c["status"] == "failed"])
p = s["rto"]["phases"]
print(p["fetch"], p["restore"], p["index"], p["recovery"], p["checks"])
PY
}

hsm_init
hsm_token coffre 4321
pg_owns "$HSM_DIR"
chmod 755 "$HSM_DIR"

# conf NAME CONNINFO [jobs] -> a configuration with its own repository and state
conf() {
    local f=$TEST_TMP/coffre-$1.conf
    INSTANCE=$1 CONNINFO=$2 REPO=$TEST_TMP/repo-$1 STATE_DIR=$TEST_TMP/state-$1 \
        KEKS="pkcs11:token=coffre;object=kek" PIN_FILE="$HSM_DIR/coffre.pin" coffre_conf "$f"
    printf '\n[compression]\nlevel = %s\n\n[wal]\narchive_timeout = 600\n\n[drill]\njobs = %s\n' \
        "$LEVEL" "${3:-1}" >>"$f"
    mkdir -p "$TEST_TMP/repo-$1" "$TEST_TMP/state-$1"
    pg_owns "$f" "$TEST_TMP/repo-$1" "$TEST_TMP/state-$1"
    [ -e "$TEST_TMP/kek.done" ] || { as_pg "$BIN" -c "$f" keys init >/dev/null && : >"$TEST_TMP/kek.done"; }
    echo "$f"
}

RESULT=$TEST_TMP/result.md
: >"$RESULT"

# ------------------------------------------------------------ logical
if [[ " $PARTS " == *" logical "* ]]; then
    for size in $SIZES; do
        name=l$size
        pg_start "$name"
        pg_conf "$name" "shared_buffers = 512MB" "max_wal_size = 4GB" "autovacuum = off"
        pg_restart "$name"
        var=$(_pg_var "$name")
        ci=$(pg_conninfo "$name")
        host=$(eval "echo \$${var}_HOST")
        port=$(eval "echo \$${var}_PORT")
        psql_at "$name" -c "CREATE DATABASE bench"
        log "generating a $size MiB database"
        bash "$here/gen.sh" "$(pg_conninfo "$name" bench)" bench "$size" >&2
        psql_at "$name" bench -c "VACUUM (FREEZE, ANALYZE)" >/dev/null
        as_pg "$PG_BIN/pg_dump" -h "$host" -p "$port" -U postgres -Fc -Z0 -f "$TEST_TMP/plain.dump" bench
        C1=$(conf "$name" "$ci" 1)
        CN=$TEST_TMP/coffre-$name-jobs.conf
        sed "s/^jobs = 1$/jobs = $JOBS/" "$C1" >"$CN"
        pg_owns "$CN"
        as_pg "$BIN" -c "$C1" backup --db bench >/dev/null
        declare -A w=()
        for run in $(seq 1 "$RUNS"); do
            for j in 1 "$JOBS"; do
                log "$size MiB, run $run: pg_restore -j $j"
                psql_at "$name" -c "DROP DATABASE IF EXISTS r_plain" >/dev/null
                w[pg$j]+="$(wall bash -c "createdb -h '$host' -p $port -U postgres -T template0 r_plain && \
                    pg_restore -j $j -h '$host' -p $port -U postgres --exit-on-error -d r_plain '$TEST_TMP/plain.dump'") "
                psql_at "$name" -c "DROP DATABASE IF EXISTS r_plain" >/dev/null
                log "$size MiB, run $run: coffre drill --scenario simple, jobs $j"
                cf=$C1
                [ "$j" = 1 ] || cf=$CN
                total=$(wall "$BIN" -c "$cf" drill --scenario simple --json)
                read -r f r i _ c < <(drill_figures "$TEST_TMP/out.log" simple)
                w[rest$j]+="$(awk -v f="$f" -v r="$r" -v i="$i" 'BEGIN { print f + r + i }') "
                w[fetch$j]+="$f "
                w[checks$j]+="$c "
                w[total$j]+="$total "
            done
        done
        {
            echo "### Logical: $(psql_at "$name" -c "SELECT pg_size_pretty(pg_database_size('bench'))") database ($size MiB generated), median of $RUNS"
            echo
            echo "| | jobs | wall s | vs pg_restore | of which decrypt s | checks s (apart) | drill total s |"
            echo "|---|---|---|---|---|---|---|"
            for j in 1 "$JOBS"; do
                b=$(med "${w[pg$j]}")
                printf '| `pg_restore -j %s` from a local unencrypted dump | %s | %s | 1.00x | | | |\n' "$j" "$j" "$b"
                printf '| `coffre drill --scenario simple`: restore phase | %s | %.1f | %s | %.1f | %.1f | %s |\n' \
                    "$j" "$(med "${w[rest$j]}")" "$(ratio "$(med "${w[rest$j]}")" "$b")" \
                    "$(med "${w[fetch$j]}")" "$(med "${w[checks$j]}")" "$(med "${w[total$j]}")"
            done
            echo
        } >>"$RESULT"
        pg_stop "$name"
    done
fi

# ------------------------------------------------------------ physical
if [[ " $PARTS " == *" physical "* ]]; then
    size=${SIZES%% *}
    pg_start phys
    pg_conf phys "shared_buffers = 512MB" "max_wal_size = 4GB" "autovacuum = off" "archive_mode = on"
    CP=$(conf phys "$(pg_conninfo phys)" 1)
    PGBR=$(pgbr_conf phys "$PHYS_PGDATA" "$PHYS_HOST" "$PHYS_PORT")
    archive_both phys "$CP" "$PGBR"
    cluster=$(fill_bench phys "$size")
    as_pg pgbackrest --config="$PGBR" --stanza=phys --type=full backup
    as_pg "$BIN" -c "$CP" backup --physical >/dev/null
    declare -A p=()
    for run in $(seq 1 "$RUNS"); do
        for pm in 1 "$PGBR_PROCESS_MAX"; do
            log "cluster, run $run: pgbackrest restore, process-max $pm"
            rm -rf "$TEST_TMP/pgbr-restore"
            mkdir -p "$TEST_TMP/pgbr-restore"
            pg_owns "$TEST_TMP/pgbr-restore"
            p[pgbr$pm]+="$(wall pgbackrest --config="$PGBR" --stanza=phys --pg1-path="$TEST_TMP/pgbr-restore" \
                --process-max="$pm" restore) "
            rm -rf "$TEST_TMP/pgbr-restore"
        done
        log "cluster, run $run: coffre drill --scenario total"
        p[total]+="$(wall "$BIN" -c "$CP" drill --scenario total --json) "
        read -r _ r _ rec c < <(drill_figures "$TEST_TMP/out.log" total)
        p[rest]+="$r "
        p[rec]+="$rec "
        p[checks]+="$c "
    done
    b=$(med "${p[pgbr$PGBR_PROCESS_MAX]}")
    {
        echo "### Physical: $cluster cluster ($size MiB generated), median of $RUNS"
        echo
        echo "| | wall s | vs pgBackRest process-max $PGBR_PROCESS_MAX | recovery s (apart) | checks s (apart) | drill total s |"
        echo "|---|---|---|---|---|---|"
        printf '| `pgbackrest restore`, process-max 1 | %s | %s | | | |\n' "$(med "${p[pgbr1]}")" "$(ratio "$(med "${p[pgbr1]}")" "$b")"
        printf '| `pgbackrest restore`, process-max %s | %s | 1.00x | | | |\n' "$PGBR_PROCESS_MAX" "$b"
        printf '| `coffre drill --scenario total`: restore phase (files + pg_verifybackup) | %.1f | %s | %.1f | %.1f | %s |\n' \
            "$(med "${p[rest]}")" "$(ratio "$(med "${p[rest]}")" "$b")" "$(med "${p[rec]}")" \
            "$(med "${p[checks]}")" "$(med "${p[total]}")"
        echo
    } >>"$RESULT"
    pg_stop phys
fi

{
    echo "# Drill RTO against the baselines, $(date -u +%Y-%m-%d)"
    echo
    echo "- command: \`SIZES=\"$SIZES\" RUNS=$RUNS JOBS=$JOBS PARTS=\"$PARTS\" bash bench/drill.sh\`"
    echo "- coffre $REV; zstd level $LEVEL; encryption on; posix repositories on the same disk; $(nproc) cores"
    echo
    cat "$RESULT"
} | tee "$OUT_DIR/$(date -u +%Y-%m-%d)-drill-$(echo "$SIZES" | tr ' ' '-').md"
