#!/usr/bin/env bash
# Build the Debian packages of the tree this script is in, from a copy of it
# (the tree stays clean), for the tests that install them.
#
# Usage: build-debs.sh OUTDIR
#   Copies the tree (the files git tracks plus the untracked ones it does not
#   ignore; every file but build*/ outside git) to OUTDIR/backy and runs
#   dpkg-buildpackage -us -uc -b there: one build with -j2, no tests inside
#   (DEB_BUILD_OPTIONS=nocheck), no debug symbol packages.  Leaves
#   OUTDIR/backy_*.deb, OUTDIR/backy-worker_*.deb, OUTDIR/backy-coordinator_*.deb,
#   OUTDIR/*.changes and the log OUTDIR/build.log; prints the .debs, one a line.
#   Exit 1 (with the log's tail on stderr) when the build fails.
set -euo pipefail
ME=build-debs.sh
(($# == 1)) || { echo "usage: $ME OUTDIR" >&2; exit 2; }
src=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
rm -rf "$out/backy"
mkdir "$out/backy"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$src" ls-files -co --exclude-standard -z | tar -C "$src" --null -T - -cf - | tar -C "$out/backy" -xf -
else
	tar -C "$src" --exclude='./build*' -cf - . | tar -C "$out/backy" -xf -
fi
if ! (cd "$out/backy" && DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=2" dpkg-buildpackage -us -uc -b) \
	>"$out/build.log" 2>&1; then
	tail -40 "$out/build.log" >&2
	echo "$ME: dpkg-buildpackage failed (log: $out/build.log)" >&2
	exit 1
fi
for p in backy backy-worker backy-coordinator; do
	ls "$out/${p}"_*.deb
done
