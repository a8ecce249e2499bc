#!/usr/bin/env bash
# tests/s3/rgw.sh -- a throw-away S3 endpoint with Object Lock for coffre's tests:
# single-node Ceph Pacific (1 mon, 1 memstore OSD, no mgr, auth none) + radosgw
# serving http and https.  Everything (config, data, logs, pids, sockets, TLS
# cert) lives under DIR; nothing is written to /etc or /var, nothing needs systemd.
#
#   rgw.sh start  DIR   start a fresh cluster (or reuse a running one); prints
#                       `export ...` lines on stdout, progress on stderr
#   rgw.sh env    DIR   print the exports of the running cluster again
#   rgw.sh status DIR   one line per daemon (pid, RSS); exit 3 if one is down
#   rgw.sh stop   DIR   SIGTERM rgw, osd, mon in turn (SIGKILL after 10 s each)
#   rgw.sh purge  DIR   SIGKILL the daemons and remove DIR
#
#   eval "$(bash tests/s3/rgw.sh start "$TMP/s3")"
#   curl --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
#        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' --cacert "$S3_CA_FILE" "$S3_ENDPOINT_TLS/"
#   bash tests/s3/rgw.sh purge "$TMP/s3"
#
# Exports: S3_ENDPOINT S3_ENDPOINT_TLS S3_CA_FILE S3_REGION AWS_ACCESS_KEY_ID
#          AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION CEPH_CONF
#
# Knobs (environment):
#   MON_PORT RGW_HTTP_PORT RGW_HTTPS_PORT  fixed ports; each one left unset is
#       picked at random among free ports below the kernel's ephemeral range and
#       claimed in $PORT_CLAIMS (so that concurrent starts never pick the same one)
#   S3_REGION [us-east-1] S3_ACCESS_KEY S3_SECRET_KEY [fixed test keys]
#   MEMSTORE_BYTES [8 GiB, a cap: objects live in the OSD's RAM, ~1.7x overhead]
#   START_TIMEOUT [60 s]  EXTRA_CEPH_CONF (appended to ceph.conf, may hold [sections])
#
# See tests/s3/README.md for the reasons behind the less obvious settings.
set -euo pipefail
set +m  # no job control: a background `setsid` must exec in place, so $! is the daemon

usage() { echo "usage: $0 start|stop|purge|status|env DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
ACTION=$1
case "$ACTION" in
    start) mkdir -p "$2" ;;
    stop | purge) [ -d "$2" ] || exit 0 ;;
    env | status) [ -d "$2" ] || { echo "rgw.sh: no cluster in $2" >&2; exit 1; } ;;
    *) usage ;;
esac
DIR=$(cd "$2" && pwd)

S3_REGION=${S3_REGION:-us-east-1}
S3_ACCESS_KEY=${S3_ACCESS_KEY:-COFFRETESTACCESSKEY1}
S3_SECRET_KEY=${S3_SECRET_KEY:-coffre-test-secret-key-0000000000000000001}
MEMSTORE_BYTES=${MEMSTORE_BYTES:-8589934592}
START_TIMEOUT=${START_TIMEOUT:-60}
PORT_CLAIMS=${PORT_CLAIMS:-/tmp/coffre-rgw-ports}

CONF=$DIR/ceph.conf
RUN=$DIR/run
LOGS=$DIR/log
PORTS_FILE=$DIR/ports
ENV_FILE=$DIR/env.sh
CEPH=(ceph -c "$CONF" --connect-timeout 20)
DAEMONS=(mon.a osd.0 rgw)        # start order; stop goes the other way
T0=$(date +%s%N)

log() { printf 'rgw.sh [%5s s] %s\n' "$(elapsed)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
elapsed() { local ms=$((($(date +%s%N) - T0) / 1000000)); printf '%d.%02d' $((ms / 1000)) $((ms % 1000 / 10)); }

# ------------------------------------------------------------------ processes

# alive PID: the process exists, is not a zombie and runs with our ceph.conf.
# (Killed daemons stay zombies until PID 1 reaps them -- about 2 s here -- and
# `kill -0` succeeds on a zombie; the cmdline check guards against pid reuse.)
alive() {
    local pid=$1 state
    [ -n "$pid" ] || return 1
    state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    case "$state" in "" | Z | X) return 1 ;; esac
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$CONF"
}

pid_of() { cat "$RUN/$1.pid" 2>/dev/null || true; }
daemon_up() { alive "$(pid_of "$1")"; }

all_up() { local d; for d in "${DAEMONS[@]}"; do daemon_up "$d" || return 1; done; }
any_up() { local d; for d in "${DAEMONS[@]}"; do daemon_up "$d" && return 0; done; return 1; }

# launch NAME CMD...: run a daemon in the foreground (-f) in its own session with
# no tie to our stdio (a caller's $(...) or CI pipe closes when we exit); the pid
# goes to $RUN/NAME.pid.  Daemonizing ceph processes is avoided on purpose:
# radosgw only forks once it has reached the mon, so a bad config would hang us.
launch() {
    local name=$1 pid comm
    shift
    setsid "$@" -f </dev/null >>"$LOGS/$name.out" 2>&1 &
    pid=$!
    disown "$pid"                   # no "Killed" job notices from this shell
    for _ in $(seq 50); do          # wait for bash -> setsid -> daemon exec
        comm=$(cat "/proc/$pid/comm" 2>/dev/null) || break
        case "$comm" in bash | setsid) sleep 0.02 ;; *) break ;; esac
    done
    echo "$pid" >"$RUN/$name.pid"
}

# wait_for WHAT CMD...: poll CMD until it succeeds; give up after START_TIMEOUT or
# as soon as a daemon we launched has died (then show the end of its log).
wait_for() {
    local what=$1 deadline d
    shift
    deadline=$(($(date +%s) + START_TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        for d in "${DAEMONS[@]}"; do
            if [ -e "$RUN/$d.pid" ] && ! daemon_up "$d"; then
                tail -n 15 "$LOGS/$d.out" "$LOGS/$d.log" >&2 2>/dev/null || true
                die "$d died while waiting for $what (logs in $LOGS)"
            fi
        done
        [ "$(date +%s)" -lt "$deadline" ] || die "no $what after ${START_TIMEOUT}s (logs in $LOGS)"
        sleep 0.1
    done
}

# signal_and_wait SIGNAL NAME...: signal the daemons, wait up to 10 s for them
# to exit, SIGKILL the survivors.
signal_and_wait() {
    local sig=$1 d pid left=()
    shift
    for d in "$@"; do
        pid=$(pid_of "$d")
        if alive "$pid"; then
            kill -"$sig" "$pid" 2>/dev/null || true
            left+=("$pid")
        fi
        rm -f "$RUN/$d.pid"
    done
    for _ in $(seq 100); do
        local still=()
        for pid in "${left[@]}"; do alive "$pid" && still+=("$pid"); done
        left=("${still[@]}")
        [ ${#left[@]} -gt 0 ] || return 0
        sleep 0.1
    done
    for pid in "${left[@]}"; do
        log "pid $pid ignored SIG$sig for 10 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    done
}

# Stop in turn: SIGTERM to radosgw and the OSD together makes radosgw ignore it
# for more than 10 s; rgw -> osd -> mon takes a few seconds.
stop_all() {
    [ -d "$RUN" ] || return 0
    rm -f "$ENV_FILE"
    signal_and_wait TERM rgw
    signal_and_wait TERM osd.0
    signal_and_wait TERM mon.a
}

# The data is thrown away anyway: no clean shutdown needed.
kill_all() {
    [ -d "$RUN" ] || return 0
    rm -f "$ENV_FILE"
    signal_and_wait KILL "${DAEMONS[@]}"
}

# ------------------------------------------------------------------ ports

listening() { [ -n "$(ss -Htan "sport = :$1" 2>/dev/null)" ]; }

# A claim is a symlink $PORT_CLAIMS/PORT -> DIR; it is stale once DIR's ports
# file no longer names that port (cluster purged, DIR removed, new ports).
claim_port() {
    local port=$1 link=$PORT_CLAIMS/$1 owner
    owner=$(readlink "$link" 2>/dev/null) || { ln -s "$DIR" "$link" 2>/dev/null; return; }
    [ "$owner" = "$DIR" ] && return 0
    grep -qx "[A-Z_]*=$port" "$owner/ports" 2>/dev/null && return 1
    rm -f "$link" && ln -s "$DIR" "$link" 2>/dev/null
}

release_ports() {
    local line port
    [ -f "$PORTS_FILE" ] || return 0
    while IFS= read -r line; do
        port=${line#*=}
        [ "$(readlink "$PORT_CLAIMS/$port" 2>/dev/null)" = "$DIR" ] && rm -f "$PORT_CLAIMS/$port"
    done <"$PORTS_FILE"
    return 0
}

# pick_ports: keep MON_PORT/RGW_HTTP_PORT/RGW_HTTPS_PORT when set (they must be
# free), otherwise draw each from [10000, start of the ephemeral range).
pick_ports() {
    local var port lo=10000 hi
    hi=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$hi" -gt $((lo + 1000)) ] || hi=$((lo + 20000))
    mkdir -p "$PORT_CLAIMS"
    chmod 1777 "$PORT_CLAIMS" 2>/dev/null || true
    exec 9>"$PORT_CLAIMS/.lock"
    flock 9
    release_ports
    : >"$PORTS_FILE.new"
    for var in MON_PORT RGW_HTTP_PORT RGW_HTTPS_PORT; do
        port=${!var:-}
        if [ -n "$port" ]; then
            listening "$port" && die "$var=$port is in use on this host"
            claim_port "$port" || die "$var=$port is claimed by $(readlink "$PORT_CLAIMS/$port")"
        else
            for _ in $(seq 200); do
                port=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
                grep -qx "[A-Z_]*=$port" "$PORTS_FILE.new" && continue
                listening "$port" || { claim_port "$port" && break; }
                port=""
            done
            [ -n "$port" ] || die "no free port for $var"
        fi
        echo "$var=$port" >>"$PORTS_FILE.new"
        printf -v "$var" %s "$port"
    done
    mv "$PORTS_FILE.new" "$PORTS_FILE"
    exec 9>&-
}

load_ports() {
    [ -f "$PORTS_FILE" ] || die "no cluster in $DIR"
    local line
    while IFS= read -r line; do printf -v "${line%%=*}" %s "${line#*=}"; done <"$PORTS_FILE"
}

# ------------------------------------------------------------------ bootstrap

write_conf() {
    cat >"$CONF" <<EOF
# generated by tests/s3/rgw.sh -- a disposable test cluster
[global]
fsid = $1
mon host = v2:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
keyring = $DIR/keyring
run dir = $RUN
admin socket = $RUN/\$name.asok
pid file = $RUN/\$name.ceph.pid
log file = $LOGS/\$name.log
mon cluster log file = $LOGS/cluster.log
crash dir = $DIR/crash
log to stderr = false
err to stderr = false
# one OSD: single replicas, no failure domain, quiet health warnings
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon warn on osd down out interval zero = false
mon warn on insecure global id reclaim allowed = false
# the big start-up win (14 s -> 2 s): commit map changes every 50 ms, not every 1 s
paxos propose interval = 0.05
ms async op threads = 1

[mon]
mon data = $DIR/mon/\$name
mon data avail warn = 2
mon data avail crit = 1
mon osd down out interval = 0

[osd]
osd data = $DIR/osd/\$name
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
osd op num shards = 1
osd op num threads per shard = 2
osd max scrubs = 0
osd fast shutdown = true

[client]
# radosgw defaults to ms_mon_client_mode=secure, impossible with auth none: it
# would loop forever on "get_initial_auth_request returned -13".
ms mon client mode = crc

[client.rgw]
rgw data = $DIR/rgw
log file = $LOGS/rgw.log
rgw frontends = beast endpoint=127.0.0.1:$RGW_HTTP_PORT ssl_endpoint=127.0.0.1:$RGW_HTTPS_PORT ssl_certificate=$DIR/tls/cert.pem ssl_private_key=$DIR/tls/key.pem
# empty: path-style addressing only, whatever the Host header
rgw dns name =
rgw thread pool size = 32
rgw enable usage log = false
# free deleted data within a minute instead of hours
rgw gc obj min wait = 10
rgw gc processor period = 30
EOF
    if [ -n "${EXTRA_CEPH_CONF:-}" ]; then printf '\n%s\n' "$EXTRA_CEPH_CONF" >>"$CONF"; fi
}

make_cert() {
    mkdir -p "$DIR/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$DIR/tls/key.pem" -out "$DIR/tls/cert.pem" >"$LOGS/openssl.out" 2>&1 ||
        { cat "$LOGS/openssl.out" >&2; die "openssl could not make the certificate"; }
    chmod 600 "$DIR/tls/key.pem"
}

# A fresh cluster every time: memstore keeps objects in RAM only, so a cluster
# that was stopped has lost its data anyway.
bootstrap() {
    local fsid
    fsid=$(uuidgen)
    rm -rf "$RUN" "$LOGS" "$DIR/mon" "$DIR/osd" "$DIR/rgw" "$DIR/crash" "$DIR/tls" \
        "$DIR/monmap" "$DIR/keyring" "$ENV_FILE" "$CONF"    # monmaptool won't overwrite
    mkdir -p "$RUN" "$LOGS" "$DIR/mon/mon.a" "$DIR/osd/osd.0" "$DIR/rgw" "$DIR/crash"
    write_conf "$fsid"
    make_cert
    # ceph-mon --mkfs insists on a keyring, even with auth none
    ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
    ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/keyring" \
        >>"$LOGS/mkfs.out" 2>&1 || { cat "$LOGS/mkfs.out" >&2; die "ceph-mon --mkfs failed"; }
}

osd_active() { grep -q 'state: booting -> active' "$LOGS/osd.0.log" 2>/dev/null; }

https_ready() {
    curl -sf --noproxy '*' --max-time 2 -o /dev/null "http://127.0.0.1:$RGW_HTTP_PORT/" &&
        curl -sf --noproxy '*' --max-time 2 --cacert "$DIR/tls/cert.pem" -o /dev/null "https://127.0.0.1:$RGW_HTTPS_PORT/"
}

start_cluster() {
    local uuid id
    log "new cluster in $DIR (mon :$MON_PORT, http :$RGW_HTTP_PORT, https :$RGW_HTTPS_PORT)"
    bootstrap
    launch mon.a ceph-mon -c "$CONF" -i a

    # `ceph osd new` waits for the mon itself (--connect-timeout)
    uuid=$(uuidgen)
    id=$("${CEPH[@]}" osd new "$uuid" 2>>"$LOGS/ceph-cli.out") ||
        { tail -n 15 "$LOGS/ceph-cli.out" "$LOGS/mon.a.log" >&2 2>/dev/null; die "ceph osd new failed"; }
    [ "$id" = 0 ] || die "expected osd id 0, got '$id'"
    ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$uuid" >>"$LOGS/mkfs.out" 2>&1 ||
        { cat "$LOGS/mkfs.out" >&2; die "ceph-osd --mkfs failed"; }
    launch osd.0 ceph-osd -c "$CONF" -i 0
    log "mon up, osd.0 booting"
    wait_for "osd.0 active" osd_active

    # The user (and with it the default zone and rgw pools) is created before
    # radosgw starts, so the two never race to create the same objects.
    radosgw-admin -c "$CONF" -n client.rgw user create --uid=coffre-test --display-name="coffre tests" \
        --access-key="$S3_ACCESS_KEY" --secret-key="$S3_SECRET_KEY" \
        >"$DIR/user.json" 2>>"$LOGS/radosgw-admin.out" ||
        { tail -n 15 "$LOGS/radosgw-admin.out" >&2; die "radosgw-admin user create failed"; }
    log "S3 user created"
    launch rgw radosgw -c "$CONF" -n client.rgw
    wait_for "radosgw on http and https" https_ready
}

write_env() {
    {
        printf 'export S3_ENDPOINT=%q\n' "http://127.0.0.1:$RGW_HTTP_PORT"
        printf 'export S3_ENDPOINT_TLS=%q\n' "https://127.0.0.1:$RGW_HTTPS_PORT"
        printf 'export S3_CA_FILE=%q\n' "$DIR/tls/cert.pem"
        printf 'export S3_REGION=%q\n' "$S3_REGION"
        printf 'export AWS_ACCESS_KEY_ID=%q\n' "$S3_ACCESS_KEY"
        printf 'export AWS_SECRET_ACCESS_KEY=%q\n' "$S3_SECRET_KEY"
        printf 'export AWS_DEFAULT_REGION=%q\n' "$S3_REGION"
        printf 'export CEPH_CONF=%q\n' "$CONF"
    } >"$ENV_FILE"
}

print_env() {
    if all_up && [ -s "$ENV_FILE" ]; then cat "$ENV_FILE"; else die "no running cluster in $DIR"; fi
}

# ------------------------------------------------------------------ actions

do_start() {
    local tool
    for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool \
        openssl uuidgen curl ss flock setsid; do
        command -v "$tool" >/dev/null ||
            die "$tool not found (sh tests/deps.sh installs ceph-mon ceph-osd radosgw ceph-common uuid-runtime iproute2 curl)"
    done
    if all_up && [ -s "$ENV_FILE" ]; then
        log "already running in $DIR"
        cat "$ENV_FILE"
        return 0
    fi
    any_up && kill_all          # half a cluster: start over
    pick_ports
    trap 'abort_start $?' EXIT      # any failure below: leave nothing running
    start_cluster
    write_env
    trap - EXIT
    log "ready: http://127.0.0.1:$RGW_HTTP_PORT https://127.0.0.1:$RGW_HTTPS_PORT"
    cat "$ENV_FILE"
}

abort_start() {
    trap - EXIT
    [ "$1" = 0 ] && return 0
    kill_all
    release_ports
    rm -f "$PORTS_FILE"
    exit "$1"
}

do_status() {
    local d pid rc=0
    [ -f "$PORTS_FILE" ] && load_ports && echo "ports mon=$MON_PORT http=$RGW_HTTP_PORT https=$RGW_HTTPS_PORT"
    for d in "${DAEMONS[@]}"; do
        pid=$(pid_of "$d")
        if alive "$pid"; then
            echo "$d running pid $pid rss_kb $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")" \
                "peak_rss_kb $(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")"
        else
            echo "$d stopped"
            rc=3
        fi
    done
    return $rc
}

case "$ACTION" in
    start) do_start ;;
    env) print_env ;;
    status) do_status ;;
    stop) stop_all; log "stopped"; release_ports; rm -f "$PORTS_FILE" ;;
    purge) kill_all; release_ports; rm -rf "$DIR"; log "purged" ;;
esac
