#!/usr/bin/env bash
# Manifest benchmark: the manifest phases of an incremental backup (open the
# parent's, write + sync the new one, read back) in format 1 (one seal over
# the whole file, every digest rewritten) against format 2 (segments sealed
# one by one, a reflinked clone with only changed digests written), same run,
# on a loop-mounted XFS (reflink=1).  Image geometries of 10 GiB, 100 GiB and
# 1 TiB with 64 KiB blocks (manifests of 2.5 MiB to 256 MiB); no image data is
# involved, so a terabyte geometry costs only its manifest.  Two cases: an
# unchanged incremental and 10 changed 4 MiB objects.  Prints medians per
# phase and the ratios 2 / 1 (bench_manifest.c says what each phase does).
#
# usage: bench/manifest.sh [ROUNDS=5] [SIZE_GIB...=10 100 1024]   (root; xfsprogs)
# BUILD=DIR uses that build tree (default build/bench, configured Release).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds=${1:-5}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 100 1024)
build=${BUILD:-build/bench}
if [ -z "${BUILD:-}" ]; then
	cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target bench_manifest >/dev/null
bin=$build/worker/bench_manifest

bench_loop_fs xfs 3G manifest

echo "# manifest phases on $(uname -n), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%FT%TZ)"
echo "## unchanged incremental"
"$bin" "$mnt" "$rounds" 0 "${sizes[@]}"
echo "## 10 changed objects (640 blocks of 64 KiB)"
"$bin" "$mnt" "$rounds" 640 "${sizes[@]}"
