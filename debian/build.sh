#!/bin/sh
# make deb: build the binary package from a clean copy of the source (the tracked
# files plus new, not ignored ones), so that build/ and build-asan/ never reach it,
# then run lintian.  Output: build/deb/coffre_<version>_<arch>.deb.
set -eu
cd "$(dirname "$0")/.."
out=$(pwd)/build/deb
version=$(dpkg-parsechangelog -S Version)
src=$out/coffre-$version
rm -rf "$out"
mkdir -p "$src"
if git rev-parse --git-dir >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$src" --
else
    tar --exclude=./build --exclude=./build-asan --exclude=./build-fuzz --exclude=./.git \
        -cf - . | tar -xf - -C "$src"
fi
(cd "$src" && dpkg-buildpackage -b -us -uc -j"$(nproc)") >"$out/build.log" 2>&1 || {
    tail -40 "$out/build.log" >&2
    echo "make deb: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
    exit 1
}
deb=$(ls "$out"/coffre_"$version"_*.deb)
# lintian's exit status is non-zero on errors; warnings are listed and must be
# in debian/coffre.lintian-overrides, with the reason, to be accepted
lintian --fail-on error,warning "$deb" || {
    echo "make deb: lintian reported errors or warnings on $deb" >&2
    exit 1
}
echo "$deb"
