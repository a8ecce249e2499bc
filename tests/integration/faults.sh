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
