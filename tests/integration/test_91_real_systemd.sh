#!/bin/bash
# test_91_real_systemd -- coffre's units under a real systemd (issue 14, item 4).
#
# test_90_systemd.sh checks the unit files offline; this one boots a Debian 12
# root (tests/nspawn/rootfs.sh: debootstrap, cached) with systemd as PID 1 in
# systemd-nspawn, installs coffre's package into it (or `make install` when there
# is no package), and runs the units against the PostgreSQL 15 inside, with a
# SoftHSM2 token and a posix repository:
#   - coffre-backup@demo.timer enabled: its next elapse is the next 02:00 (+15 min)
#   - `systemctl start coffre-backup@demo.service`: a complete backup, as user coffre
#   - LoadCredential=: the HSM PIN comes only from /etc/credstore, the S3, SMTP and
#     Telegram credentials are absent (posix host) and nothing fails for it
#   - coffre-wal-stream@demo.service: READY (systemctl start returns once
#     streaming), STATUS=, WAL reaches the repository, the watchdog is pinged
#   - the hardening breaks no command: every oneshot unit (verify, prune, alert,
#     both drills: logical, partial, total and PITR restores into scratch servers)
#     and the other commands (keys, list, check, status, verify --wal, backup
#     --physical, restore, restore --physical) in a transient unit with the backup
#     unit's sandbox and credentials succeed; no unit failed, no permission error
# Everything runs in an overlay over the cached root; the container is powered off
# and the overlay removed on exit.  Skipped (not failed) when not root, when
# systemd-nspawn or debootstrap is missing, or when the container cannot boot:
# coffre is installed only after the boot succeeded, so a skip never hides it.
set -eu
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
plan_start "test_91_real_systemd: the units under systemd as PID 1 (systemd-nspawn)"

[ "$(id -u)" = 0 ] || skip_all "needs root (systemd-nspawn, mount, debootstrap)"
for c in systemd-nspawn debootstrap nsenter flock; do
    command -v "$c" >/dev/null || skip_all "$c is not installed (make deps: systemd-container, debootstrap)"
done
# the non-sanitizer build: the container is the same Debian 12 userland, without
# the ASan runtime
BIN="$REPO_ROOT/build/coffre"
[ -x "$BIN" ] || bail_out "$BIN is missing: run make all first"

T0=$(date +%s)
CACHE_ROOT=$(sh "$REPO_ROOT/tests/nspawn/rootfs.sh" 2>"$TEST_TMP/rootfs.err") ||
    skip_all "cannot build the Debian 12 root with debootstrap: $(tail -n 3 "$TEST_TMP/rootfs.err" | tr '\n' ' ')"
diag "root: $CACHE_ROOT (ready after $(($(date +%s) - T0)) s)"

# ---------------------------------------------------------------- the container

NAME="coffre-t91-$$"
ROOT="$TEST_TMP/root"
mkdir -p "$ROOT" "$TEST_TMP/upper" "$TEST_TMP/work"
mount -t overlay overlay \
    -o "lowerdir=$CACHE_ROOT,upperdir=$TEST_TMP/upper,workdir=$TEST_TMP/work" "$ROOT" ||
    skip_all "cannot mount an overlay over $CACHE_ROOT"
on_exit "umount -l '$ROOT'"

# PostgreSQL inside listens on its socket only: the host's port 5432 is not ours
echo "listen_addresses = ''" >"$ROOT/etc/postgresql/15/main/conf.d/coffre-test.conf"
echo "$NAME" >"$ROOT/etc/hostname"

# Without systemd on the host there is no bus to ask for a scope: --register=no
# --keep-unit makes nspawn use the cgroup it was started in.  That is one of our
# own in each hierarchy, so that the container's cgroups (payload/, supervisor/)
# never meet another run's, and are removed with it.
CGROUPS=""
for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
    if [ -f "$h/cgroup.procs" ] && [ -w "$h" ]; then
        mkdir -p "$h/$NAME" && CGROUPS="$CGROUPS $h/$NAME"
        [ "$h" != /sys/fs/cgroup ] || break # pure cgroup v2
    fi
done
on_exit "for g in $CGROUPS; do [ -d \$g ] && find \$g -depth -type d -exec rmdir {} + 2>/dev/null; done; true"

CGROUPS="$CGROUPS" setsid sh -c '
    for g in $CGROUPS; do echo $$ >"$g/cgroup.procs"; done
    exec systemd-nspawn --quiet --directory="$0" --machine="$1" --boot \
        --register=no --keep-unit --console=passive --resolv-conf=copy-host' \
    "$ROOT" "$NAME" </dev/null >"$TEST_TMP/nspawn.log" 2>&1 &
NSPAWN_PID=$!
# power off (nspawn turns SIGTERM into a clean shutdown of the container), then kill
on_exit "stop_container"
stop_container() {
    kill -TERM "$NSPAWN_PID" 2>/dev/null || return 0
    for _ in $(seq 1 60); do
        kill -0 "$NSPAWN_PID" 2>/dev/null || return 0
        sleep 0.5
    done
    diag "the container did not power off in 30 s: killed"
    kill -KILL "$NSPAWN_PID" 2>/dev/null
    [ -z "${CT_PID:-}" ] || kill -KILL "$CT_PID" 2>/dev/null
    sleep 1
}

# the container's PID 1, as the host sees it: nspawn's child running systemd
CT_PID=""
for _ in $(seq 1 100); do
    for p in $(ps -o pid= --ppid "$NSPAWN_PID" 2>/dev/null); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ] && CT_PID=$p
    done
    [ -n "$CT_PID" ] && break
    kill -0 "$NSPAWN_PID" 2>/dev/null || break
    sleep 0.2
done
[ -n "$CT_PID" ] || skip_all "systemd-nspawn could not start systemd: $(tail -n 5 "$TEST_TMP/nspawn.log" | tr '\n' ' ')"

# ct CMD... -- run CMD inside the container (every namespace of its PID 1), with
# a clean environment; stdin is passed through.
ct() {
    nsenter --target "$CT_PID" --all -- \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 SYSTEMD_PAGER= "$@"
}
# ctu CMD... -- the same, as the coffre user
ctu() { ct runuser -u coffre -- "$@"; }

state=""
for _ in $(seq 1 120); do
    state=$(ct systemctl is-system-running 2>/dev/null) || true
    case $state in running | degraded) break ;; esac
    sleep 0.5
done
case $state in
    running) ;;
    degraded)
        diag "the container booted degraded (before coffre was installed):" \
            "$(ct systemctl --failed --no-legend 2>&1)" ;;
    *) skip_all "the container did not finish booting in 60 s (state '$state'): $(tail -n 5 "$TEST_TMP/nspawn.log" | tr '\n' ' ')" ;;
esac
T_BOOT=$(($(date +%s) - T0))
diag "booted: systemd $(ct systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p') as PID 1 of $NAME, $state, after $T_BOOT s"

# From here on the container runs: any failure is a failure.
is "$state" "running" "the container boots to 'running' (systemd as PID 1, no failed unit)"
ok "PostgreSQL 15 runs in the container" ct systemctl is-active --quiet postgresql@15-main.service

# ---------------------------------------------------------------- install coffre

# The Debian package when the tree can make one: build/deb/coffre_*.deb if it is
# newer than the binary and the units, else `make deb`.  Otherwise make install
# and the user, group and directories the package would have made.
DEB=""
if grep -q '^deb:' "$REPO_ROOT/Makefile"; then
    # shellcheck disable=SC2012
    DEB=$(ls -t "$REPO_ROOT"/build/deb/coffre_*.deb 2>/dev/null | head -n 1 || true)
    if [ -n "$DEB" ] && [ -n "$(find "$BIN" "$REPO_ROOT/systemd" "$REPO_ROOT/debian" -newer "$DEB" -print -quit)" ]; then
        diag "$(basename "$DEB") is older than build/coffre or the units: rebuilt"
        DEB=""
    fi
    if [ -z "$DEB" ]; then
        run_ok "make deb builds the package" make -C "$REPO_ROOT" deb
        # shellcheck disable=SC2012
        DEB=$(ls -t "$REPO_ROOT"/build/deb/coffre_*.deb 2>/dev/null | head -n 1 || true)
    fi
fi
if [ -n "$DEB" ]; then
    diag "installing the Debian package $(basename "$DEB") with apt-get install ./$(basename "$DEB")"
    cp "$DEB" "$ROOT/root/"
    run_ok "apt-get install ./$(basename "$DEB") in the container" \
        ct sh -c "cd /root && DEBIAN_FRONTEND=noninteractive apt-get install -y -q ./$(basename "$DEB")"
    run_ok "the package created the user coffre" ct id coffre
    # what the package promises (debian/coffre.sysusers, coffre.postinst), used as is
    like " $(ct id -nG coffre) " " softhsm " "the package made coffre a member of softhsm (SoftHSM2's token directory)"
    is "$(ct stat -c '%U:%G %a' /etc/coffre)" "root:coffre 750" "the package made /etc/coffre root:coffre 0750"
    ok "the package enabled no unit" test -z "$(ct systemctl list-unit-files --state=enabled --no-legend 'coffre*')"
else
    diag "no Debian package (no build/deb/coffre_*.deb, no 'make deb' target): make install DESTDIR=<root> PREFIX=/usr, coffre user created by the test"
    # BUILD=build: the non-sanitizer binary, whatever the caller's environment says
    run_ok "make install DESTDIR=<root> PREFIX=/usr" \
        make -C "$REPO_ROOT" install BUILD=build DESTDIR="$ROOT" PREFIX=/usr
    ct useradd --system --user-group --home-dir /var/lib/coffre --no-create-home \
        --shell /usr/sbin/nologin coffre
    # as debian/coffre.sysusers and coffre.postinst do, and docs/operations.md says
    ct usermod -a -G softhsm coffre
    ct install -d -o root -g coffre -m 0750 /etc/coffre
    ct systemctl daemon-reload
fi
run_ok "coffre runs in the container" ct /usr/bin/coffre --version
ok "the units are installed" ct test -f /usr/lib/systemd/system/coffre-wal-stream@.service -o \
    -f /lib/systemd/system/coffre-wal-stream@.service
if ! ct test -x /usr/bin/coffre; then
    diag "coffre is not installed: nothing else can run"
    done_testing
fi

# ---------------------------------------------------------------- configuration

# the coffre role: peer authentication over the socket, superuser (roles and
# tablespaces in the logical backup) and replication (wal-stream, base backups)
ct runuser -u postgres -- psql -X -q -c "CREATE ROLE coffre LOGIN SUPERUSER REPLICATION" >/dev/null
ct runuser -u postgres -- psql -X -q -c "CREATE DATABASE shop" >/dev/null
ct runuser -u postgres -- psql -X -q -d shop \
    -c "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 5000) g" >/dev/null

# SoftHSM2's Debian token directory is group softhsm (setgid), which coffre is in
PIN=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
ctu softhsm2-util --init-token --free --label coffre --so-pin 12345678 --pin "$PIN" >/dev/null
# The PIN is a credential (LoadCredential=coffre-hsm-pin:coffre-demo-hsm-pin),
# never a file coffre reads itself: [keys] has no pin_file.  Only the PIN: a posix
# host has no S3 keys, SMTP password or Telegram token.
# the layout docs/operations.md prescribes: the configuration root:coffre 0640,
# /etc/credstore root 0700 with 0600 files
ct install -d -m 0700 /etc/credstore
printf '%s' "$PIN" | ct install -m 0600 /dev/stdin /etc/credstore/coffre-demo-hsm-pin
ct install -d -m 0750 -o coffre -g coffre /var/lib/coffre /var/lib/coffre/repo
ct sh -c 'cat >/etc/coffre/demo.conf' <<'EOF'
[coffre]
instance = demo
formula = onprem

[postgres]
conninfo = host=/run/postgresql dbname=postgres user=coffre

[repository]
type = posix
path = /var/lib/coffre/repo

[wal]
upload_interval = 2s
archive_timeout = 60

[keys]
module = /usr/lib/softhsm/libsofthsm2.so
kek = pkcs11:token=coffre;object=coffre-kek
EOF
ct chown root:coffre /etc/coffre/demo.conf
ct chmod 0640 /etc/coffre/demo.conf

# svc UNIT PROP -- one property of a unit in the container
svc() { ct systemctl show -P "$2" "$1"; }
# journal UNIT -- the unit's journal in the container (this boot)
journal() { ct journalctl -b --no-pager -o cat -u "$1" 2>&1 | tail -n 40; }

# run_sandboxed DESC CMD-ARGS... -- `coffre --config /etc/coffre/demo.conf ARGS`
# in a transient unit with every [Service] setting of the installed
# coffre-backup@.service except what describes the job (Type, ExecStart, timeouts
# and scheduling), so that a command without a unit of its own meets the same
# sandbox and credentials.  Output in $LAST_OUT/$LAST_ERR, like run_ok.
UNIT_DIR=$(ct sh -c 'for d in /usr/lib/systemd/system /lib/systemd/system; do [ -f $d/coffre-backup@.service ] && echo $d && break; done')
mapfile -t SANDBOX < <(ct cat "$UNIT_DIR/coffre-backup@.service" | sed -n '/^\[Service\]/,/^\[/p' |
    grep -E '^[A-Za-z]+=' |
    grep -vE '^(Type|ExecStart|TimeoutStartSec|SyslogIdentifier|Nice|CPUWeight|IOWeight|IOSchedulingClass|IOSchedulingPriority)=' |
    sed 's/%i/demo/g; s/^/--property=/')
run_sandboxed() {
    local desc=$1
    shift
    run_ok "$desc" ct systemd-run --quiet --wait --pipe --collect --service-type=exec \
        "${SANDBOX[@]}" /usr/bin/coffre --config /etc/coffre/demo.conf "$@"
}
is "$([ "${#SANDBOX[@]}" -gt 30 ] && echo yes)" "yes" \
    "the backup unit's sandbox is read from the installed unit (${#SANDBOX[@]} settings)"

run_sandboxed "keys init, sandboxed, PIN from the credential" keys init
run_sandboxed "keys check, sandboxed" keys check

# ---------------------------------------------------------------- the backup timer

run_ok "systemctl enable --now coffre-backup@demo.timer" \
    ct systemctl enable --now coffre-backup@demo.timer
is "$(svc coffre-backup@demo.timer ActiveState)" "active" "the backup timer is active"
like "$(ct systemctl list-timers --all --no-legend coffre-backup@demo.timer)" \
    "coffre-backup@demo.service" "list-timers shows the backup timer and the unit it starts"
# next elapse: the next 02:00 (container time is UTC), plus up to RandomizedDelaySec=15min
next=$(svc coffre-backup@demo.timer NextElapseUSecRealtime)
now=$(ct date +%s)
want=$(ct date -u -d "$(ct date -u +%F) 02:00:00" +%s)
[ "$want" -gt "$now" ] || want=$((want + 86400))
got=$(ct date -u -d "$next" +%s 2>/dev/null || echo 0)
diag "backup timer: next elapse '$next'"
ok "the backup timer's next elapse is the next 02:00 UTC, within its 15 min randomized delay" \
    test "$got" -ge "$want" -a "$got" -le $((want + 900))
like "$(ct systemctl is-enabled coffre-backup@demo.timer)" "enabled" "the backup timer is enabled (timers.target)"

# ---------------------------------------------------------------- a backup by systemctl start

run_ok "systemctl start coffre-backup@demo.service" ct systemctl start coffre-backup@demo.service
is "$(svc coffre-backup@demo.service Result)" "success" "the backup unit's result is success"
is "$(svc coffre-backup@demo.service ExecMainStatus)" "0" "coffre backup exited 0"
[ "$(svc coffre-backup@demo.service Result)" = success ] || diag "$(journal coffre-backup@demo.service)"
run_sandboxed "list --json, sandboxed" list --json
ID=$(sed -n 's/.*"id" *: *"\([0-9TZ]*\)".*/\1/p' "$LAST_OUT" | head -n 1)
like "$(cat "$LAST_OUT")" '"complete"' "the backup is listed"
isnt "$ID" "" "the backup has an id ($ID)"
like "$(journal coffre-backup@demo.service)" "${ID:-<no backup id>}" "the journal names the backup (SyslogIdentifier=coffre)"
is "$(ct find /var/lib/coffre/repo -type f | wc -l | tr -d ' ' | sed 's/^0$/none/; s/^[1-9][0-9]*$/some/')/$(ct find /var/lib/coffre/repo -type f ! -user coffre | head -n 3)" "some/" \
    "the repository holds files, every one belonging to coffre (User=coffre)"
is "$(ct sh -c "find /var/lib/coffre/repo -type f -name '*.dump' | head -n 1 | xargs -r stat -c %a")" "600" \
    "the dump object is mode 0600 (UMask=0077)"

# ---------------------------------------------------------------- LoadCredential

is "$(ct ls /etc/credstore)" "coffre-demo-hsm-pin" \
    "/etc/credstore holds the HSM PIN only: no S3, SMTP or Telegram credential"
is "$(svc coffre-backup@demo.service Result)/$(journal coffre-backup@demo.service | grep -ciE 'set up credentials|step CREDENTIALS' || true)" \
    "success/0" "the absent credentials neither fail the unit nor are complained about"
is "$(ct grep -c pin_file /etc/coffre/demo.conf || true)/$(svc coffre-backup@demo.service Result)" "0/success" \
    "the PIN reached coffre as a credential: no pin_file in demo.conf, and the backup logged in"
# what the service sees: the PIN, and no file for the absent ones
run_ok "the credentials directory a unit sees" ct systemd-run --quiet --wait --pipe --collect \
    "${SANDBOX[@]}" /bin/sh -c 'ls "$CREDENTIALS_DIRECTORY"'
is "$(cat "$LAST_OUT")" "coffre-hsm-pin" "\$CREDENTIALS_DIRECTORY holds coffre-hsm-pin and nothing for the absent keys"
# control: without the PIN credential the same unit fails, and says why
ct mv /etc/credstore/coffre-demo-hsm-pin /root/pin.saved
run_fails "without the PIN credential, the backup unit fails" any \
    ct systemctl start coffre-backup@demo.service
like "$(journal coffre-backup@demo.service)" "coffre-hsm-pin" "the journal names the missing PIN credential"
ct mv /root/pin.saved /etc/credstore/coffre-demo-hsm-pin
ct systemctl reset-failed coffre-backup@demo.service

# ---------------------------------------------------------------- wal-stream

W=coffre-wal-stream@demo.service
# docs/operations.md: `systemctl enable --now coffre-wal-stream@acme.service`;
# enabled means started at boot (multi-user.target wants it)
run_ok "systemctl enable coffre-wal-stream@demo.service" ct systemctl enable "$W"
is "$(ct systemctl is-enabled "$W" 2>&1)" "enabled" \
    "wal-stream is enabled, so it starts at boot (needs an [Install] section)"
t=$(date +%s)
run_ok "systemctl start $W (returns at READY=1)" ct systemctl start "$W"
diag "wal-stream READY after $(($(date +%s) - t)) s"
is "$(svc "$W" ActiveState)/$(svc "$W" SubState)" "active/running" "wal-stream is active (running): READY=1 was received"
isnt "$(svc "$W" StatusText)" "" "wal-stream reports a STATUS= ($(svc "$W" StatusText))"
is "$(svc "$W" WatchdogUSec)" "1min" "wal-stream runs under a 60 s watchdog"
is "$(svc "$W" NRestarts)" "0" "wal-stream has not restarted"
[ "$(svc "$W" ActiveState)" = active ] || diag "$(journal "$W")"
# WAL reaches the repository through the sandbox
ct runuser -u postgres -- psql -X -q -d shop -c "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(5001, 9000) g" >/dev/null
ct runuser -u postgres -- psql -X -qAt -c "SELECT pg_switch_wal()" >/dev/null
n=0
for _ in $(seq 1 60); do
    n=$(ct sh -c "find /var/lib/coffre/repo -type f -path '*wal*' | wc -l")
    [ "$n" -gt 0 ] && break
    sleep 0.5
done
ok "wal-stream stores WAL in the repository ($n objects)" test "$n" -gt 0

# the watchdog: with WatchdogSec=4s (a drop-in), wal-stream must ping every 2 s;
# a missed ping would kill it (Result=watchdog) and restart it (NRestarts)
ct mkdir -p "/run/systemd/system/$W.d"
printf '[Service]\nWatchdogSec=4s\n' | ct sh -c "cat >/run/systemd/system/$W.d/watchdog.conf"
ct systemctl daemon-reload
ct systemctl restart "$W"
pid0=$(svc "$W" MainPID)
wd0=$(svc "$W" WatchdogTimestampMonotonic)
sleep 12
is "$(svc "$W" WatchdogUSec)" "4s" "the watchdog drop-in applies (WatchdogSec=4s)"
is "$(svc "$W" ActiveState)/$(svc "$W" NRestarts)/$(svc "$W" MainPID)" "active/0/$pid0" \
    "wal-stream outlives 3 watchdog periods: same process, no restart"
wd1=$(svc "$W" WatchdogTimestampMonotonic)
ok "systemd received WATCHDOG=1 pings (last ping moved from $wd0 to $wd1)" \
    test "${wd1:-0}" -gt "${wd0:-0}"
# control: a service that never pings is killed by the same watchdog, so the
# check above can fail
ct systemd-run --quiet --unit=coffre-t91-nopinger --property=WatchdogSec=2s /bin/sleep 60 || true
sleep 6
is "$(svc coffre-t91-nopinger.service Result)" "watchdog" \
    "control: a service that never pings is killed by the watchdog"
ct systemctl stop coffre-t91-nopinger.service 2>/dev/null || true
ct systemctl reset-failed coffre-t91-nopinger.service 2>/dev/null || true
ct rm -rf "/run/systemd/system/$W.d"
ct systemctl daemon-reload
ct systemctl restart "$W"
is "$(svc "$W" ActiveState)" "active" "wal-stream restarts with the shipped watchdog"

# ---------------------------------------------------------------- every command, hardened

# a physical base backup: complete only once wal-stream stored its WAL
run_sandboxed "backup --physical, sandboxed (its WAL from wal-stream)" backup --physical
run_sandboxed "verify $ID, sandboxed" verify "$ID"
run_sandboxed "verify --wal, sandboxed" verify --wal
run_sandboxed "restore $ID --db shop --create, sandboxed" restore "$ID" --db shop --create \
    --target "host=/run/postgresql dbname=shop_restored user=coffre"
is "$(ct runuser -u postgres -- psql -X -qAt -d shop_restored -c 'SELECT count(*) FROM t' 2>&1)" "5000" \
    "the restored database holds the backup's rows"
run_sandboxed "restore --physical --latest --immediate, sandboxed" restore --physical --latest \
    --pgdata /var/lib/coffre/pitr --immediate --no-archive
is "$(ct cat /var/lib/coffre/pitr/PG_VERSION 2>&1)" "15" "the base backup is restored into /var/lib/coffre/pitr"
run_sandboxed "check, sandboxed" check
run_sandboxed "status --json, sandboxed" status --json
run_sandboxed "prune --dry-run, sandboxed" prune --dry-run
# drill: every scenario the repository has a backup for (logical, PITR from the
# base backup and wal-stream's WAL), each in a scratch PostgreSQL coffre starts
for u in verify prune alert drill-simple drill; do
    t=$(date +%s)
    run_ok "systemctl start coffre-$u@demo.service" ct timeout 300 systemctl start "coffre-$u@demo.service"
    diag "coffre-$u@demo.service: $(($(date +%s) - t)) s"
    r=$(svc "coffre-$u@demo.service" Result)
    is "$r" "success" "coffre-$u@demo.service: Result=success"
    [ "$r" = success ] || diag "$(journal "coffre-$u@demo.service")"
done
for t in prune verify alert drill drill-simple; do
    run_ok "systemctl enable --now coffre-$t@demo.timer" ct systemctl enable --now "coffre-$t@demo.timer"
done
is "$(ct systemctl --failed --no-legend --plain | sed 's/ .*//' | tr '\n' ' ')" "" \
    "no unit failed in the container"
is "$(svc "$W" NRestarts)/$(svc "$W" ActiveState)" "0/active" "wal-stream still streams, never restarted"
is "$(ct journalctl -b --no-pager -o cat -t coffre 2>&1 | grep -ciE 'permission denied|operation not permitted|read-only file system' || true)" \
    "0" "no permission error from coffre in the journal"

run_ok "systemctl stop $W (STOPPING=1, within TimeoutStopSec)" ct systemctl stop "$W"
is "$(svc "$W" Result)" "success" "wal-stream stops cleanly"

diag "test time: $(($(date +%s) - T0)) s (boot $T_BOOT s)"
done_testing
