#!/bin/bash
# test_21_pg_auth -- what a refused connection tells the operator (issue 14: Debian's
# peer authentication refused root and the hint said nothing of pg_hba.conf; a
# ~/.pgpass line with host "localhost" did not match host=/run/postgresql).  Each
# refusal of pg_hba.conf, peer, password and a missing role gives exit 7 and a hint
# naming what to change; the ~/.pgpass line the hint shows, written as shown, works.
set -eu
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
plan_start "test_21_pg_auth: hints for pg_hba.conf, peer, .pgpass and missing roles"

pg_init auth
cat >"$TEST_TMP/auth/data/pg_hba.conf" <<'EOF'
local all postgres trust
local all peeruser peer
local all pwuser scram-sha-256
local all ghost trust
EOF
pg_start auth
psql_at auth postgres -c "CREATE ROLE peeruser LOGIN" \
    -c "SET password_encryption = 'scram-sha-256'" \
    -c "CREATE ROLE pwuser LOGIN SUPERUSER PASSWORD 'pw-for-test-21'" \
    -c "CREATE ROLE nohba LOGIN" >/dev/null
hsm_init
hsm_token coffre 4321
osuser=$(id -un)
conf_for() { # ROLE: a configuration connecting as ROLE through the socket
    INSTANCE=auth CONNINFO="host=$AUTH_HOST port=$AUTH_PORT dbname=postgres user=$1" \
        REPO="$TEST_TMP/repo" KEKS="pkcs11:token=coffre;object=kek" \
        PIN_FILE="$HSM_DIR/coffre.pin" coffre_conf "$TEST_TMP/$1.conf"
    echo "$TEST_TMP/$1.conf"
}
"$COFFRE" --config "$(conf_for postgres)" keys init >/dev/null
export PGPASSFILE="$TEST_TMP/no-such-pgpass"

# ---- peer
run_fails "peer: backup as another OS user exits 7" 7 "$COFFRE" --config "$(conf_for peeruser)" backup
err=$(cat "$LAST_ERR")
like "$err" "Peer authentication failed" "peer: libpq's reason is shown"
like "$err" "the OS user ($osuser) must be the role (peeruser)" "peer: the hint names both users"
like "$err" "runuser -u peeruser -- coffre" "peer: the hint shows how to run as the role's OS user"
like "$err" "pg_ident.conf" "peer: the hint names the other ways"

# ---- password, and the .pgpass line the hint gives
run_fails "password: backup without a password exits 7" 7 "$COFFRE" --config "$(conf_for pwuser)" backup
err=$(cat "$LAST_ERR")
like "$err" "~/.pgpass of the OS user it runs as ($osuser" "password: the hint names ~/.pgpass and the OS user"
line="$AUTH_HOST:$AUTH_PORT:*:pwuser:PASSWORD"
like "$err" "$line" "password: the hint shows the exact line, the socket directory as host"
(umask 077 && printf '%s\n' "${line%PASSWORD}pw-for-test-21" >"$TEST_TMP/pgpass")
PGPASSFILE="$TEST_TMP/pgpass" run_ok "password: the hint's line, as shown, lets the backup connect" \
    "$COFFRE" --config "$(conf_for pwuser)" backup
(umask 077 && printf 'localhost:%s:*:pwuser:pw-for-test-21\n' "$AUTH_PORT" >"$TEST_TMP/pgpass.localhost")
PGPASSFILE="$TEST_TMP/pgpass.localhost" run_fails \
    "password: a 'localhost' line does not match a socket directory (why the hint shows the host)" \
    7 "$COFFRE" --config "$(conf_for pwuser)" backup

# ---- no pg_hba.conf line
run_fails "pg_hba: a role without a line exits 7" 7 "$COFFRE" --config "$(conf_for nohba)" backup
err=$(cat "$LAST_ERR")
like "$err" "no pg_hba.conf entry" "pg_hba: libpq's reason is shown"
like "$err" "Add a line for role nohba to pg_hba.conf" "pg_hba: the hint says which line to add"
like "$err" "pg_reload_conf()" "pg_hba: and to reload"

# ---- a role that does not exist
run_fails "role: a missing role exits 7" 7 "$COFFRE" --config "$(conf_for ghost)" backup
like "$(cat "$LAST_ERR")" "Create the role (CREATE ROLE ghost LOGIN)" "role: the hint says to create it"

# ---- the generic hint stays for a server that is not there
conf=$(conf_for postgres)
sed -i "s/port=$AUTH_PORT/port=1/" "$conf"
run_fails "no server: exits 7" 7 "$COFFRE" --config "$conf" backup
like "$(cat "$LAST_ERR")" "that the server is running" "no server: the generic hint"

done_testing
