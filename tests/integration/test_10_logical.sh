#!/bin/bash
# test_10_logical -- the logical round trip: backup every database of an
# instance, list, verify, restore whole (streamed, into an empty database, and
# in parallel), restore one schema and one table, cat, row counts, and the
# managed formula (a tenant role without superuser rights, one schema).
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_10_logical: logical backup and exact restore"

pg_start src
psql_at src -c "CREATE DATABASE fixture"
psql_file src fixture "$TESTS_DIR/fixture.sql"
psql_at src -c "CREATE DATABASE second"
psql_at src second -c "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000) g"
hsm_init
hsm_token coffre 4321

INSTANCE=acme CONNINFO="$SRC_CONNINFO" REPO="$TEST_TMP/repo" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$TEST_TMP/coffre.conf"
C() { "$COFFRE" --config "$TEST_TMP/coffre.conf" "$@"; }

run_ok "keys init creates the configured AES KEK" C keys init
like "$(cat "$LAST_OUT")" "created pkcs11:token=coffre;object=coffre-kek" "keys init says what it created"
run_ok "keys list" C keys list
like "$(cat "$LAST_OUT")" "aes    256   yes       yes    yes      pkcs11:token=coffre;object=coffre-kek" "keys list shows a reachable AES key"
run_ok "keys check" C keys check

run_ok "backup of every database" C backup
ID=$(cat "$LAST_OUT")
like "$ID" "Z" "backup prints its id"
like "$(cat "$LAST_ERR")" 'database "fixture"' "backup reports each database"

run_ok "list" C list
like "$(cat "$LAST_OUT")" "$ID" "list shows the backup"
like "$(grep "$ID" "$LAST_OUT")" "complete" "the backup is complete"
like "$(grep "$ID" "$LAST_OUT")" "fixture,postgres,second" "list names the databases"
run_ok "list --json" C list --json
like "$(cat "$LAST_OUT")" '"state": "complete"' "list --json carries the state"

run_ok "verify ID" C verify "$ID"
is "$(cat "$LAST_OUT")" "backup $ID: ok" "verify says ok"
run_ok "verify --all" C verify --all
run_ok "keys check lists the keys the stored objects need" C keys check
like "$(cat "$LAST_OUT")" "keys that the 7 stored objects need:" "keys check reads every object's header (3 dumps, globals, manifest, 2 verification records)"
like "$(cat "$LAST_OUT")" "pkcs11:token=coffre;object=coffre-kek" "keys check names the KEK"
like "$(cat "$LAST_OUT")" "1 backup(s)  configured here" "keys check counts the backups that need it"

# nothing in the repository is plaintext
if grep -rqa "Zoë" "$TEST_TMP/repo" || grep -rqa "CREATE TABLE" "$TEST_TMP/repo"; then
    fail "repository objects are encrypted" "found plaintext in $TEST_TMP/repo"
else
    pass "repository objects are encrypted"
fi

fingerprint src fixture >"$TEST_TMP/fixture.fp"

# 1. --create: streamed into a temporary database, renamed on success
run_ok "restore --create" C restore "$ID" --db fixture --target "$(pg_conninfo src copy1)" --create
is "$(fingerprint src copy1)" "$(cat "$TEST_TMP/fixture.fp")" "restored database equals the source (--create)"
is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname LIKE '%coffre%'")" "0" \
   "no temporary database is left behind"

# 2. into an existing empty database (verified first, one transaction)
psql_at src -c "CREATE DATABASE copy2"
run_ok "restore into an empty database" C restore "$ID" --db fixture --target "$(pg_conninfo src copy2)"
is "$(fingerprint src copy2)" "$(cat "$TEST_TMP/fixture.fp")" "restored database equals the source (existing)"

# 3. parallel
run_ok "restore --jobs 2 --create" C restore "$ID" --db fixture --target "$(pg_conninfo src copy3)" --create --jobs 2
is "$(fingerprint src copy3)" "$(cat "$TEST_TMP/fixture.fp")" "restored database equals the source (--jobs 2)"

# refusals leave the target untouched
run_fails "restore into a non-empty database is refused" 2 C restore "$ID" --db fixture --target "$(pg_conninfo src copy2)"
like "$(cat "$LAST_ERR")" 'coffre: error: target database "copy2" is not empty' "non-empty target: exact message"
like "$(cat "$LAST_ERR")" "HINT: Restore into a new database with --create, or swap in a restored copy with --replace." "non-empty target: hint"
run_fails "restore --create over an existing database is refused" 2 C restore "$ID" --db fixture --target "$(pg_conninfo src copy2)" --create
like "$(cat "$LAST_ERR")" 'coffre: error: target database "copy2" already exists' "existing target: exact message"
is "$(fingerprint src copy2)" "$(cat "$TEST_TMP/fixture.fp")" "refused restores left the target untouched"
run_fails "a backup with several databases needs --db" 2 C restore "$ID" --target "$(pg_conninfo src x)" --create
like "$(cat "$LAST_ERR")" "backup $ID holds 3 database dumps; choose one with --db" "--db needed: exact message"
run_fails "a password in --target is refused" 2 C restore "$ID" --db fixture --target "dbname=x password=secret" --create
like "$(cat "$LAST_ERR")" "coffre: error: --target must not contain a password" "password in --target: exact message"
unlike "$(cat "$LAST_ERR")" "secret" "the password is not echoed"

# --replace swaps a restored copy in for a damaged database, keeping the old one
psql_at src copy2 -c "DELETE FROM app.orders WHERE id % 2 = 0"
run_ok "restore --replace over a damaged database" C restore "$ID" --db fixture --target "$(pg_conninfo src copy2)" --replace
is "$(fingerprint src copy2)" "$(cat "$TEST_TMP/fixture.fp")" "--replace restored the exact content"
like "$(cat "$LAST_ERR")" 'the previous database "copy2" was kept as "copy2_old_' "--replace says where the old database is"
OLD=$(psql_at src -c "SELECT datname FROM pg_database WHERE datname LIKE 'copy2_old_%'")
is "$(psql_at src "$OLD" -c "SELECT count(*) FROM app.orders")" "1500" "the old database is kept as it was"

# 4. one schema, one table
run_ok "restore --schema" C restore "$ID" --db fixture --schema "données" --target "$(pg_conninfo src only_schema)" --create
is "$(fingerprint src only_schema "données")" "$(fingerprint src fixture "données")" "one schema restored exactly, with its comment"
is "$(psql_at src only_schema -c "SELECT count(*) FROM pg_namespace WHERE nspname IN ('app', 'billing')")" "0" \
   "other schemas were not restored"
psql_at src -c "CREATE DATABASE only_table"
run_ok "restore --table into an empty database" C restore "$ID" --db fixture --schema billing --table accounts --target "$(pg_conninfo src only_table)"
is "$(fingerprint src only_table billing.accounts | grep '^table')" "$(fingerprint src fixture billing.accounts | grep '^table')" \
   "one table restored with the same rows"
is "$(psql_at src only_table -c "SELECT string_agg(schemaname || '.' || tablename, ',') FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")" \
   "billing.accounts" "only that table was restored"
run_fails "a selection that matches nothing is refused" 2 C restore "$ID" --db fixture --schema nosuch --target "$(pg_conninfo src nothing)" --create
like "$(cat "$LAST_ERR")" "coffre: error: nothing in backup $ID matches the selection" "empty selection: exact message"
is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname IN ('nothing') OR datname LIKE '%coffre%'")" "0" \
   "a refused selective restore leaves no database behind"

# 5. second database, and the globals
run_ok "restore the second database" C restore "$ID" --db second --target "$(pg_conninfo src second_copy)" --create
is "$(fingerprint src second_copy)" "$(fingerprint src second)" "second database restored exactly"
run_ok "cat globals" C cat "$ID/globals.sql"
like "$(cat "$LAST_OUT")" "CREATE ROLE postgres;" "globals hold the roles"

# 6. cat: the plaintext archive is a valid pg_dump archive
C cat "$ID/db/fixture.dump" >"$TEST_TMP/fixture.dump"
run_ok "cat gives an archive pg_restore can read" "$PG_BIN/pg_restore" --list "$TEST_TMP/fixture.dump"
like "$(cat "$LAST_OUT")" "TABLE DATA app orders" "the archive lists app.orders"
OBJ=$(find "$TEST_TMP/repo" -name fixture.dump)
C cat "$OBJ" >"$TEST_TMP/fixture2.dump"
run_ok "cat of an object file (no manifest needed)" cmp "$TEST_TMP/fixture.dump" "$TEST_TMP/fixture2.dump"

# 7. row counts in the manifest, from the dump's own snapshot
C cat "$ID/manifest" >"$TEST_TMP/manifest.json"
is "$(grep -c '"app.orders": '"$(psql_at src fixture -c 'SELECT count(*) FROM ONLY app.orders')" "$TEST_TMP/manifest.json")" "1" \
   "manifest records the row count of app.orders"
like "$(cat "$TEST_TMP/manifest.json")" '"\"données\".\"clients_é\"": 300' "manifest records non-ASCII tables"
like "$(cat "$TEST_TMP/manifest.json")" '"pg_version_num": 150' "manifest records the server version"

# backup.row_counts = false skips the counting scan
{ cat "$TEST_TMP/coffre.conf"; printf '\n[backup]\nrow_counts = false\n'; } >"$TEST_TMP/nocount.conf"
run_ok "backup without row counts" "$COFFRE" --config "$TEST_TMP/nocount.conf" backup --db second
NID=$(cat "$LAST_OUT")
like "$("$COFFRE" --config "$TEST_TMP/nocount.conf" cat "$NID/manifest")" '"row_counts": {}' \
     "row_counts = false records no counts"

# 8. the managed formula: the tenant's own role, one schema, no superuser
psql_at src -c "CREATE DATABASE shared"
psql_at src shared -c "CREATE ROLE tenant_acme LOGIN; CREATE SCHEMA tenant_acme AUTHORIZATION tenant_acme"
psql_at src shared -c "SET ROLE tenant_acme; CREATE TABLE tenant_acme.notes (id int PRIMARY KEY, body text, tags text[]);
    INSERT INTO tenant_acme.notes SELECT g, 'note ' || g, ARRAY['a', g::text] FROM generate_series(1, 200) g"
psql_at src shared -c "CREATE TABLE public.other_tenant_data (x int)"
# The tenant names tables: quotes double in the count query's literals, which
# must still be sized exactly (three names of 60 single quotes overran it).
Q=$(printf "%0.s'" $(seq 1 60))
for i in 1 2 3; do
    psql_at src shared -c "SET ROLE tenant_acme; CREATE TABLE tenant_acme.\"$Q$i\" AS SELECT generate_series(1, $((i + 4))) AS i"
done
INSTANCE=acme-managed FORMULA=managed SCHEMA=tenant_acme CONNINFO="$(pg_conninfo src shared | sed 's/user=postgres/user=tenant_acme/')" \
REPO="$TEST_TMP/repo" KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$TEST_TMP/managed.conf"
run_ok "managed backup by the tenant role" "$COFFRE" --config "$TEST_TMP/managed.conf" backup
MID=$(cat "$LAST_OUT")
"$COFFRE" --config "$TEST_TMP/managed.conf" cat "$MID/manifest" >"$TEST_TMP/managed.json"
like "$(cat "$TEST_TMP/managed.json")" '"globals_note": "not dumped: managed formula (tenant role only)"' "managed: no globals"
like "$(cat "$TEST_TMP/managed.json")" '"tenant_acme.notes": 200' "managed: row counts of the schema"
like "$(cat "$TEST_TMP/managed.json")" "\"tenant_acme.\\\"${Q}3\\\"\": 7" "managed: row counts of tables named with quotes"
unlike "$(cat "$TEST_TMP/managed.json")" 'other_tenant_data' "managed: nothing outside the schema"
psql_at src -c "CREATE DATABASE tenant_copy"
run_ok "managed restore" "$COFFRE" --config "$TEST_TMP/managed.conf" restore "$MID" --target "$(pg_conninfo src tenant_copy)"
is "$(fingerprint src tenant_copy tenant_acme)" "$(fingerprint src shared tenant_acme)" "managed: the schema is restored exactly"

done_testing
