#!/bin/bash
# test_00_infra -- the integration test infrastructure itself: throwaway clusters,
# the fixture, fingerprints (stable, preserved by pg_dump/pg_restore, and sensitive
# to a one-row change), SoftHSM2 environments and the coffre config writer.
set -eu
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
plan_start "test_00_infra: integration test infrastructure"

pg_start src
ok "cluster src is ready" "$PG_BIN/pg_isready" -q -h "$SRC_HOST" -p "$SRC_PORT"
is "$(psql_at src -c 'show server_version_num' | cut -c1-2)" "15" "server is PostgreSQL 15"
is "$(psql_at src -c 'show wal_level')" "replica" "wal_level = replica"
is "$SRC_CONNINFO" "host=$SRC_HOST port=$SRC_PORT user=postgres dbname=postgres" "SRC_CONNINFO"
is "$(pg_conninfo src fixture)" "host=$SRC_HOST port=$SRC_PORT user=postgres dbname=fixture" "pg_conninfo"
is "$(psql "$SRC_CONNINFO" -XAtc 'select 1')" "1" "SRC_CONNINFO works for libpq clients"

psql_at src -c "CREATE DATABASE \"it's a db\""
is "$(psql -XAt -d "$(pg_conninfo src "it's a db")" -c 'select current_database()')" "it's a db" \
   "pg_conninfo quotes odd database names"

psql_at src -c "CREATE DATABASE fixture"
run_ok "fixture.sql loads" psql_file src fixture "$TESTS_DIR/fixture.sql"

fp1=$(fingerprint src fixture)
fp2=$(fingerprint src fixture)
is "$fp2" "$fp1" "fingerprint is stable"
like "$fp1" 'table "données"."clients_é" rows=300 ' "fingerprint covers non-ASCII names"
like "$fp1" "table app.events rows=3000 " "fingerprint covers the partitioned parent"
like "$fp1" "table app.events_2024_02 rows=" "fingerprint covers partitions"
like "$fp1" "sequence app.fresh_seq last_value=-58 is_called=false" "fingerprint shows is_called=false"
like "$fp1" "sequence app.ticket_seq last_value=1000 is_called=true" "fingerprint shows setval"
like "$fp1" "lo 40003 size=0 md5=d41d8cd98f00b204e9800998ecf8427e" "fingerprint covers an empty large object"
like "$fp1" "matview app.customer_totals rows=500 " "fingerprint covers materialized views"
like "$fp1" "view app.active_customers md5=" "fingerprint covers views"
like "$fp1" "function app.slug(txt text) md5=" "fingerprint covers functions"
like "$fp1" "type app.status kind=e md5=" "fingerprint covers enums"
is "$(printf '%s\n' "$fp1" | LC_ALL=C sort)" "$fp1" "fingerprint is sorted"
diag "fingerprint: $(printf '%s\n' "$fp1" | wc -l) lines"

fps=$(fingerprint src fixture "données")
is "$(printf '%s\n' "$fps" | cut -d' ' -f1-3 | tr '\n' '|')" \
   'def table "données"."clients_é"|schema "données" comment=4d5d955a2e6ab8afe50fe6d0ddeb98a3|sequence "données"."clients_é_id_seq" last_value=300|sequence "données"."compteur_été" last_value=3|table "données"."clients_é" rows=300|' \
   "schema filter"
fpt=$(fingerprint src fixture app.orders)
is "$(printf '%s\n' "$fpt" | cut -d' ' -f1-2 | tr '\n' '|')" "def table|table app.orders|" "table filter"
like "$fp1" "$(printf '%s\n' "$fpt" | grep '^table')" "filtered line equals the full one"

# pg_dump | pg_restore round trip preserves the fingerprint
psql_at src -c "CREATE DATABASE copy"
run_ok "pg_dump -Fc | pg_restore" bash -c \
    "pg_dump -Fc -d '$(pg_conninfo src fixture)' | pg_restore --exit-on-error -d '$(pg_conninfo src copy)'"
is "$(fingerprint src copy)" "$fp1" "restored copy has the same fingerprint"

# a second cluster, schema-only restore of one schema
pg_start dst
isnt "$DST_PORT$DST_HOST" "$SRC_PORT$SRC_HOST" "second cluster has its own socket"
psql_at dst -c "CREATE DATABASE tenant"
run_ok "pg_restore --schema" bash -c \
    "pg_dump -Fc -d '$(pg_conninfo src fixture)' -n billing | pg_restore --exit-on-error -d '$(pg_conninfo dst tenant)'"
is "$(fingerprint dst tenant billing)" "$(fingerprint src fixture billing)" "schema restored into another cluster"

# fingerprints are sensitive: one changed cell, one sequence step, one LO byte, a comment
psql_at src copy -c "UPDATE app.orders SET qty = qty + 1 WHERE id = 1234"
isnt "$(fingerprint src copy)" "$fp1" "one changed row changes the fingerprint"
isnt "$(fingerprint src copy app.orders)" "$(fingerprint src fixture app.orders)" "... and the table's fingerprint"
is "$(fingerprint src copy app.customers)" "$(fingerprint src fixture app.customers)" "... but not another table's"
psql_at src copy -c "UPDATE app.orders SET qty = qty - 1 WHERE id = 1234"
is "$(fingerprint src copy)" "$fp1" "undoing it restores the fingerprint"
psql_at src copy -c "SELECT nextval('app.untouched_seq')" >/dev/null
isnt "$(fingerprint src copy)" "$fp1" "nextval changes the fingerprint"
psql_at src -c "DROP DATABASE copy" -c "CREATE DATABASE copy"
pg_dump -Fc -d "$(pg_conninfo src fixture)" | pg_restore --exit-on-error -d "$(pg_conninfo src copy)"
psql_at src copy -c "SELECT lo_put(40002, 100, '\\x00')" >/dev/null
isnt "$(fingerprint src copy)" "$fp1" "a changed large object byte changes the fingerprint"
psql_at src copy -c "SELECT lo_put(40002, 100, (SELECT substr(lo_get(40002, 100, 1), 1, 1) FROM (SELECT 1) x))" >/dev/null
psql_at src -c "DROP DATABASE copy" -c "CREATE DATABASE copy"
pg_dump -Fc -d "$(pg_conninfo src fixture)" | pg_restore --exit-on-error -d "$(pg_conninfo src copy)"
psql_at src copy -c "COMMENT ON COLUMN app.orders.qty IS 'x'"
isnt "$(fingerprint src copy)" "$fp1" "a new column comment changes the fingerprint"
psql_at src copy -c "COMMENT ON COLUMN app.orders.qty IS NULL" \
                 -c "REFRESH MATERIALIZED VIEW app.customer_totals"
is "$(fingerprint src copy)" "$fp1" "refreshing an unchanged matview keeps it"
psql_at src copy -c "INSERT INTO app.audit_log VALUES ('admin', 'login', 0)"
isnt "$(fingerprint src copy)" "$fp1" "a duplicate row changes the fingerprint"

# pg_start on an existing PGDATA (a physical copy made as root): chowned and started
run_ok "pg_basebackup" pg_basebackup -d "$SRC_CONNINFO" -D "$TEST_TMP/phys/data" -X stream -c fast
pg_start phys
is "$(fingerprint phys fixture)" "$fp1" "physical copy started by pg_start has the same fingerprint"
isnt "$PHYS_PORT" "" "PHYS_PORT is set"
pg_stop phys

# pg_stop / pg_restart
pg_restart dst
is "$(psql_at dst tenant -c 'select count(*) from billing.invoices')" "1000" "pg_restart keeps port and data"
pg_stop dst
run_fails "stopped cluster refuses connections" any psql_at dst -c "select 1"

# SoftHSM2: two independent environments
hsm_init
hsm_token coffre 1234
ok "SOFTHSM2_CONF points into TEST_TMP" test -f "$TEST_TMP/hsm/softhsm2.conf"
run_ok "softhsm2-util --show-slots" softhsm2-util --show-slots
like "$(cat "$LAST_OUT")" "Label:            coffre" "token label listed"
is "$(cat "$TEST_TMP/hsm/coffre.pin")" "1234" "PIN file content"
is "$(stat -c %a "$TEST_TMP/hsm/coffre.pin")" "600" "PIN file mode 0600"
is "$(wc -c <"$TEST_TMP/hsm/coffre.pin")" "4" "PIN file has no trailing newline"
run_ok "hsm_aes_key" hsm_aes_key coffre coffre-kek
run_ok "hsm_rsa_key" hsm_rsa_key coffre coffre-rsa 2048
run_ok "pkcs11-tool lists the keys" pkcs11-tool --module "$SOFTHSM_MODULE" --token-label coffre \
    --login --pin 1234 --list-objects
like "$(cat "$LAST_OUT")" "label:      coffre-kek" "AES key listed"
like "$(cat "$LAST_OUT")" "label:      coffre-rsa" "RSA key listed"
like "$(cat "$LAST_OUT")" "sensitive" "AES key is sensitive"

hsm_init writer
hsm_token escrow 987654
run_ok "second environment" softhsm2-util --show-slots
like "$(cat "$LAST_OUT")" "Label:            escrow" "second token listed"
unlike "$(cat "$LAST_OUT")" "Label:            coffre" "first token not visible there"
SOFTHSM2_CONF=$TEST_TMP/hsm/softhsm2.conf run_ok "switch back" softhsm2-util --show-slots
like "$(cat "$LAST_OUT")" "Label:            coffre" "first token visible again"

# coffre_conf
INSTANCE=acme CONNINFO=$SRC_CONNINFO REPO=$TEST_TMP/repo KEKS="pkcs11:token=coffre;object=coffre-kek" \
    PIN_FILE=$TEST_TMP/hsm/coffre.pin coffre_conf "$TEST_TMP/coffre.conf"
conf=$(cat "$TEST_TMP/coffre.conf")
like "$conf" "formula = onprem" "coffre_conf: default formula"
like "$conf" "module = /usr/lib/softhsm/libsofthsm2.so" "coffre_conf: default module"
like "$conf" "kek = pkcs11:token=coffre;object=coffre-kek" "coffre_conf: kek"
unlike "$conf" "schema =" "coffre_conf: no schema unless set"
SCHEMA=billing FORMULA=managed INSTANCE=t CONNINFO=x REPO=/r KEKS=k PIN_FILE=/p \
    coffre_conf "$TEST_TMP/managed.conf"
like "$(cat "$TEST_TMP/managed.conf")" "schema = billing" "coffre_conf: schema"
run_fails "coffre_conf: INSTANCE is required" any bash -c \
    ". '$TESTS_DIR/lib.sh' >/dev/null; _TAP_DONE=1; CONNINFO=x REPO=/r KEKS=k PIN_FILE=/p coffre_conf /dev/null"
like "$(cat "$LAST_ERR")" "INSTANCE is not set" "... with a clear message"

# the EXIT trap stops clusters and removes TEST_TMP, also when a test dies
out=$(bash -c ". '$TESTS_DIR/lib.sh'; pg_start x; echo \"\$X_DIR\" >&2
                on_exit 'echo ran >$TEST_TMP/on_exit.ran'; false" 2>"$TEST_TMP/child.err") || rc=$?
child_dir=$(head -n1 "$TEST_TMP/child.err")
like "$out" "not ok 1 - test script exited early (status 1)" "a dying test reports a failure"
is "${rc:-0}" "1" "... and exits non-zero"
ok "... its TEST_TMP is removed" test ! -e "$child_dir"
ok "pgrep sees a running cluster" test -n "$(pgrep -f "postgres -D $SRC_PGDATA" || true)"
is "$(cat "$TEST_TMP/on_exit.ran" 2>&1)" "ran" "... its on_exit command ran"
ok "... its cluster is stopped" test -z "$(pgrep -f "postgres -D $child_dir/data" || true)"

done_testing
