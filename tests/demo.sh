#!/bin/bash
# make demo: the main job on embedded defaults, on throwaway servers.
#   a PostgreSQL 15 cluster with a sample database, a SoftHSM2 token holding an
#   AES-256 key-encryption key, a local (posix) repository; then
#   backup -> list -> verify -> restore -> compare.
# Everything lives in a temporary directory removed at the end (KEEP_TMP=1 keeps it).
set -eu
. "$(dirname "$0")/integration/lib.sh"
_TAP_DONE=1 # not a TAP test: set -e and the exit status speak for it

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*" >&2; "$@"; }

step "1. a throwaway PostgreSQL 15 cluster with a sample database"
pg_start demo
psql_at demo -c "CREATE DATABASE shop"
psql_file demo shop "$TESTS_DIR/fixture.sql"
psql_at demo shop -c "CREATE TABLE app.big AS SELECT g AS id, md5(g::text) AS h, repeat('lorem ipsum ', 20) AS body FROM generate_series(1, 200000) g"
echo "database \"shop\": $(psql_at demo shop -c "SELECT pg_size_pretty(pg_database_size('shop'))"), $(psql_at demo shop -c "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog','information_schema')") tables"

step "2. a SoftHSM2 token and the coffre configuration"
hsm_init
hsm_token coffre 4321
INSTANCE=demo CONNINFO="$(pg_conninfo demo shop)" DATABASES=shop REPO="$TEST_TMP/repository" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$TEST_TMP/coffre.conf"
cat "$TEST_TMP/coffre.conf"
C() { show "$COFFRE" --config "$TEST_TMP/coffre.conf" "$@"; }

step "3. create the key-encryption key inside the token (non-extractable)"
C keys init
C keys list

step "4. backup: pg_dump -> sha256 -> zstd -> encrypt -> repository"
ID=$(C backup)
echo "backup id: $ID"
C list

step "5. verify: decrypt and check every object, restore nothing"
C verify "$ID"
OBJ=$(find "$TEST_TMP/repository" -name 'shop.dump')
if grep -qa "lorem ipsum" "$OBJ"; then echo "plaintext found in $OBJ" >&2; exit 1; fi
echo "the stored object $(basename "$OBJ") ($(stat -c %s "$OBJ") bytes) holds no plaintext"

step "6. restore into a new database"
C restore "$ID" --target "$(pg_conninfo demo shop_restored)" --create

step "7. compare source and restored database, table by table"
fingerprint demo shop >"$TEST_TMP/source.fp"
fingerprint demo shop_restored >"$TEST_TMP/restored.fp"
if ! cmp -s "$TEST_TMP/source.fp" "$TEST_TMP/restored.fp"; then
    diff "$TEST_TMP/source.fp" "$TEST_TMP/restored.fp" | head -20 >&2
    echo "DEMO FAILED: the restored database differs from the source" >&2
    exit 1
fi
printf 'identical: %s tables, %s sequences, %s large objects, %s views and materialized views\n' \
    "$(grep -c '^table ' "$TEST_TMP/source.fp")" "$(grep -c '^sequence ' "$TEST_TMP/source.fp")" \
    "$(grep -c '^lo ' "$TEST_TMP/source.fp")" "$(grep -c -E '^(view|matview) ' "$TEST_TMP/source.fp")"
printf '\n\033[1mdemo passed\033[0m: backup %s verified and restored exactly\n' "$ID"
