#!/bin/sh
# tests/layers.sh - the include layering of docs/architecture.md, checked.
#
#   sh tests/layers.sh [ROOT]       check every .c/.h of the library folders of ROOT
#                                   (default: this tree); exit 1 on a violation
#   sh tests/layers.sh --folders    print the library folders of this tree
#   sh tests/layers.sh --self-test  run the check on small bad trees: it must fail
#
# A library folder is any top-level directory holding .c or .h files, except
# tests, bench, build* and debian (tests/lint.sh lints the same folders).  The
# layer of a file is its top-level folder; an include "dir/..." names the layer
# dir.  A file may include its own layer and the layers RULES lists for it.  A
# library folder missing from RULES is an error: a new folder needs a rule.
# Includes without a folder ("x.h") stay in the including file's folder; ".."
# in an include is refused (it would step around the rule).
set -u

# layer     may include, besides itself ("*": everything)
RULES='
common
stream      common
storage     common stream
pkcs11      common stream
policies    common
agent       common stream storage pkcs11 policies
restore     common stream storage pkcs11 policies
ops         common stream storage pkcs11 policies
cli         *
'

# Exceptions, one header each: the including layer, the header, and why (one
# line).  Commands (agent, restore, ops) do not include each other otherwise.
ALLOW='
restore     agent/backup.h      the migration takes a final backup before it restores
'

# The library folders of root $1, one a line, sorted.
library_folders() {
    (cd "$1" && find . -mindepth 2 -type f \( -name '*.c' -o -name '*.h' \) \
        -not -path './.*' -not -path './tests/*' -not -path './bench/*' \
        -not -path './build*' -not -path './debian/*' | cut -d/ -f2 | LC_ALL=C sort -u)
}

# Check the tree at $1.  Prints one line per violation; exit 1 if any.
check_tree() {
    root=$1
    folders=$(library_folders "$root")
    [ -n "$folders" ] || {
        echo "layers: no library folder under $root"
        return 1
    }
    # shellcheck disable=SC2086 # folders are plain directory names
    files=$(cd "$root" && find $folders -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
    # shellcheck disable=SC2086
    (cd "$root" && RULES="$RULES" ALLOW="$ALLOW" FOLDERS="$folders" awk '
        BEGIN {
            n = split(ENVIRON["RULES"], lines, "\n")
            for (i = 1; i <= n; i++) {
                k = split(lines[i], w, " ")
                if (k == 0)
                    continue
                has_rule[w[1]] = 1
                for (j = 2; j <= k; j++)
                    may[w[1], w[j]] = 1
            }
            n = split(ENVIRON["ALLOW"], lines, "\n")
            for (i = 1; i <= n; i++) {
                k = split(lines[i], w, " ")
                if (k == 0)
                    continue
                if (k < 3) {
                    printf "layers: allow-list entry \"%s\" needs %s\n", lines[i],
                           "a folder, a header and a reason"
                    bad = 1
                    continue
                }
                if (!(w[1] in has_rule)) {
                    printf "layers: allow-list entry for \"%s\", which has no rule\n", w[1]
                    bad = 1
                }
                if ((getline junk < w[2]) < 0) {
                    printf "layers: allow-list entry names \"%s\", which does not exist\n", w[2]
                    bad = 1
                }
                close(w[2])
                allowed[w[1], w[2]] = 1
            }
            n = split(ENVIRON["FOLDERS"], lines, "\n")
            for (i = 1; i <= n; i++)
                if (lines[i] != "" && !(lines[i] in has_rule)) {
                    printf "layers: folder \"%s\" has no rule: %s\n", lines[i],
                           "add one to RULES in tests/layers.sh"
                    bad = 1
                }
        }
        /^[ \t]*#[ \t]*include[ \t]*"/ {
            inc = $0
            sub(/^[^"]*"/, "", inc)
            sub(/".*$/, "", inc)
            split(FILENAME, p, "/")
            from = p[1]
            if (!(from in has_rule))
                next                    # reported once above
            if (index(inc, "/") == 0)
                next                    # "x.h": next to the including file
            to = substr(inc, 1, index(inc, "/") - 1)
            if (inc !~ /(^|\/)\.\.(\/|$)/ && (to == from || (from, to) in may ||
                                             (from, "*") in may || (from, inc) in allowed))
                next
            printf "%s:%d: \"%s\" may not include \"%s\"\n", FILENAME, FNR, from, inc
            bad = 1
        }
        END { exit bad }
    ' $files)
}

# Write file $2 under root $1 with the include lines that follow.
put() {
    root=$1 f=$2
    shift 2
    mkdir -p "$root/$(dirname "$f")"
    : >"$root/$f"
    for inc in "$@"; do
        printf '#include "%s"\n' "$inc" >>"$root/$f"
    done
}

# Each case: build a tree, run the check, compare its output and status.
self_test() {
    # the self-test trees are judged with their own allow-lists, never this tree's
    ALLOW='
'
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/coffre-layers.XXXXXX") || return 2
    trap 'rm -rf "$tmp"' EXIT
    failures=0
    expect() { # desc status output
        if [ "$got_rc" = "$2" ] && [ "$got" = "$3" ]; then
            echo "ok - layers: $1"
        else
            echo "not ok - layers: $1"
            echo "#   status $got_rc (expected $2), output:"
            printf '%s\n' "$got" | sed 's/^/#     /'
            echo "#   expected:"
            printf '%s\n' "$3" | sed 's/^/#     /'
            failures=$((failures + 1))
        fi
    }
    run() {
        got=$(check_tree "$1" 2>&1)
        got_rc=$?
    }

    t=$tmp/good
    put "$t" common/error.h
    put "$t" stream/sink.h "common/error.h"
    put "$t" storage/s3/s3_int.h "storage/storage.h" "stream/sink.h" "s3.h"
    put "$t" storage/storage.h "common/error.h"
    put "$t" agent/backup.c "agent/backup.h" "pkcs11/keyring.h" "policies/policy.h"
    put "$t" cli/main.c "agent/backup.h" "restore/restore.h" "ops/ops.h"
    put "$t" tests/unit/test_x.c "agent/backup.h" "tests/unit/support/t.h"
    put "$t" coffre.c "agent/backup.h"
    run "$t"
    expect "a tree that keeps the rules passes" 0 ""

    t=$tmp/down
    put "$t" common/error.h
    put "$t" stream/sink.c "common/error.h" "storage/repo.h"
    put "$t" storage/repo.h "stream/sink.h" "pkcs11/keyring.h"
    put "$t" pkcs11/keyring.h
    run "$t"
    expect "including a higher or a sibling layer fails" 1 \
"storage/repo.h:2: \"storage\" may not include \"pkcs11/keyring.h\"
stream/sink.c:2: \"stream\" may not include \"storage/repo.h\""

    t=$tmp/commands
    put "$t" agent/backup.h
    put "$t" restore/migrate.c "agent/backup.h" "restore/../agent/backup.h"
    mkdir -p "$t/ops"
    printf '  # include "restore/commands.h"  /* spacing */\n' >"$t/ops/status.c"
    put "$t" policies/alerts.c "agent/backup.h"
    run "$t"
    expect "commands do not include each other" 1 \
"ops/status.c:1: \"ops\" may not include \"restore/commands.h\"
policies/alerts.c:1: \"policies\" may not include \"agent/backup.h\"
restore/migrate.c:1: \"restore\" may not include \"agent/backup.h\"
restore/migrate.c:2: \"restore\" may not include \"restore/../agent/backup.h\""

    ALLOW='
restore  agent/backup.h   the migration takes a backup before it restores
'
    put "$t" ops/status.c
    put "$t" policies/alerts.c
    run "$t"
    expect "an allow-list entry admits that one header" 1 \
"restore/migrate.c:2: \"restore\" may not include \"restore/../agent/backup.h\""
    ALLOW='
restore  agent/gone.h   a stale entry
agent    restore/x.h
'
    put "$t" restore/migrate.c
    run "$t"
    expect "allow-list entries name a header that exists and give a reason" 1 \
"layers: allow-list entry names \"agent/gone.h\", which does not exist
layers: allow-list entry \"agent    restore/x.h\" needs a folder, a header and a reason"
    ALLOW='
'

    t=$tmp/newfolder
    put "$t" common/error.h
    put "$t" sched/plan.c "common/error.h"
    run "$t"
    expect "a folder without a rule fails" 1 \
        "layers: folder \"sched\" has no rule: add one to RULES in tests/layers.sh"

    t=$tmp/ignored
    put "$t" common/error.h "agent/backup.h"
    put "$t" bench/b.c "agent/backup.h"
    put "$t" build-asan/x.c "agent/backup.h"
    put "$t" debian/x.c "agent/backup.h"
    run "$t"
    expect "tests, bench, build* and debian are not library folders" 1 \
        "common/error.h:1: \"common\" may not include \"agent/backup.h\""

    echo "1..7"
    rm -rf "$tmp"
    trap - EXIT
    [ "$failures" = 0 ]
}

case "${1:-}" in
--folders)
    library_folders "$(dirname "$0")/.."
    ;;
--self-test)
    self_test
    ;;
*)
    check_tree "${1:-$(dirname "$0")/..}"
    ;;
esac
