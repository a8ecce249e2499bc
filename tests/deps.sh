#!/bin/sh
# Install every Debian package needed to build, test and run the demo.
# Idempotent; needs root (apt-get).  Debian 12 (bookworm).
set -eu
PKGS="build-essential pkg-config
 libpq-dev libcurl4-openssl-dev libssl-dev libxml2-dev libsodium-dev libp11-kit-dev p11-kit
 libzstd-dev zstd libsystemd-dev libjansson-dev libinih-dev
 libcmocka-dev softhsm2 opensc postgresql-15 postgresql-client-15 openssl
 clang clang-tidy cppcheck valgrind
 ceph-mon ceph-osd radosgw ceph-common uuid-runtime iproute2 curl python3
 prometheus python3-aiosmtpd systemd libfaketime bash-completion
 debhelper lintian man-db debootstrap systemd-container"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "deps: all packages present"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages:$missing; run 'make deps' as root" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
