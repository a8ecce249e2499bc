#!/bin/sh
# make lint: banned functions, cppcheck, clang-tidy.  Exit non-zero on any finding.
set -u
cd "$(dirname "$0")/.." || exit 2
SRC=$(ls common/*.c stream/*.c storage/*.c storage/*/*.c pkcs11/*.c policies/*.c agent/*.c restore/*.c ops/*.c cli/*.c 2>/dev/null)
CFLAGS="-std=c17 -D_GNU_SOURCE -I. $(pkg-config --cflags libpq libcurl libxml-2.0 libsodium p11-kit-1 libzstd libsystemd jansson inih libcrypto)"
status=0

echo "== banned functions"
# strcpy strcat sprintf gets atoi system popen rand: unbounded, unchecked or unsafe.
if grep -nE '(^|[^a-z_])(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|system|popen|rand|srand)\(' $SRC |
    grep -v 'NOLINT' | grep -vE '^\S+:[0-9]+:\s*(\*|/\*|//)'; then
    echo "lint: banned function used (mark a reviewed exception with NOLINT and a reason)"
    status=1
fi

echo "== cppcheck"
if ! cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability \
        --inline-suppr --suppress=missingIncludeSystem -I. $SRC; then
    status=1
fi

echo "== clang-tidy"
CHECKS='-*,bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,clang-analyzer-*,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,cert-err33-c,cert-err34-c'
for f in $SRC; do
    out=$(clang-tidy --quiet --checks="$CHECKS" --warnings-as-errors='*' "$f" -- $CFLAGS 2>&1) || {
        echo "$out" | grep -aE 'warning|error' | head -20
        status=1
    }
done
[ "$status" = 0 ] && echo "lint: clean"
exit "$status"
