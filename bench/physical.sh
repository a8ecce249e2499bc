#!/bin/bash
# bench/physical.sh -- physical backups and WAL archiving, coffre against
# pgBackRest (Debian's pgbackrest package) in one run on one machine.
#
#   SIZE=1024 RUNS=1 SEGMENTS=200 UPLOAD_INTERVAL=10 RPO_SAMPLES=5 bash bench/physical.sh
#
# Same repository type (posix, same disk), same compression (zstd level $LEVEL),
# encryption on for both (coffre: SoftHSM2 AES KEK + XChaCha20-Poly1305;
# pgBackRest: repo1-cipher-type=aes-256-cbc).  Everything runs as the postgres
# user, as it would in production.
#
# 1. Base backup of a $SIZE MiB cluster (bench/gen.sh), median of RUNS:
#      floor      pg_basebackup -Ft -D - -X none > /dev/null
#      pgBackRest backup --type=full (process-max 1, and $PGBR_PROCESS_MAX)
#      coffre     backup --physical
#    Both tools need their WAL archived: archive_command runs both pushes.
# 1b. (PARTS with "restore", after "base") restore of the newest backup into an
#    empty directory, no WAL replay: pgBackRest restore (process-max 1 and
#    $PGBR_PROCESS_MAX), coffre restore --physical.
# 2. WAL push throughput: $SEGMENTS real 16 MiB segments left .ready by a cluster
#    whose archiver was failing; each tool is called once per segment, in
#    order, as PostgreSQL's archiver would:
#      pgBackRest archive-push (sync; async with archive-async=y, process-max $PGBR_PROCESS_MAX)
#      coffre wal-push (sync; async = true with push_jobs $PUSH_JOBS)
# 2b. (PARTS with "fetch", after "push") WAL fetch as restore_command: each tool
#    called once per pushed segment, in order (coffre wal-get with its read-ahead;
#    pgBackRest archive-get sync and archive-async).
# 3. Off-host RPO of coffre wal-stream (upload_interval = $UPLOAD_INTERVAL s): the
#    time from COMMIT of a row holding a unique marker until `coffre wal-get`
#    returns WAL bytes that contain the marker, $RPO_SAMPLES samples.
#
# Output: markdown tables on stdout and in bench/results/<date>-physical-<parts>-<size>.md.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export TMPDIR=${BENCH_DIR:-/var/tmp/coffre-bench}
mkdir -p "$TMPDIR"
. "$here/../tests/integration/lib.sh"
_TAP_DONE=1
SIZE=${SIZE:-1024}
RUNS=${RUNS:-1}
SEGMENTS=${SEGMENTS:-200}
LEVEL=${LEVEL:-3}
WORKERS=${WORKERS:-auto}  # coffre's [compression] workers (auto: its default)
COFFRE_LEVEL=${COFFRE_LEVEL:-auto}    # coffre's [compression] level (auto: its default)
UPLOAD_INTERVAL=${UPLOAD_INTERVAL:-10}
RPO_SAMPLES=${RPO_SAMPLES:-5}
PGBR_PROCESS_MAX=${PGBR_PROCESS_MAX:-2}
PUSH_JOBS=${PUSH_JOBS:-4}
PARTS=${PARTS:-"base push fetch rpo"}
OUT_DIR=${RESULTS_DIR:-$here/results}
mkdir -p "$OUT_DIR"
command -v pgbackrest >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbackrest >/dev/null
. "$here/common.sh"
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

# measure CMD... (as postgres) -> "wall_s max_rss_kib"
measure() {
    local t=$TEST_TMP/time.out
    local pre=()
    [ "$(id -u)" != 0 ] || pre=(runuser -u postgres --)
    /usr/bin/time -f '%e %M' -o "$t" "${pre[@]}" "$@" >/dev/null 2>"$TEST_TMP/err.log" ||
        { cat "$TEST_TMP/err.log" >&2; return 1; }
    cat "$t"
}

hsm_init
hsm_token coffre 4321
pg_owns "$HSM_DIR"

# coffre_conf_for NAME CONNINFO -> a config whose repository is $TEST_TMP/repo-NAME
coffre_conf_for() {
    local f=$TEST_TMP/coffre-$1.conf
    STATE_DIR=$TEST_TMP/spool-$1 INSTANCE=$1 CONNINFO=$2 REPO=$TEST_TMP/repo-$1 \
        KEKS="pkcs11:token=coffre;object=kek" PIN_FILE="$HSM_DIR/coffre.pin" coffre_conf "$f"
    printf '\n[compression]\nlevel = %s\nworkers = %s\n\n[wal]\narchive_timeout = 600\n' "$COFFRE_LEVEL" "$WORKERS" >>"$f"
    mkdir -p "$TEST_TMP/repo-$1" "$TEST_TMP/spool-$1"
    pg_owns "$f" "$TEST_TMP/repo-$1" "$TEST_TMP/spool-$1"
    # one KEK on the token serves every configuration
    [ -e "$TEST_TMP/kek.done" ] || { as_pg "$BIN" -c "$f" keys init >/dev/null && : >"$TEST_TMP/kek.done"; }
    echo "$f"
}


declare -A wall rss size
RESULT=$TEST_TMP/result.md
: >"$RESULT"

# ------------------------------------------------------------ 1. base backup
if [[ " $PARTS " == *" base "* ]]; then
    pg_start src
    pg_conf src "shared_buffers = 512MB" "max_wal_size = 4GB" "fsync = on" "autovacuum = off" \
        "synchronous_commit = on" "archive_mode = on"
    CONF_SRC=$(coffre_conf_for src "$(pg_conninfo src)")
    PGBR_SRC=$(pgbr_conf src "$SRC_PGDATA" "$SRC_HOST" "$SRC_PORT")
    archive_both src "$CONF_SRC" "$PGBR_SRC"
    cluster_size=$(fill_bench src "$SIZE")
    # warm-up read of every file
    as_pg "$PG_BIN/pg_basebackup" -h "$SRC_HOST" -p "$SRC_PORT" -U postgres -Ft -D - -X none >/dev/null
    for run in $(seq 1 "$RUNS"); do
        log "run $run: pg_basebackup (floor)"
        read -r w m < <(measure "$PG_BIN/pg_basebackup" -h "$SRC_HOST" -p "$SRC_PORT" -U postgres -Ft -D - -X none -c fast)
        wall[floor]+="$w "; rss[floor]+="$m "
        log "run $run: pgbackrest backup --type=full, process-max 1"
        read -r w m < <(measure pgbackrest --config="$PGBR_SRC" --stanza=src --type=full --process-max=1 backup)
        wall[pgbr1]+="$w "; rss[pgbr1]+="$m "
        log "run $run: pgbackrest backup --type=full, process-max $PGBR_PROCESS_MAX"
        read -r w m < <(measure pgbackrest --config="$PGBR_SRC" --stanza=src --type=full --process-max="$PGBR_PROCESS_MAX" backup)
        wall[pgbrN]+="$w "; rss[pgbrN]+="$m "
        log "run $run: coffre backup --physical"
        read -r w m < <(measure "$BIN" -c "$CONF_SRC" backup --physical)
        wall[coffre]+="$w "; rss[coffre]+="$m "
    done
    pgbr=$(med "${wall[pgbr1]}")
    {
        echo "### Base backup of a $cluster_size cluster (median of $RUNS)"
        echo
        echo "| command | wall s | vs pgBackRest (process-max 1) | peak RSS MiB |"
        echo "|---|---|---|---|"
        for k in floor pgbr1 pgbrN coffre; do
            case $k in
                floor) label='`pg_basebackup -Ft -D - -X none > /dev/null` (floor)' ;;
                pgbr1) label='`pgbackrest backup --type=full`, process-max 1' ;;
                pgbrN) label="\`pgbackrest backup --type=full\`, process-max $PGBR_PROCESS_MAX" ;;
                coffre) label='`coffre backup --physical`' ;;
            esac
            w=$(med "${wall[$k]}")
            printf '| %s | %s | %.2fx | %s |\n' "$label" "$w" \
                "$(awk -v w="$w" -v b="$pgbr" 'BEGIN { print w / b }')" "$(mib "$(med "${rss[$k]}")")"
        done
        echo
    } >>"$RESULT"
    # 1b. (PARTS with "restore", after "base") restore of the newest backup into an
    # empty directory, no WAL replay: each tool as postgres, median of RUNS
    if [[ " $PARTS " == *" restore "* ]]; then
        rst=$TEST_TMP/rst
        for run in $(seq 1 "$RUNS"); do
            # each restore reads its repository cold (a restore on a bad day
            # does, and this machine's page cache is trimmed in the background:
            # pgBackRest process-max 2 took 2.0-2.5 s right after process-max 1
            # had read the same files, 3.6 s after coffre), and the order
            # alternates, so no tool always follows the same one
            order="rpgbr1 rpgbrN rcoffre"
            [ $((run % 2)) = 1 ] || order="rcoffre rpgbrN rpgbr1"
            for k in $order; do
                rm -rf "$rst"
                mkdir -m 700 "$rst"
                pg_owns "$rst"
                sync
                echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || log "cannot drop the page cache: warm reads"
                log "run $run: restore, $k"
                case $k in
                    rpgbr1) read -r w m < <(measure pgbackrest --config="$PGBR_SRC" --stanza=src --pg1-path="$rst" --process-max=1 restore) ;;
                    rpgbrN) read -r w m < <(measure pgbackrest --config="$PGBR_SRC" --stanza=src --pg1-path="$rst" --process-max="$PGBR_PROCESS_MAX" restore) ;;
                    rcoffre) read -r w m < <(measure "$BIN" -c "$CONF_SRC" restore --physical --pgdata "$rst") ;;
                esac
                wall[$k]+="$w "; rss[$k]+="$m "
                size[$k]=$(du -sm "$rst" | awk '{ print $1 }')
            done
        done
        rm -rf "$rst"
        pgbr=$(med "${wall[rpgbrN]}")
        {
            echo "### Restore of that backup into an empty directory, no WAL replay, page cache dropped before each (median of $RUNS)"
            echo
            echo "| command | wall s | each run s | vs pgBackRest (process-max $PGBR_PROCESS_MAX) | peak RSS MiB | restored MiB |"
            echo "|---|---|---|---|---|---|"
            for k in rpgbr1 rpgbrN rcoffre; do
                case $k in
                    rpgbr1) label='`pgbackrest restore`, process-max 1' ;;
                    rpgbrN) label="\`pgbackrest restore\`, process-max $PGBR_PROCESS_MAX" ;;
                    rcoffre) label='`coffre restore --physical` (with pg_verifybackup and the WAL check)' ;;
                esac
                w=$(med "${wall[$k]}")
                printf '| %s | %s | %s | %.2fx | %s | %s |\n' "$label" "$w" "${wall[$k]% }" \
                    "$(awk -v w="$w" -v b="$pgbr" 'BEGIN { print w / b }')" "$(mib "$(med "${rss[$k]}")")" "${size[$k]}"
            done
            echo
        } >>"$RESULT"
    fi
    pg_stop src
fi

# ------------------------------------------------------------ 2. WAL push throughput
if [[ " $PARTS " == *" push "* ]]; then
    pg_start walgen
    pg_conf walgen "archive_mode = on" "archive_command = '/bin/false'" "max_wal_size = 16GB" \
        "wal_keep_size = 0" "fsync = on" "autovacuum = off"
    pg_restart walgen
    CONF_W=$(coffre_conf_for walgen "$(pg_conninfo walgen)")
    CONF_WA=$TEST_TMP/coffre-walgen-async.conf
    sed "s|^\[wal\]|[wal]\nasync = true\npush_jobs = $PUSH_JOBS|" "$CONF_W" >"$CONF_WA"
    pg_owns "$CONF_WA"
    PGBR_W=$(pgbr_conf walgen "$WALGEN_PGDATA" "$WALGEN_HOST" "$WALGEN_PORT")
    PGBR_WA=$(pgbr_conf walgena "$WALGEN_PGDATA" "$WALGEN_HOST" "$WALGEN_PORT" \
        "archive-async=y" "process-max=$PGBR_PROCESS_MAX")
    sed -i "s/^\[walgena\]/[walgen]/" "$PGBR_WA"
    as_pg pgbackrest --config="$PGBR_W" --stanza=walgen stanza-create >/dev/null
    as_pg pgbackrest --config="$PGBR_WA" --stanza=walgen stanza-create >/dev/null
    log "generating $SEGMENTS WAL segments"
    psql_at walgen -c "CREATE TABLE t (id bigint, a text, b text)"
    start=$(psql_at walgen -c "SELECT pg_current_wal_lsn() - '0/0'")
    while :; do
        psql_at walgen -c "INSERT INTO t SELECT g, md5(g::text) || repeat(md5((g * 7)::text), 4), repeat(chr(65 + g % 26), 64) FROM generate_series(1, 200000) g" >/dev/null
        now=$(psql_at walgen -c "SELECT pg_current_wal_lsn() - '0/0'")
        [ $(((${now%.*} - ${start%.*}) / 16777216)) -lt "$SEGMENTS" ] || break
    done
    psql_at walgen -c "SELECT pg_switch_wal()" >/dev/null
    pg_stop walgen
    mapfile -t segs < <(cd "$WALGEN_PGDATA/pg_wal/archive_status" && ls | sed -n 's/^\([0-9A-F]\{24\}\)\.ready$/\1/p' | sort | head -n "$SEGMENTS")
    n=${#segs[@]}
    log "pushing $n segments with each tool"
    printf '%s\n' "${segs[@]}" >"$TEST_TMP/segs"
    push_loop() { # TOOL...: called once per segment from PGDATA, as the archiver does,
        # which marks each segment .done after a success (async pushers skip those)
        (cd "$WALGEN_PGDATA/pg_wal/archive_status" &&
            for f in *.done; do [ -e "$f" ] && mv "$f" "${f%.done}.ready"; done; true)
        cat >"$TEST_TMP/push.sh" <<EOF
cd "$WALGEN_PGDATA" || exit 1
while read -r s; do
    "\$@" "pg_wal/\$s" || exit 1
    mv "pg_wal/archive_status/\$s.ready" "pg_wal/archive_status/\$s.done" || exit 1
done <"$TEST_TMP/segs"
EOF
        measure bash "$TEST_TMP/push.sh" "$@"
    }
    stored() { du -sb "$@" | awk '{ s += $1 } END { printf "%.1f", s / 1048576 }'; }
    read -r w m < <(push_loop pgbackrest --config="$PGBR_W" --stanza=walgen archive-push); wall[pbs]=$w; rss[pbs]=$m
    size[pbs]=$(stored "$TEST_TMP/pgbr-walgen/repo/archive")
    read -r w m < <(push_loop pgbackrest --config="$PGBR_WA" --stanza=walgen archive-push); wall[pba]=$w; rss[pba]=$m
    size[pba]=$(stored "$TEST_TMP/pgbr-walgena/repo/archive")
    read -r w m < <(push_loop "$BIN" -c "$CONF_W" wal-push); wall[cfs]=$w; rss[cfs]=$m
    size[cfs]=$(stored "$TEST_TMP/repo-walgen/walgen/wal")
    rm -rf "$TEST_TMP/repo-walgen"/* "$TEST_TMP/spool-walgen"/*
    read -r w m < <(push_loop "$BIN" -c "$CONF_WA" wal-push); wall[cfa]=$w; rss[cfa]=$m
    size[cfa]=$(stored "$TEST_TMP/repo-walgen/walgen/wal")
    pbs_rate=$(awk -v n="$n" -v w="${wall[pbs]}" 'BEGIN { print n / w }')
    {
        echo "### WAL push throughput: $n real 16 MiB segments, one call per segment"
        echo
        echo "| command | wall s | segments/s | vs pgBackRest sync | peak RSS MiB | stored MiB |"
        echo "|---|---|---|---|---|---|"
        for k in pbs pba cfs cfa; do
            case $k in
                pbs) label='`pgbackrest archive-push` (sync)' ;;
                pba) label="\`pgbackrest archive-push\` (archive-async, process-max $PGBR_PROCESS_MAX)" ;;
                cfs) label='`coffre wal-push` (sync)' ;;
                cfa) label="\`coffre wal-push\` (async, push_jobs $PUSH_JOBS)" ;;
            esac
            rate=$(awk -v n="$n" -v w="${wall[$k]}" 'BEGIN { print n / w }')
            printf '| %s | %s | %.1f | %.2fx | %s | %s |\n' "$label" "${wall[$k]}" "$rate" \
                "$(awk -v r="$rate" -v b="$pbs_rate" 'BEGIN { print r / b }')" "$(mib "${rss[$k]}")" \
                "${size[$k]}"
        done
        echo
    } >>"$RESULT"
fi

# ------------------------------------------------------------ 2b. WAL fetch (restore_command)
# After the pushes, each repository holds the same segments.  Each tool is
# called once per segment, in order, from the data directory, writing to a
# scratch file that is then removed: what restore_command does during recovery
# (the server's replay itself is left out).  Read-ahead: coffre's wal-get
# prefetches the next segments into its spool; pgBackRest with archive-async.
if [[ " $PARTS " == *" push "* && " $PARTS " == *" fetch "* ]]; then
    mkdir -p "$TEST_TMP/fetch"
    pg_owns "$TEST_TMP/fetch"
    fetch_loop() { # TOOL...: TOOL... SEGMENT PATH, once per segment
        cat >"$TEST_TMP/fetch.sh" <<EOF
cd "$WALGEN_PGDATA" || exit 1
while read -r s; do
    "\$@" "\$s" "$TEST_TMP/fetch/RECOVERYXLOG" || exit 1
    rm -f "$TEST_TMP/fetch/RECOVERYXLOG"
done <"$TEST_TMP/segs"
EOF
        measure bash "$TEST_TMP/fetch.sh" "$@"
    }
    log "fetching $n segments with each tool"
    read -r w m < <(fetch_loop pgbackrest --config="$PGBR_W" --stanza=walgen archive-get); wall[pgs]=$w; rss[pgs]=$m
    read -r w m < <(fetch_loop pgbackrest --config="$PGBR_WA" --stanza=walgen archive-get); wall[pga]=$w; rss[pga]=$m
    read -r w m < <(fetch_loop "$BIN" -c "$CONF_WA" wal-get); wall[cfg]=$w; rss[cfg]=$m
    pga_rate=$(awk -v n="$n" -v w="${wall[pga]}" 'BEGIN { print n / w }')
    {
        echo "### WAL fetch as restore_command: $n segments, one call per segment"
        echo
        echo "| command | wall s | segments/s | vs pgBackRest async | peak RSS MiB |"
        echo "|---|---|---|---|---|"
        for k in pgs pga cfg; do
            case $k in
                pgs) label='`pgbackrest archive-get` (sync)' ;;
                pga) label="\`pgbackrest archive-get\` (archive-async, process-max $PGBR_PROCESS_MAX)" ;;
                cfg) label='`coffre wal-get` (read-ahead)' ;;
            esac
            rate=$(awk -v n="$n" -v w="${wall[$k]}" 'BEGIN { print n / w }')
            printf '| %s | %s | %.1f | %.2fx | %s |\n' "$label" "${wall[$k]}" "$rate" \
                "$(awk -v r="$rate" -v b="$pga_rate" 'BEGIN { print r / b }')" "$(mib "${rss[$k]}")"
        done
        echo
    } >>"$RESULT"
fi

# ------------------------------------------------------------ 3. off-host RPO with wal-stream
if [[ " $PARTS " == *" rpo "* ]]; then
    pg_start rpo
    CONF_R=$(coffre_conf_for rpo "$(pg_conninfo rpo)")
    sed -i "s|^\[wal\]|[wal]\nupload_interval = $UPLOAD_INTERVAL|" "$CONF_R"
    psql_at rpo -c "CREATE TABLE marks (m text)"
    as_pg "$BIN" -c "$CONF_R" wal-stream >"$TEST_TMP/wal-stream.log" 2>&1 &
    ws=$!
    on_exit "kill $ws 2>/dev/null || true"
    sleep 3
    samples=""
    for i in $(seq 1 "$RPO_SAMPLES"); do
        mark="coffre-rpo-mark-$i-$RANDOM$RANDOM"
        seg=$(psql_at rpo -c "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
        t0=$(date +%s.%N)
        psql_at rpo -c "INSERT INTO marks VALUES ('$mark')"
        found=""
        while [ -z "$found" ]; do
            if as_pg "$BIN" -q -c "$CONF_R" wal-get "$seg" "$TEST_TMP/spool-rpo/probe" 2>/dev/null &&
               grep -qa "$mark" "$TEST_TMP/spool-rpo/probe"; then
                found=$(date +%s.%N)
            fi
            rm -f "$TEST_TMP/spool-rpo/probe"
            sleep 0.2
            if awk -v a="$(date +%s.%N)" -v b="$t0" -v u="$UPLOAD_INTERVAL" 'BEGIN { exit !(a - b > 3 * u + 60) }'; then
                echo "bench: commit $i never became readable from the repository" >&2
                exit 1
            fi
        done
        s=$(awk -v a="$found" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
        log "RPO sample $i: $s s"
        samples+="$s "
        sleep "$(awk -v u="$UPLOAD_INTERVAL" -v i="$i" 'BEGIN { printf "%.1f", (i * 0.37 * u) % u }')"
    done
    kill "$ws" 2>/dev/null || true
    wait "$ws" 2>/dev/null || true
    {
        echo "### Off-host RPO of \`coffre wal-stream\`, upload_interval = $UPLOAD_INTERVAL s ($RPO_SAMPLES commits)"
        echo
        echo "| samples s | median s | max s | target (upload_interval + 5 s) |"
        echo "|---|---|---|---|"
        printf '| %s | %s | %s | %s |\n' "$samples" "$(med "$samples")" \
            "$(echo "$samples" | tr ' ' '\n' | grep . | sort -n | tail -1)" "$((UPLOAD_INTERVAL + 5))"
        echo
    } >>"$RESULT"
fi

{
    echo "# Physical backups and WAL, coffre vs pgBackRest $(pgbackrest version | awk '{print $2}'), $(date -u +%Y-%m-%d)"
    echo
    echo "- command: \`LEVEL=$LEVEL COFFRE_LEVEL=$COFFRE_LEVEL WORKERS=$WORKERS SIZE=$SIZE RUNS=$RUNS SEGMENTS=$SEGMENTS UPLOAD_INTERVAL=$UPLOAD_INTERVAL RPO_SAMPLES=$RPO_SAMPLES PARTS=\"$PARTS\" bash bench/physical.sh\`"
    echo "- coffre $REV; zstd level $LEVEL for pgBackRest, $COFFRE_LEVEL for coffre (workers $WORKERS); encryption on for both; posix repositories on the same disk; $(nproc) cores"
    echo
    cat "$RESULT"
} | tee "$OUT_DIR/$(date -u +%Y-%m-%d)-physical-$(echo "$PARTS" | tr ' ' '-')-$SIZE.md"
