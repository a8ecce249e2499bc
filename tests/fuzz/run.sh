#!/bin/sh
# Build the libFuzzer targets with clang (ASan+UBSan) and run each for
# FUZZ_SECONDS (default 10) from its seed corpus.  Prints TAP: one line per
# target, "not ok" if it found a crash (the reproducer is kept in build-fuzz/).
set -u
cd "$(dirname "$0")/../.." || exit 2
SECONDS_EACH=${FUZZ_SECONDS:-10}
B=build-fuzz
if ! command -v clang >/dev/null 2>&1; then
    echo "1..0 # SKIP clang is not installed"
    exit 0
fi
make -s BUILD=$B CC=clang OPT="-O1 -g -fno-omit-frame-pointer" \
    SAN="-fsanitize=fuzzer-no-link,address,undefined" $B/libcoffre.a >&2 || exit 1
LIBS=$(pkg-config --libs libpq libcurl libxml-2.0 libsodium p11-kit-1 libzstd libsystemd jansson inih libcrypto)
CF=$(pkg-config --cflags libpq libcurl libxml-2.0 libsodium p11-kit-1 libzstd libsystemd jansson inih libcrypto)
n=0
fails=0
# seeds: a real object, a real manifest shape, the example configuration
mkdir -p $B/corpus-fuzz_object $B/corpus-fuzz_config $B/corpus-fuzz_manifest
# shellcheck disable=SC2086
clang -std=c17 -D_GNU_SOURCE -O1 -g -I. $CF -fsanitize=fuzzer-no-link,address,undefined \
    tests/fuzz/make_seed.c tests/unit/support/testkeys.c $B/libcoffre.a $LIBS -lpthread \
    -o $B/make_seed >&2 && $B/make_seed $B/corpus-fuzz_object/seed-object >&2
cp coffre.conf.example $B/corpus-fuzz_config/seed-example
cp tests/fuzz/seed-manifest.json $B/corpus-fuzz_manifest/seed-manifest
# msg FORMAT: one message of fuzz_basebackup's framing: its length in 2 bytes,
# big-endian, then the bytes printf FORMAT prints (octal escapes for NULs)
msg() {
    # shellcheck disable=SC2059
    len=$(printf "$1" | wc -c)
    # shellcheck disable=SC2059
    printf "\\$(printf %03o $((len >> 8)))\\$(printf %03o $((len & 255)))$1"
}
# a valid BASE_BACKUP stream: base.tar, progress, a tablespace, the manifest
mkdir -p $B/corpus-fuzz_basebackup
{
    msg 'nbase.tar\000\000'
    msg 'd15\n'
    msg 'p\000\000\000\000\000\000\000\003'
    msg 'ddata'
    msg 'n16385.tar\000/srv/ts1\000'
    msg 'dxyz'
    msg 'm'
    msg 'd{}'
} >$B/corpus-fuzz_basebackup/seed-stream
# wal-stream: XLogData at 0/3000000, a keepalive asking for a reply, the end of
# timeline 1 (next: 2 at 0/5000028), the history file name of timeline 2; a
# history with one switch, and one with three, a comment and a blank line
mkdir -p $B/corpus-fuzz_walstream $B/corpus-fuzz_walhistory
Z8='\000\000\000\000\000\000\000\000'
AT='\000\000\000\000\003\000\000\000' # 0/3000000
# shellcheck disable=SC2059
printf "\000w${AT}${AT}${Z8}WAL bytes" >$B/corpus-fuzz_walstream/seed-xlogdata
# shellcheck disable=SC2059
printf "\000k${Z8}${Z8}\001" >$B/corpus-fuzz_walstream/seed-keepalive
printf '\0012\0000/5000028' >$B/corpus-fuzz_walstream/seed-timeline-end
printf '\002\000\000\000\00200000002.history' >$B/corpus-fuzz_walstream/seed-history-name
printf '\000\000\000\0021\t0/3000000\tno recovery target specified\n' \
    >$B/corpus-fuzz_walhistory/seed-one
printf '\000\000\000\004# comment\n1\t0/3000000\tbefore 2000-01-01\n\n2\t0/5000000\tat restore point "x"\n3\t1/A0000028\tno recovery target specified\n' \
    >$B/corpus-fuzz_walhistory/seed-three
# tar: a small data directory as pg_basebackup names its members (512-byte
# records keep it small), and a pax archive of what restore refuses or
# repairs: a FIFO, a set-user-ID file and a hard link to it, a sticky
# directory, a link out of the tree, a name past 100 bytes
T=$B/tar-seed
rm -rf $T
mkdir -p $T/pgdata/global $T/pgdata/base/1 $T/pgdata/pg_tblspc $T/odd/sticky $B/corpus-fuzz_tar
echo 15 >$T/pgdata/PG_VERSION
echo control >$T/pgdata/global/pg_control
echo heap >$T/pgdata/base/1/1259
ln -s /srv/ts1 $T/pgdata/pg_tblspc/16385
tar -C $T/pgdata --blocking-factor=1 --format=gnu -cf $B/corpus-fuzz_tar/seed-pgdata \
    PG_VERSION global base pg_tblspc
mkfifo $T/odd/fifo
echo x >$T/odd/setuid
chmod 4755 $T/odd/setuid
ln $T/odd/setuid $T/odd/hardlink
chmod 1777 $T/odd/sticky
ln -s /etc/passwd $T/odd/passwd
echo long >"$T/odd/$(printf '%0120d' 0 | tr 0 l)"
tar -C $T/odd --blocking-factor=1 --format=pax -cf $B/corpus-fuzz_tar/seed-odd .
rm -rf $T
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    n=$((n + 1))
    # shellcheck disable=SC2086
    clang -std=c17 -D_GNU_SOURCE -O1 -g -I. $CF -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=all "$src" tests/unit/support/testkeys.c $B/libcoffre.a $LIBS \
        -lpthread -o "$B/$name" >&2 || { echo "not ok $n - $name builds"; fails=$((fails + 1)); continue; }
    corpus="$B/corpus-$name"
    mkdir -p "$corpus" "$B/crashes-$name"
    if "$B/$name" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -artifact_prefix="$B/crashes-$name/" \
            "$corpus" >"$B/$name.log" 2>&1; then
        echo "ok $n - $name: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$B/$name.log" | cut -d' ' -f2) runs in ${SECONDS_EACH}s, no crash"
    else
        echo "not ok $n - $name found a crash (see $B/$name.log and $B/crashes-$name/)"
        tail -30 "$B/$name.log" | sed 's/^/# /'
        fails=$((fails + 1))
    fi
done
echo "1..$n"
[ "$fails" = 0 ]
