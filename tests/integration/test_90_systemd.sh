#!/bin/bash
# test_90_systemd -- the units in systemd/: every unit passes
# `systemd-analyze verify` once instantiated, every service keeps a
# `systemd-analyze security` exposure at or below MAX_EXPOSURE, the units hold
# the settings the operations guide promises.  (The wal-stream notify and
# watchdog protocol: test_90_notify.sh.)
set -eu
. "$(dirname "$0")/lib.sh"
plan_start "test_90_systemd: units, hardening, sd_notify"

MAX_EXPOSURE=2.0    # measured 1.2 ("OK") for every service
command -v systemd-analyze >/dev/null || skip_all "systemd-analyze is not installed"

# instantiate each template as "t", ExecStart pointing at the binary under test
U="$TEST_TMP/units"
mkdir -p "$U"
BINDIR=$(cd "$(dirname "$COFFRE")" && pwd)
for f in "$REPO_ROOT"/systemd/*.service "$REPO_ROOT"/systemd/*.timer; do
    b=$(basename "$f")
    sed -e "s|@BINDIR@/coffre|$BINDIR/$(basename "$COFFRE")|" -e "s|@DOCDIR@|/usr/share/doc/coffre|" \
        "$f" >"$U/${b/@/@t}"
done
is "$(grep -l '@BINDIR@\|@DOCDIR@' "$U"/* | wc -l)" "0" "every placeholder is substituted"
for f in "$U"/*; do
    run_ok "systemd-analyze verify $(basename "$f")" systemd-analyze verify --man=no "$f"
    is "$(cat "$LAST_ERR")" "" "$(basename "$f"): verify has nothing to say"
done

for f in "$U"/*.service; do
    run_ok "systemd-analyze security $(basename "$f")" \
        systemd-analyze security --offline=true --no-pager "$f"
    score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$LAST_OUT")
    diag "$(basename "$f"): exposure $score"
    ok "$(basename "$f"): exposure $score <= $MAX_EXPOSURE" \
        awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s != "" && s + 0 <= m + 0) }'
done

B="$U/coffre-backup@t.service"
for want in "User=coffre" "ProtectSystem=strict" "NoNewPrivileges=yes" "PrivateTmp=yes" \
            "CapabilityBoundingSet=" "LoadCredential=coffre-hsm-pin:coffre-%i-hsm-pin" \
            "LoadCredential=coffre-s3-secret-key:coffre-%i-s3-secret-key" \
            "ExecStart=$BINDIR/$(basename "$COFFRE") --config /etc/coffre/%i.conf backup"; do
    like "$(cat "$B")" "$want" "backup unit: $want"
done
# the database first (issue 13): every unit that reads or deletes in bulk yields
for unit in backup prune verify drill drill-simple; do
    for key in Nice CPUWeight IOWeight IOSchedulingClass; do
        like "$(cat "$U/coffre-$unit@t.service")" "$key=" "$unit unit: $key is set"
    done
done
unlike "$(cat "$U/coffre-wal-stream@t.service")" "CPUWeight=" "wal-stream unit: no CPU weight, it must keep up"
T="$U/coffre-backup@t.timer"
like "$(cat "$T")" "OnCalendar=*-*-* 02:00:00" "backup timer: daily at 02:00"
like "$(cat "$T")" "Persistent=true" "backup timer: a missed run is caught up"
like "$(cat "$T")" "RandomizedDelaySec=" "backup timer: randomized delay"
like "$(cat "$U/coffre-verify@t.timer")" "OnCalendar=Sun " "verify timer: weekly"
like "$(cat "$U/coffre-drill@t.timer")" "OnCalendar=quarterly" "drill timer: quarterly"
like "$(cat "$U/coffre-drill@t.timer")" "Persistent=true" "drill timer: a missed drill is caught up"
like "$(cat "$U/coffre-drill-simple@t.timer")" "OnCalendar=Sat " "simple drill timer: weekly"
like "$(cat "$U/coffre-drill@t.service")" "drill --junit " "drill unit: a JUnit report"
like "$(cat "$U/coffre-drill-simple@t.service")" "drill --scenario simple" "simple drill unit: the simple scenario"
unlike "$(cat "$U/coffre-drill@t.service")" "MemoryDenyWriteExecute=yes" \
    "drill unit: the scratch PostgreSQL may JIT"
run_ok "next elapse of the quarterly drill timer" systemd-analyze calendar quarterly
W="$U/coffre-wal-stream@t.service"
for want in "Type=notify" "WatchdogSec=" "Restart=on-failure" "RestartSec=" "NotifyAccess=main"; do
    like "$(cat "$W")" "$want" "wal-stream unit: $want"
done
run_ok "next elapse of the backup timer" systemd-analyze calendar "*-*-* 02:00:00"

# the notify/watchdog protocol of wal-stream itself: test_90_notify.sh
done_testing
