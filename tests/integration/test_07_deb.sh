#!/bin/bash
# test_07_deb -- the Debian package: `make deb` builds it lintian-clean (debian/build.sh
# fails on any lintian error or warning); `apt-get install ./coffre_*.deb` installs
# it, creates the user coffre, /etc/coffre and /var/lib/coffre with their owners,
# enables no unit; the packaged binary backs up and verifies a real database; man,
# completion, examples, units and monitoring files are where the docs say; purge
# removes every file the package installed and the empty directories, keeps a
# /var/lib/coffre that holds something (never deletes backups) and the user (Debian
# keeps system users).  Runs as root only: it installs a package on this host.
set -eu
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
plan_start "test_07_deb: make deb, install, use, purge"

[ "$(id -u)" = 0 ] || skip_all "installs a package: root only"
if ! command -v dpkg-buildpackage >/dev/null || ! command -v lintian >/dev/null; then
    skip_all "dpkg-buildpackage or lintian missing (make deps installs them)"
fi
if dpkg-query -W -f='${Status}' coffre 2>/dev/null | grep -q 'install ok'; then
    skip_all "a coffre package is already installed on this host; not touching it"
fi
if [ -d /var/lib/coffre ] && [ -n "$(ls -A /var/lib/coffre)" ]; then
    skip_all "/var/lib/coffre holds files on this host; not touching it"
fi

# The user coffre must be the package's doing: drop one left by an earlier run
# (nothing runs as coffre on a test host), and put the host back as it was.
had_user=no
if getent passwd coffre >/dev/null; then
    had_user=yes
    pgrep -u coffre >/dev/null && skip_all "processes run as user coffre; not touching it"
    userdel coffre
    getent group coffre >/dev/null && groupdel coffre
fi
cleanup_pkg() {
    apt-get purge -y -q coffre >/dev/null 2>&1 || true
    rm -rf /var/lib/coffre
    if [ "$had_user" = no ]; then
        userdel coffre 2>/dev/null || true
        groupdel coffre 2>/dev/null || true
    fi
}
on_exit cleanup_pkg

# ---- build
run_ok "make deb builds the package, lintian clean" sh "$REPO_ROOT/debian/build.sh"
deb=$(tail -1 "$LAST_OUT")
like "$deb" "/build/deb/coffre_" "make deb names the package it built"
version=$(cd "$REPO_ROOT" && dpkg-parsechangelog -S Version)
is "$(dpkg-deb -f "$deb" Version)" "$version" "the package version is debian/changelog's"
like "$("$REPO_ROOT/build/coffre" --version | head -1)" "coffre $version" \
    "debian/changelog and coffre --version name the same version"
unlike "$(dpkg-deb -c "$deb")" "build-asan" "nothing of the build directories is packaged"

# ---- install
run_ok "apt-get install ./coffre_*.deb" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "$deb"
is "$(dpkg-query -W -f='${Status}' coffre)" "install ok installed" "dpkg lists coffre installed"
run_ok "/usr/bin/coffre --version" /usr/bin/coffre --version
like "$(cat "$LAST_OUT")" "object format" "--version names the object format"
# man reads the installed page, not docs/coffre.1 (MANPATH limited to /usr/share/man)
man_out=$(MANPATH=/usr/share/man MANWIDTH=80 man -P cat coffre 2>&1) || true
like "$man_out" "coffre - " "man coffre shows the installed page"
like "$man_out" "wal-push" "the installed page documents the commands"

# ---- the user and the directories
is "$(getent passwd coffre | cut -d: -f6,7)" "/var/lib/coffre:/usr/sbin/nologin" \
    "user coffre exists (sysusers.d): home /var/lib/coffre, no login shell"
uid=$(id -u coffre)
ok "coffre is a system user (uid $uid < 1000)" test "$uid" -lt 1000
like " $(id -nG coffre) " " softhsm " "coffre is in group softhsm (SoftHSM2's token directory)"
is "$(stat -c '%U:%G %a' /var/lib/coffre)" "coffre:coffre 750" \
    "/var/lib/coffre: coffre:coffre 0750 (tmpfiles.d)"
is "$(stat -c '%U:%G %a' /etc/coffre)" "root:coffre 750" "/etc/coffre: root:coffre 0750"

# ---- files where the docs say
for u in backup prune verify alert drill drill-simple; do
    ok "coffre-$u@.service and .timer installed" \
        test -f "/lib/systemd/system/coffre-$u@.service" -a -f "/lib/systemd/system/coffre-$u@.timer"
done
ok "coffre-wal-stream@.service installed" test -f /lib/systemd/system/coffre-wal-stream@.service
like "$(grep '^ExecStart=' /lib/systemd/system/coffre-backup@.service)" \
    "ExecStart=/usr/bin/coffre --config /etc/coffre/%i.conf backup" "units run /usr/bin/coffre"
unlike "$(cat /lib/systemd/system/coffre-*)" "@BINDIR@" "no placeholder left in the units"
is "$(find /etc/systemd/system -name 'coffre*' 2>/dev/null | wc -l)" "0" \
    "no unit enabled by the package (the operator enables instances)"
ok "example configuration in /usr/share/doc/coffre/examples" \
    test -f /usr/share/doc/coffre/examples/coffre.conf.example
ok "Prometheus rules in /usr/share/coffre/prometheus" \
    test -f /usr/share/coffre/prometheus/coffre-alerts.yml
ok "Grafana dashboard in /usr/share/coffre/grafana" \
    test -f /usr/share/coffre/grafana/coffre-dashboard.json
ok "run-as-postgres drop-in in /usr/share/coffre/systemd" \
    test -f /usr/share/coffre/systemd/run-as-postgres.conf
spec=$(bash --norc --noprofile -c \
    '. /usr/share/bash-completion/bash_completion; _completion_loader coffre; complete -p coffre' 2>&1) || true
is "$spec" "complete -F _coffre coffre" "bash-completion loads the packaged completion for coffre"

# ---- the packaged binary works: keys, backup, verify, restore of a real database
pg_start src
psql_at src postgres -c "CREATE DATABASE app"
psql_at src app -c "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 500) g"
hsm_init
hsm_token coffre 4321
# the state directory in the test's directory: /var/lib/coffre is the package's, and
# purge must find it as the package left it
INSTANCE=pkg CONNINFO=$SRC_CONNINFO REPO="$TEST_TMP/repo" STATE_DIR="$TEST_TMP/state" \
    KEKS="pkcs11:token=coffre;object=kek" PIN_FILE="$HSM_DIR/coffre.pin" DATABASES=app \
    coffre_conf "$TEST_TMP/pkg.conf"
run_ok "packaged coffre: keys init" /usr/bin/coffre --config "$TEST_TMP/pkg.conf" keys init
run_ok "packaged coffre: backup" /usr/bin/coffre --config "$TEST_TMP/pkg.conf" backup
id=$(tail -1 "$LAST_OUT")
run_ok "packaged coffre: verify $id" /usr/bin/coffre --config "$TEST_TMP/pkg.conf" verify "$id"
run_ok "packaged coffre: restore --create" /usr/bin/coffre --config "$TEST_TMP/pkg.conf" \
    restore "$id" --db app --target "$(pg_conninfo src app_copy)" --create
is "$(fingerprint src app_copy)" "$(fingerprint src app)" "the restored database equals the source"

# ---- purge
dpkg -L coffre | sort >"$TEST_TMP/files"
run_ok "apt-get purge coffre" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q coffre
is "$(dpkg-query -W -f='${Status}' coffre 2>/dev/null)" "" "dpkg has forgotten coffre"
left=""
while read -r f; do
    # shared directories (/usr/bin, /lib/systemd/system...) belong to other packages too
    if [ -e "$f" ] && ! [ -d "$f" ]; then left="$left $f"; fi
done <"$TEST_TMP/files"
is "$left" "" "purge removed every file the package installed"
for d in /usr/share/coffre /usr/share/doc/coffre /etc/coffre /var/lib/coffre; do
    ok "purge removed $d" test ! -e "$d"
done
is "$(find /usr/lib/sysusers.d /usr/lib/tmpfiles.d -name 'coffre*' | wc -l)" "0" \
    "no sysusers.d or tmpfiles.d entry left"
ok "the user coffre stays after purge (Debian keeps system users)" getent passwd coffre

# ---- a purge never deletes what /var/lib/coffre holds
run_ok "install again" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "$deb"
is "$(id -u coffre)" "$uid" "reinstalling keeps the user's uid"
mkdir -p /var/lib/coffre/repo/acme
echo data >/var/lib/coffre/repo/acme/object
run_ok "purge with a repository in /var/lib/coffre" env DEBIAN_FRONTEND=noninteractive \
    apt-get purge -y -q coffre
is "$(cat /var/lib/coffre/repo/acme/object 2>&1)" "data" "purge kept the repository's files"
like "$(cat "$LAST_ERR" "$LAST_OUT")" "/var/lib/coffre is not empty and was kept" \
    "purge says why /var/lib/coffre stays"

done_testing
