#!/bin/bash
# test_81_wal -- WAL archiving: a real PostgreSQL 15 archiving through
# `coffre wal-push %p`, `coffre wal-get %f %p` byte for byte, duplicate and
# conflicting pushes, missing and corrupt objects, a push killed mid-upload,
# async push through the spool, wal-get read-ahead, and verify --wal.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_81_wal: wal-push, wal-get, async, read-ahead, verify --wal"

hsm_init
hsm_token coffre 4321
INSTANCE=acme CONNINFO="host=/nonexistent user=postgres dbname=postgres" REPO="$TEST_TMP/repo" \
STATE_DIR="$TEST_TMP/spool" KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$TEST_TMP/coffre.conf"
cat >>"$TEST_TMP/coffre.conf" <<EOF

[wal]
readahead = 0
EOF
C() { "$COFFRE" --config "$TEST_TMP/coffre.conf" "$@"; }
run_ok "keys init" C keys init
mkdir -p "$TEST_TMP/repo" "$TEST_TMP/spool" "$TEST_TMP/scratch"
pg_owns "$HSM_DIR" "$TEST_TMP/repo" "$TEST_TMP/spool" "$TEST_TMP/coffre.conf" "$TEST_TMP/scratch"

# as_pg_in DIR CMD... -- run CMD as the PostgreSQL user in DIR (the archiver's cwd is PGDATA).
as_pg_in() {
    local dir=$1
    shift
    as_pg env -C "$dir" "$@"
}
# wal_key NAME -- the repository file holding WAL file NAME.
wal_key() {
    find "$TEST_TMP/repo/acme/wal" -name "$1-*" ! -name '.*' | head -n 1
}
# wait_archived N -- wait until the server archived at least N files.
wait_archived() {
    local n=$1
    for _ in $(seq 1 240); do
        [ "$(psql_at src -c "select archived_count from pg_stat_archiver")" -ge "$n" ] && return 0
        sleep 0.5
    done
    return 1
}
# wait_archived_wal SEG -- wait until the server archived WAL file SEG or a
# later one. A count is not enough where earlier switches may still be
# queued: the count can rise for one of them while SEG still waits.
wait_archived_wal() {
    local last
    for _ in $(seq 1 240); do
        last=$(psql_at src -c "select coalesce(last_archived_wal, '') from pg_stat_archiver")
        [ -n "$last" ] && [[ ! "$last" < "$1" ]] && return 0
        sleep 0.5
    done
    return 1
}

# ---- 1. a real server archives through wal-push
pg_init src
pg_conf src "archive_mode = on" \
    "archive_command = '$COFFRE -c $TEST_TMP/coffre.conf wal-push %p'" \
    "archive_timeout = 0" "wal_keep_size = 256MB"
pg_start src
psql_at src -c "create table t as select g, md5(g::text) v from generate_series(1, 20000) g"
for _ in 1 2 3 4; do
    psql_at src -c "insert into t select g, md5(g::text) from generate_series(1, 5000) g" >/dev/null
    psql_at src -c "select pg_switch_wal()" >/dev/null
done
ok "the server archived 4 segments through coffre wal-push" wait_archived 4
is "$(psql_at src -c "select failed_count from pg_stat_archiver")" "0" "no archive_command failed"

# every archived segment comes back byte for byte
done_segs=$(cd "$SRC_PGDATA/pg_wal/archive_status" && ls -- *.done | sed 's/\.done$//' | grep -E '^[0-9A-F]{24}$')
n_ok=0 n_all=0
for seg in $done_segs; do
    n_all=$((n_all + 1))
    rm -f "$TEST_TMP/scratch/$seg"
    if as_pg "$COFFRE" -c "$TEST_TMP/coffre.conf" wal-get "$seg" "$TEST_TMP/scratch/$seg" &&
       [ "$(sha256sum <"$TEST_TMP/scratch/$seg")" = "$(sha256sum <"$SRC_PGDATA/pg_wal/$seg")" ]; then
        n_ok=$((n_ok + 1))
    else
        diag "segment $seg does not come back identical"
    fi
done
ok "at least 4 segments were archived" test "$n_all" -ge 4
is "$n_ok" "$n_all" "every archived segment comes back byte-identical from wal-get"
first_seg=$(echo "$done_segs" | head -n 1)
ls "$TEST_TMP/scratch"/.*.tmp.* >/dev/null 2>&1 && fail "wal-get leaves no temporary file" ||
    pass "wal-get leaves no temporary file"

# ---- 2. duplicate and conflicting pushes
_run as_pg_in "$SRC_PGDATA" "$COFFRE" -c "$TEST_TMP/coffre.conf" wal-push "pg_wal/$first_seg"
is "$LAST_RC" "0" "pushing the same file again succeeds"
like "$(cat "$LAST_ERR")" "was already archived (same sha256)" "and says it was already archived"
mkdir -p "$TEST_TMP/other/pg_wal"
cp "$SRC_PGDATA/pg_wal/$first_seg" "$TEST_TMP/other/pg_wal/$first_seg"
printf 'X' | dd of="$TEST_TMP/other/pg_wal/$first_seg" bs=1 seek=5000 conv=notrunc status=none
pg_owns "$TEST_TMP/other"
_run as_pg_in "$TEST_TMP/other" "$COFFRE" -c "$TEST_TMP/coffre.conf" wal-push "pg_wal/$first_seg"
is "$LAST_RC" "6" "a different file under an archived name fails (status 6)"
like "$(cat "$LAST_ERR")" "WAL file \"$first_seg\" is already archived with different content" \
    "and says so"
like "$(cat "$LAST_ERR")" "HINT: Two clusters may be archiving into one repository instance" \
    "with a hint"
cp "$SRC_PGDATA/pg_wal/$first_seg" "$TEST_TMP/other/pg_wal/not-a-wal-file"
pg_owns "$TEST_TMP/other"
_run as_pg_in "$TEST_TMP/other" "$COFFRE" -c "$TEST_TMP/coffre.conf" wal-push pg_wal/not-a-wal-file
is "$LAST_RC" "2" "a file whose name is not a WAL name is refused"
like "$(cat "$LAST_ERR")" '"not-a-wal-file" is not a WAL file name' "and the message names it"

# ---- 3. wal-get: missing, history, corrupt
_run as_pg "$COFFRE" -c "$TEST_TMP/coffre.conf" wal-get 0000000100000000000000F0 "$TEST_TMP/scratch/F0"
is "$LAST_RC" "1" "wal-get of a file not in the repository exits 1"
unlike "$(cat "$LAST_ERR")" "error:" "without an error-level message"
like "$(cat "$LAST_ERR")" 'WAL file "0000000100000000000000F0" is not in the repository' "but an info line"
ok "and writes nothing" test ! -e "$TEST_TMP/scratch/F0"
_run as_pg "$COFFRE" -c "$TEST_TMP/coffre.conf" wal-get 00000002.history "$TEST_TMP/scratch/h"
is "$LAST_RC" "1" "wal-get of a history file that does not exist exits 1"

# PostgreSQL's own .partial (archived at a promotion) is stored as a partial of
# its full length and serves the segment when no complete one exists
mkdir -p "$TEST_TMP/part/pg_wal"
head -c $((16 * 1024 * 1024)) /dev/urandom >"$TEST_TMP/part/pg_wal/000000070000000000000009.partial"
pg_owns "$TEST_TMP/part"
_run as_pg_in "$TEST_TMP/part" "$COFFRE" -v -c "$TEST_TMP/coffre.conf" wal-push pg_wal/000000070000000000000009.partial
is "$LAST_RC" "0" "wal-push of a .partial file succeeds"
if [ "$(nproc)" -ge 2 ]; then # [compression] workers = auto, the default
    like "$(cat "$LAST_ERR")" "compressing with one zstd worker thread" \
        "a lone wal-push compresses in a zstd thread (workers = auto, 2 cores or more)"
fi
ok "it is stored as a partial of its full length" \
    test -n "$(wal_key 000000070000000000000009.partial.01000000)"
_run as_pg "$COFFRE" -c "$TEST_TMP/coffre.conf" wal-get 000000070000000000000009 "$TEST_TMP/scratch/p9"
is "$LAST_RC" "0" "wal-get of its segment serves the partial"
like "$(cat "$LAST_ERR")" "from partial object" "and says so"
ok "byte-identical" cmp -s "$TEST_TMP/scratch/p9" "$TEST_TMP/part/pg_wal/000000070000000000000009.partial"
rm -rf "$TEST_TMP/part" "$TEST_TMP/scratch/p9"

corrupt_seg=$(echo "$done_segs" | sed -n 2p)
obj=$(wal_key "$corrupt_seg")
cp "$obj" "$TEST_TMP/object.orig"
size=$(stat -c %s "$obj")
chmod u+w "$obj"
flip_byte "$obj" $((size - 100))
_run as_pg "$COFFRE" -c "$TEST_TMP/coffre.conf" wal-get "$corrupt_seg" "$TEST_TMP/scratch/bad"
is "$LAST_RC" "206" "wal-get of a corrupt object exits 206 (above 125: PostgreSQL stops recovery)"
like "$(cat "$LAST_ERR")" "coffre: error:" "with an error message"
like "$(cat "$LAST_ERR")" "while restoring WAL file \"$corrupt_seg\"" "naming the WAL file"
ok "nothing is written at PATH" test ! -e "$TEST_TMP/scratch/bad"
ls "$TEST_TMP/scratch"/.*.tmp.* >/dev/null 2>&1 && fail "no temporary file is left" ||
    pass "no temporary file is left"
cp "$TEST_TMP/object.orig" "$obj"

# ---- 4. a push killed mid-upload leaves nothing wal-get serves; the retry succeeds
mkdir -p "$TEST_TMP/big/pg_wal"
big=000000050000000000000001
head -c $((256 * 1024 * 1024)) /dev/urandom >"$TEST_TMP/big/pg_wal/$big"
pg_owns "$TEST_TMP/big"
(cd "$TEST_TMP/big" && exec runuser -u postgres -- "$COFFRE" -c "$TEST_TMP/coffre.conf" wal-push "pg_wal/$big") \
    >/dev/null 2>&1 &
pid=$!
killed=no
for _ in $(seq 1 1000); do  # kill -9 once the upload is under way (its temporary file exists)
    if ls -a "$TEST_TMP/repo/acme/wal/0000000500000000/" 2>/dev/null | grep -q "^\.$big.*tmp"; then
        pkill -9 -f "wal-push pg_wal/$big" && killed=yes
        break
    fi
    sleep 0.01
done
wait "$pid" 2>/dev/null || true
is "$killed" "yes" "wal-push was killed mid-upload"
_run as_pg "$COFFRE" -c "$TEST_TMP/coffre.conf" wal-get "$big" "$TEST_TMP/scratch/$big"
is "$LAST_RC" "1" "after kill -9 mid-upload, wal-get finds nothing to serve"
_run as_pg_in "$TEST_TMP/big" "$COFFRE" -c "$TEST_TMP/coffre.conf" wal-push "pg_wal/$big"
is "$LAST_RC" "0" "the retried push succeeds"
_run as_pg "$COFFRE" -c "$TEST_TMP/coffre.conf" wal-get "$big" "$TEST_TMP/scratch/$big"
is "$LAST_RC" "0" "and wal-get serves it"
is "$(sha256sum <"$TEST_TMP/scratch/$big")" "$(sha256sum <"$TEST_TMP/big/pg_wal/$big")" \
    "byte-identical"
rm -rf "$TEST_TMP/big" "$TEST_TMP/scratch/$big"

# the archiver killed during a push: PostgreSQL retries and everything is restorable
psql_at src -c "insert into t select g, md5(g::text) from generate_series(1, 5000) g" >/dev/null
psql_at src -c "select pg_switch_wal()" >/dev/null
for _ in $(seq 1 50); do
    p=$(pgrep -f "wal-push pg_wal" | head -n 1 || true)
    if [ -n "$p" ]; then kill -9 "$p" 2>/dev/null || true; break; fi
    sleep 0.1
done
before=$(psql_at src -c "select archived_count from pg_stat_archiver")
psql_at src -c "select pg_switch_wal()" >/dev/null
psql_at src -c "insert into t values (1, 'x')" >/dev/null
psql_at src -c "select pg_switch_wal()" >/dev/null
ok "archiving goes on after the archiver's push was killed" wait_archived $((before + 1))
last=$(psql_at src -c "select last_archived_wal from pg_stat_archiver")
n_bad=0
for seg in $(cd "$SRC_PGDATA/pg_wal/archive_status" && ls -- *.done | sed 's/\.done$//' | grep -E '^[0-9A-F]{24}$'); do
    rm -f "$TEST_TMP/scratch/x"
    as_pg "$COFFRE" -q -c "$TEST_TMP/coffre.conf" wal-get "$seg" "$TEST_TMP/scratch/x" &&
        [ "$(sha256sum <"$TEST_TMP/scratch/x")" = "$(sha256sum <"$SRC_PGDATA/pg_wal/$seg")" ] ||
        { n_bad=$((n_bad + 1)); diag "segment $seg is not restorable"; }
done
is "$n_bad" "0" "every segment marked done (through $last) is restorable"

# ---- 5. async push: the ready segments go in parallel, later calls answer from the spool
sed 's/^readahead = 0$/readahead = 0\nasync = true\npush_jobs = 4/' "$TEST_TMP/coffre.conf" \
    >"$TEST_TMP/async.conf"
pg_owns "$TEST_TMP/async.conf"
mkdir -p "$TEST_TMP/fake/pg_wal/archive_status"
for i in 1 2 3 4 5; do
    f=00000006000000000000000$i
    head -c $((1024 * 1024)) /dev/urandom >"$TEST_TMP/fake/pg_wal/$f"
    : >"$TEST_TMP/fake/pg_wal/archive_status/$f.ready"
done
pg_owns "$TEST_TMP/fake"
# files quiet for 2 s and more: their records vouch by file state (no second hash)
sleep 3
_run as_pg_in "$TEST_TMP/fake" "$COFFRE" -c "$TEST_TMP/async.conf" wal-push pg_wal/000000060000000000000001
is "$LAST_RC" "0" "async wal-push of the first ready segment succeeds"
# push_jobs - 1 = 3 detached children, each holding a claim (pushed/S.inflight)
# until its record is written; the call itself returns when its own segment is in
records() { ls "$TEST_TMP/spool/pushed" 2>/dev/null | grep -v '\.inflight$' || true; }
for _ in $(seq 1 300); do [ "$(records | wc -l)" -ge 3 ] && break; sleep 0.1; done
n=$(records | wc -l)
ok "other ready segments were pushed in parallel and recorded ($n of 3)" test "$n" -eq 3
unlike "$(records)" "000000060000000000000005" "no more than push_jobs - 1 children"
rec=$(records | sed -n 1p)
rec2=$(records | sed -n 2p)
rm "$TEST_TMP/fake/pg_wal/archive_status/000000060000000000000001.ready" \
    "$TEST_TMP/fake/pg_wal/archive_status/$rec.ready"
_run as_pg_in "$TEST_TMP/fake" "$COFFRE" -v -c "$TEST_TMP/async.conf" wal-push "pg_wal/$rec"
is "$LAST_RC" "0" "the later wal-push of a segment pushed ahead succeeds"
like "$(cat "$LAST_ERR")" "was archived by an async push (the file is unchanged since)" \
    "from its spool record, by the file's unchanged state"
ok "and consumes the record" test ! -e "$TEST_TMP/spool/pushed/$rec"
# a record never vouches for different content
# (a byte that differs from the one there: the segment is random)
b=$(dd if="$TEST_TMP/fake/pg_wal/$rec2" bs=1 skip=100 count=1 status=none | od -An -c | tr -d ' ')
if [ "$b" = Y ]; then b=Z; else b=Y; fi
printf '%s' "$b" | dd of="$TEST_TMP/fake/pg_wal/$rec2" bs=1 seek=100 conv=notrunc status=none
_run as_pg_in "$TEST_TMP/fake" "$COFFRE" -c "$TEST_TMP/async.conf" wal-push "pg_wal/$rec2"
is "$LAST_RC" "6" "a spool record does not vouch for a file whose content changed (in place)"
ok "the stale record is removed" test ! -e "$TEST_TMP/spool/pushed/$rec2"
# a file whose state changed but not its bytes: the record vouches by sha256
rec3=$(records | sed -n 1p)
touch "$TEST_TMP/fake/pg_wal/$rec3"
_run as_pg_in "$TEST_TMP/fake" "$COFFRE" -v -c "$TEST_TMP/async.conf" wal-push "pg_wal/$rec3"
is "$LAST_RC" "0" "a record vouches for a touched file with the same bytes"
like "$(cat "$LAST_ERR")" "was archived by an async push (same sha256)" "by its sha256"
# a record written for another repository vouches for nothing here
f5=000000060000000000000005
printf '%s\nposix /elsewhere acme\n' "$(sha256sum <"$TEST_TMP/fake/pg_wal/$f5" | cut -c1-64)" \
    >"$TEST_TMP/spool/pushed/$f5"
pg_owns "$TEST_TMP/spool"
_run as_pg_in "$TEST_TMP/fake" "$COFFRE" -c "$TEST_TMP/async.conf" wal-push "pg_wal/$f5"
is "$LAST_RC" "0" "wal-push with a record from another repository"
ok "really stores the segment" test -n "$(wal_key "$f5")"
n_ok=0
for i in 1 2 3 4; do
    f=00000006000000000000000$i
    [ "$f" != "$rec2" ] || continue
    rm -f "$TEST_TMP/scratch/$f"
    as_pg_in "$TEST_TMP/fake" "$COFFRE" -q -c "$TEST_TMP/coffre.conf" wal-push "pg_wal/$f" &&
    as_pg "$COFFRE" -q -c "$TEST_TMP/coffre.conf" wal-get "$f" "$TEST_TMP/scratch/$f" &&
        cmp -s "$TEST_TMP/scratch/$f" "$TEST_TMP/fake/pg_wal/$f" && n_ok=$((n_ok + 1))
done
is "$n_ok" "3" "every other segment is archived, identical"

# the real server in async mode
pg_conf src "archive_command = '$COFFRE -c $TEST_TMP/async.conf wal-push %p'"
psql_at src -c "select pg_reload_conf()" >/dev/null
before=$(psql_at src -c "select archived_count from pg_stat_archiver")
failed_before=$(psql_at src -c "select failed_count from pg_stat_archiver")
for _ in 1 2 3 4 5 6; do
    psql_at src -c "insert into t values (2, 'y')" >/dev/null
    psql_at src -c "select pg_switch_wal()" >/dev/null
done
ok "the server archives 6 more segments in async mode" wait_archived $((before + 6))
is "$(psql_at src -c "select failed_count from pg_stat_archiver")" "$failed_before" "with no failure"

# ---- 6. wal-get read-ahead
sed 's/^readahead = 0$/readahead = 2/' "$TEST_TMP/coffre.conf" >"$TEST_TMP/ra.conf"
pg_owns "$TEST_TMP/ra.conf"
segs=$(cd "$SRC_PGDATA/pg_wal/archive_status" && ls -- *.done | sed 's/\.done$//' | grep -E '^[0-9A-F]{24}$' | head -n 3)
s1=$(echo "$segs" | sed -n 1p) s2=$(echo "$segs" | sed -n 2p)
rm -f "$TEST_TMP/scratch/"*
run_ok "wal-get with read-ahead" as_pg "$COFFRE" -c "$TEST_TMP/ra.conf" wal-get "$s1" "$TEST_TMP/scratch/$s1"
for _ in $(seq 1 100); do
    [ -n "$(ls "$TEST_TMP/spool/prefetch" 2>/dev/null | grep "^$s2-")" ] && break
    sleep 0.2
done
ok "the next segment was prefetched into the spool" \
    sh -c "ls '$TEST_TMP/spool/prefetch' | grep -q '^$s2-'"
# served from the spool, wal-get opens neither the repository nor the PKCS#11 module:
# a configuration whose module cannot load proves it
sed 's|^module = .*|module = /nonexistent/libpkcs11.so|' "$TEST_TMP/ra.conf" >"$TEST_TMP/ra-nohsm.conf"
pg_owns "$TEST_TMP/ra-nohsm.conf"
run_ok "the next wal-get, served without loading the PKCS#11 module" \
    as_pg "$COFFRE" -v -c "$TEST_TMP/ra-nohsm.conf" wal-get "$s2" "$TEST_TMP/scratch/$s2"
like "$(cat "$LAST_ERR")" "from the read-ahead spool" "is served from the spool"
ok "byte-identical" cmp -s "$TEST_TMP/scratch/$s2" "$SRC_PGDATA/pg_wal/$s2"
ok "and the spool copy is removed" sh -c "! ls '$TEST_TMP/spool/prefetch' | grep -q '^$s2-'"
# a read-ahead that removed its own lock file let the next one run beside it, and each
# removed the other's temporary files ("could not replace ...: No such file")
ok "the read-ahead keeps its lock file" test -f "$TEST_TMP/spool/prefetch/.lock"
# ra_settled COND -- wait (15 s at most) for COND, then for no read-ahead child to run
ra_settled() {
    for _ in $(seq 1 75); do
        sh -c "$1" && flock -n "$TEST_TMP/spool/prefetch/.lock" true && return 0
        sleep 0.2
    done
    return 1
}
# a read-ahead killed mid-segment leaves its temporary file: the next one removes it
zero=0000000000000000000000000000000000000000000000000000000000000000
ok "the read-ahead children end" ra_settled true
touch "$TEST_TMP/spool/prefetch/.$s2.tmp.killed"
touch -d '2 days ago' "$TEST_TMP/spool/prefetch/$s2-$zero"
run_ok "wal-get after a killed read-ahead" as_pg "$COFFRE" -c "$TEST_TMP/ra.conf" wal-get "$s1" "$TEST_TMP/scratch/$s1"
ok "the next read-ahead fetches the segment again" \
    ra_settled "ls '$TEST_TMP/spool/prefetch' | grep '^$s2-' | grep -qv -- '-$zero\$'"
ok "the killed read-ahead's temporary file is removed" test ! -e "$TEST_TMP/spool/prefetch/.$s2.tmp.killed"
ok "a stale read-ahead copy is removed" test ! -e "$TEST_TMP/spool/prefetch/$s2-$zero"

# ---- 7. verify --wal (needs backup --physical, from the physical-backup work)
if grep -qa "backup --physical is not implemented" "$COFFRE"; then
    note "backup --physical is not in this build: verify --wal is tested by unit tests only"
else
    sed "s|^conninfo = .*|conninfo = $SRC_CONNINFO|" "$TEST_TMP/coffre.conf" >"$TEST_TMP/phys.conf"
    printf 'archive_timeout = 60s\n' >>"$TEST_TMP/phys.conf"
    pg_owns "$TEST_TMP/phys.conf"
    pg_conf src "archive_command = '$COFFRE -c $TEST_TMP/coffre.conf wal-push %p'"
    psql_at src -c "select pg_reload_conf()" >/dev/null
    P() { as_pg "$COFFRE" --config "$TEST_TMP/phys.conf" "$@"; }
    # list_wal -- every WAL object in the repository
    list_wal() { find "$TEST_TMP/repo/acme/wal" -type f ! -name '.*' | sort; }
    list_wal >"$TEST_TMP/wal.before"
    run_ok "prune without any physical backup" P prune
    list_wal >"$TEST_TMP/wal.after"
    is "$(comm -23 "$TEST_TMP/wal.before" "$TEST_TMP/wal.after" | wc -l)" "0" "deletes no WAL"
    unlike "$(cat "$LAST_OUT")" "WAL" "and says nothing about WAL"
    run_ok "backup --physical" P backup --physical
    PID=$(cat "$LAST_OUT")
    for _ in 1 2 3; do
        psql_at src -c "insert into t values (3, 'z')" >/dev/null
        psql_at src -c "select pg_switch_wal()" >/dev/null
    done
    psql_at src -c "insert into t values (4, 'w')" >/dev/null
    seg=$(psql_at src -c "select pg_walfile_name(pg_switch_wal())")
    ok "the server archived the WAL after the backup" wait_archived_wal "$seg"
    run_ok "verify --wal passes on a continuous archive" P verify --wal
    like "$(cat "$LAST_OUT")" "backup $PID: WAL continuous from" "and says so"
    run_ok "verify --wal --json" P verify --wal --json
    like "$(cat "$LAST_OUT")" '"ok": true' "--json reports ok"
    # info: the combined view (issue 14), here for the physical backup
    run_ok "info $PID" P info "$PID"
    info=$(cat "$LAST_OUT")
    like "$info" "backup $PID: physical complete" "info: kind and state"
    like "$info" "  WAL needed  0000000" "info: the WAL the backup needs"
    like "$info" "  WAL archive continuous to $(psql_at src -c "select last_archived_wal from pg_stat_archiver")" \
        "info: how far the archive reaches without a gap, to the server's last archived segment"
    like "$info" "  verified    never" "info: no verification yet"
    like "$info" "  signed by   " "info: the signer"
    run_ok "verify $PID" P verify "$PID"
    like "$(P info "$PID")" "  verified    ok" "info: the verification, once made"
    run_ok "info --json" P info --json
    is "$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=[x for x in a if x["id"]==sys.argv[2]][0]; print(b["kind"], b["wal"]["archive_continuous"], b["verified"]["ok"], len(a) >= 1)' "$LAST_OUT" "$PID")" \
        "physical True True True" "info --json: the same facts"
    run_fails "info of a backup that does not exist: exit 5" 5 P info 20000101T000000Z
    like "$(cat "$LAST_ERR")" "no backup 20000101T000000Z in instance" "and says so"
    # WAL retention: everything before the backup's start goes, history files stay
    bstart=$(find "$TEST_TMP/repo/acme/wal" -name '*.backup-*' | sed 's|.*/||' | cut -c1-24 | sort | tail -n 1)
    # count_old -- WAL objects (history files excepted) whose segment is before the backup's
    count_old() {
        find "$TEST_TMP/repo/acme/wal" -type f ! -name '.*' ! -path '*/history/*' | sed 's|.*/||' |
            cut -c1-24 | awk -v s="${bstart:8:16}" 'substr($0, 9, 16) < s' | wc -l
    }
    n_old=$(count_old)
    n_hist=$(ls "$TEST_TMP/repo/acme/wal/history" 2>/dev/null | wc -l)
    ok "WAL from before the backup is in the repository ($n_old objects)" test "$n_old" -gt 0
    run_ok "prune --dry-run" P prune --dry-run
    like "$(cat "$LAST_OUT")" "would delete   WAL" "lists the WAL it would delete"
    like "$(cat "$LAST_OUT")" "$n_old WAL object(s) before" "all of it, and only it"
    is "$(count_old)" "$n_old" "dry run: nothing changed"
    run_ok "prune --json" P prune --json
    like "$(cat "$LAST_OUT")" '"objects": '"$n_old" "--json reports the WAL deleted"
    is "$(count_old)" "0" "the WAL before the backup is gone"
    is "$(ls "$TEST_TMP/repo/acme/wal/history" 2>/dev/null | wc -l)" "$n_hist" "history files stay"
    run_ok "verify --wal still passes after prune" P verify --wal
    # delete one segment object after the backup's start: a gap
    newest=$(psql_at src -c "select last_archived_wal from pg_stat_archiver")
    victim=$(ls "$TEST_TMP/repo/acme/wal/0000000100000000/" | sed 's/-.*//' | grep -E '^[0-9A-F]{24}$' |
        sort | awk -v n="$newest" '$0 < n' | tail -n 2 | head -n 1)
    rm -f "$(wal_key "$victim")"
    run_fails "verify --wal fails after one segment object is deleted" 5 P verify --wal
    like "$(cat "$LAST_ERR")" "missing WAL segment $victim between backup $PID and the newest segment" \
        "and names the gap"
    like "$(cat "$LAST_OUT")" "backup $PID: missing WAL segment $victim" "in its report too"
    like "$(P info "$PID")" "  WAL archive GAP: missing WAL segment $victim" "info shows the gap too"
    # restore checks the same before it promises a recovery to the end of WAL
    mkdir -p "$TEST_TMP/gap"
    pg_owns "$TEST_TMP/gap"
    run_fails "restore --physical refuses a backup whose WAL has a gap" 5 \
        P restore --physical --latest --no-archive --pgdata "$TEST_TMP/gap/data"
    like "$(cat "$LAST_ERR")" "$victim" "and names the missing segment"
    ok "and restores nothing" test ! -e "$TEST_TMP/gap/data"
fi

# ---- 8. WAL is bound to its database system (issue 12, finding 2)
# Another cluster (another initdb: another system identifier) shares the
# instance name and the keys.  Its history file must not divert this
# cluster's recovery, and a segment pushed by the wrong cluster is refused.
pg_init other
OTHER_PGDATA=$TEST_TMP/other/data
sysid_of() { as_pg "$PG_BIN/pg_controldata" "$1" | sed -n 's/^Database system identifier: *//p'; }
A_SYS=$(sysid_of "$SRC_PGDATA")
B_SYS=$(sysid_of "$OTHER_PGDATA")
ok "two clusters, two system identifiers ($A_SYS, $B_SYS)" test -n "$A_SYS" -a -n "$B_SYS" -a "$A_SYS" != "$B_SYS"
printf '1\t0/9000000\tno recovery target specified\n' >"$TEST_TMP/scratch/00000009.history"
pg_owns "$TEST_TMP/scratch/00000009.history"
run_ok "the other cluster archives a history file" \
    as_pg_in "$OTHER_PGDATA" "$COFFRE" -c "$TEST_TMP/coffre.conf" wal-push "$TEST_TMP/scratch/00000009.history"
rm -f "$TEST_TMP/scratch/got.history"
run_fails "recovering this cluster, wal-get does not serve the other system's history file" 1 \
    as_pg_in "$SRC_PGDATA" "$COFFRE" -c "$TEST_TMP/coffre.conf" wal-get 00000009.history "$TEST_TMP/scratch/got.history"
like "$(cat "$LAST_ERR")" "belongs to database system $B_SYS, not to $A_SYS" "and warns whose it is"
ok "nothing was written at PATH" test ! -e "$TEST_TMP/scratch/got.history"
run_ok "recovering the other cluster, wal-get serves it" \
    as_pg_in "$OTHER_PGDATA" "$COFFRE" -c "$TEST_TMP/coffre.conf" wal-get 00000009.history "$TEST_TMP/scratch/got.history"
ok "byte for byte" cmp -s "$TEST_TMP/scratch/00000009.history" "$TEST_TMP/scratch/got.history"
cur=$(cd "$SRC_PGDATA/pg_wal" && ls | grep -E '^[0-9A-F]{24}$' | sort | tail -n 1)
cp "$SRC_PGDATA/pg_wal/$cur" "$TEST_TMP/scratch/$cur"
pg_owns "$TEST_TMP/scratch/$cur"
run_fails "a segment of this cluster pushed by the other is refused" 6 \
    as_pg_in "$OTHER_PGDATA" "$COFFRE" -c "$TEST_TMP/coffre.conf" wal-push "$TEST_TMP/scratch/$cur"
like "$(cat "$LAST_ERR")" "belongs to database system $A_SYS, not to $B_SYS" "the error names both systems"

done_testing
