#!/bin/bash
# test_20_bad_input -- corruption drills and bad input (after pg_verifybackup's
# 003_corruption): each case gives its exact message, a non-zero exit status,
# no listed backup, and an untouched restore target.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_20_bad_input: corruption, keys, config and pg_dump failures"

pg_start src
psql_at src -c "CREATE DATABASE app"
psql_at src app -c "CREATE TABLE t AS SELECT g AS id, md5(g::text) || repeat(' filler', 20) AS v
                    FROM generate_series(1, 20000) g"
hsm_init
hsm_token coffre 4321
REPO="$TEST_TMP/repo"
INSTANCE=acme CONNINFO="$(pg_conninfo src app)" DATABASES=app REPO="$REPO" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$TEST_TMP/coffre.conf"
# small chunks, so that objects have many of them
printf '\n[encryption]\nchunk_size = 4096\n' >>"$TEST_TMP/coffre.conf"
CONF="$TEST_TMP/coffre.conf"
C() { "$COFFRE" --config "$CONF" "$@"; }
C keys init >/dev/null

run_ok "first backup" C backup
ID1=$(cat "$LAST_OUT")
sleep 1
run_ok "second backup" C backup
ID2=$(cat "$LAST_OUT")
OBJ1="$REPO/acme/backup/$ID1/db/app.dump"
KEY1="acme/backup/$ID1/db/app.dump"
cp "$OBJ1" "$TEST_TMP/pristine.dump"

n_complete() { C list | grep -c ' complete ' || true; }
n_listed() { C list | tail -n +2 | wc -l; }
no_db() { # NAME: the database does not exist, nor any temporary one
    is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname = '$1' OR datname LIKE '%coffre%'")" "0" "$2"
}
restore_fails_cleanly() { # STATUS MESSAGE DESC
    run_fails "$3: restore fails" "$1" C restore "$ID1" --target "$(pg_conninfo src target)" --create
    like "$(cat "$LAST_ERR")" "$2" "$3: restore message"
    no_db target "$3: nothing restored, no temporary database left"
}
header_len() { # FILE: bytes of the object header (format in stream/object.h)
    perl -e 'open(my $f, "<:raw", $ARGV[0]) or die; read($f, my $b, 65536);
        my $o = 16; for (1..2) { $o += 2 + unpack("n", substr($b, $o, 2)) } $o += 24;
        my $n = unpack("C", substr($b, $o, 1)); $o++;
        for (1..$n) { $o++; for (1..2) { $o += 2 + unpack("n", substr($b, $o, 2)) } } print $o' "$1"
}

# 1. a flipped byte in the payload
cp "$TEST_TMP/pristine.dump" "$OBJ1"
size=$(stat -c %s "$OBJ1")
perl -e 'open(my $f, "+<:raw", $ARGV[0]) or die; seek($f, $ARGV[1], 0); read($f, my $c, 1);
         seek($f, $ARGV[1], 0); print $f chr(ord($c) ^ 1); close($f)' "$OBJ1" $((size / 2))
run_fails "flipped byte: verify fails" 6 C verify "$ID1"
like "$(cat "$LAST_ERR")" "coffre: error: could not decrypt chunk " "flipped byte: verify names the chunk"
like "$(cat "$LAST_ERR")" "of object \"$KEY1\": authentication failed" "flipped byte: verify names the object"
like "$(cat "$LAST_ERR")" "HINT: Do not use this object; restore from another backup." "flipped byte: hint"
restore_fails_cleanly 6 "authentication failed" "flipped byte"
run_ok "the other backup still verifies" C verify "$ID2"

# 2. a truncated object (last byte cut)
head -c $((size - 1)) "$TEST_TMP/pristine.dump" >"$OBJ1"
run_fails "truncated object: verify fails" 6 C verify "$ID1"
like "$(cat "$LAST_ERR")" "of object \"$KEY1\": authentication failed" "truncated object: message"
restore_fails_cleanly 6 "authentication failed" "truncated object"

# 3. the final chunk dropped exactly (every remaining chunk is authentic)
H=$(header_len "$TEST_TMP/pristine.dump")
CH=$((4096 + 17))
keep=$((H + (size - H - 1) / CH * CH))
head -c "$keep" "$TEST_TMP/pristine.dump" >"$OBJ1"
run_fails "dropped final chunk: verify fails" 6 C verify "$ID1"
like "$(cat "$LAST_ERR")" "coffre: error: object \"$KEY1\" is truncated: its final chunk is missing" \
     "dropped final chunk: exact message"
restore_fails_cleanly 6 "is truncated: its final chunk is missing" "dropped final chunk"

# 4. headers swapped between two objects
H2=$(header_len "$REPO/acme/backup/$ID2/db/app.dump")
{ head -c "$H2" "$REPO/acme/backup/$ID2/db/app.dump"; tail -c +$((H + 1)) "$TEST_TMP/pristine.dump"; } >"$OBJ1"
run_fails "swapped header: verify fails" 6 C verify "$ID1"
like "$(cat "$LAST_ERR")" "coffre: error: object \"$KEY1\" holds another object's content" \
     "swapped header: the header names another backup"
like "$(cat "$LAST_ERR")" "DETAIL: Its header names dump \"db/app.dump\" of backup $ID2." "swapped header: detail"
run_fails "swapped header: cat of the file alone fails too" 6 C cat "$OBJ1"
like "$(cat "$LAST_ERR")" "could not decrypt chunk 0 of object \"$OBJ1\": authentication failed" \
     "swapped header: the payload does not open with the other header's key"
restore_fails_cleanly 6 "holds another object's content" "swapped header"
cp "$TEST_TMP/pristine.dump" "$OBJ1"
run_ok "the restored object verifies again" C verify "$ID1"

# 5. a missing manifest
mv "$REPO/acme/backup/$ID1/manifest" "$TEST_TMP/manifest.saved"
run_ok "list with a missing manifest" C list
like "$(grep "$ID1" "$LAST_OUT")" "incomplete" "a backup without manifest is listed as incomplete"
like "$(grep "$ID1" "$LAST_OUT")" "no manifest: not restorable" "list says why"
run_fails "missing manifest: verify fails" 5 C verify "$ID1"
like "$(cat "$LAST_ERR")" "coffre: error: object \"acme/backup/$ID1/manifest\" does not exist in the repository" \
     "missing manifest: exact message"
like "$(cat "$LAST_ERR")" "DETAIL: Backup $ID1 has no manifest: it is incomplete (interrupted or failed) and cannot be restored." \
     "missing manifest: detail"
restore_fails_cleanly 5 "does not exist in the repository" "missing manifest"
mv "$TEST_TMP/manifest.saved" "$REPO/acme/backup/$ID1/manifest"

# an existing empty target stays untouched when the object is corrupt
psql_at src -c "CREATE DATABASE empty_target"
perl -e 'open(my $f, "+<:raw", $ARGV[0]) or die; seek($f, -100, 2); print $f "X"; close($f)' "$OBJ1"
run_fails "corrupt object into an existing database" 6 C restore "$ID1" --target "$(pg_conninfo src empty_target)"
is "$(psql_at src empty_target -c "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")" "0" \
   "the existing target is untouched"
cp "$TEST_TMP/pristine.dump" "$OBJ1"

before=$(n_listed)
# 6. wrong PIN
printf 'wrong' >"$TEST_TMP/wrong.pin"
sed "s|^pin_file = .*|pin_file = $TEST_TMP/wrong.pin|" "$CONF" >"$TEST_TMP/wrongpin.conf"
run_fails "wrong PIN: backup fails" 4 "$COFFRE" --config "$TEST_TMP/wrongpin.conf" backup
like "$(cat "$LAST_ERR")" 'coffre: error: could not log in to token "coffre": C_Login returned CKR_PIN_INCORRECT (0x000000A0)' \
     "wrong PIN: exact message"
like "$(cat "$LAST_ERR")" "HINT: check the PIN file named by keys.pin_file" "wrong PIN: hint"
unlike "$(cat "$LAST_ERR")" "wrong" "the PIN is not echoed"
run_fails "wrong PIN: restore fails" 4 "$COFFRE" --config "$TEST_TMP/wrongpin.conf" restore "$ID1" --target "$(pg_conninfo src target)" --create
no_db target "wrong PIN: nothing restored"

# 7. a missing key, token, module
sed 's|^kek = .*|kek = pkcs11:token=coffre;object=no-such-key|' "$CONF" >"$TEST_TMP/nokey.conf"
run_fails "missing key: backup fails" 4 "$COFFRE" --config "$TEST_TMP/nokey.conf" backup
like "$(cat "$LAST_ERR")" 'coffre: error: no key matches "pkcs11:token=coffre;object=no-such-key" on token "coffre"' \
     "missing key: exact message"
sed 's|^kek = .*|kek = pkcs11:token=nosuch;object=coffre-kek|' "$CONF" >"$TEST_TMP/notoken.conf"
run_fails "missing token: backup fails" 4 "$COFFRE" --config "$TEST_TMP/notoken.conf" backup
like "$(cat "$LAST_ERR")" 'coffre: error: no PKCS#11 token matches "pkcs11:token=nosuch;object=coffre-kek"' \
     "missing token: exact message"
sed 's|^module = .*|module = /nonexistent/libpkcs11.so|' "$CONF" >"$TEST_TMP/nomodule.conf"
run_fails "missing module: backup fails" 4 "$COFFRE" --config "$TEST_TMP/nomodule.conf" backup
like "$(cat "$LAST_ERR")" 'coffre: error: could not load PKCS#11 module "/nonexistent/libpkcs11.so"' \
     "missing module: exact message"

# 8. a bad configuration line
sed 's|^\[keys\]|[retention]\ndayly = 7\n[keys]|' "$CONF" >"$TEST_TMP/bad.conf"
line=$(grep -n '^dayly' "$TEST_TMP/bad.conf" | cut -d: -f1)
run_fails "bad config line: refused" 3 "$COFFRE" --config "$TEST_TMP/bad.conf" backup
is "$(head -1 "$LAST_ERR")" "coffre: error: $TEST_TMP/bad.conf:$line: unknown key \"retention.dayly\"" \
   "bad config line: exact message with file and line"

# 9. pg_dump failing: an unknown database
run_fails "unknown database: backup fails" 7 C backup --db nosuchdb
like "$(cat "$LAST_ERR")" 'coffre: error: could not connect to database "nosuchdb"' "unknown database: exact message"
like "$(cat "$LAST_ERR")" 'FATAL:  database "nosuchdb" does not exist' "unknown database: the server's reason"

# 10. pg_dump failing: its backend terminated mid-dump.  pg_dump waits for a
# lock we hold, so the termination is certain to hit it mid-dump.
psql_at src app -c "SELECT pg_sleep(0)" >/dev/null
( psql_at src app -c "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30); COMMIT" >/dev/null 2>&1 & echo $! >"$TEST_TMP/locker.pid" )
sleep 0.5
C backup >"$TEST_TMP/killed.out" 2>"$TEST_TMP/killed.err" &
bpid=$!
for _ in $(seq 1 100); do
    n=$(psql_at src -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'")
    [ "$n" = 1 ] && break
    sleep 0.1
done
is "$n" "1" "pg_dump is waiting inside its dump"
psql_at src -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pg_dump'" >/dev/null
rc=0; wait "$bpid" || rc=$?
kill "$(cat "$TEST_TMP/locker.pid")" 2>/dev/null || true
psql_at src -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()" >/dev/null
is "$rc" "7" "terminated backend: backup exits 7"
like "$(cat "$TEST_TMP/killed.err")" "coffre: error: pg_dump failed with exit code 1" "terminated backend: exact message"
like "$(cat "$TEST_TMP/killed.err")" "terminating connection due to administrator command" "terminated backend: pg_dump's reason"
like "$(cat "$TEST_TMP/killed.err")" "was not completed and is not restorable" "terminated backend: says the backup is not restorable"

# 10b. row counting failing: the count query of coffre's own session hits a
# lock_timeout (pg_dump turns lock_timeout off in its session, so it waits and
# succeeds).  The backup must fail with the count's reason, and the dump must
# never become visible in the repository: an inotify watcher records every
# file created under the repository while the backup runs.
watch_repo() { # DIR LOG: append the path of every file created under DIR to LOG
    # exec: the backgrounded subshell becomes python, so that kill $WATCHER stops it
    exec python3 - "$1" "$2" <<'PY'
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
IN_CREATE, IN_MOVED_TO, IN_ISDIR = 0x100, 0x80, 0x40000000
fd = libc.inotify_init1(0)
watches = {}
def add(path):
    w = libc.inotify_add_watch(fd, path.encode(), IN_CREATE | IN_MOVED_TO)
    if w >= 0:
        watches[w] = path
    for e in os.scandir(path):
        if e.is_dir(follow_symlinks=False):
            add(e.path)
add(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
out.write("ready\n")
while True:
    buf = os.read(fd, 65536)
    i = 0
    while i < len(buf):
        w, mask, _cookie, n = struct.unpack_from("iIII", buf, i)
        name = buf[i + 16:i + 16 + n].rstrip(b"\0").decode()
        i += 16 + n
        path = os.path.join(watches.get(w, "?"), name)
        if mask & IN_ISDIR:
            try:
                add(path)
            except OSError:
                pass
        else:
            out.write(path + "\n")
PY
}
sed "s|^conninfo = .*|conninfo = $(pg_conninfo src app) options='-c lock_timeout=1000'|" "$CONF" >"$TEST_TMP/locktimeout.conf"
: >"$TEST_TMP/created.log"
watch_repo "$REPO" "$TEST_TMP/created.log" &
WATCHER=$!
on_exit "kill $WATCHER"
for _ in $(seq 1 50); do grep -q ready "$TEST_TMP/created.log" && break; sleep 0.1; done
( psql_at src app -c "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT" >/dev/null 2>&1 & )
for _ in $(seq 1 50); do
    n=$(psql_at src app -c "SELECT count(*) FROM pg_locks WHERE relation = 't'::regclass AND mode = 'AccessExclusiveLock' AND granted")
    [ "$n" = 1 ] && break
    sleep 0.1
done
run_fails "row count failure: backup fails" 7 "$COFFRE" --config "$TEST_TMP/locktimeout.conf" backup
kill "$WATCHER" 2>/dev/null || true
FID=$(sed -n 's/^coffre: info: backup \([0-9TZ-]*\) .*/\1/p' "$LAST_ERR" | head -n 1)
like "$(cat "$LAST_ERR")" 'coffre: error: could not count rows in database "app"' "row count failure: exact message"
like "$(cat "$LAST_ERR")" "canceling statement due to lock timeout" "row count failure: the server's reason"
like "$(cat "$LAST_ERR")" "backup $FID was not completed and is not restorable" "row count failure: the backup is not restorable"
is "$(grep -c "/$FID/db/app.dump\$" "$TEST_TMP/created.log")" "0" \
   "row count failure: the dump never became visible in the repository"
is "$(find "$REPO/acme/backup/$FID" -type f 2>/dev/null | wc -l)" "0" "row count failure: no object of the failed backup is left"
unlike "$(C list)" "$FID" "row count failure: the failed backup is not listed"
psql_at src -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(4)%' AND pid <> pg_backend_pid()" >/dev/null

# 11. a dead server
pg_stop src
run_fails "dead server: backup fails" 7 C backup
like "$(cat "$LAST_ERR")" 'coffre: error: could not connect to database' "dead server: message"
pg_start src

# 12. a full disk: the repository on a 64 KiB tmpfs (needs root; skipped otherwise)
mkdir -p "$TEST_TMP/small"
if mount -t tmpfs -o size=64k tmpfs "$TEST_TMP/small" 2>/dev/null; then
    on_exit "umount '$TEST_TMP/small'"
    sed "s|^path = .*|path = $TEST_TMP/small|" "$CONF" >"$TEST_TMP/full.conf"
    run_fails "full disk: backup fails" 5 "$COFFRE" --config "$TEST_TMP/full.conf" backup
    like "$(cat "$LAST_ERR")" "/db/app.dump\": No space left on device" "full disk: names the object and the cause"
    like "$(cat "$LAST_ERR")" "HINT: Free space in the repository file system (repository.path); nothing was recorded as a backup." \
         "full disk: hint"
    is "$(find "$TEST_TMP/small" -type f | wc -l)" "0" "full disk: no file is left in the repository"
    is "$("$COFFRE" --config "$TEST_TMP/full.conf" list | tail -n +2 | wc -l)" "0" "full disk: nothing is listed"
else
    diag "full-disk case skipped: cannot mount a tmpfs here"
fi

# What a child inherits (issue 12, findings 6 and 7): no core dumps, no open
# descriptor of coffre's.  A stand-in pg_dump records both and fails.
mkdir -p "$TEST_TMP/fakebin"
cat >"$TEST_TMP/fakebin/pg_dump" <<EOF
#!/bin/sh
ulimit -c >"$TEST_TMP/child.core"
ls /proc/self/fd >"$TEST_TMP/child.fds"
echo "pg_dump: error: stand-in" >&2
exit 1
EOF
chmod +x "$TEST_TMP/fakebin/pg_dump"
ln -s pg_dump "$TEST_TMP/fakebin/pg_dumpall"
sed "s|^\[postgres\]|[postgres]\nbindir = $TEST_TMP/fakebin|" "$CONF" >"$TEST_TMP/fake.conf"
run_fails "backup with a failing pg_dump" 7 "$COFFRE" --config "$TEST_TMP/fake.conf" backup
is "$(cat "$TEST_TMP/child.core")" "0" "children run with RLIMIT_CORE 0"
is "$(tr "\\n" " " <"$TEST_TMP/child.fds")" "0 1 2 3 " "children inherit no descriptor above 2 (3: the directory ls reads)"

is "$(n_listed)" "$before" "no failed backup is listed"
is "$(find "$REPO" -name '.*tmp*' | wc -l)" "0" "no temporary object is left in the repository"
is "$(n_complete)" "2" "the two good backups are still complete"
run_ok "verify --all after the drills" C verify --all

done_testing
