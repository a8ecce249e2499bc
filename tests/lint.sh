#!/bin/sh
# make lint: include layers, line length, banned functions, cppcheck, clang-tidy.
# Exit non-zero on any finding.
set -u
cd "$(dirname "$0")/.." || exit 2
# The library folders are found, not listed (tests/layers.sh --folders: every
# top-level directory with C files but tests, bench, build*, debian), so a new
# folder is linted without editing this script.
DIRS=$(sh tests/layers.sh --folders)
# shellcheck disable=SC2086 # folder names have no spaces
SRC="$(find $DIRS -name '*.c' | LC_ALL=C sort)"
# shellcheck disable=SC2086
HDR=$(find $DIRS -name '*.h' | LC_ALL=C sort)
UNIT=$(find tests/unit -name '*.[ch]' | LC_ALL=C sort)
CFLAGS="-std=c17 -D_GNU_SOURCE -I. $(pkg-config --cflags libpq libcurl libxml-2.0 libsodium p11-kit-1 libzstd libsystemd jansson inih libcrypto)"
MAX_COLUMNS=100
status=0

echo "== include layers"
# The check must be able to fail: its self-test runs it on small bad trees.
if ! out=$(sh tests/layers.sh --self-test 2>&1); then
    echo "$out" | grep -v '^ok '
    echo "lint: the include check failed its self-test"
    status=1
fi
sh tests/layers.sh || status=1

echo "== line length"
# Characters, not bytes (a UTF-8 "é" is one column), as clang-format counts them.
# shellcheck disable=SC2086
if LC_ALL=C.UTF-8 grep -nE ".{$((MAX_COLUMNS + 1))}" $SRC $HDR $UNIT | cut -d: -f1,2 |
    sed "s/\$/: longer than $MAX_COLUMNS columns/" | grep .; then
    status=1
fi

echo "== banned functions"
# strcpy strcat sprintf gets atoi system popen rand: unbounded, unchecked or unsafe.
# shellcheck disable=SC2086
if grep -nE '(^|[^a-z_])(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|system|popen|rand|srand)\(' $SRC |
    grep -v 'NOLINT' | grep -vE '^\S+:[0-9]+:\s*(\*|/\*|//)'; then
    echo "lint: banned function used (mark a reviewed exception with NOLINT and a reason)"
    status=1
fi

echo "== cppcheck"
# shellcheck disable=SC2086
if ! cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability \
        --inline-suppr --suppress=missingIncludeSystem -I. $SRC; then
    status=1
fi

echo "== clang-tidy"
CHECKS='-*,bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,clang-analyzer-*,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,cert-err33-c,cert-err34-c'
for f in $SRC; do
    # shellcheck disable=SC2086
    out=$(clang-tidy --quiet --checks="$CHECKS" --warnings-as-errors='*' "$f" -- $CFLAGS 2>&1) || {
        echo "$out" | grep -aE 'warning|error' | head -20
        status=1
    }
done
[ "$status" = 0 ] && echo "lint: clean"
exit "$status"
