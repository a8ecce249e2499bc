#!/bin/sh
# Run every test and print one closing line "N passed, N failed".
#
#   1. unit tests (cmocka), normal build           build/tests/test_*
#   2. the same unit tests under ASan+UBSan+LSan   build-asan/tests/test_*
#   3. libFuzzer smoke run of every parser of untrusted bytes (10 s each)
#   4. integration tests (real PostgreSQL 15, SoftHSM2), using the
#      sanitizer build of coffre so leaks and UB in real command paths fail
#
# Every test prints TAP; this script counts "ok" and "not ok" lines.  A test
# program that exits non-zero without a failing TAP line counts as one
# failure, so a crash can never pass.  An "ok … # SKIP" line, and a whole
# file skipped ("1..0 # SKIP"), count as skipped, never as passed.
# ONLY=pattern runs matching files only.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
LOG_DIR=${LOG_DIR:-$ROOT/build/test-logs}
mkdir -p "$LOG_DIR"
passed=0
failed=0
skipped=0
failures=""

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
export CMOCKA_MESSAGE_OUTPUT=TAP

run_one() { # label command...
    label=$1
    shift
    log="$LOG_DIR/$(echo "$label" | tr '/ ' '__').log"
    start=$(date +%s)
    "$@" >"$log" 2>&1
    rc=$?
    skip=$(grep -c '^ok .*# SKIP' "$log")
    ok=$(($(grep -c '^ok ' "$log") - skip))
    nok=$(grep -c '^not ok ' "$log")
    grep -q '^1\.\.0 # SKIP' "$log" && skip=$((skip + 1))
    if [ "$rc" -ne 0 ] && [ "$nok" -eq 0 ]; then
        nok=1
        echo "not ok - $label exited with status $rc" >>"$log"
    fi
    passed=$((passed + ok))
    failed=$((failed + nok))
    skipped=$((skipped + skip))
    printf '%-48s %4d passed %3d failed %4ds%s\n' "$label" "$ok" "$nok" "$(($(date +%s) - start))" \
        "$([ "$skip" -eq 0 ] || echo " ($skip skipped: $(grep -m1 -o '# SKIP.*' "$log" | cut -c8-))")"
    if [ "$nok" -gt 0 ]; then
        failures="$failures $label"
        grep -A12 '^not ok' "$log" | head -60 | sed 's/^/    /'
    fi
}

matches() { [ -z "${ONLY:-}" ] || echo "$1" | grep -q -- "$ONLY"; }

for t in build/tests/test_*; do
    [ -x "$t" ] && matches "$t" && run_one "unit: $(basename "$t")" "$t"
done
for t in build-asan/tests/test_*; do
    [ -x "$t" ] && matches "$t" && run_one "asan: $(basename "$t")" "$t"
done
if matches tests/fuzz; then
    FUZZ_SECONDS=${FUZZ_SECONDS:-10} run_one "fuzz: parsers and decrypt chain" sh tests/fuzz/run.sh
fi
export COFFRE="${COFFRE:-$ROOT/build-asan/coffre}"
for t in tests/integration/test_*.sh; do
    [ -f "$t" ] && matches "$t" && run_one "integration: $(basename "$t" .sh)" bash "$t"
done

if [ -n "$failures" ]; then
    echo "failed:$failures (logs in $LOG_DIR)"
fi
[ "$skipped" -eq 0 ] || echo "$skipped skipped (not counted as passed; see each line above)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
