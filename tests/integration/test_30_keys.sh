#!/bin/bash
# test_30_keys -- the key model: RSA write-only hosts and escrow.
#   - a host whose token holds only the public half of an RSA KEK (and its
#     own signing key) backs up, and cannot restore or even read its own
#     manifests;
#   - a reader accepts that host's backups only once keys.trust lists the
#     host's exported signing key;
#   - the HSM holding the private key restores;
#   - an object wrapped for the site AES key and the escrow RSA key can be
#     restored by the escrow HSM alone.
# Each host is a separate SoftHSM2 store (SOFTHSM2_CONF), as on real machines.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_30_keys: write-only hosts and escrow"

pg_start src
psql_at src -c "CREATE DATABASE app"
psql_file src app "$TESTS_DIR/fixture.sql"
fingerprint src app >"$TEST_TMP/app.fp"
REPO="$TEST_TMP/repo"
ESCROW_URI="pkcs11:token=escrow;object=escrow-kek"
SITE_URI="pkcs11:token=coffre;object=coffre-kek"

conf() { # PATH KEKS [PIN_FILE]
    INSTANCE=acme CONNINFO="$(pg_conninfo src app)" DATABASES=app REPO="$REPO" KEKS="$2" \
        PIN_FILE="${3:-none}" coffre_conf "$1"
    [ -n "${3:-}" ] || sed -i '/^pin_file/d' "$1"
}

# The escrow HSM: an RSA key pair, private half sensitive and non-extractable.
hsm_init escrow
ESCROW_CONF=$SOFTHSM2_CONF
hsm_token escrow 2222
conf "$TEST_TMP/escrow.conf" "$ESCROW_URI" "$HSM_DIR/escrow.pin"
run_ok "keys init --type rsa on the escrow HSM" "$COFFRE" --config "$TEST_TMP/escrow.conf" keys init --type rsa
run_ok "export the escrow public key" "$COFFRE" --config "$TEST_TMP/escrow.conf" keys export-public "$ESCROW_URI" "$TEST_TMP/escrow.pub"
unlike "$(cat "$TEST_TMP/escrow.pub")" "PRIVATE" "the export holds no private material"
like "$(cat "$TEST_TMP/escrow.pub")" '"modulus"' "the export holds the modulus"

# A write-only host: its token holds only the escrow public key.
hsm_init writer
WRITER_CONF=$SOFTHSM2_CONF
hsm_token escrow 4444
conf "$TEST_TMP/import.conf" "$ESCROW_URI" "$HSM_DIR/escrow.pin"
run_ok "import the public key on the write-only host" "$COFFRE" --config "$TEST_TMP/import.conf" keys import-public "$TEST_TMP/escrow.pub" "pkcs11:token=escrow"
conf "$TEST_TMP/writer.conf" "$ESCROW_URI"
run_ok "keys list on the write-only host" "$COFFRE" --config "$TEST_TMP/writer.conf" keys list
like "$(cat "$LAST_OUT")" "yes       yes    no       $ESCROW_URI" "the write-only host can wrap, not unwrap"
run_fails "without a signing key the write-only host cannot back up" 4 "$COFFRE" --config "$TEST_TMP/writer.conf" backup
like "$(cat "$LAST_ERR")" 'no signing key matches "pkcs11:token=escrow;object=coffre-sign"' "no signing key: exact message"
like "$(cat "$LAST_ERR")" 'coffre keys init --sign' "no signing key: the hint names the command"
is "$(find "$REPO" -name manifest | wc -l)" "0" "no signing key: no manifest written"
run_ok "keys init --sign on the write-only host" "$COFFRE" --config "$TEST_TMP/import.conf" keys init --sign
like "$(cat "$LAST_OUT")" "created signing key pkcs11:token=escrow;object=coffre-sign" "keys init --sign says what it created"
run_ok "the write-only host backs up (its PIN opens only its signing key)" "$COFFRE" --config "$TEST_TMP/import.conf" backup
WID=$(cat "$LAST_OUT")
run_ok "export the write-only host's signing key" "$COFFRE" --config "$TEST_TMP/import.conf" keys export-signer "$TEST_TMP/writer.signer"
unlike "$(cat "$TEST_TMP/writer.signer")" "PRIVATE" "the signer export holds no private material"

run_fails "the write-only host cannot restore" 4 "$COFFRE" --config "$TEST_TMP/writer.conf" restore "$WID" --target "$(pg_conninfo src w1)" --create
like "$(cat "$LAST_ERR")" "coffre: error: no key can decrypt this object" "write-only restore: exact message"
is "$(psql_at src -c "SELECT count(*) FROM pg_database WHERE datname = 'w1' OR datname LIKE '%coffre%'")" "0" "write-only restore: nothing created"
run_fails "the write-only host cannot verify (it cannot read)" 4 "$COFFRE" --config "$TEST_TMP/writer.conf" verify "$WID"
run_fails "nor cat an object" 4 "$COFFRE" --config "$TEST_TMP/writer.conf" cat "$WID/db/app.dump"
run_ok "list still works on the write-only host" "$COFFRE" --config "$TEST_TMP/writer.conf" list
like "$(grep "$WID" "$LAST_OUT")" "unreadable" "the write-only host lists its backups as unreadable"
# prune keeps what it cannot read; its keys work, so the run passes (only a failing HSM fails it)
run_ok "prune on the write-only host passes" "$COFFRE" --config "$TEST_TMP/import.conf" prune
like "$(grep "$WID" "$LAST_OUT")" "kept: manifest unreadable here" "and keeps the backups it cannot read"

# The escrow HSM restores what the write-only host wrote, once it trusts its signer.
export SOFTHSM2_CONF=$ESCROW_CONF
run_fails "the escrow HSM refuses a backup from a signer it does not trust" 4 "$COFFRE" --config "$TEST_TMP/escrow.conf" verify "$WID"
like "$(cat "$LAST_ERR")" "which this host does not trust" "untrusted signer: exact message"
like "$(cat "$LAST_ERR")" "keys export-signer" "untrusted signer: the hint says how to trust it"
echo "trust = $TEST_TMP/writer.signer" >>"$TEST_TMP/escrow.conf"
run_ok "the escrow HSM verifies the write-only host's backup" "$COFFRE" --config "$TEST_TMP/escrow.conf" verify "$WID"
run_ok "the escrow HSM restores it" "$COFFRE" --config "$TEST_TMP/escrow.conf" restore "$WID" --target "$(pg_conninfo src from_writer)" --create
is "$(fingerprint src from_writer)" "$(cat "$TEST_TMP/app.fp")" "restored by the escrow HSM: identical"

# The site host: AES KEK + the escrow public key (token labelled like the escrow HSM's).
hsm_init site
SITE_CONF=$SOFTHSM2_CONF
hsm_token coffre 1111
hsm_token escrow 1111
conf "$TEST_TMP/site.conf" "$SITE_URI" "$HSM_DIR/coffre.pin"
run_ok "keys init on the site HSM" "$COFFRE" --config "$TEST_TMP/site.conf" keys init
run_ok "import the escrow public key on the site HSM" "$COFFRE" --config "$TEST_TMP/site.conf" keys import-public "$TEST_TMP/escrow.pub" "pkcs11:token=escrow"
conf "$TEST_TMP/site2.conf" "$SITE_URI,$ESCROW_URI" "$HSM_DIR/coffre.pin"
run_ok "backup wrapped for the site key and the escrow key" "$COFFRE" --config "$TEST_TMP/site2.conf" backup
SID=$(cat "$LAST_OUT")
run_ok "export the site's signing key" "$COFFRE" --config "$TEST_TMP/site2.conf" keys export-signer "$TEST_TMP/site.signer"
sed -i "s|^trust = .*|trust = $TEST_TMP/writer.signer, $TEST_TMP/site.signer|" "$TEST_TMP/escrow.conf"
run_ok "the site restores with its AES key" "$COFFRE" --config "$TEST_TMP/site2.conf" restore "$SID" --target "$(pg_conninfo src from_site)" --create
is "$(fingerprint src from_site)" "$(cat "$TEST_TMP/app.fp")" "restored by the site: identical"

# The site HSM is lost: the escrow key alone restores.
export SOFTHSM2_CONF=$ESCROW_CONF
run_ok "the escrow key alone restores the two-recipient backup" "$COFFRE" --config "$TEST_TMP/escrow.conf" restore "$SID" --target "$(pg_conninfo src from_escrow)" --create
is "$(fingerprint src from_escrow)" "$(cat "$TEST_TMP/app.fp")" "restored by the escrow HSM alone: identical"

# A third HSM with neither key restores nothing, and says which keys it tried.
hsm_init stranger
hsm_token coffre 5555
conf "$TEST_TMP/stranger.conf" "$SITE_URI" "$HSM_DIR/coffre.pin"
"$COFFRE" --config "$TEST_TMP/stranger.conf" keys init >/dev/null
run_fails "a foreign HSM cannot decrypt" 4 "$COFFRE" --config "$TEST_TMP/stranger.conf" verify "$SID"
like "$(cat "$LAST_ERR")" "coffre: error: no key can decrypt this object" "foreign HSM: exact message"
like "$(cat "$LAST_ERR")" "Recipient \"$ESCROW_URI\": not configured here (keys.kek, keys.read)." "foreign HSM: the escrow recipient is not configured there, so no login is tried"
like "$(cat "$LAST_ERR")" "Recipient \"$SITE_URI\": C_Decrypt returned" "foreign HSM: the same-named AES key does not open it"

done_testing
