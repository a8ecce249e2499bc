# shellcheck shell=bash
# tests/integration/lib.sh -- shared helpers for coffre's integration tests.
#
# Source it from a bash test script:
#
#     #!/bin/bash
#     set -eu
#     . "$(dirname "$0")/lib.sh"
#     plan_start "logical round trip"
#     pg_start src
#     run_ok "backup" "$COFFRE" --config "$conf" backup
#     like "$(cat "$LAST_OUT")" "backup" "backup prints its id"
#     done_testing
#
# Output is TAP (ok N - desc / not ok N - desc, "# " diagnostics, 1..N at the end).
# Everything a test starts lives under $TEST_TMP and is stopped/removed by an EXIT
# trap, even when the test dies half-way (KEEP_TMP=1 keeps the directory).
#
# API (see each function's comment):
#   variables : REPO_ROOT TESTS_DIR COFFRE PG_BIN SOFTHSM_MODULE TEST_TMP
#               LAST_OUT LAST_ERR LAST_RC
#               <NAME>_DIR _PGDATA _HOST _PORT _LOG _CONNINFO (set by pg_start NAME)
#               SOFTHSM2_CONF HSM_DIR (set by hsm_init)
#   TAP       : plan_start pass fail ok is isnt like unlike run_ok run_fails
#               diag note skip skip_all bail_out done_testing
#   processes : as_pg pg_owns on_exit
#   postgres  : pg_init pg_start pg_stop pg_restart pg_conf pg_conninfo
#               conninfo_quote psql_at psql_file fingerprint
#   HSM       : hsm_init hsm_token hsm_aes_key hsm_rsa_key
#   coffre    : coffre_conf

# ---------------------------------------------------------------- environment

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TESTS_DIR="$REPO_ROOT/tests/integration"
COFFRE=${COFFRE:-$REPO_ROOT/build/coffre}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
PATH="$PG_BIN:$PATH"
export COFFRE PG_BIN PATH REPO_ROOT

# Nothing from the caller's libpq environment may leak into a test.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGPASSFILE PGSERVICE \
      PGSERVICEFILE PGOPTIONS PGSSLMODE PGTARGETSESSIONATTRS 2>/dev/null || true
export PGCLIENTENCODING=UTF8
export PGCONNECT_TIMEOUT=10

# A short temporary root: unix socket paths are limited to 107 bytes.
_tmp_base=${TMPDIR:-/tmp}
[ "${#_tmp_base}" -le 40 ] || _tmp_base=/tmp
TEST_TMP=$(mktemp -d "$_tmp_base/cf.XXXXXX")
chmod 755 "$TEST_TMP"
export TEST_TMP
LAST_OUT="$TEST_TMP/last.out"
LAST_ERR="$TEST_TMP/last.err"
LAST_RC=0
: >"$LAST_OUT"
: >"$LAST_ERR"

_TAP_N=0
_TAP_FAILED=0
_TAP_DONE=0
_PG_RUNNING=""          # names of clusters started by pg_start
_ON_EXIT=()             # commands registered with on_exit

# ---------------------------------------------------------------- cleanup

_lib_cleanup() {
    local rc=$? name
    set +e
    if [ "$_TAP_DONE" = 0 ]; then
        # The script died before done_testing (set -e, an error, a signal):
        # make sure the harness sees a failure, not a short but clean run.
        _TAP_N=$((_TAP_N + 1))
        echo "not ok $_TAP_N - test script exited early (status $rc)"
        echo "1..$_TAP_N"
        [ "$rc" != 0 ] || rc=1
    fi
    local i
    for ((i = ${#_ON_EXIT[@]} - 1; i >= 0; i--)); do
        eval "${_ON_EXIT[i]}" >/dev/null 2>&1
    done
    for name in $_PG_RUNNING; do
        _pg_ctl "$name" stop -m immediate >/dev/null 2>&1
    done
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "# KEEP_TMP=1: kept $TEST_TMP" >&2
    else
        rm -rf "$TEST_TMP"
    fi
    exit "$rc"
}
trap _lib_cleanup EXIT

# on_exit CMD -- run the shell command CMD (eval'd) when the test exits, before the
# clusters are stopped; last registered runs first.  Do not set your own EXIT trap.
#   coffre wal-stream ... & on_exit "kill $!"
on_exit() {
    _ON_EXIT+=("$1")
}
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- TAP

# plan_start [TITLE] -- print a header; the plan (1..N) is printed by done_testing.
plan_start() {
    echo "# ${1:-$(basename "$0")}"
}

# diag MSG... -- print each line of MSG as a TAP diagnostic ("# ...").
diag() {
    local line
    printf '%s\n' "$@" | while IFS= read -r line; do echo "# $line"; done
}
note() { diag "$@"; }

# _diag_file FILE LABEL -- last 20 lines of FILE as diagnostics.
_diag_file() {
    if [ -s "$1" ]; then
        echo "#   $2:"
        tail -n 20 "$1" | while IFS= read -r line; do echo "#     $line"; done
    fi
}

# pass DESC
pass() {
    _TAP_N=$((_TAP_N + 1))
    echo "ok $_TAP_N - $1"
}

# fail DESC [DETAILS...] -- details are printed as diagnostics.
fail() {
    _TAP_N=$((_TAP_N + 1))
    _TAP_FAILED=$((_TAP_FAILED + 1))
    echo "not ok $_TAP_N - $1"
    shift
    [ $# -eq 0 ] || diag "$@"
    return 0
}

# ok DESC CMD... -- pass if CMD succeeds (output not captured), e.g.
#   ok "pid file exists" test -f "$SRC_PGDATA/postmaster.pid"
ok() {
    local desc=$1
    shift
    if "$@"; then pass "$desc"; else fail "$desc" "command failed: $*"; fi
}

# is GOT WANT DESC -- string equality.
is() {
    if [ "$1" = "$2" ]; then
        pass "$3"
    else
        fail "$3" "     got: '$1'" "expected: '$2'"
    fi
}

# isnt GOT UNWANTED DESC
isnt() {
    if [ "$1" != "$2" ]; then
        pass "$3"
    else
        fail "$3" "got '$1', expected anything else"
    fi
}

# like GOT SUBSTRING DESC -- fixed-string match (grep -F), GOT may be multi-line.
like() {
    if printf '%s\n' "$1" | grep -qF -- "$2"; then
        pass "$3"
    else
        fail "$3" "expected to contain: '$2'" "got: '$(printf '%s' "$1" | head -c 2000)'"
    fi
}

# unlike GOT SUBSTRING DESC -- GOT must not contain SUBSTRING.
unlike() {
    if printf '%s\n' "$1" | grep -qF -- "$2"; then
        fail "$3" "must not contain: '$2'" "got: '$(printf '%s' "$1" | head -c 2000)'"
    else
        pass "$3"
    fi
}

# run_ok DESC CMD... -- run CMD with stdout/stderr captured in $LAST_OUT/$LAST_ERR
# (exit status in $LAST_RC); pass if it exits 0.  Returns 0 either way.
run_ok() {
    local desc=$1
    shift
    _run "$@"
    if [ "$LAST_RC" = 0 ]; then
        pass "$desc"
    else
        fail "$desc" "command: $*" "exit status: $LAST_RC (expected 0)"
        _diag_file "$LAST_OUT" stdout
        _diag_file "$LAST_ERR" stderr
    fi
}

# run_fails DESC STATUS CMD... -- like run_ok, but CMD must exit with STATUS;
# STATUS "any" (or "!") accepts any non-zero status.
run_fails() {
    local desc=$1 want=$2
    shift 2
    _run "$@"
    if { [ "$want" = any ] || [ "$want" = "!" ]; } && [ "$LAST_RC" != 0 ]; then
        pass "$desc"
    elif [ "$LAST_RC" = "$want" ]; then
        pass "$desc"
    else
        fail "$desc" "command: $*" "exit status: $LAST_RC (expected $want)"
        _diag_file "$LAST_OUT" stdout
        _diag_file "$LAST_ERR" stderr
    fi
}

_run() {
    LAST_RC=0
    "$@" >"$LAST_OUT" 2>"$LAST_ERR" </dev/null || LAST_RC=$?
    return 0
}

# skip DESC REASON -- one assertion that cannot run here (TAP "# SKIP" directive):
# tests/run.sh counts it as skipped, never as passed.
skip() {
    _TAP_N=$((_TAP_N + 1))
    echo "ok $_TAP_N - $1 # SKIP $2"
}

# skip_all REASON -- the whole test is skipped (e.g. a dependency is missing).
skip_all() {
    echo "1..0 # SKIP $*"
    _TAP_DONE=1
    exit 0
}

# bail_out REASON -- abort the whole run.
bail_out() {
    echo "Bail out! $*"
    _TAP_DONE=1
    exit 1
}

# done_testing -- print the plan; exit 1 if anything failed, 0 otherwise.
done_testing() {
    echo "1..$_TAP_N"
    _TAP_DONE=1
    if [ "$_TAP_FAILED" != 0 ]; then
        echo "# failed $_TAP_FAILED of $_TAP_N"
        exit 1
    fi
    exit 0
}

# ---------------------------------------------------------------- users

# as_pg CMD... -- run CMD as the PostgreSQL OS user: `postgres` when we are root
# (initdb and postgres refuse to run as root), the current user otherwise.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# flip_byte FILE OFFSET -- invert one byte in place: always a change, whatever it held
flip_byte() {
    python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xFF]))' "$1" "$2"
}

# pg_owns PATH... -- give PATH (recursively) to the PostgreSQL OS user when we are
# root; no-op otherwise.  Use it for anything the server itself must read or write
# (archive_command / restore_command configs, PIN files, token dirs, repositories).
pg_owns() {
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres:postgres "$@"
    fi
}

# ---------------------------------------------------------------- PostgreSQL

# _pg_var NAME -- the variable prefix for cluster NAME: "src-2" -> "SRC_2".
_pg_var() {
    local v=${1^^}
    v=${v//[^A-Z0-9_]/_}
    echo "$v"
}

_pg_ctl() {
    local dir="$TEST_TMP/$1"
    shift
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" "$@"
}

_free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 20000))
        if [ -z "$(ss -Htanl "( sport = :$p )" 2>/dev/null)" ] &&
           ! ls /tmp/.s.PGSQL."$p" "$TEST_TMP"/*/.s.PGSQL."$p" >/dev/null 2>&1; then
            echo "$p"
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}

# pg_init NAME -- initdb a new cluster in $TEST_TMP/NAME/data (not started).
# Layout: $TEST_TMP/NAME/{data/, postgres.log, .s.PGSQL.<port>}.
pg_init() {
    local name=$1 dir="$TEST_TMP/$1" locale_opt
    mkdir -p "$dir"
    chmod 755 "$dir"
    pg_owns "$dir"
    if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
        locale_opt=--locale=C.UTF-8
    else
        locale_opt=--no-locale
    fi
    # shellcheck disable=SC2086
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 "$locale_opt" \
        --no-sync ${PG_INITDB_OPTS:-} >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        echo "pg_init $name: initdb failed" >&2
        return 1
    }
    cat >>"$dir/data/postgresql.conf" <<EOF

# ---- coffre integration tests (tests/integration/lib.sh)
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
wal_level = replica
max_wal_senders = 4
max_replication_slots = 4
shared_buffers = 32MB
max_connections = 40
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

# pg_conf NAME "key = value"... -- append settings to NAME's postgresql.conf
# (takes effect at the next pg_start/pg_restart).
pg_conf() {
    local name=$1
    shift
    printf '%s\n' "$@" >>"$TEST_TMP/$name/data/postgresql.conf"
}

# pg_start NAME -- start cluster NAME, initdb'ing it first unless
# $TEST_TMP/NAME/data already holds a cluster (e.g. a restored PGDATA: it is chowned
# to the postgres user and chmod 700 first, and its recovery, if any, must reach a
# state that accepts connections).  Exports, for NAME "src":
#   SRC_DIR SRC_PGDATA SRC_LOG SRC_HOST (socket dir) SRC_PORT
#   SRC_CONNINFO="host=... port=... user=postgres dbname=postgres"
pg_start() {
    local name=$1 dir="$TEST_TMP/$1" var port
    var=$(_pg_var "$name")
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        pg_init "$name"
    else
        mkdir -p "$dir"
        chmod 755 "$dir"
        pg_owns "$dir"
        chmod 700 "$dir/data"
    fi
    port=$(eval "echo \${${var}_PORT:-}")
    [ -n "$port" ] || port=$(_free_port)
    # Port and socket on the command line: they override whatever a restored
    # postgresql.conf (or postgresql.auto.conf) says.  <NAME>_PGOPTS adds options
    # (e.g. -c config_file=... for a Debian-style cluster configured outside PGDATA).
    if ! _pg_ctl "$name" -l "$dir/postgres.log" -w -t 120 \
            -o "-p $port -k $dir -c listen_addresses= $(eval "echo \${${var}_PGOPTS:-}")" \
            start >"$dir/pg_ctl.log" 2>&1; then
        echo "pg_start $name: pg_ctl start failed" >&2
        cat "$dir/pg_ctl.log" >&2
        tail -n 30 "$dir/postgres.log" >&2 2>/dev/null
        return 1
    fi
    case " $_PG_RUNNING " in *" $name "*) ;; *) _PG_RUNNING="$_PG_RUNNING $name" ;; esac

    for _ in $(seq 1 120); do
        "$PG_BIN/pg_isready" -q -h "$dir" -p "$port" -U postgres && break
        sleep 0.5
    done
    "$PG_BIN/pg_isready" -q -h "$dir" -p "$port" -U postgres || {
        echo "pg_start $name: server not ready" >&2
        return 1
    }
    eval "${var}_DIR=\$dir ${var}_PGDATA=\$dir/data ${var}_LOG=\$dir/postgres.log"
    eval "${var}_HOST=\$dir ${var}_PORT=\$port"
    eval "${var}_CONNINFO=\"host=\$dir port=\$port user=postgres dbname=postgres\""
    # shellcheck disable=SC2163
    export "${var}_DIR" "${var}_PGDATA" "${var}_LOG" "${var}_HOST" "${var}_PORT" "${var}_CONNINFO"
}

# pg_stop NAME [MODE] -- stop cluster NAME (MODE: fast (default), smart, immediate).
pg_stop() {
    local name=$1 mode=${2:-fast} n
    _pg_ctl "$name" stop -m "$mode" -w -t 120 >/dev/null
    local kept=""
    for n in $_PG_RUNNING; do [ "$n" = "$name" ] || kept="$kept $n"; done
    _PG_RUNNING=$kept
}

# pg_restart NAME -- stop (fast) and start again on the same port.
pg_restart() {
    pg_stop "$1"
    pg_start "$1"
}

# conninfo_quote VALUE -- VALUE as a libpq conninfo value: quoted with '...' and
# backslash escapes when it is empty or holds a space, quote or backslash.
conninfo_quote() {
    case $1 in
        "" | *[[:space:]\'\\]*)
            local v=${1//\\/\\\\}
            v=${v//\'/\\\'}
            printf "'%s'" "$v" ;;
        *) printf '%s' "$1" ;;
    esac
}

# pg_conninfo NAME [DB] -- print NAME's conninfo, for database DB (default postgres).
pg_conninfo() {
    local var
    var=$(_pg_var "$1")
    echo "host=$(eval "echo \$${var}_HOST") port=$(eval "echo \$${var}_PORT") user=postgres dbname=$(conninfo_quote "${2:-postgres}")"
}

# psql_at NAME [DB] PSQL-ARGS... -- psql -X -At -v ON_ERROR_STOP=1 against cluster
# NAME (DB defaults to postgres; an argument starting with "-" is not a DB), e.g.
#   n=$(psql_at src app -c "select count(*) from t")
psql_at() {
    local name=$1 db=postgres var
    shift
    if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
        db=$1
        shift
    fi
    var=$(_pg_var "$name")
    "$PG_BIN/psql" -X -At -q -v ON_ERROR_STOP=1 \
        -h "$(eval "echo \$${var}_HOST")" -p "$(eval "echo \$${var}_PORT")" \
        -U postgres -d "$db" "$@"
}

# psql_file NAME DB FILE -- run an SQL file quietly (stops at the first error).
psql_file() {
    psql_at "$1" "$2" -f "$3" >/dev/null
}

# fingerprint NAME DB [FILTER] -- print the content fingerprint of DB (see
# fingerprint.sql).  FILTER restricts it to one schema ("app") or one relation
# ("app.orders"; split at the first dot).  Two databases hold the same data iff
# their fingerprints are identical.
fingerprint() {
    local name=$1 db=$2 filter=${3:-} schema="" table=""
    if [ -n "$filter" ]; then
        schema=${filter%%.*}
        [ "$schema" = "$filter" ] || table=${filter#*.}
    fi
    psql_at "$name" "$db" -v fp_schema="$schema" -v fp_table="$table" \
        -f "$TESTS_DIR/fingerprint.sql"
}

# ---------------------------------------------------------------- SoftHSM2

# hsm_init [NAME] -- create an independent SoftHSM2 environment in $TEST_TMP/hsm
# (or $TEST_TMP/hsm-NAME) and switch to it: exports SOFTHSM2_CONF and HSM_DIR.
# Switch back and forth with  SOFTHSM2_CONF=$TEST_TMP/hsm-NAME/softhsm2.conf.
hsm_init() {
    local dir="$TEST_TMP/hsm${1:+-$1}"
    mkdir -p "$dir/tokens"
    chmod 700 "$dir"
    cat >"$dir/softhsm2.conf" <<EOF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
    SOFTHSM2_CONF="$dir/softhsm2.conf"
    HSM_DIR=$dir
    export SOFTHSM2_CONF HSM_DIR
}

# hsm_token LABEL PIN -- initialise a token in the current environment (SO PIN
# 12345678) and write PIN to $dir/LABEL.pin (0600, no newline), where $dir is the
# directory of $SOFTHSM2_CONF.
hsm_token() {
    local label=$1 pin=$2 dir
    dir=$(dirname "$SOFTHSM2_CONF")
    softhsm2-util --init-token --free --label "$label" --so-pin 12345678 --pin "$pin" \
        >"$dir/init-$label.log" 2>&1 || {
        cat "$dir/init-$label.log" >&2
        return 1
    }
    (umask 077 && printf '%s' "$pin" >"$dir/$label.pin")
    chmod 600 "$dir/$label.pin"
}

# hsm_aes_key TOKEN OBJECT -- create a sensitive, non-extractable AES-256 key with
# wrap/unwrap/encrypt/decrypt usage on TOKEN (PIN from $dir/TOKEN.pin), outside coffre.
hsm_aes_key() {
    local token=$1 object=$2 dir
    dir=$(dirname "$SOFTHSM2_CONF")
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$token" --login \
        --pin "$(cat "$dir/$token.pin")" --keygen --key-type AES:32 --label "$object" \
        --sensitive --usage-wrap --usage-decrypt >"$dir/keygen-$object.log" 2>&1 || {
        cat "$dir/keygen-$object.log" >&2
        return 1
    }
}

# hsm_rsa_key TOKEN OBJECT [BITS] -- create an RSA key pair (default 3072 bits)
# labelled OBJECT on TOKEN, outside coffre.
hsm_rsa_key() {
    local token=$1 object=$2 bits=${3:-3072} dir
    dir=$(dirname "$SOFTHSM2_CONF")
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$token" --login \
        --pin "$(cat "$dir/$token.pin")" --keypairgen --key-type "rsa:$bits" \
        --label "$object" --id "$(printf '%s' "$object" | od -An -tx1 | tr -d ' \n')" \
        --sensitive --usage-wrap --usage-decrypt >"$dir/keygen-$object.log" 2>&1 || {
        cat "$dir/keygen-$object.log" >&2
        return 1
    }
}

# ---------------------------------------------------------------- coffre

# coffre_conf PATH -- write a coffre INI config from shell variables:
#   INSTANCE CONNINFO REPO (posix path) KEKS (comma-separated URIs) PIN_FILE: required
#   FORMULA (default onprem), SCHEMA, DATABASES (optional), MODULE (default SoftHSM2)
# Append further sections with  cat >>PATH  (the file ends inside [keys]).
coffre_conf() {
    local path=$1
    {
        echo "[coffre]"
        echo "instance = ${INSTANCE:?coffre_conf: INSTANCE is not set}"
        echo "formula = ${FORMULA:-onprem}"
        [ -z "${STATE_DIR:-}" ] || echo "state_dir = $STATE_DIR"
        echo
        echo "[postgres]"
        echo "conninfo = ${CONNINFO:?coffre_conf: CONNINFO is not set}"
        [ -z "${DATABASES:-}" ] || echo "databases = $DATABASES"
        [ -z "${SCHEMA:-}" ] || echo "schema = $SCHEMA"
        echo
        echo "[repository]"
        echo "type = posix"
        echo "path = ${REPO:?coffre_conf: REPO is not set}"
        echo
        echo "[keys]"
        echo "module = ${MODULE:-$SOFTHSM_MODULE}"
        echo "kek = ${KEKS:?coffre_conf: KEKS is not set}"
        echo "pin_file = ${PIN_FILE:?coffre_conf: PIN_FILE is not set}"
    } >"$path"
}
