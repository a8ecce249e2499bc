#!/bin/bash
# test_87_migrate -- coffre migrate between a "managed" cluster (one shared
# database, tenant schemas each owned by a NOSUPERUSER NOCREATEDB role with its
# search_path on the role, reached as a CREATEROLE platform role) and an
# "on-premise" cluster: plan, the managed -> onprem -> managed round trip with
# finalize (the tenant identical at the end, the other tenants untouched, the
# application's query working after each cut-over), the cut-over hook, status
# and journal, a verification mismatch (exit 9, rollback leaves the source
# writable and the destination clean), a step-by-step run resumed after
# stopping, rollback refused at the cut-over point without --force, the tenant
# lock, a missing extension (plan blocks) and a schema map (tenant_delta ->
# public) whose function body names the old schema (plan warns).
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_87_migrate: tenant migration between formulas"

COFFRE=$(readlink -f "$COFFRE")
[ "$(id -u)" != 0 ] || chown postgres "$TEST_TMP"
hsm_init
hsm_token coffre 4321
STATE="$TEST_TMP/state"
DSTATE="$TEST_TMP/dstate"
mkdir -p "$TEST_TMP/repo" "$TEST_TMP/drepo" "$STATE" "$DSTATE"
pg_owns "$HSM_DIR" "$TEST_TMP/repo" "$TEST_TMP/drepo" "$STATE" "$DSTATE"
chmod 755 "$HSM_DIR"

pg_start shared
pg_start onprem
psql_at shared -c "CREATE DATABASE shared"
psql_at shared -c "CREATE ROLE platform LOGIN CREATEROLE"
psql_at shared shared -c "CREATE EXTENSION pgcrypto SCHEMA public"
psql_at shared shared -c "GRANT CREATE ON DATABASE shared TO platform"
for t in acme beta gamma delta; do
    psql_at shared -c "CREATE ROLE $t LOGIN NOSUPERUSER NOCREATEDB NOREPLICATION"
    psql_at shared -c "GRANT $t TO platform"
    psql_at shared shared -c "CREATE SCHEMA tenant_$t AUTHORIZATION $t"
    psql_at shared -c "ALTER ROLE $t SET search_path = tenant_$t, public"
done
# a tenant as an application builds it: as its own role, through its search_path
tenant_sql() {
    local who=$1
    shift
    "$PG_BIN/psql" -X -At -q -v ON_ERROR_STOP=1 -h "$SHARED_HOST" -p "$SHARED_PORT" -U "$who" \
        -d shared "$@"
}
for t in acme beta gamma delta; do
    tenant_sql "$t" <<'SQL'
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL,
    token text DEFAULT encode(public.digest('x', 'sha256'), 'hex'));
CREATE TABLE orders (id bigserial PRIMARY KEY, customer int REFERENCES customers,
    amount numeric(10,2), at timestamptz DEFAULT now(), tags jsonb);
CREATE TABLE events (at timestamptz, what text);   -- no primary key
CREATE INDEX orders_at ON orders (at);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 500;
CREATE FUNCTION order_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM orders';
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS
    $$BEGIN NEW.at := coalesce(NEW.at, now()); RETURN NEW; END$$;
CREATE TRIGGER orders_touch BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION touch();
INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 200) g;
INSERT INTO orders (customer, amount, at, tags)
    SELECT 1 + g % 200, (g * 7.31) % 1000, '2026-01-01'::timestamptz + g * interval '1 min',
           jsonb_build_object('n', g, 'odd', g % 2 = 1)
    FROM generate_series(1, 3000) g;
INSERT INTO events SELECT '2026-01-01'::timestamptz + g * interval '1 s', 'e' || (g % 7)
    FROM generate_series(1, 500) g;
INSERT INTO events SELECT '2026-01-01', 'duplicate' FROM generate_series(1, 3);
SQL
done
# delta's function body names its schema: a rename cannot fix it
tenant_sql delta -c "CREATE FUNCTION tenant_delta.rich() RETURNS bigint LANGUAGE sql AS
    'SELECT count(*) FROM tenant_delta.customers'"

fp() { fingerprint "$1" "$2" "$3"; }
ACME_FP=$(fp shared shared tenant_acme)
OTHERS_FP=$(fp shared shared tenant_gamma)
APP_QUERY="SELECT count(*), sum(amount), order_count() FROM orders JOIN customers c ON c.id = customer"
APP_WANT=$(tenant_sql acme -c "$APP_QUERY")

# the source instance: the managed formula, reached as the platform role
CONF="$TEST_TMP/managed.conf"
INSTANCE=shared FORMULA=managed SCHEMA=tenant_acme REPO="$TEST_TMP/repo" STATE_DIR="$STATE" \
CONNINFO="host=$SHARED_HOST port=$SHARED_PORT user=platform dbname=shared" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" coffre_conf "$CONF"
# the destination instance: onprem, the tenant's own database
DCONF="$TEST_TMP/onprem.conf"
INSTANCE=acme-onprem REPO="$TEST_TMP/drepo" STATE_DIR="$DSTATE" \
CONNINFO="host=$ONPREM_HOST port=$ONPREM_PORT user=postgres dbname=acme" DATABASES=acme \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" coffre_conf "$DCONF"
mkdir -p "$TEST_TMP/out"
printf '\n[metrics]\ntextfile = %s\n' "$TEST_TMP/out/coffre.prom" >>"$CONF"
pg_owns "$CONF" "$DCONF" "$TEST_TMP/out"
C() { as_pg "$COFFRE" --config "$CONF" "$@"; }
D() { as_pg "$COFFRE" --config "$DCONF" "$@"; }
TO_ONPREM() { echo "host=$ONPREM_HOST port=$ONPREM_PORT user=postgres dbname=$1"; }
TO_SHARED="host=$SHARED_HOST port=$SHARED_PORT user=platform dbname=shared"

run_ok "keys init" C keys init
run_ok "a first backup (the plan's throughput)" C backup

# ------------------------------------------------------------------------- plan
run_ok "plan managed -> onprem" C migrate plan --to "$(TO_ONPREM acme)"
like "$(cat "$LAST_OUT")" "the migration can run" "the plan says the move can work"
like "$(grep '^warning' "$LAST_OUT")" "tenant_acme.events" "it names the table without a primary key"
like "$(grep 'extensions' "$LAST_OUT")" "pgcrypto" "it lists the extension the tenant uses"
like "$(grep 'predicted freeze' "$LAST_OUT")" "MiB/s" "it predicts the freeze from a measured backup"
run_ok "plan --json" C migrate plan --to "$(TO_ONPREM acme)" --json
python3 - "$LAST_OUT" >"$TEST_TMP/plan.check" 2>&1 <<'PY' && pass "the JSON plan has every finding" || fail "the JSON plan has every finding" "$(cat "$TEST_TMP/plan.check")"
import json, sys
p = json.load(open(sys.argv[1]))
names = {f["name"]: f["level"] for f in p["findings"]}
for n in ("tenant", "server versions", "destination", "rights at the source",
          "rights at the destination", "extensions", "encoding and collations", "role settings",
          "objects outside the schema", "large objects", "free space", "roles"):
    assert n in names, (n, names)
assert p["can_run"] and p["blocking"] == 0 and p["role"] == "acme" and p["tables"] == 3, p
assert names["tables without a primary key"] == "warning"
PY
run_fails "plan into an existing database is blocked" 9 C migrate plan --to "$(TO_ONPREM postgres)"
like "$(grep '^blocking' "$LAST_OUT")" "already exists" "... the finding says why"

# ------------------------------------------------------------------------- run
cat >"$TEST_TMP/hook.sh" <<EOF
#!/bin/sh
printf '%s\n' "\$COFFRE_MIGRATE_CONNINFO" >"$TEST_TMP/hook.out"
EOF
chmod 755 "$TEST_TMP/hook.sh"
pg_owns "$TEST_TMP/hook.sh"
run_ok "run managed -> onprem to the cut-over point" \
    C migrate run --to "$(TO_ONPREM acme)" --hook "$TEST_TMP/hook.sh"
like "$(cat "$LAST_OUT")" ": ready" "the migration is ready"
like "$(cat "$LAST_OUT")" "all equal" "verification found both sides equal"
MIG1=$(sed -n 's/^migration \([^:]*\): .*/\1/p' "$LAST_OUT" | head -1)
like "$(cat "$TEST_TMP/hook.out" 2>/dev/null)" "dbname=acme user=acme" "the hook got the new connection string"
run_fails "the tenant cannot log in at the source (frozen)" any tenant_sql acme -c "SELECT 1"
is "$(fp onprem acme tenant_acme)" "$ACME_FP" "the destination holds the tenant, identical"
is "$(as_pg "$PG_BIN/psql" -X -At -h "$ONPREM_HOST" -p "$ONPREM_PORT" -U acme -d acme -c "$APP_QUERY")" \
    "$APP_WANT" "the application's query works at the destination (role search_path copied)"
is "$(psql_at onprem acme -c "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'acme'")" \
    "acme" "the new database belongs to the tenant's role"
is "$(fp shared shared tenant_gamma)" "$OTHERS_FP" "another tenant is untouched"
ok "the journal's copy is stored with the final backup" \
    test "$(ls "$TEST_TMP/repo/shared/backup/"*/ 2>/dev/null | grep -c '^migrate-')" -ge 1
run_ok "verify accepts the final backup with its migrate record" C verify --all
like "$(cat "$TEST_TMP/out/coffre.prom")" 'coffre_migrate_state{coffre_instance="shared",schema="tenant_acme",state="ready"} 1' \
    "the metrics carry the migration's state"
like "$(cat "$TEST_TMP/out/coffre.prom")" 'coffre_migrate_freeze_seconds{coffre_instance="shared",schema="tenant_acme"}' \
    "the metrics carry the freeze"
if command -v promtool >/dev/null; then
    run_ok "promtool check metrics" sh -c "promtool check metrics <'$TEST_TMP/out/coffre.prom'"
fi

run_ok "status" C migrate status --json
python3 - "$LAST_OUT" "$MIG1" >"$TEST_TMP/status.check" 2>&1 <<'PY' && pass "status --json shows every step with times" || fail "status --json shows every step with times" "$(cat "$TEST_TMP/status.check")"
import json, sys
a = json.load(open(sys.argv[1]))
m = [x for x in a if x["id"] == sys.argv[2]][0]
assert m["state"] == "ready", m["state"]
assert [s["state"] for s in m["steps"]] == ["frozen", "backed-up", "restored", "verified", "ready"], m["steps"]
assert all(s["start"] and s["end"] for s in m["steps"])
assert m["freeze_seconds"] is not None and m["backup_id"] and m["bytes_moved"] > 0
PY
run_fails "rollback at the cut-over point needs --force" 2 C migrate rollback --id "$MIG1"
like "$(cat "$LAST_ERR")" "loses those writes" "... and says what it would lose"

# ------------------------------------------------------------------------- finalize
run_fails "finalize without the destination's configuration" 2 C migrate finalize --id "$MIG1"
run_ok "finalize: back up and drill the destination, drop the source" \
    C migrate finalize --id "$MIG1" --dest-config "$DCONF"
like "$(cat "$LAST_OUT")" "destination's first backup" "the destination was backed up"
is "$(psql_at shared shared -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_acme'")" "0" \
    "the source schema is dropped"
is "$(psql_at shared -c "SELECT count(*) FROM pg_roles WHERE rolname = 'acme'")" "0" \
    "the tenant's role is dropped at the source"
is "$(fp shared shared tenant_gamma)" "$OTHERS_FP" "another tenant is still untouched"
run_fails "finalize twice is refused" 2 C migrate finalize --id "$MIG1" --dest-config "$DCONF"

# ------------------------------------------------------------------------- and back
run_ok "plan onprem -> managed" D migrate plan --schema tenant_acme --to "$TO_SHARED"
run_ok "run onprem -> managed" D migrate run --schema tenant_acme --to "$TO_SHARED"
like "$(cat "$LAST_OUT")" ": ready" "the way back is ready"
MIG2=$(sed -n 's/^migration \([^:]*\): .*/\1/p' "$LAST_OUT" | head -1)
is "$(tenant_sql acme -c "$APP_QUERY")" "$APP_WANT" "the application's query works in the shared database again"
run_ok "finalize the way back" D migrate finalize --id "$MIG2" --dest-config "$CONF" --skip-drill
like "$(cat "$LAST_OUT")" "kept as \"acme_migrated_" "the on-premise database is renamed, not dropped"
is "$(fp shared shared tenant_acme)" "$ACME_FP" "after the round trip the tenant is identical"
is "$(fp shared shared tenant_gamma)" "$OTHERS_FP" "and the other tenant untouched"

# ------------------------------------------------------------------------- failures
BETA_FP=$(fp shared shared tenant_beta)
run_ok "beta: run until frozen" C migrate run --schema tenant_beta --to "$(TO_ONPREM beta)" --until frozen
MIG3=$(sed -n 's/^migration \([^:]*\): .*/\1/p' "$LAST_OUT" | head -1)
run_fails "a second migration of the tenant is refused while one is open" 5 \
    C migrate run --schema tenant_beta --to "$(TO_ONPREM beta2)"
like "$(cat "$LAST_ERR")" "is still open" "... naming the open one"
# the lock: another process holds it
as_pg flock "$STATE/migrate/tenant_beta.lock" sleep 5 &
LOCKER=$!
sleep 0.5
run_fails "two runs of one tenant at once are refused" any C migrate run --id "$MIG3"
like "$(cat "$LAST_ERR")" "another coffre migrate" "... the lock is named"
wait "$LOCKER"
run_ok "resume: until restored" C migrate run --id "$MIG3" --until restored
like "$(cat "$LAST_OUT")" ": restored" "the run stopped after the restore"
psql_at onprem beta -c "UPDATE tenant_beta.orders SET amount = amount + 1 WHERE id = 1234"
run_fails "resume: verification finds the changed row" 9 C migrate run --id "$MIG3"
like "$(cat "$LAST_ERR")" "rows tenant_beta.orders" "the error names the first differing table"
like "$(cat "$LAST_ERR")" "rollback" "and offers rollback"
run_ok "rollback" C migrate rollback --id "$MIG3"
like "$(cat "$LAST_OUT")" ": rolled-back" "the migration is rolled back"
is "$(psql_at onprem -c "SELECT count(*) FROM pg_database WHERE datname = 'beta'")" "0" \
    "the destination database is gone"
is "$(psql_at onprem -c "SELECT count(*) FROM pg_roles WHERE rolname = 'beta'")" "0" \
    "the role created at the destination is gone"
run_ok "the tenant writes at the source again" tenant_sql beta -c "INSERT INTO events VALUES (now(), 'after rollback')"
psql_at shared shared -c "DELETE FROM tenant_beta.events WHERE what = 'after rollback'"
is "$(fp shared shared tenant_beta)" "$BETA_FP" "the source is unchanged"
run_ok "rollback twice is harmless" C migrate rollback --id "$MIG3"

# SIGTERM while the cut-over hook runs: exit 8, the state stays verified, rollback works
run_ok "beta again: until backed-up" C migrate run --schema tenant_beta --to "$(TO_ONPREM beta)" --until backed-up
MIG4=$(sed -n 's/^migration \([^:]*\): .*/\1/p' "$LAST_OUT" | head -1)
# the destination is down when the run resumes: a clear error, nothing to clean by hand
pg_stop onprem
run_fails "resume with the destination server down" 7 C migrate run --id "$MIG4"
like "$(cat "$LAST_ERR")" "destination" "the error says it is the destination"
pg_start onprem
printf '#!/bin/sh\nsleep 60\n' >"$TEST_TMP/slow-hook.sh"
chmod 755 "$TEST_TMP/slow-hook.sh"
as_pg "$COFFRE" --config "$CONF" migrate run --id "$MIG4" --hook "$TEST_TMP/slow-hook.sh" \
    >"$TEST_TMP/term.out" 2>"$TEST_TMP/term.err" &
RUNNER=$!
for _ in $(seq 1 100); do
    pgrep -f "^/bin/sh $TEST_TMP/slow-hook.sh" >/dev/null && break
    sleep 0.2
done
# as_pg runs coffre under runuser: the signal goes to coffre itself, as systemd sends it
kill -TERM "$(pgrep -f "^$COFFRE --config $CONF migrate run --id $MIG4" | head -1)" 2>/dev/null || true
rc=0
wait "$RUNNER" || rc=$?
is "$rc" "8" "SIGTERM during the hook: exit status 8" || _diag_file "$TEST_TMP/term.err" stderr
like "$(cat "$TEST_TMP/term.err")" "interrupted by signal SIGTERM" "SIGTERM during the hook: the error names the signal"
ok "the hook was ended with it" sh -c "! pgrep -f '^/bin/sh $TEST_TMP/slow-hook.sh' >/dev/null"
run_ok "status after SIGTERM" C migrate status --json
like "$(python3 -c 'import json,sys; print([m["state"] for m in json.load(open(sys.argv[1])) if m["id"] == sys.argv[2]][0])' "$LAST_OUT" "$MIG4")" \
    "verified" "the journal says verified: the cut-over never happened"
# resume after the SIGTERM (issue 12: runs were rolled back, never resumed): the run
# goes on from verified, runs the hook again, and ends ready
printf '#!/bin/sh\necho "$COFFRE_MIGRATE_CONNINFO" >>%s/hook.ran\n' "$TEST_TMP" >"$TEST_TMP/quick-hook.sh"
chmod 755 "$TEST_TMP/quick-hook.sh"
touch "$TEST_TMP/hook.ran"
chmod 666 "$TEST_TMP/hook.ran"
run_ok "resume after SIGTERM" C migrate run --id "$MIG4" --hook "$TEST_TMP/quick-hook.sh"
like "$(cat "$LAST_OUT")" ": ready" "resume after SIGTERM: the migration is ready"
is "$(wc -l <"$TEST_TMP/hook.ran")" "1" "resume after SIGTERM: the cut-over hook ran once"
like "$(cat "$TEST_TMP/hook.ran")" "dbname=beta" "resume after SIGTERM: the hook got the new connection string"
is "$(psql_at onprem beta -c "SELECT count(*) FROM tenant_beta.orders")" \
    "$(psql_at shared shared -c "SELECT count(*) FROM tenant_beta.orders")" \
    "resume after SIGTERM: the destination holds the tenant's rows"
run_fails "rollback of a ready migration needs --force" any C migrate rollback --id "$MIG4"
run_ok "rollback after SIGTERM and resume (--force)" C migrate rollback --id "$MIG4" --force
is "$(psql_at onprem -c "SELECT count(*) FROM pg_database WHERE datname = 'beta'")" "0" \
    "the destination database is gone again"
run_ok "beta writes at the source again" tenant_sql beta -c "SELECT count(*) FROM orders"
is "$(fp shared shared tenant_beta)" "$BETA_FP" "beta is unchanged after all this"

# a missing extension: installed at the source, its package absent at the destination
if [ "$(id -u)" = 0 ]; then
    EXTDIR="$("$PG_BIN/pg_config" --sharedir)/extension"
    printf "default_version = '1.0'\nrelocatable = true\n" >"$EXTDIR/coffre_test_ext.control"
    printf "CREATE FUNCTION triple(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT \$1 * 3';\n" \
        >"$EXTDIR/coffre_test_ext--1.0.sql"
    psql_at shared shared -c "CREATE EXTENSION coffre_test_ext SCHEMA public"
    rm -f "$EXTDIR/coffre_test_ext.control" "$EXTDIR/coffre_test_ext--1.0.sql"
    tenant_sql gamma -c "CREATE VIEW tripled AS SELECT public.triple(id) AS t FROM customers"
    run_fails "plan: an extension missing at the destination blocks" 9 \
        C migrate plan --schema tenant_gamma --to "$(TO_ONPREM gamma)"
    like "$(grep '^blocking' "$LAST_OUT")" "coffre_test_ext 1.0" "... naming it"
    run_fails "run refuses and changes nothing" 9 \
        C migrate run --schema tenant_gamma --to "$(TO_ONPREM gamma)"
    run_ok "the tenant was not frozen" tenant_sql gamma -c "SELECT 1"
    tenant_sql gamma -c "DROP VIEW tripled"
else
    skip "a missing extension" "needs root to install one"
fi

# a grant to a role that the destination lacks blocks the plan
psql_at shared -c "CREATE ROLE gamma_reader NOLOGIN"
tenant_sql gamma -c "GRANT SELECT ON orders TO gamma_reader"
run_fails "plan: a granted role missing at the destination blocks" 9 \
    C migrate plan --schema tenant_gamma --to "$(TO_ONPREM gamma)"
like "$(grep '^blocking' "$LAST_OUT")" "gamma_reader" "... naming the role"
psql_at onprem -c "CREATE ROLE gamma_reader NOLOGIN"
run_ok "plan: once the role exists, the move can work" \
    C migrate plan --schema tenant_gamma --to "$(TO_ONPREM gamma)"

# the destination's disk fills up during the restore: a clear error, rollback cleans up
if [ "$(id -u)" = 0 ] && mkdir -p "$TEST_TMP/fullfs" &&
        mount -t tmpfs -o size=160m coffre-test-full "$TEST_TMP/fullfs" 2>/dev/null; then
    on_exit "_pg_ctl fullfs stop -m immediate; umount -l '$TEST_TMP/fullfs'"
    pg_start fullfs
    psql_at shared -c "CREATE ROLE epsilon LOGIN NOSUPERUSER NOCREATEDB NOREPLICATION" \
        -c "GRANT epsilon TO platform"
    psql_at shared shared -c "CREATE SCHEMA tenant_epsilon AUTHORIZATION epsilon"
    # about 60 MB of rows too short to be compressed
    tenant_sql epsilon -c "CREATE TABLE tenant_epsilon.blob (id int PRIMARY KEY, t text)" \
        -c "INSERT INTO tenant_epsilon.blob SELECT g, md5(g::text) || md5((g + 1)::text) ||
            md5((g + 2)::text) || md5((g + 3)::text) || md5((g + 4)::text) || md5((g + 5)::text)
            || md5((g + 6)::text) || md5((g + 7)::text) FROM generate_series(1, 200000) g"
    EPS_FP=$(fp shared shared tenant_epsilon)
    TO_FULL="host=$FULLFS_HOST port=$FULLFS_PORT user=postgres dbname=epsilon"
    run_ok "epsilon: run until backed-up (room enough when planned)" \
        C migrate run --schema tenant_epsilon --to "$TO_FULL" --until backed-up
    MIG5=$(sed -n 's/^migration \([^:]*\): .*/\1/p' "$LAST_OUT" | head -1)
    # then something else takes the space
    avail=$(df --output=avail -k "$TEST_TMP/fullfs" | tail -1)
    dd if=/dev/zero of="$TEST_TMP/fullfs/filler" bs=1k count=$((avail - 12 * 1024)) 2>/dev/null || true
    # PostgreSQL cannot write its WAL either: the server stops in the middle of the restore
    run_fails "resume: the destination's disk fills up during the restore" 7 C migrate run --id "$MIG5"
    like "$(cat "$LAST_ERR")" "restoring backup" "the error names the restore and its backup"
    run_fails "rollback while the destination is down fails cleanly" 7 C migrate rollback --id "$MIG5"
    like "$(cat "$LAST_ERR")" "destination" "... saying it is the destination"
    rm -f "$TEST_TMP/fullfs/filler"
    pg_stop fullfs immediate 2>/dev/null || true
    pg_start fullfs
    run_ok "rollback once the destination is back" C migrate rollback --id "$MIG5"
    is "$(psql_at fullfs -c "SELECT count(*) FROM pg_database WHERE datname = 'epsilon'")" "0" \
        "nothing is left at the destination"
    run_ok "epsilon writes at the source again" tenant_sql epsilon -c "SELECT count(*) FROM tenant_epsilon.blob"
    is "$(fp shared shared tenant_epsilon)" "$EPS_FP" "epsilon is unchanged"
    avail=$(df --output=avail -k "$TEST_TMP/fullfs" | tail -1)
    dd if=/dev/zero of="$TEST_TMP/fullfs/filler" bs=1k count=$((avail - 12 * 1024)) 2>/dev/null || true
    run_fails "plan: a destination without room for the tenant blocks" 9 \
        C migrate plan --schema tenant_epsilon --to "$TO_FULL"
    like "$(grep '^blocking' "$LAST_OUT")" "free space" "... the finding is free space"
    rm -f "$TEST_TMP/fullfs/filler"
    pg_stop fullfs
else
    skip "the destination's disk full" "needs root to mount a small tmpfs"
fi

# ------------------------------------------------------------------------- schema map
DELTA_WANT=$(tenant_sql delta -c "$APP_QUERY")
run_ok "plan with a schema map" \
    C migrate plan --schema tenant_delta --schema-map tenant_delta=public --to "$(TO_ONPREM delta)"
like "$(grep 'schema rename' "$LAST_OUT")" "rich()" "the plan names the function whose body names the old schema"
run_ok "run with the schema map" \
    C migrate run --schema tenant_delta --schema-map tenant_delta=public --to "$(TO_ONPREM delta)"
like "$(cat "$LAST_OUT")" ": ready" "the mapped migration is ready"
is "$(psql_at onprem delta -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_delta'")" "0" \
    "the schema is renamed at the destination"
is "$(as_pg "$PG_BIN/psql" -X -At -h "$ONPREM_HOST" -p "$ONPREM_PORT" -U delta -d delta -c "$APP_QUERY")" \
    "$DELTA_WANT" "the application's query works against public (search_path mapped)"
run_ok "rollback --force from the cut-over point" C migrate rollback --schema tenant_delta --force
run_ok "delta writes at the source again" tenant_sql delta -c "SELECT order_count()"

is "$(fp shared shared tenant_gamma)" "$OTHERS_FP" "at the end, the bystander tenant is untouched"
done_testing
