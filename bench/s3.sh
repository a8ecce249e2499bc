#!/bin/bash
# bench/s3.sh -- coffre backup into a real S3 with Object Lock (Ceph RGW over
# https, tests/s3/rgw.sh) with 1, 2 and 4 parts in flight, against bare
# `pg_dump -Fc -Z0 > /dev/null` on the same database, in one run.
#
#   SIZE=1024 RUNS=2 PARTS="1 2 4" LEVEL=3 bash bench/s3.sh
#
# Prints a markdown table (wall time, ratio to bare pg_dump, peak RSS of the
# measured tree from GNU time, i.e. max(coffre, pg_dump)) and writes it to
# bench/results/<date>-s3-<size>.md.  RGW runs with its memstore OSD, so the
# stored objects live in RAM (about 1.7x their size).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export TMPDIR=${BENCH_DIR:-/var/tmp/coffre-bench}
mkdir -p "$TMPDIR"
. "$here/../tests/integration/lib.sh"
_TAP_DONE=1
SIZE=${SIZE:-1024}
RUNS=${RUNS:-2}
PARTS=${PARTS:-"1 2 4"}
LEVEL=${LEVEL:-3}
PART_SIZE=${PART_SIZE:-16M}
OUT_DIR=${RESULTS_DIR:-$here/results}
mkdir -p "$OUT_DIR"
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null
cp "$COFFRE" "$TEST_TMP/coffre"
BIN=$TEST_TMP/coffre
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

RGW_SH=$here/../tests/s3/rgw.sh
on_exit "$(printf 'bash %q purge %q' "$RGW_SH" "$TEST_TMP/s3")"
eval "$(bash "$RGW_SH" start "$TEST_TMP/s3" 2>/dev/null)"
. "$here/../tests/integration/s3lib.sh"
s3 PUT "$S3_ENDPOINT_TLS/bench" -H "x-amz-bucket-object-lock-enabled: true"
[ "$CODE" = 200 ] || { echo "could not create the bucket: $CODE" >&2; exit 1; }

pg_start src
pg_conf src "shared_buffers = 1GB" "max_wal_size = 4GB" "synchronous_commit = off" "fsync = on" "autovacuum = off"
pg_restart src
psql_at src -c "CREATE DATABASE bench"
log "generating a $SIZE MiB database"
bash "$here/gen.sh" "$(pg_conninfo src bench)" bench "$SIZE" >&2
psql_at src bench -c "VACUUM (FREEZE, ANALYZE)" >/dev/null
psql_at src -c "CHECKPOINT" >/dev/null
hsm_init
hsm_token coffre 4321
(umask 077; printf '%s' "$AWS_ACCESS_KEY_ID" >"$TEST_TMP/ak"; printf '%s' "$AWS_SECRET_ACCESS_KEY" >"$TEST_TMP/sk")
conf() { # PARTS_IN_FLIGHT
    local f=$TEST_TMP/s3-$1.conf
    INSTANCE="bench$1" CONNINFO="$(pg_conninfo src bench)" DATABASES=bench REPO=/unused \
    KEKS="pkcs11:token=coffre;object=kek" PIN_FILE="$HSM_DIR/coffre.pin" coffre_conf "$f"
    sed -i "s|^type = posix|type = s3\nendpoint = $S3_ENDPOINT_TLS\nbucket = bench\nregion = $S3_REGION\nca_file = $S3_CA_FILE\naccess_key_file = $TEST_TMP/ak\nsecret_key_file = $TEST_TMP/sk\npart_size = $PART_SIZE\nparts_in_flight = $1|; /^path = /d" "$f"
    printf '\n[compression]\nlevel = %s\n' "$LEVEL" >>"$f"
    echo "$f"
}
for p in $PARTS; do conf "$p" >/dev/null; done
"$BIN" --config "$(conf 1)" keys init >/dev/null
# warm-up read
"$PG_BIN/pg_dump" -Fc -Z0 -d "$(pg_conninfo src bench)" >/dev/null

measure() { # LABEL CMD... -> "wall_s max_rss_kib"
    local t=$TEST_TMP/time.$$
    shift
    /usr/bin/time -f '%e %M' -o "$t" "$@" >/dev/null 2>"$TEST_TMP/err.log" || { cat "$TEST_TMP/err.log" >&2; return 1; }
    cat "$t"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

declare -A wall rss
for run in $(seq 1 "$RUNS"); do
    log "run $run: bare pg_dump"
    read -r w m < <(measure bare "$PG_BIN/pg_dump" -Fc -Z0 -d "$(pg_conninfo src bench)")
    wall[bare]+="$w "; rss[bare]+="$m "
    for p in $PARTS; do
        log "run $run: coffre backup to S3, $p part(s) in flight"
        read -r w m < <(measure "p$p" "$BIN" --config "$TEST_TMP/s3-$p.conf" backup --db bench)
        wall[p$p]+="$w "; rss[p$p]+="$m "
    done
done
bare=$(echo "${wall[bare]}" | tr ' ' '\n' | grep . | median)
{
    echo "# coffre backup into S3 (Ceph RGW, https, Object Lock), $(date -u +%Y-%m-%d)"
    echo
    echo "- command: \`SIZE=$SIZE RUNS=$RUNS PARTS=\"$PARTS\" LEVEL=$LEVEL PART_SIZE=$PART_SIZE bash bench/s3.sh\`"
    echo "- coffre $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo '?'); database $(psql_at src bench -c "SELECT pg_size_pretty(pg_database_size('bench'))"); zstd level $LEVEL; part size $PART_SIZE"
    echo "- $(nproc) cores; RGW (memstore) on the same machine; median of $RUNS run(s)"
    echo
    echo "| command | wall s | vs bare pg_dump | peak RSS of the tree MiB |"
    echo "|---|---|---|---|"
    printf '| bare `pg_dump -Fc -Z0 > /dev/null` | %s | 1.00x | %s |\n' "$bare" \
        "$(echo "${rss[bare]}" | tr ' ' '\n' | grep . | median | awk '{printf "%.1f", $1 / 1024}')"
    for p in $PARTS; do
        w=$(echo "${wall[p$p]}" | tr ' ' '\n' | grep . | median)
        printf '| `coffre backup` to S3, %s part(s) in flight | %s | %.2fx | %s |\n' "$p" "$w" \
            "$(awk -v w="$w" -v b="$bare" 'BEGIN { print w / b }')" \
            "$(echo "${rss[p$p]}" | tr ' ' '\n' | grep . | median | awk '{printf "%.1f", $1 / 1024}')"
    done
} | tee "$OUT_DIR/$(date -u +%Y-%m-%d)-s3-$SIZE.md"
