#!/bin/bash
# test_31_signatures -- who may write a backup (issue 12, finding 1).
# The attack that worked before signatures: an attacker who holds only the
# escrow RSA *public* key (meant for write-only hosts) imports it on a token
# of their own, sets instance to the victim's name and writes a complete
# backup into the victim's repository; the escrow host listed, verified and
# restored it as genuine.  Now every manifest is signed with the writing
# host's signing key, and a reader accepts only its own key and the keys
# listed in keys.trust:
#   - the forged backup is refused by list, verify, restore and drill, and
#     nothing is created in the target;
#   - the genuine backups of a trusted write-only host still restore;
#   - a manifest edited or copied between backups does not verify;
#   - --allow-unsigned does not make a wrongly signed manifest acceptable;
# Each host is a separate SoftHSM2 store (SOFTHSM2_CONF), as on real machines.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_31_signatures: signed manifests and trusted signers"

pg_start src
psql_at src -c "CREATE DATABASE app"
psql_file src app "$TESTS_DIR/fixture.sql"
fingerprint src app >"$TEST_TMP/app.fp"
REPO="$TEST_TMP/repo"
ESCROW_URI="pkcs11:token=escrow;object=escrow-kek"

conf() { # PATH PIN_FILE
    INSTANCE=acme CONNINFO="$(pg_conninfo src app)" DATABASES=app REPO="$REPO" \
        KEKS="$ESCROW_URI" PIN_FILE="$2" coffre_conf "$1"
}

# The escrow HSM (the reader): the RSA key pair, and its own signing key.
hsm_init escrow
ESCROW_CONF=$SOFTHSM2_CONF
hsm_token escrow 2222
conf "$TEST_TMP/escrow.conf" "$HSM_DIR/escrow.pin"
run_ok "keys init --type rsa on the escrow HSM" "$COFFRE" --config "$TEST_TMP/escrow.conf" keys init --type rsa
like "$(cat "$LAST_OUT")" "created signing key pkcs11:token=escrow;object=coffre-sign" "keys init creates the signing key too"
run_ok "escrow: keys check signs and verifies" "$COFFRE" --config "$TEST_TMP/escrow.conf" keys check
like "$(cat "$LAST_OUT")" "signing key signs and verifies: pkcs11:token=escrow;object=coffre-sign" "keys check tests the signing key"
run_ok "export the escrow public key" "$COFFRE" --config "$TEST_TMP/escrow.conf" keys export-public "$ESCROW_URI" "$TEST_TMP/escrow.pub"

# The site: a write-only host (escrow public key) with its own signing key.
hsm_init site
SITE_CONF=$SOFTHSM2_CONF
hsm_token escrow 3333
conf "$TEST_TMP/site.conf" "$HSM_DIR/escrow.pin"
run_ok "site: import the escrow public key" "$COFFRE" --config "$TEST_TMP/site.conf" keys import-public "$TEST_TMP/escrow.pub" "pkcs11:token=escrow"
run_ok "site: keys init --sign" "$COFFRE" --config "$TEST_TMP/site.conf" keys init --sign
run_ok "site: backup" "$COFFRE" --config "$TEST_TMP/site.conf" backup
SID1=$(cat "$LAST_OUT")
sleep 1
run_ok "site: a second backup" "$COFFRE" --config "$TEST_TMP/site.conf" backup
SID2=$(cat "$LAST_OUT")
run_ok "site: export its signing key" "$COFFRE" --config "$TEST_TMP/site.conf" keys export-signer "$TEST_TMP/site.signer"
like "$(cat "$TEST_TMP/site.signer")" '"curve": "P-256"' "the signer file names its curve"
echo "trust = $TEST_TMP/site.signer" >>"$TEST_TMP/escrow.conf"

# The attacker: the escrow public key on a token of their own, the victim's instance name.
hsm_init attacker
ATTACKER_CONF=$SOFTHSM2_CONF
hsm_token escrow 6666
conf "$TEST_TMP/attacker.conf" "$HSM_DIR/escrow.pin"
"$COFFRE" --config "$TEST_TMP/attacker.conf" keys import-public "$TEST_TMP/escrow.pub" "pkcs11:token=escrow" >/dev/null
"$COFFRE" --config "$TEST_TMP/attacker.conf" keys init --sign >/dev/null
psql_at src app -c "CREATE TABLE app.planted AS SELECT 1 AS evil"
sleep 1
run_ok "attacker: a complete backup into the victim's repository" "$COFFRE" --config "$TEST_TMP/attacker.conf" backup
FID=$(cat "$LAST_OUT")
psql_at src app -c "DROP TABLE app.planted"

export SOFTHSM2_CONF=$ESCROW_CONF
E() { "$COFFRE" --config "$TEST_TMP/escrow.conf" "$@"; }
run_ok "escrow: list" E list
like "$(grep "$SID2" "$LAST_OUT")" "complete" "the site's backup is complete"
like "$(grep "$FID" "$LAST_OUT")" "unreadable" "the forged backup is not listed as complete"
like "$(grep "$FID" "$LAST_OUT")" "which this host does not trust" "list says why"
run_fails "escrow: verify refuses the forged backup" 4 E verify "$FID"
like "$(cat "$LAST_ERR")" "coffre: error: signed by key " "verify: the error names the signer"
like "$(cat "$LAST_ERR")" "(label \"coffre-sign\"), which this host does not trust" "verify: ... and says it is not trusted"
run_fails "escrow: restore refuses the forged backup" 4 E restore "$FID" --target "$(pg_conninfo src forged)" --create
is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname LIKE '%forged%'")" "0" "restore of the forged backup created nothing"
run_fails "escrow: --allow-unsigned does not accept a wrong signature" 4 E --allow-unsigned verify "$FID"
like "$(cat "$LAST_ERR")" "which this host does not trust" "--allow-unsigned: still untrusted"
like "$(cat "$LAST_ERR")" "warning: unsigned manifests are accepted (--allow-unsigned)" "--allow-unsigned warns"
run_fails "escrow: verify --all fails because of the forged backup" any E verify --all
like "$(cat "$LAST_OUT")" "backup $SID1: ok" "verify --all still checks the genuine backups"

run_ok "escrow: the genuine backup restores" E restore "$SID2" --target "$(pg_conninfo src genuine)" --create
is "$(fingerprint src genuine)" "$(cat "$TEST_TMP/app.fp")" "genuine backup restored: identical"
run_ok "escrow: cat of a manifest prints the signed JSON" E cat "$SID2/manifest"
like "$(cat "$LAST_OUT")" "\"id\": \"$SID2\"" "cat shows the manifest itself"
unlike "$(cat "$LAST_OUT")" "coffre_signed" "... without the envelope"

# A signed manifest copied over another backup's does not pass.
cp "$REPO/acme/backup/$SID1/manifest" "$TEST_TMP/manifest.save"
cp "$REPO/acme/backup/$SID2/manifest" "$REPO/acme/backup/$SID1/manifest"
run_fails "escrow: a manifest copied from another backup is refused" 6 E verify "$SID1"
like "$(cat "$LAST_ERR")" "$SID1" "copied manifest: the error names the backup"
cp "$TEST_TMP/manifest.save" "$REPO/acme/backup/$SID1/manifest"
run_ok "escrow: the original manifest verifies again" E verify "$SID1"

# WAL (finding 2): a timeline history file planted by the attacker would divert
# recovery_target_timeline = latest; wal-get refuses it with a status above 125,
# so PostgreSQL stops instead of following it.  The site's own is served.
mkdir -p "$TEST_TMP/wal" "$TEST_TMP/got"
printf '1\t0/3000000\tno recovery target specified\n' >"$TEST_TMP/wal/00000002.history"
printf '1\t0/5000000\tno recovery target specified\n' >"$TEST_TMP/wal/00000003.history"
export SOFTHSM2_CONF=$SITE_CONF
run_ok "site: wal-push of a history file" "$COFFRE" --config "$TEST_TMP/site.conf" wal-push "$TEST_TMP/wal/00000003.history"
export SOFTHSM2_CONF=$ATTACKER_CONF
run_ok "attacker: wal-push of a forged history file" "$COFFRE" --config "$TEST_TMP/attacker.conf" wal-push "$TEST_TMP/wal/00000002.history"
export SOFTHSM2_CONF=$ESCROW_CONF
run_ok "escrow: wal-get serves the site's history file" E wal-get 00000003.history "$TEST_TMP/got/3"
is "$(cat "$TEST_TMP/got/3")" "$(cat "$TEST_TMP/wal/00000003.history")" "the site's history file, byte for byte"
_run E wal-get 00000002.history "$TEST_TMP/got/2"
ok "escrow: wal-get refuses the forged history file with a status above 125 ($LAST_RC)" test "$LAST_RC" -gt 125
like "$(cat "$LAST_ERR")" "which this host does not trust" "wal-get: the error says why"
ok "nothing was written for the forged history file" test ! -e "$TEST_TMP/got/2"

# Without the trust line the site's own backups are refused too: trust is explicit.
sed -i '/^trust = /d' "$TEST_TMP/escrow.conf"
run_fails "escrow without keys.trust refuses the site's backup" 4 E verify "$SID2"
like "$(cat "$LAST_ERR")" "keys export-signer" "the hint says how to trust a host"

done_testing
