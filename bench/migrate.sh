#!/bin/bash
# bench/migrate.sh -- how long a tenant's writes are frozen by coffre migrate,
# side by side with the seed's manual steps, in one run on one machine.
#
#   SIZES="1024 5120" RUNS=1 bash bench/migrate.sh
#
# For each size (MiB): a "managed" cluster whose shared database holds the tenant
# (bench/gen.sh's tables, moved into schema tenant_bench owned by role tenant), and
# an "on-premise" cluster on the same disk.
#   manual   the seed's steps (docs/migration.md): createdb, then
#            pg_dump -Fc -n tenant_bench | pg_restore -d <new database>, no verification
#   coffre   coffre migrate run (managed -> onprem): freeze, final backup (zstd level
#            $LEVEL, encrypted, posix repository), restore, verification; the freeze is
#            measured from the journal (frozen step start -> verified step end, whole
#            seconds) and the command's wall time is given too; then rollback (not timed)
# Target (issue 11): the freeze <= 1.5x the manual steps, and < 5 min for 1 GiB.
# Output: markdown on stdout and in bench/results/<date>-migrate-<sizes>.md.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export TMPDIR=${BENCH_DIR:-/var/tmp/coffre-bench}
mkdir -p "$TMPDIR"
. "$here/../tests/integration/lib.sh"
_TAP_DONE=1
SIZES=${SIZES:-1024 5120}
RUNS=${RUNS:-1}
LEVEL=${LEVEL:-3}
OUT_DIR=${RESULTS_DIR:-$here/results}
mkdir -p "$OUT_DIR"
. "$here/common.sh"

hsm_init
hsm_token coffre 4321
pg_owns "$HSM_DIR"
chmod 755 "$HSM_DIR"

RESULT=$TEST_TMP/result.md
: >"$RESULT"
for size in $SIZES; do
    m=m$size
    o=o$size
    pg_start "$m"
    pg_start "$o"
    for c in "$m" "$o"; do
        pg_conf "$c" "shared_buffers = 512MB" "max_wal_size = 4GB" "autovacuum = off"
        pg_restart "$c"
    done
    mv=$(_pg_var "$m")
    ov=$(_pg_var "$o")
    mhost=$(eval "echo \$${mv}_HOST") mport=$(eval "echo \$${mv}_PORT")
    ohost=$(eval "echo \$${ov}_HOST") oport=$(eval "echo \$${ov}_PORT")
    log "generating a $size MiB tenant"
    psql_at "$m" -c "CREATE DATABASE shared"
    bash "$here/gen.sh" "$(pg_conninfo "$m" shared)" shared "$size" >&2
    psql_at "$m" -c "CREATE ROLE tenant LOGIN" -c "CREATE ROLE platform LOGIN CREATEROLE" \
        -c "GRANT tenant TO platform"
    psql_at "$m" shared <<'SQL'
ALTER SCHEMA public RENAME TO tenant_bench;
ALTER SCHEMA tenant_bench OWNER TO tenant;
DO $$DECLARE t record; BEGIN
  FOR t IN SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'tenant_bench'::regnamespace
           AND c.relkind IN ('r', 'p', 'v', 'm') LOOP
    EXECUTE format('ALTER TABLE tenant_bench.%I OWNER TO tenant', t.relname);
  END LOOP; END$$;
CREATE SCHEMA public;
GRANT CREATE ON DATABASE shared TO platform;
ALTER ROLE tenant SET search_path = tenant_bench;
VACUUM (FREEZE, ANALYZE);
SQL
    tenant_size=$(psql_at "$m" shared -c "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c WHERE c.relnamespace = 'tenant_bench'::regnamespace AND c.relkind = 'r'")
    f=$TEST_TMP/coffre-$m.conf
    INSTANCE=$m FORMULA=managed SCHEMA=tenant_bench REPO=$TEST_TMP/repo-$m STATE_DIR=$TEST_TMP/state-$m \
        CONNINFO="host=$mhost port=$mport user=platform dbname=shared" \
        KEKS="pkcs11:token=coffre;object=kek" PIN_FILE="$HSM_DIR/coffre.pin" coffre_conf "$f"
    printf '\n[compression]\nlevel = %s\n' "$LEVEL" >>"$f"
    mkdir -p "$TEST_TMP/repo-$m" "$TEST_TMP/state-$m"
    pg_owns "$f" "$TEST_TMP/repo-$m" "$TEST_TMP/state-$m"
    [ -e "$TEST_TMP/kek.done" ] || { as_pg "$BIN" -c "$f" keys init >/dev/null && : >"$TEST_TMP/kek.done"; }
    dest="host=$ohost port=$oport user=postgres dbname=tenant"
    declare -A w=()
    for run in $(seq 1 "$RUNS"); do
        log "$size MiB, run $run: manual pg_dump -n | pg_restore"
        psql_at "$o" -c "DROP DATABASE IF EXISTS tenant" -c "DROP ROLE IF EXISTS tenant" \
            -c "CREATE ROLE tenant LOGIN" >/dev/null
        w[manual]+="$(wall bash -c "createdb -h '$ohost' -p $oport -U postgres -O tenant -T template0 tenant && \
            pg_dump -h '$mhost' -p $mport -U postgres -Fc -n tenant_bench shared | \
            pg_restore -h '$ohost' -p $oport -U postgres --exit-on-error -d tenant") "
        psql_at "$o" -c "DROP DATABASE IF EXISTS tenant" -c "DROP ROLE IF EXISTS tenant" >/dev/null
        log "$size MiB, run $run: coffre migrate run"
        w[wall]+="$(wall "$BIN" -c "$f" migrate run --to "$dest" --json) "
        w[freeze]+="$(python3 - "$TEST_TMP/out.log" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["state"] == "ready", d
print(d["freeze_seconds"])
PY
) "
        w[verify]+="$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["verify_seconds"], 1))' "$TEST_TMP/out.log") "
        as_pg "$BIN" -c "$f" migrate rollback --schema tenant_bench --force >/dev/null
    done
    b=$(med "${w[manual]}")
    {
        echo "### Tenant of $tenant_size ($size MiB generated), median of $RUNS"
        echo
        echo "| | seconds | vs manual |"
        echo "|---|---|---|"
        printf '| manual: `createdb` + `pg_dump -Fc -n \\| pg_restore`, no verification | %s | 1.00x |\n' "$b"
        printf '| coffre migrate run: freeze (frozen -> verified) | %s | %s |\n' "$(med "${w[freeze]}")" "$(ratio "$(med "${w[freeze]}")" "$b")"
        printf '| ... of which verification | %s | |\n' "$(med "${w[verify]}")"
        printf '| coffre migrate run: wall time (with plan) | %s | %s |\n' "$(med "${w[wall]}")" "$(ratio "$(med "${w[wall]}")" "$b")"
        echo
    } >>"$RESULT"
    pg_stop "$m"
    pg_stop "$o"
done

out=$OUT_DIR/$(date +%Y-%m-%d)-migrate-$(echo "$SIZES" | tr ' ' '-').md
{
    echo "# coffre migrate: the freeze against the manual steps ($(date -u +%Y-%m-%dT%H:%MZ), $REV)"
    echo
    echo "Command: \`SIZES=\"$SIZES\" RUNS=$RUNS bash bench/migrate.sh\` on $(nproc) cores,"
    echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'), zstd level $LEVEL."
    echo
    cat "$RESULT"
} | tee "$out"
