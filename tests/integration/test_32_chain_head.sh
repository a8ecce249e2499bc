#!/bin/bash
# test_32_chain_head -- the newest backup a host completed, kept in its state directory
# (storage/repohead.c; issue 12: deleting the newest backups of a repository left an
# older, genuine chain that nothing contradicted, and a write-only host's backups
# carried no `previous` link).
#   - verify --all fails (exit 6) when the newest backup this host wrote is gone, or
#     its manifest is not the one it wrote, and passes again once explained;
#   - the next backup links to the backup that really came before, not to the
#     older one the repository still offers, and says so;
#   - a record of another repository is ignored;
#   - a write-only host links each backup to the one it wrote before.
set -eu
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
plan_start "test_32_chain_head: rollback of the newest backups is detected"

pg_start src
psql_at src -c "CREATE DATABASE app"
psql_at src app -c "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g"
REPO="$TEST_TMP/repo"
STATE="$TEST_TMP/state"
mkdir -p "$STATE"
hsm_init
hsm_token coffre 4321
INSTANCE=acme CONNINFO="$(pg_conninfo src app)" DATABASES=app REPO="$REPO" STATE_DIR="$STATE" \
    KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$TEST_TMP/site.conf"
C() { "$COFFRE" --config "$TEST_TMP/site.conf" "$@"; }
C keys init >/dev/null
HEAD="$STATE/newest-backup.json"
previous_of() { C cat "$1/manifest" | python3 -c 'import json,sys; p=json.load(sys.stdin).get("previous"); print(p["id"] if p else "none")'; }
head_id() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$HEAD"; }

ids=()
for i in 1 2 3; do
    run_ok "backup $i" C backup
    ids+=("$(cat "$LAST_OUT")")
    sleep 1
done
A=${ids[0]} B=${ids[1]} X=${ids[2]}
ok "the state directory holds the newest-backup record" test -f "$HEAD"
is "$(head_id)" "$X" "the record names the newest backup"
is "$(stat -c %a "$HEAD")" "600" "the record is private (0600)"
is "$(previous_of "$B")" "$A" "B links to A"
run_ok "verify --all with the whole chain" C verify --all

# ---- the newest backup deleted: the chain A, B is genuine and complete, and yet
mv "$REPO/acme/backup/$X" "$TEST_TMP/X.saved"
run_fails "verify --all after the newest backup was deleted: exit 6" 6 C verify --all
err=$(cat "$LAST_ERR")
like "$err" "backup $X, the newest this host wrote, is not in the repository" \
    "the error names the missing backup"
like "$err" "rolled back" "the hint names a rollback"
like "$err" "$HEAD" "the hint names the record, to remove if the move was on purpose"
like "$(cat "$LAST_OUT")" "backup $B: ok" "the backups that are there still verify"

# the next backup links to X, the backup that really came before
run_ok "a backup while the newest one is missing" C backup
Y=$(cat "$LAST_OUT")
like "$(cat "$LAST_ERR")" "backup $X, the newest one this host completed, is not the newest readable backup" \
    "the backup warns that the repository lost its newest backup"
is "$(previous_of "$Y")" "$X" "the new backup links to the missing one, not to $B"
run_ok "verify --all: the record now names the new backup" C verify --all
like "$(cat "$LAST_ERR")" "follows backup $X, which is gone" "verify still warns about the gap, on every run"

# ---- a replaced manifest (the record's digest no longer matches)
sleep 1
run_ok "another backup" C backup
Z=$(cat "$LAST_OUT")
cp "$HEAD" "$TEST_TMP/head.saved"
python3 - "$HEAD" <<'EOF'
import json, sys
p = sys.argv[1]; h = json.load(open(p)); h["manifest_sha256"] = "0" * 64
json.dump(h, open(p, "w"))
EOF
run_fails "verify --all when the manifest is not the one this host wrote: exit 6" 6 C verify --all
like "$(cat "$LAST_ERR")" "the manifest of backup $Z is not the one this host wrote" \
    "the error says the manifest was replaced"
cp "$TEST_TMP/head.saved" "$HEAD"
run_ok "verify --all with the record restored" C verify --all

# ---- a record about another repository says nothing about this one
python3 - "$HEAD" <<'EOF'
import json, sys
p = sys.argv[1]; h = json.load(open(p)); h["repository"] = "posix /elsewhere acme"; h["id"] = "29991231T000000Z"
json.dump(h, open(p, "w"))
EOF
run_ok "verify --all ignores a record of another repository" C verify --all
cp "$TEST_TMP/head.saved" "$HEAD"

# ---- a record that is not one: a warning, never a failure of the backup
echo "not json" >"$HEAD"
sleep 1
run_ok "a backup with an unreadable record succeeds" C backup
like "$(cat "$LAST_ERR")" "is not a newest-backup record" "and warns about the record"
ok "and writes a new record" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$HEAD"

# ---- a write-only host: its backups link to each other through the record
ESCROW_URI="pkcs11:token=escrow;object=escrow-kek"
hsm_init escrow
hsm_token escrow 2222
INSTANCE=wo CONNINFO="$(pg_conninfo src app)" DATABASES=app REPO="$REPO" KEKS="$ESCROW_URI" \
    PIN_FILE="$HSM_DIR/escrow.pin" STATE_DIR="$TEST_TMP/escrow-state" coffre_conf "$TEST_TMP/escrow.conf"
"$COFFRE" --config "$TEST_TMP/escrow.conf" keys init --type rsa >/dev/null
"$COFFRE" --config "$TEST_TMP/escrow.conf" keys export-public "$ESCROW_URI" "$TEST_TMP/escrow.pub" >/dev/null
hsm_init writer
hsm_token escrow 4444
INSTANCE=wo CONNINFO="$(pg_conninfo src app)" DATABASES=app REPO="$REPO" KEKS="$ESCROW_URI" \
    PIN_FILE="$HSM_DIR/escrow.pin" STATE_DIR="$TEST_TMP/writer-state" coffre_conf "$TEST_TMP/writer.conf"
W() { "$COFFRE" --config "$TEST_TMP/writer.conf" "$@"; }
W keys import-public "$TEST_TMP/escrow.pub" "pkcs11:token=escrow" >/dev/null
W keys init --sign >/dev/null
W keys export-signer "$TEST_TMP/writer.signer" >/dev/null
run_ok "write-only host: first backup" W backup
W1=$(cat "$LAST_OUT")
sleep 1
run_ok "write-only host: second backup" W backup
W2=$(cat "$LAST_OUT")
# the escrow HSM reads them (it trusts the writer's signing key)
printf 'trust = %s\n' "$TEST_TMP/writer.signer" >>"$TEST_TMP/escrow.conf"
E() { SOFTHSM2_CONF="$TEST_TMP/hsm-escrow/softhsm2.conf" "$COFFRE" --config "$TEST_TMP/escrow.conf" "$@"; }
is "$(E cat "$W2/manifest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["previous"]["id"])')" \
    "$W1" "write-only host: the second backup links to the first"
run_ok "the escrow host verifies the chain of the write-only host" E verify "$W2"

done_testing
