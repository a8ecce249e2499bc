#!/bin/bash
# test_90_alerts -- metrics, status and alerts against real receivers on
# loopback: an HTTP server (webhook, Telegram API stand-in) and an SMTP server
# (python3-aiosmtpd).  Each alert condition produces exactly one notification
# on each receiver, nothing more while it lasts, then one resolved message.
# Conditions are raised by configuration files that share the instance and
# the state directory but tighten one threshold (age, free space), break the
# conninfo (failed backup), damage a backup (failed verify) or name another
# KEK (a key the backups need is missing).
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_90_alerts: status, metrics, alerts"

PY=/usr/bin/python3
command -v promtool >/dev/null || skip_all "promtool (Debian package prometheus) is not installed"
$PY -c 'import aiosmtpd' 2>/dev/null || skip_all "python3-aiosmtpd is not installed"

pg_start src
psql_at src -c "CREATE DATABASE app"
psql_at src app -c "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g"
hsm_init
hsm_token coffre 4321
REPO="$TEST_TMP/repo"
RX="$TEST_TMP/rx"
mkdir -p "$RX" "$TEST_TMP/textfile"
HTTP_PORT=$(_free_port)
SMTP_PORT=$(_free_port)
while [ "$SMTP_PORT" = "$HTTP_PORT" ]; do SMTP_PORT=$(_free_port); done
$PY "$TESTS_DIR/receivers.py" "$HTTP_PORT" "$SMTP_PORT" "$RX" >"$RX/receivers.log" 2>&1 &
on_exit "kill $!"
for _ in $(seq 1 100); do [ -e "$RX/ready" ] && break; sleep 0.1; done
[ -e "$RX/ready" ] || bail_out "the receivers did not start: $(cat "$RX/receivers.log")"
TOKEN="123456:secret-bot-token-XYZ"
printf '%s\n' "$TOKEN" >"$TEST_TMP/tg-token"
chmod 600 "$TEST_TMP/tg-token"

INSTANCE=acme CONNINFO="$(pg_conninfo src app)" DATABASES=app REPO="$REPO" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$TEST_TMP/base.conf"
PROM="$TEST_TMP/textfile/coffre_acme.prom"
# mk NAME [KEY = VALUE...]: base + [metrics] + [alerts] with the receivers; a
# KEY given overrides the default line for it
mk() {
    local name=$1 line key
    shift
    {
        # coffre's own state in the test's directory, never the host's /var/lib/coffre
        sed "/^\[coffre\]/a state_dir = $TEST_TMP/cstate" "$TEST_TMP/base.conf"
        printf '\n[metrics]\ntextfile = %s\nstate_dir = %s\n\n[alerts]\n' "$PROM" "$TEST_TMP/state"
        {
            echo "webhook_url = http://127.0.0.1:$HTTP_PORT/hook"
            echo "smtp_url = smtp://127.0.0.1:$SMTP_PORT"
            echo "smtp_from = coffre@db1.example"
            echo "smtp_to = dba@example.com, oncall@example.com"
            echo "smtp_starttls = false"
            echo "telegram_api = http://127.0.0.1:$HTTP_PORT/tg"
            echo "telegram_chat_id = -1001"
            echo "telegram_token_file = $TEST_TMP/tg-token"
            echo "reminder = 0"
        } | while IFS= read -r line; do
            key=${line%% =*}
            printf '%s\n' "$@" | grep -q "^$key =" || echo "$line"
        done
        for line in "$@"; do printf '%s\n' "$line"; done
    } >"$TEST_TMP/$name.conf"
}
mk ok
mk old "backup_age_warning = 1s"
mk full "free_space_warning = 1000000G" "free_space_critical = 900000G"
sed "s/ port=$SRC_PORT / port=1 /" "$TEST_TMP/ok.conf" >"$TEST_TMP/badpg.conf"
C() { local conf=$1; shift; "$COFFRE" --config "$TEST_TMP/$conf.conf" "$@"; }

# expect NAME STATUS DESC: exactly one notification on each receiver, and nothing else
expect() {
    local want got
    want=$(printf 'smtp %s %s\ntelegram %s %s\nwebhook %s %s' "$1" "$2" "$1" "$2" "$1" "$2")
    got=$(sort "$RX/events.log")
    is "$got" "$want" "$3: one $2 $1 on each receiver"
    cp "$RX/raw.log" "$RX/last.raw"     # what these notifications said
    : >"$RX/events.log"
    : >"$RX/raw.log"
}
nothing() {
    is "$(cat "$RX/events.log")" "" "$1: no notification"
    : >"$RX/events.log"
    : >"$RX/raw.log"
}
: >"$RX/events.log"

C ok keys init >/dev/null
cp "$TEST_TMP/base.conf" "$TEST_TMP/plain.conf"
printf '\n[wal]\nspool = %s\n' "$TEST_TMP/plain-spool" >>"$TEST_TMP/plain.conf"
run_ok "a backup with neither [metrics] nor [alerts]" C plain backup
# outside the repository only the newest-backup record (storage/repohead.c): no run
# record, no metrics
is "$(ls -A "$TEST_TMP/plain-spool" 2>&1)" "newest-backup.json" \
    "nothing written outside the repository but the newest-backup record"
ok "no state recorded" test ! -e "$TEST_TMP/state"
rm -rf "$REPO/acme/backup"

# --- no backup yet
run_ok "status --json with no backup" C ok status --json
like "$(cat "$LAST_OUT")" '"health_status": "unhealthy"' "no backup: unhealthy"
like "$(cat "$LAST_OUT")" '"total_backups": 0' "no backup: total_backups 0"
like "$(cat "$LAST_OUT")" '"CoffreNoBackup"' "no backup: the issue is listed"
nothing "status does not notify"
run_ok "alert check" C ok alert check
expect CoffreNoBackup firing "no backup"
run_ok "alert check again" C ok alert check
nothing "the same condition again (no storm)"

# --- a backup clears it; metrics are written
run_ok "backup" C ok backup
ID1=$(cat "$LAST_OUT")
expect CoffreNoBackup resolved "after the first backup"
ok "the metrics textfile exists" test -s "$PROM"
run_ok "promtool check metrics" sh -c "promtool check metrics <'$PROM'"
like "$(cat "$PROM")" "coffre_last_success_timestamp_seconds{coffre_instance=\"acme\",kind=\"backup\"}" "last backup success is exported"
like "$(cat "$PROM")" 'coffre_backup_bytes{coffre_instance="acme",stage="stored"}' "backup sizes by stage"
like "$(cat "$PROM")" 'coffre_backups{coffre_instance="acme",state="complete"} 1' "one complete backup"
is "$(ls -A "$TEST_TMP/textfile")" "coffre_acme.prom" "no temporary file left next to the textfile"
run_ok "status --json" C ok status --json
ST=$(cat "$LAST_OUT")
for key in total_backups total_size_bytes available_space_bytes latest_backup backup_age_hours \
           backup_size_bytes daily_backups_last_24h weekly_backups_last_7d monthly_backups_last_30d \
           old_backups_to_clean health_status health_issues_count; do
    like "$ST" "\"$key\"" "status --json has $key"
done
like "$ST" "\"latest_backup\": \"$ID1\"" "latest_backup is the backup id"
like "$ST" '"health_status": "healthy"' "healthy after a backup"
run_ok "status (human)" C ok status
like "$(cat "$LAST_OUT")" "health:          healthy" "human status says healthy"

# --- prune keeps the backup kind's record (one run does not erase another)
run_ok "prune" C ok prune
like "$(cat "$PROM")" 'kind="prune"' "prune recorded"
like "$(cat "$PROM")" 'coffre_last_success_timestamp_seconds{coffre_instance="acme",kind="backup"}' "backup record kept after prune"
run_ok "promtool after prune" sh -c "promtool check metrics <'$PROM'"
nothing "a successful prune"

# --- backup age
sleep 2
run_ok "alert check, age threshold 1 s" C old alert check
expect CoffreBackupTooOld firing "backup too old"
run_ok "alert check again, age threshold 1 s" C old alert check
nothing "backup too old, still"
mk older "backup_age_warning = 1s" "backup_age_critical = 2s"
sleep 1
run_ok "alert check, critical age threshold 2 s" C older alert check
expect CoffreBackupTooOld firing "warning escalated to critical"
like "$(cat "$RX/last.raw")" '"severity":"critical"' "the escalation is critical"
run_ok "again" C older alert check
nothing "critical, still"
run_ok "alert check, default thresholds" C ok alert check
expect CoffreBackupTooOld resolved "age back under the threshold"

# --- free space
run_ok "alert check, free space threshold 1000000G" C full alert check
expect CoffreLowDiskSpace firing "low disk space"
like "$(cat "$RX/last.raw")" '"severity":"critical"' "low disk space is critical"
run_ok "again" C full alert check
nothing "low disk space, still"
run_ok "alert check, default thresholds" C ok alert check
expect CoffreLowDiskSpace resolved "free space"

# --- coffre check reaches every receiver and notifies none (issue 14)
: >"$RX/events.log"
run_ok "check --no-archive-check with three receivers" C ok check --no-archive-check
like "$(grep '^ok       alerts' "$LAST_OUT")" "webhook, smtp, telegram answered, nobody notified" \
    "check: every receiver answered"
is "$(cat "$RX/events.log")" "" "check: no notification was sent"
like "$(cat "$RX/probes.log" 2>/dev/null)" "GET 200" "check: Telegram's getMe accepted the token"
printf 'wrong-token\n' >"$TEST_TMP/tg-bad"
chmod 600 "$TEST_TMP/tg-bad"
mk badtg "telegram_token_file = $TEST_TMP/tg-bad"
run_fails "check with a refused Telegram token fails" any C badtg check --no-archive-check
like "$(grep '^failed   alerts' "$LAST_OUT")" "telegram: getMe answered HTTP 401" \
    "check: the refused token is named"
unlike "$(cat "$LAST_OUT" "$LAST_ERR")" "wrong-token" "check: the token is not printed"
mk badhook "webhook_url = http://127.0.0.1:1/hook"
run_fails "check with an unreachable webhook fails" any C badhook check --no-archive-check
like "$(grep '^failed   alerts' "$LAST_OUT")" "webhook: could not connect" \
    "check: the unreachable webhook is named"
is "$(cat "$RX/events.log")" "" "check: still no notification"

# --- failed backup
run_fails "backup against a stopped port fails" 7 C badpg backup
expect CoffreBackupFailed firing "failed backup"
run_ok "status says why" C ok status
like "$(cat "$LAST_OUT")" "last backup     FAILED" "status shows the failed backup"
unlike "$(cat "$LAST_OUT")" "from the repository only" "with [metrics], the health counts the runs"
run_ok "promtool after a failure" sh -c "promtool check metrics <'$PROM'"
like "$(cat "$PROM")" 'coffre_last_run_success{coffre_instance="acme",kind="backup"} 0' "failure exported"
run_ok "a good backup" C ok backup
ID2=$(cat "$LAST_OUT")
expect CoffreBackupFailed resolved "backup succeeded again"

# --- failed verify
printf 'X' | dd of="$REPO/acme/backup/$ID2/db/app.dump" bs=1 seek=200 conv=notrunc 2>/dev/null
run_fails "verify of a damaged backup" 6 C ok verify "$ID2"
expect CoffreVerifyFailed firing "failed verify"
run_ok "verify of a good backup" C ok verify "$ID1"
expect CoffreVerifyFailed resolved "verify passed"

# --- reminder
mk remind "backup_age_warning = 1s" "reminder = 1s"
sleep 2
run_ok "age alert" C remind alert check
expect CoffreBackupTooOld firing "age, with reminders"
sleep 2
run_ok "reminder" C remind alert check
expect CoffreBackupTooOld firing "reminder after the interval"
like "$(cat "$RX/last.raw")" "(reminder)" "the reminder says so"
run_ok "cleared" C ok alert check
expect CoffreBackupTooOld resolved "age with reminders"

# --- alert test, STARTTLS, secrets
run_ok "alert test" C ok alert test
expect CoffreTest firing "alert test"
sed '/^smtp_starttls/d' "$TEST_TMP/ok.conf" >"$TEST_TMP/tls.conf"
run_fails "STARTTLS is required by default: a server without it is refused" 5 C tls alert test
like "$(cat "$LAST_ERR")" "STARTTLS" "the hint names STARTTLS"
is "$(grep -c '^smtp' "$RX/events.log" || true)" "0" "nothing sent in clear"
: >"$RX/events.log"
like "$(cat "$RX/last.raw")" "/tg/bot$TOKEN/sendMessage" "the Telegram token is used in the API path"
ok "the token is in no output of coffre" sh -c "! grep -rqF '$TOKEN' '$LAST_OUT' '$LAST_ERR' '$TEST_TMP/state' '$PROM'"
# the token from $CREDENTIALS_DIRECTORY (systemd LoadCredential=) when no file is named
grep -v '^telegram_token_file' "$TEST_TMP/ok.conf" >"$TEST_TMP/cred.conf"
mkdir -p "$TEST_TMP/creds"
cp "$TEST_TMP/tg-token" "$TEST_TMP/creds/coffre-telegram-token"
run_ok "alert test, Telegram token from \$CREDENTIALS_DIRECTORY" \
    env CREDENTIALS_DIRECTORY="$TEST_TMP/creds" "$COFFRE" --config "$TEST_TMP/cred.conf" alert test
expect CoffreTest firing "alert test with credentials"
run_fails "alert test without any Telegram token" 3 C cred alert test
like "$(cat "$LAST_ERR")" "telegram: no bot token" "the missing token is named"
: >"$RX/events.log"
mk down "webhook_url = http://127.0.0.1:1/hook"
run_fails "alert test with a receiver down" 5 C down alert test
like "$(cat "$LAST_ERR")" "webhook: could not send" "the failing receiver is named"
: >"$RX/events.log"

# --- WAL archive lag: one real segment archived by wal-push, then aged (the
# lag is the age of the newest WAL object in the repository)
psql_at src -c "select pg_switch_wal()" >/dev/null
SEG=$(cd "$SRC_PGDATA/pg_wal" && ls | grep -E '^[0-9A-F]{24}$' | sort | head -1)
run_ok "wal-push of a finished segment" C ok wal-push "$SRC_PGDATA/pg_wal/$SEG"
nothing "wal-push notifies nothing"
WALOBJ=$(find "$REPO/acme/wal" -type f -name "$SEG-*" | head -1)
ok "the segment is in the repository" test -n "$WALOBJ"
touch -d '-40 minutes' "$WALOBJ"
run_ok "alert check with WAL archived 40 minutes ago" C ok alert check
expect CoffreWalArchiveLag firing "WAL archive lag"
like "$(cat "$PROM")" 'coffre_wal_objects{coffre_instance="acme"} 1' "WAL objects counted"
like "$(cat "$PROM")" 'coffre_wal_archive_lag_seconds{coffre_instance="acme"} 24' "WAL lag exported (about 2400 s)"
run_ok "promtool with WAL metrics" sh -c "promtool check metrics <'$PROM'"
touch "$WALOBJ"
run_ok "alert check with fresh WAL" C ok alert check
expect CoffreWalArchiveLag resolved "WAL archived again"
rm -rf "$REPO/acme/wal"

# --- the alerting rules and the dashboard in monitoring/ use these metrics
M="$REPO_ROOT/monitoring"
run_ok "promtool check rules" promtool check rules "$M/coffre-alerts.yml"
run_ok "promtool test rules" sh -c "cd '$M' && promtool test rules coffre-alerts.test.yml"
run_ok "the dashboard is JSON" /usr/bin/python3 -m json.tool "$M/coffre-dashboard.json"
# (the drill's series appear once a drill ran: test_85_drill checks them)
for name in $(grep -ho 'coffre_[a-z_]*' "$M/coffre-alerts.yml" "$M/coffre-dashboard.json" |
              sort -u | grep -v '^coffre_instance$' | grep -v '^coffre_drill_'); do
    like "$(cat "$PROM")" "$name{" "monitoring/ uses $name, which coffre exports"
done

# --- a key the backups need is no longer on the HSM: a new KEK is configured,
# the old one is deleted from the token
hsm_aes_key coffre other-kek
# the old KEK stays readable through keys.read while retained backups need it
sed 's/^kek = \(.*\)object=coffre-kek$/kek = \1object=other-kek\nread = \1object=coffre-kek/' \
    "$TEST_TMP/ok.conf" >"$TEST_TMP/otherkey.conf"
run_ok "alert check after a KEK change, the old KEK still on the token" C otherkey alert check
nothing "the old KEK is still there"
run_ok "a backup with the new KEK" C otherkey backup
nothing "backup with the new KEK"
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label coffre --login --pin 4321 \
    --delete-object --type secrkey --label coffre-kek >/dev/null 2>&1
run_ok "alert check, the old KEK deleted" C otherkey alert check
expect CoffreKeyMissing firing "missing key"
run_ok "status" C otherkey status --json
like "$(cat "$LAST_OUT")" '"health_status": "unhealthy"' "a missing key makes the instance unhealthy"
run_ok "again" C otherkey alert check
nothing "missing key, still"
mkdir "$TEST_TMP/set-aside"
mv "$REPO/acme/backup/$ID1" "$REPO/acme/backup/$ID2" "$TEST_TMP/set-aside/"
run_ok "alert check once the old backups are set aside" C otherkey alert check
expect CoffreKeyMissing resolved "the backups that needed the old key are gone"
done_testing
