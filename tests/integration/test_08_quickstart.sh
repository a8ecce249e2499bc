#!/bin/bash
# test_08_quickstart -- the README's quick start, pasted as written: every ```sh block
# of its "Quick start" section runs, in order, as root, against this host's standard
# Debian 15/main cluster (started as Debian starts it), with the package `make deb`
# builds.  Then: the logical restore equals its source, the physical restore runs
# and holds the source's rows, `coffre check` saw archiving work.  Without systemd
# as PID 1 the block's systemctl lines are recorded, not run (the units under a
# real systemd: test_91).  Root only; skipped when the host's cluster is running,
# coffre is installed or its directories exist, since it changes all of them; every
# change is undone on exit.
set -eu
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
plan_start "test_08_quickstart: the README quick start on a Debian 15/main cluster"

[ "$(id -u)" = 0 ] || skip_all "changes the host (package, users, the 15/main cluster): root only"
command -v pg_lsclusters >/dev/null || skip_all "postgresql-common is not installed"
cluster=$(pg_lsclusters -h 2>/dev/null | awk '$1 == 15 && $2 == "main"')
[ -n "$cluster" ] || skip_all "this host has no Debian cluster 15/main"
case $cluster in *online*) skip_all "the host's cluster 15/main is running: not touching it" ;; esac
if dpkg-query -W -f='${Status}' coffre 2>/dev/null | grep -q 'install ok'; then
    skip_all "a coffre package is installed on this host: not touching it"
fi
for d in /etc/coffre /var/lib/postgresql/coffre /var/lib/postgresql/15/restored \
    /etc/postgresql/15/main/conf.d/coffre.conf; do
    [ ! -e "$d" ] || skip_all "$d exists on this host: not touching it"
done
if [ -d /var/lib/coffre ] && [ -n "$(ls -A /var/lib/coffre)" ]; then
    skip_all "/var/lib/coffre holds files on this host: not touching it"
fi

README="$REPO_ROOT/README.md"
TOKENS=/var/lib/softhsm/tokens
had_user=no
getent passwd coffre >/dev/null && had_user=yes
pg_groups_before=$(id -nG postgres)
ls -A "$TOKENS" 2>/dev/null | sort >"$TEST_TMP/tokens.before" || : >"$TEST_TMP/tokens.before"
PGDATA_MAIN=/var/lib/postgresql/15/main

undo_quickstart() {
    if [ -f /var/lib/postgresql/15/restored/postmaster.pid ]; then
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D /var/lib/postgresql/15/restored stop -m fast \
            >/dev/null 2>&1 || true
    fi
    if pg_lsclusters -h | awk '$1 == 15 && $2 == "main"' | grep -q online; then
        runuser -u postgres -- psql -q -c "DROP DATABASE IF EXISTS postgres_restored" \
            -c "DROP TABLE IF EXISTS quickstart_t" >/dev/null 2>&1 || true
        pg_ctlcluster 15 main stop -m fast || true
    fi
    rm -f /etc/postgresql/15/main/conf.d/coffre.conf
    rm -rf /var/lib/postgresql/15/restored /var/lib/postgresql/15/restored.coffre \
        /var/lib/postgresql/coffre /etc/systemd/system/coffre-*@.service.d
    apt-get purge -y -q coffre >/dev/null 2>&1 || true
    rm -rf /etc/coffre /var/lib/coffre
    ls -A "$TOKENS" 2>/dev/null | sort | comm -13 "$TEST_TMP/tokens.before" - |
        while read -r t; do [ -z "$t" ] || rm -rf "${TOKENS:?}/$t"; done
    for g in coffre softhsm; do
        case " $pg_groups_before " in
        *" $g "*) ;;
        *) gpasswd -d postgres "$g" >/dev/null 2>&1 || true ;;
        esac
    done
    if [ "$had_user" = no ]; then
        userdel coffre 2>/dev/null || true
        groupdel coffre 2>/dev/null || true
    fi
}
on_exit undo_quickstart

# The host's cluster runs, as it does on a Debian host after installing postgresql-15,
# with a table whose rows the restores must bring back.
run_ok "the host's cluster 15/main starts" pg_ctlcluster 15 main start
runuser -u postgres -- psql -q -c \
    "CREATE TABLE quickstart_t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1234) g"

# ---- the blocks, extracted from the README
awk '/^## Quick start/ { on = 1; next } /^## / { on = 0 }
     on && /^```sh$/ { n++; inb = 1; next } on && /^```$/ { inb = 0; next }
     on && inb { print > (dir "/block-" n ".sh") }' dir="$TEST_TMP" "$README"
blocks=$(find "$TEST_TMP" -maxdepth 1 -name 'block-*.sh' | wc -l)
ok "the quick start has at least six sh blocks (found $blocks)" test "$blocks" -ge 6
like "$(cat "$TEST_TMP"/block-*.sh)" "./build/deb/coffre_" \
    "the quick start installs the package"

# systemctl needs systemd as PID 1; without it, the lines are recorded, not run
stub_dir="$TEST_TMP/stub"
mkdir -p "$stub_dir"
if [ ! -d /run/systemd/system ]; then
    printf '#!/bin/sh\necho "$*" >>%s/systemctl.log\n' "$TEST_TMP" >"$stub_dir/systemctl"
    chmod 755 "$stub_dir/systemctl"
    diag "systemd is not PID 1 here: systemctl lines are recorded in systemctl.log, not run"
fi

for i in $(seq 1 "$blocks"); do
    f="$TEST_TMP/block-$i.sh"
    first=$(grep -v '^[[:space:]]*$' "$f" | head -1 | cut -c1-60)
    # bash -e: a pasted line that fails stops the paste, as an operator would
    _run env PATH="$stub_dir:$PATH" bash -e "$f"
    cp "$LAST_OUT" "$TEST_TMP/block-$i.out"
    cp "$LAST_ERR" "$TEST_TMP/block-$i.err"
    if [ "$LAST_RC" = 0 ]; then
        pass "quick start block $i runs: $first"
    else
        fail "quick start block $i runs: $first" "exit status $LAST_RC"
        _diag_file "$LAST_OUT" stdout
        _diag_file "$LAST_ERR" stderr
        break
    fi
done

# ---- what the blocks should have done
all_out=$(cat "$TEST_TMP"/block-*.out "$TEST_TMP"/block-*.err 2>/dev/null)
like "$all_out" "archive_command runs coffre wal-push; WAL segment" \
    "coffre check proved archiving into the repository"
count() { runuser -u postgres -- psql -X -Atq "$@"; }
is "$(count -d postgres_restored -c 'SELECT count(*), sum(id) FROM quickstart_t' 2>&1)" \
    "1234|761995" "the logical restore holds the source's rows"
sock=$(sed -n 's/.*psql "host=\([^ ]*\) port=\([0-9]*\).*/\1 \2/p' <<<"$all_out" | head -1)
if [ -n "$sock" ]; then
    set -- $sock
    is "$(count -h "$1" -p "$2" -d postgres -c 'SELECT count(*), sum(id) FROM quickstart_t' 2>&1)" \
        "1234|761995" "the physically restored server runs and holds the source's rows"
    is "$(count -h "$1" -p "$2" -d postgres -c 'SHOW data_directory' 2>&1)" \
        "/var/lib/postgresql/15/restored" "it runs on the restored directory, not the live one"
else
    fail "the physical restore printed how to connect" "no 'connect with: psql' line"
fi
is "$(runuser -u postgres -- psql -X -Atq -c 'SHOW data_directory')" "$PGDATA_MAIN" \
    "the live cluster still runs on its own directory"
for s in backup prune verify alert drill drill-simple wal-stream; do
    ok "drop-in installed for coffre-$s@.service" \
        test -f "/etc/systemd/system/coffre-$s@.service.d/run-as-postgres.conf"
done
if [ -f "$TEST_TMP/systemctl.log" ]; then
    like "$(cat "$TEST_TMP/systemctl.log")" "enable --now coffre-backup@coffre.timer" \
        "the quick start enables the backup timer of the instance it configured"
fi

done_testing
