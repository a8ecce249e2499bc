#!/bin/bash
# test_22_hsm_access -- SoftHSM2 that cannot read its configuration or its token
# directory answers C_Initialize with CKR_GENERAL_ERROR; a new operator got nothing
# else (issue 14).  coffre's hint names the file or directory, the OS user, its mode
# and owner, and the right that is missing; once the right is given, the same command
# works.  Root only: it runs coffre as postgres against root's files.
set -eu
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
plan_start "test_22_hsm_access: C_Initialize failures name the path, the user and the right"

[ "$(id -u)" = 0 ] || skip_all "runs coffre as another user: root only"
hsm_init
hsm_token coffre 4321
W="$TEST_TMP/w"
mkdir -p "$W"
chmod 755 "$W"
chown postgres "$W"
cp "$HSM_DIR/coffre.pin" "$W/coffre.pin"
chown postgres "$W/coffre.pin"
INSTANCE=acc CONNINFO="host=/nonexistent dbname=postgres" REPO="$W/repo" \
    KEKS="pkcs11:token=coffre;object=kek" PIN_FILE="$W/coffre.pin" STATE_DIR="$W/state" \
    coffre_conf "$W/coffre.conf"
chmod 644 "$W/coffre.conf"
run_ok "keys init (as root)" "$COFFRE" --config "$W/coffre.conf" keys init
K() { runuser -u postgres -- env SOFTHSM2_CONF="$1" "$COFFRE" --config "$W/coffre.conf" keys list; }

# ---- the configuration sits in a directory postgres may not enter (hsm_init: 0700 root)
run_fails "unreadable softhsm2.conf: exit 4" 4 K "$SOFTHSM2_CONF"
err=$(cat "$LAST_ERR")
like "$err" "C_Initialize returned CKR_GENERAL_ERROR" "unreadable softhsm2.conf: the module's answer"
like "$err" "may not enter \"$HSM_DIR\" (mode 0700, owner root:root)" \
    "unreadable softhsm2.conf: the hint names the directory, its mode and owner"
like "$err" "User postgres (uid" "unreadable softhsm2.conf: and the user"

# ---- the configuration is readable, the token directory is not
cp "$SOFTHSM2_CONF" "$W/softhsm2.conf"
chmod 644 "$W/softhsm2.conf"
run_fails "unreadable token directory: exit 4" 4 K "$W/softhsm2.conf"
like "$(cat "$LAST_ERR")" "may not enter \"$HSM_DIR\" (mode 0700, owner root:root)" \
    "unreadable token directory: the hint names the directory on the way"

# ---- given to postgres, the same command works
chmod 755 "$HSM_DIR"
chown -R postgres "$HSM_DIR/tokens"
run_ok "token directory owned by postgres: keys list works" K "$W/softhsm2.conf"

done_testing
