#!/bin/sh
# tests/nspawn/rootfs.sh [DIR] -- build (once) the Debian 12 root that
# test_91_real_systemd.sh boots with systemd-nspawn, and print its path.
#
# The root is made by debootstrap from Debian's own packages: systemd as PID 1,
# PostgreSQL 15, SoftHSM2 and every library coffre links against, so that
# coffre's package (or `make install`) needs nothing from the network.  It is
# cached in DIR (default /var/cache/coffre-tests/bookworm-root) and reused while
# its stamp matches the package list below; tests never write to it (they boot an
# overlay on top of it).  A concurrent run waits for the builder (flock).
# Needs root and debootstrap; about 1 minute and 670 MB on a fresh machine.
set -eu
DIR=${1:-${COFFRE_NSPAWN_ROOT:-/var/cache/coffre-tests/bookworm-root}}
MIRROR=${COFFRE_NSPAWN_MIRROR:-http://deb.debian.org/debian}
# systemd + dbus: a real PID 1 and systemctl; the rest: what coffre needs at run
# time (ldd build/coffre) and what its package depends on and recommends
# (softhsm2, p11-kit), so that `apt-get install ./coffre_*.deb` fetches nothing;
# PostgreSQL 15 for the units to back up; adduser for maintainer scripts.
INCLUDE="systemd,systemd-sysv,dbus,adduser,ca-certificates,p11-kit,postgresql-15,postgresql-client-15,softhsm2,libpq5,libcurl4,libxml2,libsodium23,libp11-kit0,libzstd1,libsystemd0,libjansson4,libinih1,libssl3"
STAMP="bookworm minbase $INCLUDE"

mkdir -p "$(dirname "$DIR")"
exec 9>"$DIR.lock"
flock 9
if [ -f "$DIR/.coffre-rootfs" ] && [ "$(cat "$DIR/.coffre-rootfs")" = "$STAMP" ]; then
    echo "$DIR"
    exit 0
fi
tmp="$DIR.new.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
debootstrap --variant=minbase --include="$INCLUDE" bookworm "$tmp" "$MIRROR" >"$DIR.log" 2>&1 || {
    tail -n 20 "$DIR.log" >&2
    echo "rootfs: debootstrap failed (full log: $DIR.log)" >&2
    exit 1
}
# an empty machine-id: systemd makes one at each boot (the overlay keeps the cache clean)
: >"$tmp/etc/machine-id"
echo coffre-test >"$tmp/etc/hostname"
# the apt cache is not needed to boot; keep the cached tree small
rm -rf "$tmp"/var/cache/apt/archives/*.deb
printf '%s\n' "$STAMP" >"$tmp/.coffre-rootfs"
rm -rf "$DIR"
mv "$tmp" "$DIR"
trap - EXIT
echo "$DIR"
