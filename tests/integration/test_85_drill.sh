#!/bin/bash
# test_85_drill -- coffre drill on a posix repository: the four scenarios pass
# on a database like the round-trip fixture and on a Debian-style cluster
# (its configuration outside PGDATA); the evidence (report, JSON, JUnit XML,
# records and --history, metrics); and the negative controls, each failing
# with its check named, exit status 9 and nothing left behind: an operator
# check that fails, a missed RTO target, a corrupted object, a broken index,
# a WAL gap before the PITR target.  Then --timeout and SIGTERM during a
# restore (status 8, clean teardown), --keep, a staging server
# ([drill] target), and a managed tenant (scratch only; its large objects).
#
# Everything runs as the postgres user (as_pg): PostgreSQL refuses root, and
# the restored servers run coffre wal-get themselves.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_85_drill: recovery drills"

COFFRE=$(readlink -f "$COFFRE")
[ "$(id -u)" != 0 ] || chown postgres "$TEST_TMP"
hsm_init
hsm_token coffre 4321
CONF="$TEST_TMP/coffre.conf"
STATE="$TEST_TMP/state"
mkdir -p "$TEST_TMP/repo" "$STATE" "$TEST_TMP/out"
INSTANCE=acme CONNINFO="placeholder" REPO="$TEST_TMP/repo" STATE_DIR="$STATE" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$CONF.tmpl"
pg_owns "$HSM_DIR" "$TEST_TMP/repo" "$STATE" "$TEST_TMP/out"
chmod 755 "$HSM_DIR"

# A Debian-style cluster: postgresql.conf, pg_hba.conf and pg_ident.conf live
# outside PGDATA (like /etc/postgresql/15/main), so base backups hold none.
pg_init src
ETC="$TEST_TMP/src/etc"
mkdir -p "$ETC"
mv "$TEST_TMP/src/data/postgresql.conf" "$TEST_TMP/src/data/pg_hba.conf" \
    "$TEST_TMP/src/data/pg_ident.conf" "$ETC/"
cat >>"$ETC/postgresql.conf" <<EOF
data_directory = '$TEST_TMP/src/data'
hba_file = '$ETC/pg_hba.conf'
ident_file = '$ETC/pg_ident.conf'
archive_mode = on
archive_command = '$COFFRE --config $CONF wal-push %p'
EOF
pg_owns "$ETC"
SRC_PGOPTS="-c config_file=$ETC/postgresql.conf"
pg_start src
ok "the cluster's configuration lives outside PGDATA" test ! -e "$SRC_PGDATA/postgresql.conf"
sed "s|^conninfo = .*|conninfo = $SRC_CONNINFO|" "$CONF.tmpl" >"$CONF"
printf '\n[wal]\narchive_timeout = 60s\n\n[metrics]\ntextfile = %s\n' "$TEST_TMP/out/coffre.prom" \
    >>"$CONF"
pg_owns "$CONF"
C() { as_pg "$COFFRE" --config "$CONF" "$@"; }
# conf_with NAME "lines" -- a copy of the configuration with more lines
conf_with() {
    cp "$CONF" "$TEST_TMP/$1.conf"
    printf '%b\n' "$2" >>"$TEST_TMP/$1.conf"
    pg_owns "$TEST_TMP/$1.conf"
}
# nothing the drill started or wrote is left: no server from its directory, no directory
no_leftovers() {
    local what=$1
    # [d]: the pattern must not match the shell that runs pgrep
    ok "$what: no server left running" sh -c "! pgrep -f '$STATE/[d]rill/' >/dev/null"
    ok "$what: no drill directory left" sh -c "[ -z \"\$(ls -A '$STATE/drill' 2>/dev/null)\" ]"
}

run_ok "keys init" C keys init
# a tablespace in use by the running source: a drill must restore it elsewhere
mkdir -p "$TEST_TMP/ts1"
pg_owns "$TEST_TMP/ts1"
psql_at src -c "CREATE TABLESPACE ts1 LOCATION '$TEST_TMP/ts1'"
psql_at src -c "CREATE TABLE in_ts (id int) TABLESPACE ts1"
psql_at src -c "INSERT INTO in_ts SELECT generate_series(1, 1000)"
psql_at src -c "CREATE DATABASE fixture"
psql_file src fixture "$TESTS_DIR/fixture.sql"
# a table whose index a later "bug" breaks (the function lies about being immutable)
psql_at src fixture -c "CREATE FUNCTION public.shift(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT \$1'"
psql_at src fixture -c "CREATE TABLE public.ix AS SELECT g AS i FROM generate_series(1, 2000) g"
psql_at src fixture -c "CREATE INDEX ix_shift ON public.ix (public.shift(i))"

run_ok "logical backup" C backup
LID=$(cat "$LAST_OUT")
run_ok "physical backup" C backup --physical
PID=$(cat "$LAST_OUT")
# commits after the base backup, so that the archive has a point in time to reach
psql_at src -c "CREATE TABLE ticks (id int, at timestamptz DEFAULT clock_timestamp())"
for i in 1 2 3 4 5 6; do psql_at src -c "INSERT INTO ticks (id) VALUES ($i)"; sleep 0.5; done
SEG=$(psql_at src -c "SELECT pg_walfile_name(pg_switch_wal())")
for _ in $(seq 1 120); do
    last=$(psql_at src -c "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
    [[ "$last" < "$SEG" ]] || break
    sleep 0.5
done

# ------------------------------------------------------------- every scenario passes
run_ok "drill: all four scenarios" C drill --junit "$TEST_TMP/out/drill.xml"
REPORT=$(cat "$LAST_OUT")
like "$REPORT" "passed (" "the report says the drill passed"
for s in simple partial total pitr; do
    like "$(grep "^$s " "$LAST_OUT")" "passed" "scenario $s passed"
done
like "$(grep '^simple ' "$LAST_OUT") " "$LID " "simple drills the newest logical backup"
like "$(grep '^total ' "$LAST_OUT") " "$PID " "total drills the newest physical backup"
is "$(ls "$TEST_TMP/ts1" | wc -l)" "1" "the source's tablespace directory was not touched (one PG_15_* directory)"
like "$(cat "$LAST_ERR")" "drill: simple: restore everything of database \"fixture\"" "progress names each phase"
no_leftovers "after a passing drill"

run_ok "drill --json" C drill --json
python3 - "$LAST_OUT" >"$TEST_TMP/json.check" 2>&1 <<'PY' && pass "the JSON report follows schema version 1" || fail "the JSON report follows schema version 1" "$(cat "$TEST_TMP/json.check")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema_version"] == 1 and d["ok"] is True and d["failed"] == 0, d
for k in ("instance", "start", "end", "seconds", "interrupted", "timed_out", "checks", "warnings", "scenarios", "error"):
    assert k in d, k
ran = {s["scenario"]: s for s in d["scenarios"] if s["ran"]}
assert set(ran) == {"simple", "partial", "total", "pitr"}, ran.keys()
for s in ran.values():
    assert s["ok"] and s["checks"], s["scenario"]
    for k in ("backup", "kind", "rto", "rpo", "bytes", "mb_per_second", "record"):
        assert k in s, (s["scenario"], k)
    assert set(s["rto"]["phases"]) == {"fetch", "restore", "index", "recovery", "checks"}
    for c in s["checks"]:
        assert set(c) == {"name", "status", "detail", "seconds"} and c["status"] in ("passed", "failed", "warning", "skipped"), c
names = [c["name"] for c in ran["simple"]["checks"]]
assert "integrity" in names and "roles" in names and "restore fixture" in names, names
assert any(n.startswith("rows fixture.app.") for n in names) and "amcheck fixture" in names, names
assert "sequences fixture" in names and "large objects fixture" in names, names
assert [c for c in ran["pitr"]["checks"] if c["name"] == "target" and c["status"] == "passed"], ran["pitr"]["checks"]
assert ran["pitr"]["target_time"] and ran["total"]["rpo"]["seconds"] is not None
assert ran["pitr"]["rpo"]["seconds"] is None
PY
python3 - "$TEST_TMP/out/drill.xml" >"$TEST_TMP/xml.check" 2>&1 <<'PY' && pass "the JUnit report parses, one testcase per check, no failure" || fail "the JUnit report parses, one testcase per check, no failure" "$(cat "$TEST_TMP/xml.check")"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
suites = root.findall("testsuite")
assert {s.get("name") for s in suites} == {"simple", "partial", "total", "pitr"}
cases = root.findall("./testsuite/testcase")
assert len(cases) == int(root.get("tests")) > 20, (len(cases), root.get("tests"))
assert not root.findall(".//failure") and root.get("failures") == "0"
for c in cases:
    assert c.get("classname").startswith("coffre.drill.") and c.get("name") and c.get("time")
PY

run_ok "drill --history" C drill --history
is "$(grep -c ' passed ' "$LAST_OUT")" "8" "history lists the two drills' eight scenarios"
# a field equal to the id: the physical backup taken in the same second is "$LID-2"
is "$(awk -v id="$LID" '{ for (i = 1; i <= NF; i++) if ($i == id) { n++; break } } END { print n + 0 }' \
    "$LAST_OUT")" "4" "... two of simple and partial on the logical backup"
run_ok "drill --history --json" C drill --history --json
like "$(cat "$LAST_OUT")" '"scenario": "pitr"' "history --json has the scenarios"
ok "the records are stored with the backup, encrypted" \
    sh -c "ls '$TEST_TMP/repo/acme/backup/$LID/' | grep -q '^drill-' && ! grep -rqa '\"scenario\"' '$TEST_TMP/repo/acme/backup/$LID/'"
run_ok "verify accepts a backup with its drill records" C verify "$LID"

like "$(cat "$TEST_TMP/out/coffre.prom")" 'coffre_drill_rto_seconds{coffre_instance="acme",scenario="pitr"}' \
    "metrics carry each scenario's RTO"
like "$(cat "$TEST_TMP/out/coffre.prom")" 'coffre_drill_last_success_timestamp_seconds{coffre_instance="acme"}' \
    "metrics carry the last successful drill"
like "$(cat "$TEST_TMP/out/coffre.prom")" 'coffre_drill_checks_failed{coffre_instance="acme",scenario="simple"} 0' \
    "metrics carry the failed checks"
if command -v promtool >/dev/null; then
    run_ok "promtool check metrics" sh -c "promtool check metrics <'$TEST_TMP/out/coffre.prom'"
fi
run_ok "status --json" C status --json
like "$(cat "$LAST_OUT")" '"drill": {' "status shows the last drill run"

# ------------------------------------------------------------- an operator check fails
cat >"$TEST_TMP/checks.sql" <<'EOF'
-- name: customers are there
-- database: fixture
SELECT count(*) = 500 FROM app.customers;

-- name: orders are recent
SELECT max(id) > 1000000 FROM app.orders;
EOF
pg_owns "$TEST_TMP/checks.sql"
conf_with sqlcheck "\n[drill]\ncheck_sql = $TEST_TMP/checks.sql"
run_fails "drill with a failing operator check" 9 as_pg "$COFFRE" --config "$TEST_TMP/sqlcheck.conf" \
    drill --scenario simple --junit "$TEST_TMP/out/fail.xml"
like "$(cat "$LAST_OUT")" "FAILED  sql: orders are recent: returned false" "the failing check is named"
unlike "$(cat "$LAST_OUT")" "sql: customers are there: returned" "the passing check is not among the failures"
like "$(cat "$LAST_ERR")" "1 of " "the error counts the failed checks"
ok "JUnit names the failing check" python3 -c "
import sys, xml.etree.ElementTree as ET
r = ET.parse('$TEST_TMP/out/fail.xml').getroot()
f = [c.get('name') for c in r.iter('testcase') if c.find('failure') is not None]
sys.exit(0 if f == ['sql: orders are recent'] else 1)"
no_leftovers "after a failed check"

# ------------------------------------------------------------- a missed RTO target
psql_at src -c "CREATE DATABASE bulk"
psql_at src bulk -c "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v, repeat(md5(g::text), 4) AS w FROM generate_series(1, 600000) g"
psql_at src bulk -c "CREATE INDEX ON big (v); CREATE INDEX ON big (w)"
run_ok "backup of the bulk database" C backup --db bulk
BID=$(cat "$LAST_OUT")
conf_with rto "\n[drill]\nrto_simple = 1s"
run_fails "drill with a 1 s RTO target" 9 as_pg "$COFFRE" --config "$TEST_TMP/rto.conf" \
    drill --backup "$BID" --scenario simple
like "$(cat "$LAST_OUT")" "FAILED  rto: " "the missed RTO is named"
like "$(cat "$LAST_OUT")" "(target 1.0 s)" "with its target"
run_ok "--targets warn turns it into a warning" as_pg "$COFFRE" --config "$TEST_TMP/rto.conf" \
    drill --backup "$BID" --scenario simple --targets warn
like "$(cat "$LAST_OUT")" "warning rto: " "the warning is reported"

# ------------------------------------------------------------- interrupted: timeout, SIGTERM
run_fails "drill --timeout during the restore" 8 C drill --backup "$BID" --scenario simple --timeout 2s
like "$(cat "$LAST_ERR")" "interrupted: the time limit of 2 s was reached" "the timeout is reported as such"
like "$(cat "$LAST_OUT")" "INTERRUPTED" "the report says interrupted"
no_leftovers "after the timeout"
as_pg "$COFFRE" --config "$CONF" drill --backup "$BID" --scenario simple \
    >"$TEST_TMP/out/term.out" 2>"$TEST_TMP/out/term.err" &
pid=$!
for _ in $(seq 1 200); do
    grep -q 'restore everything of database "bulk"' "$TEST_TMP/out/term.err" 2>/dev/null && break
    sleep 0.05
done
sleep 0.5
pkill -TERM -f "^$COFFRE --config $CONF drill --backup $BID" || true
rc=0
wait "$pid" || rc=$?
is "$rc" "8" "SIGTERM during the restore: exit status 8"
like "$(cat "$TEST_TMP/out/term.err")" "interrupted by signal SIGTERM" "the signal is reported"
no_leftovers "after SIGTERM"

# ------------------------------------------------------------- --keep
run_ok "drill --keep" C drill --backup "$LID" --scenario simple --keep
like "$(cat "$LAST_OUT")" "kept running" "--keep says what is left running"
kept=$(sed -n 's/.*psql "\([^"]*\)".*/\1/p' "$LAST_OUT" | head -1)
is "$(as_pg "$PG_BIN/psql" -X -At -d "$kept" -d "$kept" -c 'SELECT count(*) FROM pg_database WHERE datname = '"'"'fixture'"'")" \
    "1" "the kept scratch server answers, with the restored database"
for d in "$STATE"/drill/*/logical/data; do as_pg "$PG_BIN/pg_ctl" -D "$d" stop -m immediate >/dev/null 2>&1 || true; done
rm -rf "$STATE/drill"

# ------------------------------------------------------------- a staging server
conf_with staging "\n[drill]\ntarget = $SRC_CONNINFO"
run_ok "drill into a staging server" as_pg "$COFFRE" --config "$TEST_TMP/staging.conf" \
    drill --backup "$LID" --scenario simple,partial
like "$(cat "$LAST_ERR")" 'into "coffre_drill_' "the staging databases are named coffre_drill_<hex>_*"
is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'coffre_drill_%'")" "0" \
    "they are dropped at the end"
no_leftovers "after a staging drill"

# ------------------------------------------------------------- negative: a corrupted object
run_ok "another backup of fixture" C backup --db fixture
CID=$(cat "$LAST_OUT")
obj="$TEST_TMP/repo/acme/backup/$CID/db/fixture.dump"
size=$(stat -c %s "$obj")
printf '\x55' | dd of="$obj" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
run_fails "drill of a corrupted backup" 9 C drill --backup "$CID" --scenario simple
like "$(cat "$LAST_OUT")" "FAILED  integrity: " "the integrity check fails"
like "$(cat "$LAST_OUT")" "FAILED  restore fixture: " "the restore of the damaged dump fails"
no_leftovers "after a corrupted object"

# ------------------------------------------------------------- negative: a broken index
psql_at src fixture -c "CREATE OR REPLACE FUNCTION public.shift(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT \$1 + 1'"
run_ok "a physical backup with a broken index" C backup --physical
XID=$(cat "$LAST_OUT")
run_fails "drill: total finds the broken index" 9 C drill --backup "$XID" --scenario total
like "$(cat "$LAST_OUT")" "FAILED  amcheck fixture: " "amcheck names the database with the broken index"
no_leftovers "after a broken index"

# ------------------------------------------------------------- negative: a WAL gap before the target
for i in 1 2 3; do psql_at src -c "INSERT INTO ticks (id) VALUES ($i)"; psql_at src -c "SELECT pg_switch_wal()" >/dev/null; sleep 0.5; done
sleep 2
wal_start=$(C cat "$XID/manifest" | sed -n 's/.*"wal_stop": "\([0-9A-F]*\)".*/\1/p')
victim=$(ls "$TEST_TMP/repo/acme/wal/${wal_start:0:16}/" | grep -v '\.backup\|partial' | sort | \
         awk -v s="$wal_start" '$0 > s' | head -n 1)
ok "a segment after the backup is in the repository ($victim)" test -n "$victim"
rm -f "$TEST_TMP/repo/acme/wal/${wal_start:0:16}/$victim"
run_fails "drill: pitr across a WAL gap" 9 C drill --backup "$XID" --scenario pitr \
    --time "$(date -u '+%Y-%m-%d %H:%M:%S+00')"
like "$(cat "$LAST_OUT")" "FAILED  restore: " "the restore check fails"
like "$(cat "$LAST_OUT")" "${victim:0:24}" "and names the missing segment"
no_leftovers "after a WAL gap"

# ------------------------------------------------------------- a managed tenant
psql_at src -c "CREATE ROLE tenant_a LOGIN NOSUPERUSER NOCREATEDB NOREPLICATION"
psql_at src -c "CREATE DATABASE shared"
psql_at src shared -c "CREATE SCHEMA tenant_a AUTHORIZATION tenant_a"
psql_at src shared -c "SET ROLE tenant_a; CREATE TABLE tenant_a.notes (id serial PRIMARY KEY, body text); INSERT INTO tenant_a.notes (body) SELECT 'n' || g FROM generate_series(1, 300) g"
INSTANCE=acme_tenant FORMULA=managed SCHEMA=tenant_a CONNINFO="$(pg_conninfo src shared | sed 's/user=postgres/user=tenant_a/')" \
REPO="$TEST_TMP/repo" STATE_DIR="$STATE" KEKS="pkcs11:token=coffre;object=coffre-kek" \
PIN_FILE="$HSM_DIR/coffre.pin" coffre_conf "$TEST_TMP/tenant.conf"
pg_owns "$TEST_TMP/tenant.conf"
T() { as_pg "$COFFRE" --config "$TEST_TMP/tenant.conf" "$@"; }
run_ok "managed backup of the tenant" T backup
run_ok "drill of the managed tenant (a scratch server, never the shared cluster)" T drill
like "$(grep '^simple ' "$LAST_OUT")" "passed" "the tenant's simple drill passes"
like "$(cat "$LAST_OUT")" "skipped: no complete physical backup" "physical scenarios are skipped for a tenant"
psql_at src shared -c "SET ROLE tenant_a; SELECT lo_from_bytea(0, 'tenant large object')" >/dev/null
run_fails "a tenant owning large objects: the backup fails rather than lose them" 3 T backup
like "$(cat "$LAST_ERR")" "the tenant's role owns 1 large object(s), which a backup of schema \"tenant_a\" cannot carry" \
    "the error says why"

done_testing
