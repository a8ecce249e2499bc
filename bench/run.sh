#!/bin/bash
# bench/run.sh -- coffre's backup/restore benchmark (not a timed test).
#
#   make bench                                   # = sh bench/run.sh
#   SIZES="1024 5120" RUNS="3 1" bash bench/run.sh
#
# For each size (MiB) in $SIZES: a throwaway PostgreSQL 15 cluster (lib.sh), a
# tenant database from bench/gen.sh, VACUUM (FREEZE, ANALYZE) + CHECKPOINT, a
# warm-up read, then, each repeated RUNS times (median reported), interleaved so
# drifting background load hits every variant alike:
#   backup   bare    pg_dump -Fc -Z0 -d DB > /dev/null
#            seed    pg_dump -Fc -d DB | openssl enc -aes-256-cbc -pbkdf2 ... | wc -c
#                    (wc -c instead of > /dev/null: it gives the output size)
#            coffre  coffre backup --db DB  (posix repository on the same disk, SoftHSM2
#                    AES KEK; one run per variant of $COFFRE_VARIANTS, "level:workers")
#   restore  pg_restore -d NEW  from a local unencrypted pg_dump -Fc -Z0 file
#            coffre restore ID --db DB --target ...NEW --create
#            and the same with -j/--jobs $RESTORE_JOBS (0 or 1 skips them)
# Wall time and peak RSS come from /usr/bin/time -v; a poller samples VmHWM and CPU
# time of every process of the measured tree (coffre, pg_dump, openssl, pg_restore)
# and of the server backends started during the run, because time -v's "Maximum
# resident set size" is the largest of the tree, not coffre's own.
#
# Environment:
#   SIZES            database sizes in MiB            (default "1024 5120")
#   RUNS             repetitions; a list matches SIZES, its last value repeats
#                    (default 3)
#   BENCH_DIR        where clusters, dumps and repository live; needs about
#                    6x the largest size free           (default /var/tmp/coffre-bench)
#   SEED_RUNS        repetitions of the (slow) seeds' pipeline, at most RUNS; a list
#                    like RUNS (default: RUNS)
#   COFFRE_VARIANTS  coffre backup variants, zstd "level:workers", comma-separated
#                    (default "3:0", coffre's defaults); a space-separated list
#                    matches SIZES like RUNS, e.g. "3:0,1:0,3:1 3:0"; the first
#                    variant of a size is the one restored
#   RESTORE_JOBS     parallel restore comparison, -j N (default 2; 0 or 1: skip); a
#                    list matches SIZES like RUNS
#   RESULTS_DIR      where the markdown goes          (default bench/results)
#   GEN_PROFILE      bench/gen.sh's data set: default, or vectors (random float
#                    arrays and random bytes; issue 13's second data set)
#   KEEP_TMP=1       keep the cluster directory after the run
#
# Output: $RESULTS_DIR/<date>-<size>.md per size (and .tsv, every run's raw row) and
# $RESULTS_DIR/latest.md (all sizes of this run).  Progress goes to stderr.  The
# coffre binary is copied at start, so rebuilding the tree meanwhile is harmless.

# `make bench` runs `sh bench/run.sh`: this script and lib.sh need bash.
if [ -z "${BASH_VERSION:-}" ]; then
    exec bash "$0" "$@"
fi
set -eu

BENCH_SRC=$(cd "$(dirname "$0")" && pwd)
SIZES=${SIZES:-1024 5120}
RUNS=${RUNS:-3}
BENCH_DIR=${BENCH_DIR:-/var/tmp/coffre-bench}
COFFRE_VARIANTS=${COFFRE_VARIANTS:-3:0}
RESTORE_JOBS=${RESTORE_JOBS:-2}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_SRC/results}
DB=bench
declare -A VARIANT_ID

# lib.sh puts its directory under $TMPDIR when that path is short (unix socket
# paths are limited); it falls back to /tmp otherwise.
mkdir -p "$BENCH_DIR" "$RESULTS_DIR"
RESULTS_DIR=$(cd "$RESULTS_DIR" && pwd)
if [ "${#BENCH_DIR}" -gt 40 ]; then
    echo "bench: BENCH_DIR must be at most 40 characters (unix socket paths)" >&2
    exit 2
fi
export TMPDIR=$BENCH_DIR
# shellcheck source=../tests/integration/lib.sh
. "$BENCH_SRC/../tests/integration/lib.sh"

log() { echo "bench: $(date +%H:%M:%S) $*" >&2; }

[ -x "$COFFRE" ] || { echo "bench: $COFFRE is missing; run make first" >&2; exit 2; }
# Pin the binary: a rebuild of the tree during a long run must not change what is
# measured (nor break reading back a backup written by the previous build).
COFFRE_BUILT=$COFFRE
COFFRE_REV=$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)
cp "$COFFRE_BUILT" "$TEST_TMP/coffre"
COFFRE=$TEST_TMP/coffre
COFFRE_SHA=$(sha256sum "$COFFRE" | cut -c1-16)
if [ ! -x /usr/bin/time ]; then
    log "installing GNU time"
    apt-get install -y time >/dev/null || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
fi
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

# ---------------------------------------------------------------- the RSS/CPU poller

# poll.py TIMEPID POSTMASTERPID BEFORE OUT: every 50 ms, VmHWM and CPU time of every
# descendant of TIMEPID (the /usr/bin/time process) and of every postmaster
# child not listed in the file BEFORE (the run's backends); stops when
# TIMEPID exits or turns zombie.  VmHWM only grows, so the last sample is the
# peak up to the last 50 ms.  Writes one line: for coffre, pg_dump, openssl,
# pg_restore: "peak_kB cpu_s" (max over processes of that name, summed CPU),
# then the backends' summed CPU.
cat >"$TEST_TMP/poll.py" <<'PY'
import os, sys, time
root, pm, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[4]
initial = set(int(x) for x in open(sys.argv[3]).read().split())
hz = os.sysconf("SC_CLK_TCK")
seen = {}          # pid -> [name, hwm_kb, cpu_s, is_backend]

def stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    r = s.rfind(")")
    name = s[s.find("(") + 1:r]
    fl = s[r + 2:].split()
    return name, fl[0], int(fl[1]), (int(fl[11]) + int(fl[12])) / hz

def children():
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                _, _, ppid, _ = stat(int(d))
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    return kids

def sample(pid, is_backend):
    try:
        name, state, _, cpu = stat(pid)
        hwm = 0
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return
    if state == "Z":
        return
    e = seen.setdefault(pid, [name, 0, 0.0, is_backend])
    e[0], e[1], e[2] = name, max(e[1], hwm), max(e[2], cpu)

tick = 0
while True:
    try:
        if stat(root)[1] == "Z":
            break
    except OSError:
        break
    if tick % 4 == 0:
        kids = children()
        todo, tree = [root], []
        while todo:
            p = todo.pop()
            tree.append(p)
            todo.extend(kids.get(p, []))
        backends = [p for p in kids.get(pm, []) if p not in initial]
    for p in tree:
        sample(p, False)
    for p in backends:
        sample(p, True)
    tick += 1
    time.sleep(0.05)

def agg(name):
    es = [e for e in seen.values() if e[0] == name and not e[3]]
    if not es:
        return "- -"
    return "%d %.2f" % (max(e[1] for e in es), sum(e[2] for e in es))
be = sum(e[2] for e in seen.values() if e[3])
with open(out, "w") as f:
    f.write(" ".join([agg("coffre"), agg("pg_dump"), agg("openssl"), agg("pg_restore"),
                      "%.2f" % be]) + "\n")
PY

# ---------------------------------------------------------------- measuring

cpu_busy_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }

# measure SIZE LABEL RUN CMD... -- run CMD under /usr/bin/time -v with the poller;
# append a row to $RAW:
#   size label run wall_s tree_rss_kb user_s sys_s busy_cores
#   coffre_kb coffre_cpu pgdump_kb pgdump_cpu openssl_kb openssl_cpu
#   pgrestore_kb pgrestore_cpu backend_cpu load1
measure() {
    local size=$1 label=$2 run=$3 t p b0 b1 tp pp load1 wall rss usr sys busy
    shift 3
    t="$LOGDIR/$label.$run.time"
    p="$LOGDIR/$label.$run.poll"
    sync
    read -r load1 _ </proc/loadavg
    ps -o pid= --ppid "$POSTMASTER" >"$LOGDIR/backends.before"
    b0=$(cpu_busy_jiffies)
    /usr/bin/time -v -o "$t" "$@" >"$LOGDIR/$label.$run.out" 2>"$LOGDIR/$label.$run.err" &
    tp=$!
    "$PY" "$TEST_TMP/poll.py" "$tp" "$POSTMASTER" "$LOGDIR/backends.before" "$p" &
    pp=$!
    if ! wait "$tp"; then
        wait "$pp" || true
        echo "bench: $label (run $run) failed:" >&2
        tail -n 20 "$LOGDIR/$label.$run.err" >&2
        return 1
    fi
    wait "$pp"
    b1=$(cpu_busy_jiffies)
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$t")
    rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$t")
    usr=$(awk -F': ' '/User time/{print $2}' "$t")
    sys=$(awk -F': ' '/System time/{print $2}' "$t")
    busy=$(awk -v a="$b0" -v b="$b1" -v w="$wall" -v hz="$(getconf CLK_TCK)" \
        'BEGIN{printf "%.2f", (w > 0 ? (b - a) / hz / w : 0)}')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$label" "$run" "$wall" "$rss" \
        "$usr" "$sys" "$busy" "$(tr ' ' '\t' <"$p")" "$load1" >>"$RAW"
    log "  $label run $run: ${wall}s, tree max RSS $((rss / 1024)) MiB, CPU busy $busy cores"
}

# col LABEL FIELD -- the median of column FIELD (1-based, see measure) over the
# runs of LABEL in $RAW, "-" when absent.
col() {
    awk -F'\t' -v l="$1" -v f="$2" '$2 == l && $f != "-" {print $f}' "$RAW" | sort -g |
        awk '{a[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2];
                               else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
mib() { [ "$1" = - ] && echo - || awk -v k="$1" 'BEGIN{printf "%.1f", k / 1024}'; }
ratio() { { [ "$1" = - ] || [ "$2" = - ]; } && echo - || awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a / b}'; }
sec() { [ "$1" = - ] && echo - || awk -v s="$1" 'BEGIN{printf "%.1f", s}'; }

# ---------------------------------------------------------------- one size

Q() { psql_at src "$@"; }

bench_size() {
    local size=$1 runs=$2 rjobs=$3 seed_runs=$4 r v label id=""
    VARIANTS=${5//,/ }
    SEED_BYTES=-
    local conninfo dbconn size_bytes rows_src
    log "=== $size MiB, $runs run(s) per measurement ==="
    RAW="$TEST_TMP/raw-$size.tsv"
    LOGDIR="$TEST_TMP/logs-$size"
    mkdir -p "$LOGDIR"
    : >"$RAW"

    pg_init src
    pg_conf src "# ---- bench/run.sh" \
        "shared_buffers = 1GB" "max_wal_size = 4GB" "checkpoint_timeout = 30min" \
        "maintenance_work_mem = 256MB" "synchronous_commit = off" "fsync = on" \
        "autovacuum = off"
    pg_start src
    POSTMASTER=$(head -n 1 "$SRC_PGDATA/postmaster.pid")
    conninfo="$SRC_CONNINFO"
    dbconn=$(pg_conninfo src "$DB")

    log "generating $size MiB"
    local g0=$SECONDS
    bash "$BENCH_SRC/gen.sh" "$conninfo" "$DB" "$size" >&2
    Q "$DB" -c "VACUUM (FREEZE, ANALYZE)"
    Q -c "CHECKPOINT"
    GEN_SECONDS=$((SECONDS - g0))
    size_bytes=$(Q -c "SELECT pg_database_size('$DB')")
    rows_src=$(Q "$DB" -c "SELECT (SELECT count(*) FROM documents) || ' ' || (SELECT count(*) FROM embeddings) || ' ' || (SELECT count(*) FROM attachments) || ' ' || (SELECT count(*) FROM events)")
    log "database: $((size_bytes / 1048576)) MiB; rows (documents embeddings attachments events): $rows_src"

    # coffre: SoftHSM2 token, AES KEK, one config per variant, same repository
    hsm_init
    hsm_token coffre 4321
    for v in $VARIANTS; do
        INSTANCE=bench CONNINFO="$conninfo" REPO="$TEST_TMP/repo" \
        KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
            coffre_conf "$TEST_TMP/coffre-$v.conf"
        printf '\n[compression]\nlevel = %s\nworkers = %s\n' "${v%%:*}" "${v##*:}" \
            >>"$TEST_TMP/coffre-$v.conf"
    done
    local v0=${VARIANTS%% *}
    "$COFFRE" --config "$TEST_TMP/coffre-$v0.conf" keys init >/dev/null
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TEST_TMP/seed.key"

    # warm-up: the cluster's files into the page cache, then the local -Z0 dump
    # pg_restore reads (a full read through pg_dump: binaries and catalogs warm too)
    log "warm-up"
    find "$SRC_PGDATA" -type f -exec cat {} + >/dev/null
    pg_dump -Fc -Z0 -d "$dbconn" -f "$TEST_TMP/plain.dump"
    Z0_BYTES=$(stat -c %s "$TEST_TMP/plain.dump")
    log "pg_dump -Fc -Z0: $Z0_BYTES bytes"

    log "backups"
    for r in $(seq 1 "$runs"); do
        measure "$size" bare "$r" bash -c 'exec pg_dump -Fc -Z0 -d "$1" >/dev/null' - "$dbconn"
        [ "$r" -le "$seed_runs" ] && measure "$size" seed "$r" bash -c \
            'set -o pipefail; pg_dump -Fc -d "$1" | openssl enc -aes-256-cbc -salt -pbkdf2 -pass "file:$2" | wc -c' \
            - "$dbconn" "$TEST_TMP/seed.key"
        [ "$r" -gt "$seed_runs" ] || SEED_BYTES=$(cat "$LOGDIR/seed.$r.out")
        for v in $VARIANTS; do
            label="coffre_z${v%%:*}w${v##*:}"
            measure "$size" "$label" "$r" "$COFFRE" --config "$TEST_TMP/coffre-$v.conf" backup --db "$DB"
            [ "$v" != "$v0" ] || id=$(tail -n 1 "$LOGDIR/$label.$r.out")
            VARIANT_ID[$v]=$(tail -n 1 "$LOGDIR/$label.$r.out")
        done
    done
    "$COFFRE" --config "$TEST_TMP/coffre-$v0.conf" list --json >"$TEST_TMP/list.json"
    read -r PLAIN_BYTES COMPRESSED_BYTES STORED_BYTES < <("$PY" -c '
import json, sys
for b in json.load(open(sys.argv[1])):
    if b["id"] == sys.argv[2]:
        print(b["plain_bytes"], b["compressed_bytes"], b["stored_bytes"])' "$TEST_TMP/list.json" "$id")
    log "coffre backup $id: plain $PLAIN_BYTES, stored $STORED_BYTES bytes"

    log "restores"
    local rows_chk="SELECT (SELECT count(*) FROM documents) || ' ' || (SELECT count(*) FROM embeddings) || ' ' || (SELECT count(*) FROM attachments) || ' ' || (SELECT count(*) FROM events)"
    local jobs_list=1
    [ "$rjobs" -le 1 ] || jobs_list="1 $rjobs"
    local j jopt copt
    for j in $jobs_list; do
        jopt=""; copt=""
        [ "$j" = 1 ] || { jopt="-j $j"; copt="--jobs $j"; }
        for r in $(seq 1 "$runs"); do
            Q -c "CHECKPOINT"
            # shellcheck disable=SC2086
            measure "$size" "pg_restore_j$j" "$r" bash -c \
                'createdb -h "$1" -p "$2" -U postgres -T template0 r_plain && pg_restore '"$jopt"' -h "$1" -p "$2" -U postgres --exit-on-error -d r_plain "$3"' \
                - "$SRC_HOST" "$SRC_PORT" "$TEST_TMP/plain.dump"
            [ "$r" != 1 ] || is "$(Q r_plain -c "$rows_chk")" "$rows_src" "pg_restore -j $j: row counts match"
            Q -c "DROP DATABASE r_plain"
            Q -c "CHECKPOINT"
            # shellcheck disable=SC2086
            measure "$size" "coffre_restore_j$j" "$r" "$COFFRE" --config "$TEST_TMP/coffre-$v0.conf" \
                restore "$id" --db "$DB" --target "$(pg_conninfo src r_coffre)" --create $copt
            [ "$r" != 1 ] || is "$(Q r_coffre -c "$rows_chk")" "$rows_src" "coffre restore --jobs $j: row counts match"
            Q -c "DROP DATABASE r_coffre"
        done
    done

    write_size_report "$size" "$runs" "$size_bytes" "$rows_src" "$rjobs"
    pg_stop src
    rm -rf "$TEST_TMP/src" "$TEST_TMP/repo" "$TEST_TMP/plain.dump" "$TEST_TMP"/hsm
}

# ---------------------------------------------------------------- reports

row_backup() { # LABEL DESCRIPTION
    local w
    w=$(col "$1" 4)
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$2" "$(sec "$w")" \
        "$(ratio "$w" "$(col bare 4)")" "$(mib "$(col "$1" 5)")" "$(mib "$(col "$1" 9)")" \
        "$(mib "$(col "$1" 11)")" "$(sec "$(col "$1" 12)")" "$(sec "$(col "$1" 10)")" \
        "$(sec "$(col "$1" 17)")" "$(awk -v b="$(col "$1" 8)" 'BEGIN{if (b == "-") print b; else printf "%.2f", b}')"
}

row_restore() { # LABEL BASELINE DESCRIPTION
    local w
    w=$(col "$1" 4)
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$3" "$(sec "$w")" \
        "$(ratio "$w" "$(col "$2" 4)")" "$(mib "$(col "$1" 5)")" "$(mib "$(col "$1" 9)")" \
        "$(mib "$(col "$1" 15)")" "$(sec "$(col "$1" 17)")" "$(awk -v b="$(col "$1" 8)" 'BEGIN{if (b == "-") print b; else printf "%.2f", b}')"
}

write_size_report() {
    local size=$1 runs=$2 bytes=$3 rows=$4 j=$5 v out sect
    out="$RESULTS_DIR/$DATE-$size.md"
    sect="$TEST_TMP/section-$size.md"
    {
        echo "## $size MiB database ($((bytes / 1048576)) MiB on disk, $runs run(s), median)"
        echo
        echo "Rows: $rows (documents, embeddings, attachments, events); generated in ${GEN_SECONDS}s."
        echo
        echo "### Backup"
        echo
        echo "| command | wall s | vs bare | tree max RSS MiB | coffre VmHWM MiB | pg_dump VmHWM MiB | pg_dump CPU s | coffre CPU s | server backends CPU s | busy cores |"
        echo "|---|---|---|---|---|---|---|---|---|---|"
        row_backup bare 'bare `pg_dump -Fc -Z0 > /dev/null`'
        row_backup seed 'seeds `pg_dump -Fc \| openssl enc -aes-256-cbc \| wc -c`'
        for v in $VARIANTS; do
            row_backup "coffre_z${v%%:*}w${v##*:}" "\`coffre backup\` zstd level ${v%%:*}, workers ${v##*:}"
        done
        echo
        echo "### Size"
        echo
        echo "| | bytes | ratio to plain |"
        echo "|---|---|---|"
        echo "| pg_dump -Fc -Z0 (plain archive) | $Z0_BYTES | 1.00 |"
        echo "| coffre plain_bytes (dump + globals) | $PLAIN_BYTES | $(awk -v a="$PLAIN_BYTES" -v b="$Z0_BYTES" 'BEGIN{printf "%.3f", a / b}') |"
        echo "| seeds' pipeline output (pg_dump -Fc, zlib level 6, + 16 B salt header + CBC padding) | $SEED_BYTES | $(awk -v a="$Z0_BYTES" -v b="$SEED_BYTES" 'BEGIN{if (b + 0 > 0) printf "%.2f:1", a / b; else print "-"}') |"
        echo "| coffre compressed_bytes (zstd, before encryption) | $COMPRESSED_BYTES | $(awk -v a="$PLAIN_BYTES" -v b="$COMPRESSED_BYTES" 'BEGIN{printf "%.2f:1", a / b}') |"
        echo "| coffre stored_bytes (encrypted objects + manifest) | $STORED_BYTES | $(awk -v a="$PLAIN_BYTES" -v b="$STORED_BYTES" 'BEGIN{printf "%.2f:1", a / b}') |"
        for v in $VARIANTS; do
            local vb
            vb=$("$PY" -c '
import json, sys
for b in json.load(open(sys.argv[1])):
    if b["id"] == sys.argv[2]:
        print(b["stored_bytes"])' "$TEST_TMP/list.json" "${VARIANT_ID[$v]}")
            echo "| stored_bytes, zstd level ${v%%:*}, workers ${v##*:} (last run) | $vb | $(awk -v a="$PLAIN_BYTES" -v b="$vb" 'BEGIN{printf "%.2f:1", a / b}'), $(awk -v a="$vb" -v b="$STORED_BYTES" 'BEGIN{printf "%.3f", a / b}')x the first variant |"
        done
        echo
        echo "### Restore (into a new database on the same server)"
        echo
        echo "| command | wall s | vs pg_restore | tree max RSS MiB | coffre VmHWM MiB | pg_restore VmHWM MiB | server backends CPU s | busy cores |"
        echo "|---|---|---|---|---|---|---|---|"
        row_restore pg_restore_j1 pg_restore_j1 '`createdb -T template0` + `pg_restore` (local -Z0 file)'
        row_restore coffre_restore_j1 pg_restore_j1 '`coffre restore --create`'
        if [ "$j" -gt 1 ]; then
            row_restore "pg_restore_j$j" pg_restore_j1 "\`createdb\` + \`pg_restore -j $j\`"
            row_restore "coffre_restore_j$j" "pg_restore_j$j" "\`coffre restore --create --jobs $j\` (vs pg_restore -j $j)"
        fi
        echo
        echo "### Every run"
        echo
        echo "CPU columns are user+system seconds, from the poller's last sample (up to 50 ms early)."
        echo "busy cores: machine-wide CPU use during the run (/proc/stat), out of $(nproc)."
        echo
        echo "| label | run | wall s | tree RSS kB | user s | sys s | busy cores | coffre kB | coffre CPU | pg_dump kB | pg_dump CPU | openssl kB | openssl CPU | pg_restore kB | pg_restore CPU | backends CPU | load1 before |"
        echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        awk -F'\t' 'BEGIN{OFS=" | "} {$1=""; print "|" substr($0, 3) " |"}' "$RAW"
    } >"$sect"
    { echo "# coffre benchmark, $DATE, $size MiB"; echo; echo "$FACTS"; echo; cat "$sect"; } >"$out"
    cp "$RAW" "$RESULTS_DIR/$DATE-$size.tsv"
    cat "$sect" >>"$TEST_TMP/combined.md"
    echo >>"$TEST_TMP/combined.md"
    { echo "# coffre benchmark, $DATE"; echo; echo "$FACTS"; echo; cat "$TEST_TMP/combined.md"; } \
        >"$RESULTS_DIR/latest.md"
    log "wrote $out and $RESULTS_DIR/latest.md"
}

machine_facts() {
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- command: \`$CMDLINE\`"
    echo "- CPU: $(nproc) x $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
    echo "- RAM: $(awk '/MemTotal/{printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "- disk: $(df -h "$BENCH_DIR" | awk 'NR==2{print $1 ", " $2 " total, " $4 " free at start"}');" \
         "sequential write with fdatasync: $DISK_MBPS"
    echo "- kernel: $(uname -r); $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "- PostgreSQL: $("$PG_BIN/postgres" --version); pg_dump/pg_restore from $PG_BIN"
    echo "- $(openssl version)"
    echo "- libzstd $(dpkg-query -W -f '${Version}' 'libzstd1' 2>/dev/null), libsodium $(dpkg-query -W -f '${Version}' 'libsodium23' 2>/dev/null), SoftHSM2 $(dpkg-query -W -f '${Version}' softhsm2 2>/dev/null)"
    echo "- coffre: $COFFRE_BUILT at $COFFRE_REV (binary sha256 $COFFRE_SHA..., copied at start)"
    echo "- cluster: shared_buffers 1GB, max_wal_size 4GB, checkpoint_timeout 30min," \
         "maintenance_work_mem 256MB, synchronous_commit off, fsync on, autovacuum off," \
         "wal_level replica; CHECKPOINT before each restore"
    echo "- data set: bench/gen.sh, GEN_PROFILE=${GEN_PROFILE:-default}"
    echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---------------------------------------------------------------- main

DATE=$(date +%Y-%m-%d)
CMDLINE="GEN_PROFILE=${GEN_PROFILE:-default} SIZES=\"$SIZES\" RUNS=\"$RUNS\" SEED_RUNS=\"${SEED_RUNS:-$RUNS}\" BENCH_DIR=$BENCH_DIR COFFRE_VARIANTS=\"$COFFRE_VARIANTS\" RESTORE_JOBS=\"$RESTORE_JOBS\" bash bench/run.sh"
log "$CMDLINE"
log "working directory $TEST_TMP"
df -h "$BENCH_DIR" >&2
DISK_MBPS=$(dd if=/dev/zero of="$TEST_TMP/dd.test" bs=1M count=1024 conv=fdatasync 2>&1 | awk -F', ' 'END{print $NF}')
rm -f "$TEST_TMP/dd.test"
FACTS=$(machine_facts)
: >"$TEST_TMP/combined.md"

# nth I LIST... -- the I-th word of LIST, or its last one
nth() {
    local i=$1
    shift
    [ "$i" -le $# ] || i=$#
    echo "${!i}"
}
i=0
for size in $SIZES; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    runs=$(nth "$i" $RUNS)
    seed_runs=$(nth "$i" ${SEED_RUNS:-$RUNS})
    [ "$seed_runs" -le "$runs" ] || seed_runs=$runs
    # shellcheck disable=SC2086
    bench_size "$size" "$runs" "$(nth "$i" $RESTORE_JOBS)" "$seed_runs" "$(nth "$i" $COFFRE_VARIANTS)"
done
done_testing
