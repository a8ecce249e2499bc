#!/bin/bash
# test_06_format_fixtures -- the upgrade promise (docs/upgrading.md): this coffre
# reads what every earlier one wrote.  For every committed fixture
# tests/fixtures/format-*/ (written by tests/fixtures/make-format-fixture.sh, one
# per format change, kept forever): a copy of its SoftHSM2 token and posix
# repository, its own configuration with this machine's paths, then
#   - --version says this coffre reads the fixture's object and manifest formats;
#   - list shows its logical and physical backups complete, verify passes on
#     both and on the WAL (the signer is trusted through keys.trust);
#   - the logical backup restored into a fresh PostgreSQL gives the fingerprint
#     recorded when it was written, with the AES KEK and with the RSA KEK alone;
#   - the physical backup restored to the end of its WAL (same PostgreSQL major
#     version only) gives the same fingerprint;
#   - the same commands with the clock 20 years later: nothing refuses a backup
#     for its age (needs libfaketime; skipped without it);
#   - one flipped byte in a copied object: verify fails and names the object;
#   - the committed fixture files are left exactly as they were.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_06_format_fixtures: restore what earlier formats wrote"

COFFRE=$(readlink -f "$COFFRE")   # the restored server runs it from its data directory
[ "$(id -u)" != 0 ] || chown postgres "$TEST_TMP"   # coffre (as postgres) creates DIRs here
FIXTURES="$REPO_ROOT/tests/fixtures"
FAKETIME_LIB=""
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
    [ -f "$f" ] && FAKETIME_LIB=$f && break
done

fixture_sums() { (cd "$FIXTURES" && find format-* -type f -print0 | sort -z | xargs -0r sha256sum); }
fixture_sums >"$TEST_TMP/fixtures.before"

shopt -s nullglob
DIRS=("$FIXTURES"/format-*/)
shopt -u nullglob
ok "at least one format fixture is committed under tests/fixtures" test "${#DIRS[@]}" -gt 0

# version_reads LABEL VERSION -- does `coffre --version` say it reads VERSION of
# the line starting with LABEL ("object format 1 (reads 1 to 1)")?
version_reads() {
    local range lo hi
    range=$("$COFFRE" --version | sed -n "s/^$1 [0-9]*.*(reads \([0-9]*\) to \([0-9]*\)[;)].*/\1 \2/p")
    read -r lo hi <<<"$range" || return 1
    [ -n "$lo" ] && [ -n "$hi" ] && [ "$lo" -le "$2" ] && [ "$2" -le "$hi" ]
}

n=0
for fx in "${DIRS[@]}"; do
    fx=${fx%/}
    n=$((n + 1))
    F=$(basename "$fx")
    LOGICAL_ID="" PHYSICAL_ID="" DB="" PG_MAJOR="" FIXTURE_PIN="" OBJECT_FORMAT="" MANIFEST_FORMAT=""
    # shellcheck disable=SC1090,SC1091
    . "$fx/fixture.env"
    diag "$F: logical $LOGICAL_ID, physical ${PHYSICAL_ID:-none}, database $DB, PostgreSQL $PG_MAJOR"

    ok "$F: this coffre reads object format $OBJECT_FORMAT" version_reads "object format" "$OBJECT_FORMAT"
    ok "$F: this coffre reads manifest format $MANIFEST_FORMAT" version_reads "manifest format" "$MANIFEST_FORMAT"

    # A writable copy: SoftHSM2 writes to its token directory, verify writes
    # records into the repository, and one object gets corrupted below.
    W="$TEST_TMP/$F"
    mkdir -p "$W/hsm" "$W/state"
    cp -r "$fx/hsm/tokens" "$W/hsm/"
    cp -r "$fx/repo" "$W/repo"
    cp "$fx/signer.pub" "$W/"
    cat >"$W/hsm/softhsm2.conf" <<EOF
directories.tokendir = $W/hsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
    (umask 077 && printf '%s' "$FIXTURE_PIN" >"$W/hsm/coffre.pin")
    export SOFTHSM2_CONF="$W/hsm/softhsm2.conf"

    T="fx$n"       # the fresh PostgreSQL the logical backup is restored into
    pg_start "$T"
    TV=$(_pg_var "$T")
    sed -e "s|@DIR@|$W|g" -e "s|@CONNINFO@|$(eval "echo \$${TV}_CONNINFO")|" \
        -e "s|@MODULE@|$SOFTHSM_MODULE|" "$fx/coffre.conf.in" >"$W/coffre.conf"
    unlike "$(cat "$W/coffre.conf")" "@" "$F: every placeholder of coffre.conf.in is replaced"
    like "$(cat "$W/coffre.conf")" "trust = $W/signer.pub" "$F: the fixture's signer is listed in keys.trust"
    sed 's/^kek = .*/kek = pkcs11:token=coffre;object=coffre-escrow/' "$W/coffre.conf" >"$W/rsa.conf"
    pg_owns "$W"
    CONF="$W/coffre.conf"
    C() { as_pg "$COFFRE" --config "$CONF" "$@"; }
    # L CMD... -- the same, with the clock 20 years ahead (coffre and its children)
    L() {
        as_pg env LD_PRELOAD="$FAKETIME_LIB" FAKETIME="+20y" \
            ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" "$COFFRE" --config "$CONF" "$@"
    }

    # ------------------------------------------------------------- list, verify
    run_ok "$F: list" C list
    like "$(grep "^$LOGICAL_ID " "$LAST_OUT")" "complete" "$F: list shows the logical backup complete"
    [ -z "$PHYSICAL_ID" ] ||
        like "$(grep "^$PHYSICAL_ID " "$LAST_OUT")" "complete" "$F: list shows the physical backup complete"
    unlike "$(cat "$LAST_ERR")" "error" "$F: list reports no error"
    for id in $LOGICAL_ID $PHYSICAL_ID; do
        run_ok "$F: verify $id" C verify "$id"
        is "$(cat "$LAST_OUT")" "backup $id: ok" "$F: verify $id says ok"
    done
    if [ -n "$PHYSICAL_ID" ]; then
        run_ok "$F: verify --wal (continuity from the base backup)" C verify --wal
    fi
    run_ok "$F: cat globals.sql" C cat "$LOGICAL_ID/globals.sql"
    like "$(cat "$LAST_OUT")" "CREATE ROLE postgres;" "$F: the globals are readable SQL"

    # ------------------------------------------------------------- logical restore
    run_ok "$F: restore the logical backup into a fresh PostgreSQL" \
        C restore "$LOGICAL_ID" --db "$DB" --target "$(pg_conninfo "$T" "$DB")" --create
    is "$(fingerprint "$T" "$DB")" "$(cat "$fx/fingerprint.txt")" \
        "$F: the restored database has the fingerprint recorded when the fixture was written"
    run_ok "$F: restore with the RSA escrow KEK alone" \
        as_pg "$COFFRE" --config "$W/rsa.conf" restore "$LOGICAL_ID" --db "$DB" \
        --target "$(pg_conninfo "$T" "${DB}_rsa")" --create
    is "$(fingerprint "$T" "${DB}_rsa")" "$(cat "$fx/fingerprint.txt")" \
        "$F: the RSA-wrapped data keys give the same database"

    # ------------------------------------------------------------- physical restore
    if [ -z "$PHYSICAL_ID" ]; then
        diag "$F: no physical backup in this fixture"
    elif [ ! -x "/usr/lib/postgresql/$PG_MAJOR/bin/postgres" ] || [ "$PG_MAJOR" != "$(cat "$(eval "echo \$${TV}_PGDATA")/PG_VERSION")" ]; then
        skip "$F: physical restore" "needs PostgreSQL $PG_MAJOR, the tests run $(cat "$(eval "echo \$${TV}_PGDATA")/PG_VERSION")"
    else
        P="phys$n"
        mkdir -p "$TEST_TMP/$P"
        pg_owns "$TEST_TMP/$P"
        on_exit "as_pg $PG_BIN/pg_ctl -D $TEST_TMP/$P/data stop -m immediate"
        run_ok "$F: restore --physical to the end of the WAL" \
            C restore --physical "$PHYSICAL_ID" --no-archive --pgdata "$TEST_TMP/$P/data"
        like "$(cat "$LAST_ERR")" "pg_verifybackup: the restored files match" \
            "$F: pg_verifybackup accepts the restored files"
        if [ -f "$TEST_TMP/$P/data/PG_VERSION" ]; then
            pg_start "$P"
        else
            fail "$F: the restored PGDATA exists" "no $TEST_TMP/$P/data/PG_VERSION"
            pg_init "$P" && pg_start "$P"   # an empty cluster: the checks below fail on it
        fi
        for _ in $(seq 1 120); do
            [ "$(psql_at "$P" -c "SELECT pg_is_in_recovery()")" = f ] && break
            sleep 0.5
        done
        is "$(psql_at "$P" -c "SELECT pg_is_in_recovery()")" "f" \
            "$F: recovery replayed the fixture's WAL objects and ended"
        is "$(fingerprint "$P" "$DB")" "$(cat "$fx/fingerprint.txt")" \
            "$F: the physical restore has the same fingerprint (WAL after the base backup replayed)"
        pg_stop "$P"
    fi

    # ------------------------------------------------------------- 20 years later
    if [ -z "$FAKETIME_LIB" ]; then
        skip "$F: 20 years later" "libfaketime is not installed"
    else
        LATER=$(($(date -u +%Y) + 19))
        ok "$F: the clock is 20 years ahead for coffre's children" \
            test "$(as_pg env LD_PRELOAD="$FAKETIME_LIB" FAKETIME="+20y" date -u +%Y)" -ge "$LATER"
        run_ok "$F: 20 years later: list" L list
        like "$(grep "^$LOGICAL_ID " "$LAST_OUT")" "complete" "$F: 20 years later: the logical backup is complete"
        for id in $LOGICAL_ID $PHYSICAL_ID; do
            run_ok "$F: 20 years later: verify $id" L verify "$id"
            is "$(cat "$LAST_OUT")" "backup $id: ok" "$F: 20 years later: verify $id says ok"
        done
        # verify names its verification record after coffre's own clock
        NEWEST=$(find "$W/repo/$INSTANCE/backup/$LOGICAL_ID" -maxdepth 1 -name 'verify-*' -printf '%f\n' | sed -n 's/^verify-\([0-9]\{4\}\).*/\1/p' | sort | tail -n 1)
        ok "$F: 20 years later: coffre itself ran with the clock ahead (record of $NEWEST)" \
            test "${NEWEST:-0}" -ge "$LATER"
        [ -z "$PHYSICAL_ID" ] || run_ok "$F: 20 years later: verify --wal" L verify --wal
        run_ok "$F: 20 years later: restore the logical backup" \
            L restore "$LOGICAL_ID" --db "$DB" --target "$(pg_conninfo "$T" "${DB}_later")" --create
        is "$(fingerprint "$T" "${DB}_later")" "$(cat "$fx/fingerprint.txt")" \
            "$F: 20 years later: the same database"
        if [ -n "$PHYSICAL_ID" ] && [ -d "$TEST_TMP/phys$n" ]; then
            run_ok "$F: 20 years later: restore --physical (files, not started)" \
                L restore --physical "$PHYSICAL_ID" --no-archive --pgdata "$TEST_TMP/phys$n/later"
        fi
    fi

    # ------------------------------------------------------------- corruption
    OBJ="$W/repo/$INSTANCE/backup/$LOGICAL_ID/db/$DB.dump"
    flip_byte "$OBJ" $(($(stat -c %s "$OBJ") / 2))
    run_fails "$F: verify fails on a flipped byte in the copied dump" 6 C verify "$LOGICAL_ID"
    like "$(cat "$LAST_ERR")" "db/$DB.dump" "$F: verify names the corrupted object"
    unlike "$(cat "$LAST_OUT")" "backup $LOGICAL_ID: ok" "$F: verify does not say ok"

    pg_stop "$T"
done

fixture_sums >"$TEST_TMP/fixtures.after"
ok "the committed fixture files are unchanged" cmp -s "$TEST_TMP/fixtures.before" "$TEST_TMP/fixtures.after"
done_testing
