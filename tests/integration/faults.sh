# faults.sh -- helpers of the fault-matrix tests (docs/reliability.md), sourced
# after lib.sh.  The test defines C (coffre with its configuration) and REPO
# (a posix repository) before it calls them.

# needs_injection_points: skip the test unless $COFFRE was built with them
needs_injection_points() {
    if ! grep -qa "COFFRE_INJECT" "$COFFRE"; then
        skip_all "$COFFRE has no injection points (build it with make asan)"
    fi
}

# complete_ids: the ids that `list` shows as complete, sorted
complete_ids() { C list 2>/dev/null | awk 'NR > 1 && $0 !~ /incomplete|unreadable/ { print $1 }' | sort; }

# tmp_files: how many hidden temporary files the posix repository holds
tmp_files() { find "$REPO" -name '.*' -type f | wc -l; }

# inject LABEL POINT=ACTION EXPECTED_STATUS -- COMMAND...: run the command with
# the injection point armed; checks the exit status and that the point fired
# (so that no cell passes without its fault).  Output in $TEST_TMP/out, err.
inject() {
    local label=$1 spec=$2 want=$3 rc=0
    shift 4
    COFFRE_INJECT="$spec" "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
    is "$rc" "$want" "$label: exit status $want"
    like "$(cat "$TEST_TMP/err")" "injection point \"${spec%%[@=]*}\"" "$label: the fault was injected at its stage"
}

# stop_at POINT COMMAND...: start the command in the background with the
# injection point set to stop it, and wait until it is stopped there (10 s at
# most, else bail out).  Make the fault, then call resume.
stop_at() {
    local point=$1
    shift
    COFFRE_INJECT="$point=stop" "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
    STOPPED_PID=$!
    for _ in $(seq 1 100); do
        [ "$(awk '{ print $3 }' "/proc/$STOPPED_PID/stat" 2>/dev/null)" = T ] && return 0
        sleep 0.1
    done
    kill -9 "$STOPPED_PID" 2>/dev/null || true
    bail_out "$* never reached $point"
}

# resume: let the stopped command go on and wait for it; its status in $rc
resume() {
    rc=0
    kill -CONT "$STOPPED_PID"
    wait "$STOPPED_PID" || rc=$?
}

# two_db_source REPO: a server "src" with databases app and app2 (200 000 rows
# each, so that a backup has two dumps and a stage between them), a SoftHSM2
# token, and $TEST_TMP/coffre.conf backing both up into the posix repository
# REPO, where leftovers older than a second are stale.  Sets REPO.
two_db_source() {
    REPO=$1
    pg_start src
    for db in app app2; do
        psql_at src -c "CREATE DATABASE $db"
        psql_at src "$db" -c "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 200000) g"
    done
    hsm_init
    hsm_token coffre 4321
    INSTANCE=acme CONNINFO="$(pg_conninfo src app)" DATABASES="app, app2" REPO="$REPO" \
    KEKS="pkcs11:token=coffre;object=coffre-kek" PIN_FILE="$HSM_DIR/coffre.pin" \
        coffre_conf "$TEST_TMP/coffre.conf"
    printf '\n[retention]\nstale_after = 1s\n' >>"$TEST_TMP/coffre.conf"
}
