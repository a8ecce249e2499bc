#!/bin/bash
# test_90_notify -- `coffre wal-stream` speaks the sd_notify protocol that
# systemd/coffre-wal-stream@.service (Type=notify, WatchdogSec=) expects:
# READY=1 once streaming, STATUS= lines, WATCHDOG=1 at least every
# WatchdogSec/2, STOPPING=1 and a clean exit on SIGTERM.  The NOTIFY_SOCKET
# is a unix datagram socket owned by this test.
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_90_notify: wal-stream sd_notify and watchdog"

pg_start src
hsm_init
hsm_token coffre 4321
INSTANCE=acme CONNINFO="$(pg_conninfo src)" REPO="$TEST_TMP/repo" \
KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
    coffre_conf "$TEST_TMP/c.conf"
printf '\n[wal]\nspool = %s\nupload_interval = 2s\n' "$TEST_TMP/spool" >>"$TEST_TMP/c.conf"
"$COFFRE" --config "$TEST_TMP/c.conf" keys init >/dev/null

SOCK="$TEST_TMP/notify.sock"
LOG="$TEST_TMP/notify.log"
/usr/bin/python3 "$TESTS_DIR/notify_listener.py" "$SOCK" "$LOG" &
on_exit "kill $!"
for _ in $(seq 1 50); do [ -e "$LOG.ready" ] && break; sleep 0.1; done
: >"$LOG"
WD_USEC=2000000     # WatchdogSec=2s: a ping about every second
# WATCHDOG_PID must be coffre's own pid: exec from a shell that knows it
sh -c 'WATCHDOG_PID=$$ exec "$0" "$@"' env NOTIFY_SOCKET="$SOCK" WATCHDOG_USEC=$WD_USEC \
    "$COFFRE" --config "$TEST_TMP/c.conf" wal-stream >"$TEST_TMP/ws.out" 2>"$TEST_TMP/ws.err" &
WS=$!
on_exit "kill $WS"
for _ in $(seq 1 300); do grep -q " READY=1$" "$LOG" 2>/dev/null && break; sleep 0.1; done
ok "READY=1 within 30 s" grep -q " READY=1$" "$LOG"
ok "STATUS= says what it does" grep -q " STATUS=." "$LOG"
sleep 5
n=$(grep -c " WATCHDOG=1$" "$LOG" || true)
ok "WATCHDOG=1 pings over 5 s: $n (at least 4)" test "$n" -ge 4
gap=$(awk '/ WATCHDOG=1$/ { if (p) { d = $1 - p; if (d > m) m = d } p = $1 } END { printf "%.2f", m }' "$LOG")
# systemd kills the service when a ping is WatchdogSec (2 s) late; coffre pings
# every WatchdogSec/2, so a gap must stay well below 2 s even on a loaded machine.
ok "largest gap between pings ${gap}s < 1.5 s (3/4 of WatchdogSec)" awk -v g="$gap" 'BEGIN { exit !(g < 1.5) }'
kill -TERM "$WS"
rc=0
for _ in $(seq 1 100); do kill -0 "$WS" 2>/dev/null || break; sleep 0.1; done
wait "$WS" || rc=$?
is "$rc" "0" "SIGTERM: clean exit"
ok "STOPPING=1 on SIGTERM" grep -q " STOPPING=1$" "$LOG"
done_testing
