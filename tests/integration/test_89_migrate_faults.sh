#!/bin/bash
# test_89_migrate_faults -- the fault matrix (docs/reliability.md), migrate:
# `coffre migrate run` (managed -> onprem) killed with SIGKILL, and stopped with
# SIGTERM, at each of its five steps (injection point migrate-step@N: the step
# is journalled as begun, nothing of it done; K2 is mid-object, pump-mid@1 of
# the final backup).  After each kill the run resumes from its journal to the
# cut-over point and the destination holds the tenant, identical; then rollback
# leaves the source writable and unchanged and the destination without
# leftovers.  The destination server killed -9 in the middle of the restore:
# the run fails, resumes once the server is back, and rolls back.  After each
# SIGTERM (exit 8, noticed at the next step) rollback works straight away.  Then the repository (a tmpfs) read-only (REFUSE) and
# full (FULL) for the final backup: the run fails naming the cause, and
# rollback gives the same guarantees.  Another tenant of the shared database
# never changes.  Needs root (tmpfs mounts).
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"
plan_start "test_89_migrate_faults: migrate run killed and stopped at every step"

needs_injection_points
if [ "$(id -u)" != 0 ]; then
    skip_all "needs root to mount a tmpfs repository"
fi
COFFRE=$(readlink -f "$COFFRE")
chown postgres "$TEST_TMP"
MNT="$TEST_TMP/mnt"
mkdir -p "$MNT"
mount -t tmpfs -o size=128m tmpfs "$MNT" || skip_all "cannot mount a tmpfs here"
on_exit "umount '$MNT'"
hsm_init
hsm_token coffre 4321
STATE="$TEST_TMP/state"
REPO="$MNT/repo"
mkdir -p "$REPO" "$STATE"
pg_owns "$HSM_DIR" "$MNT" "$REPO" "$STATE"
chmod 755 "$HSM_DIR"

pg_start shared
pg_start onprem
psql_at shared -c "CREATE DATABASE shared"
psql_at shared -c "CREATE ROLE platform LOGIN CREATEROLE"
psql_at shared shared -c "GRANT CREATE ON DATABASE shared TO platform"
for t in acme gamma; do
    psql_at shared -c "CREATE ROLE $t LOGIN NOSUPERUSER NOCREATEDB NOREPLICATION"
    psql_at shared -c "GRANT $t TO platform"
    psql_at shared shared -c "CREATE SCHEMA tenant_$t AUTHORIZATION $t"
    psql_at shared -c "ALTER ROLE $t SET search_path = tenant_$t, public"
done
tenant_sql() {
    local who=$1
    shift
    "$PG_BIN/psql" -X -At -q -v ON_ERROR_STOP=1 -h "$SHARED_HOST" -p "$SHARED_PORT" -U "$who" \
        -d shared "$@"
}
for t in acme gamma; do
    tenant_sql "$t" <<'SQL'
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer int REFERENCES customers,
    amount numeric(10,2), tags jsonb);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 500;
INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 200) g;
INSERT INTO orders (customer, amount, tags)
    SELECT 1 + g % 200, (g * 7.31) % 1000, jsonb_build_object('n', g)
    FROM generate_series(1, 20000) g;
SQL
done
ACME_FP=$(fingerprint shared shared tenant_acme)
GAMMA_FP=$(fingerprint shared shared tenant_gamma)

CONF="$TEST_TMP/managed.conf"
INSTANCE=shared FORMULA=managed SCHEMA=tenant_acme REPO="$REPO" STATE_DIR="$STATE" \
CONNINFO="host=$SHARED_HOST port=$SHARED_PORT user=platform dbname=shared" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" coffre_conf "$CONF"
pg_owns "$CONF"
C() { as_pg "$COFFRE" --config "$CONF" "$@"; }
TO_ONPREM() { echo "host=$ONPREM_HOST port=$ONPREM_PORT user=postgres dbname=$1"; }
run_ok "keys init" C keys init
run_ok "a first backup (the plan's throughput)" C backup

# open_id: the id of the migration that is neither ready nor over
open_id() {
    C migrate status --json | python3 -c '
import json, sys
open_ = [m["id"] for m in json.load(sys.stdin)
         if m["state"] not in ("ready", "finalized", "rolled-back")]
print(open_[-1] if open_ else "")'
}
# source_ok LABEL: the tenant logs in and writes at the source, which is unchanged
source_ok() {
    run_ok "$1: the tenant writes at the source again" \
        tenant_sql acme -c "BEGIN; INSERT INTO customers (id, name) VALUES (-1, 'probe'); ROLLBACK"
    is "$(fingerprint shared shared tenant_acme)" "$ACME_FP" "$1: the source is unchanged"
    is "$(fingerprint shared shared tenant_gamma)" "$GAMMA_FP" "$1: another tenant is untouched"
}
# dest_clean LABEL DB: no database and no tenant role left at the destination
dest_clean() {
    is "$(psql_at onprem -c "SELECT count(*) FROM pg_database WHERE datname LIKE '$2%'")" "0" \
        "$1: no database left at the destination"
    is "$(psql_at onprem -c "SELECT count(*) FROM pg_roles WHERE rolname = 'acme'")" "0" \
        "$1: no role left at the destination"
}

# the steps: 1 frozen, 2 backed-up, 3 restored, 4 verified, 5 ready
for cell in "K1 migrate-step@1" "K2 pump-mid@1" "K3 migrate-step@3" "K4 migrate-step@4" \
    "K5 migrate-step@5"; do
    set -- $cell
    col=$1 point=$2 db=acme_$(echo "$1" | tr 'K' 'k')
    label="migrate $col kill -9"
    sleep 1 # a migration's id is the tenant and the second it started
    inject "$label" "$point=kill" 137 -- C migrate run --to "$(TO_ONPREM "$db")"
    id=$(open_id)
    isnt "$id" "" "$label: the journal names the open migration"
    run_ok "$label: resume" C migrate run --id "$id"
    like "$(cat "$LAST_OUT")" ": ready" "$label: the resumed run reaches the cut-over point"
    if [ "$col" != K5 ]; then
        like "$(cat "$LAST_OUT")" "all equal" "$label: and verifies both sides equal"
    else # killed after the verification: the resumed run only cuts over
        like "$(cat "$LAST_OUT")" "verified " "$label: after the verification the killed run did"
    fi
    is "$(fingerprint onprem "$db" tenant_acme)" "$ACME_FP" "$label: the destination holds the tenant, identical"
    run_ok "$label: rollback (--force: at the cut-over point)" C migrate rollback --id "$id" --force
    like "$(cat "$LAST_OUT")" ": rolled-back" "$label: the migration is rolled back"
    source_ok "$label"
    dest_clean "$label" "$db"
done

for n in 1 2 3 4 5; do
    db=acme_t$n
    label="migrate step $n SIGTERM"
    sleep 1
    if [ "$n" -lt 5 ]; then
        inject "$label" "migrate-step@$n=term" 8 -- C migrate run --to "$(TO_ONPREM "$db")"
        like "$(cat "$TEST_TMP/err")" "interrupted by signal SIGTERM" "$label: the error names the signal"
    else # the cut-over step has nothing left to stop: the run ends ready
        inject "$label" "migrate-step@$n=term" 0 -- C migrate run --to "$(TO_ONPREM "$db")"
        like "$(cat "$TEST_TMP/out")" ": ready" "$label: the run ends at the cut-over point"
    fi
    id=$(C migrate status --json | python3 -c '
import json, sys
print([m["id"] for m in json.load(sys.stdin)][-1])')
    run_ok "$label: rollback" C migrate rollback --id "$id" --force
    like "$(cat "$LAST_OUT")" ": rolled-back" "$label: the migration is rolled back"
    source_ok "$label"
    dest_clean "$label" "$db"
done

# ---- REFUSE and FULL: the repository cannot take the final backup ----------------
for cell in "REFUSE:mount -o remount,ro $MNT:mount -o remount,rw $MNT:Read-only file system" \
    "FULL:fill_repo:rm -f $MNT/filler:No space left on device"; do
    IFS=: read -r col make undo cause <<<"$cell"
    label="migrate $col"
    db=acme_$(echo "$col" | tr 'A-Z' 'a-z')
    fill_repo() { dd if=/dev/zero of="$MNT/filler" bs=1M status=none 2>/dev/null || true; }
    sleep 1
    $make
    _run C migrate run --to "$(TO_ONPREM "$db")"
    $undo
    is "$LAST_RC" "5" "$label: the run fails (exit 5)"
    like "$(cat "$LAST_ERR")" "$cause" "$label: the error names the cause"
    id=$(open_id)
    isnt "$id" "" "$label: the journal names the open migration"
    like "$(C migrate status)" "backed-up" "$label: status shows the step that failed"
    run_ok "$label: rollback" C migrate rollback --id "$id"
    like "$(cat "$LAST_OUT")" ": rolled-back" "$label: the migration is rolled back"
    source_ok "$label"
    dest_clean "$label" "$db"
done


# ---- PG: the destination server dies in the middle of the restore ----------------
# stopped as the restore's first buffer reaches pg_restore (pumped before it:
# the final backup's objects and its manifest, then the manifest read back by
# the restore, and the dump checked whole before pg_restore starts; the first
# backup has as many objects), once pg_restore is connected; then the
# destination's postmaster and its backends are killed -9; the run fails naming
# pg_restore, the restart of the destination lets it resume, and rollback works
label="migrate PG"
db=acme_pg
objects=$(find "$REPO/shared/backup/$(C list | awk 'NR == 2 { print $1 }')" -type f ! -name manifest \
    ! -name 'verify-*' | wc -l)
[ "$objects" -ge 1 ] || bail_out "no object found in the newest backup under $REPO/shared/backup"
sleep 1
stop_at "pump-mid@$((objects + 4))" setpriv --reuid=postgres --regid=postgres --init-groups \
    "$COFFRE" --config "$CONF" migrate run --to "$(TO_ONPREM "$db")"
like "$(C migrate status)" "backed-up" "$label: stopped after the final backup, in the restore"
is "$(psql_at onprem -c "SELECT count(*) FROM pg_database WHERE datname = '$db'")" "1" \
    "$label: the restore has begun at the destination"
for _ in $(seq 1 100); do
    [ "$(psql_at onprem -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db'
        AND application_name = 'pg_restore'")" = 1 ] && break
    sleep 0.1
done
is "$(psql_at onprem -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db'
    AND application_name = 'pg_restore'")" "1" "$label: pg_restore is connected to the destination"
pm=$(head -n 1 "$ONPREM_PGDATA/postmaster.pid")
kill -9 "$pm" $(pgrep -P "$pm") 2>/dev/null || true
for _ in $(seq 1 100); do # dead, or a zombie nobody reaps here
    state=$(awk '{ print $3 }' "/proc/$pm/stat" 2>/dev/null || true)
    [ -z "$state" ] || [ "$state" = Z ] && break
    sleep 0.1
done
# a zombie's PID still answers kill(pid, 0), which the next postmaster would take
# for a live one: the lock files go, as after a reboot
rm -f "$ONPREM_PGDATA/postmaster.pid" "$ONPREM_HOST/.s.PGSQL.$ONPREM_PORT.lock"
resume
is "$rc" "7" "$label: the run fails (exit 7)"
like "$(cat "$TEST_TMP/err")" "pg_restore" "$label: the error names pg_restore"
like "$(cat "$TEST_TMP/err")" "restoring backup" "$label: and the step"
like "$(cat "$TEST_TMP/err")" "migrate rollback --id" "$label: and says how to resume or go back"
id=$(open_id)
isnt "$id" "" "$label: the journal names the open migration"
like "$(C migrate status)" "backed-up" "$label: status shows the step that failed"
is "$(fingerprint shared shared tenant_acme)" "$ACME_FP" "$label: the source is unchanged meanwhile"
pg_start onprem
run_ok "$label: resume once the destination is back" C migrate run --id "$id"
like "$(cat "$LAST_OUT")" ": ready" "$label: the resumed run reaches the cut-over point"
like "$(cat "$LAST_OUT")" "all equal" "$label: and verifies both sides equal"
is "$(fingerprint onprem "$db" tenant_acme)" "$ACME_FP" "$label: the destination holds the tenant, identical"
run_ok "$label: rollback" C migrate rollback --id "$id" --force
like "$(cat "$LAST_OUT")" ": rolled-back" "$label: the migration is rolled back"
source_ok "$label"
dest_clean "$label" "$db"

# ---- HSM: the token goes away during the final backup ----------------------------
# the same configuration through tests/p11shim (forwards to SoftHSM2, answers
# CKR_DEVICE_REMOVED while its trigger file exists); coffre is exec'd as
# postgres so that the stopped process is coffre itself
SHIM="$(dirname "$COFFRE")/tests/p11shim.so"
[ -f "$SHIM" ] || bail_out "$SHIM is missing (make unit builds it)"
export COFFRE_P11SHIM_MODULE="$SOFTHSM_MODULE" COFFRE_P11SHIM_FAIL="$TEST_TMP/hsm-removed"
sed "s|^module = .*|module = $SHIM|" "$CONF" >"$TEST_TMP/shim.conf"
pg_owns "$TEST_TMP/shim.conf"
label="migrate HSM"
db=acme_hsm
sleep 1
stop_at migrate-step@2 setpriv --reuid=postgres --regid=postgres --init-groups \
    "$COFFRE" --config "$TEST_TMP/shim.conf" migrate run --to "$(TO_ONPREM "$db")"
pass "$label: the run is stopped as its final backup begins"
touch "$TEST_TMP/hsm-removed"
resume
is "$rc" "4" "$label: the run fails (exit 4)"
like "$(cat "$TEST_TMP/err")" "CKR_DEVICE_REMOVED" "$label: the error names the HSM's answer"
id=$(open_id)
isnt "$id" "" "$label: the journal names the open migration"
like "$(C migrate status)" "backed-up" "$label: status shows the step that failed"
run_ok "$label: rollback, the HSM still away" as_pg "$COFFRE" --config "$TEST_TMP/shim.conf" migrate rollback --id "$id"
like "$(cat "$LAST_OUT")" ": rolled-back" "$label: the migration is rolled back"
rm -f "$TEST_TMP/hsm-removed"
source_ok "$label"
dest_clean "$label" "$db"
sleep 1
run_ok "$label: with the HSM back, the next run reaches the cut-over point" C migrate run --to "$(TO_ONPREM "$db")"
is "$(fingerprint onprem "$db" tenant_acme)" "$ACME_FP" "$label: the destination holds the tenant, identical"
run_ok "$label: and rolls back" C migrate rollback --id "$(C migrate status --json | python3 -c '
import json, sys
print([m["id"] for m in json.load(sys.stdin)][-1])')" --force
source_ok "$label (after the second run)"
dest_clean "$label (after the second run)" "$db"

done_testing
