#!/usr/bin/env bash
# Storage-host benchmark: backy against dd on the same file system, same run.
#
# On a loop-mounted XFS (reflink=1) it makes a mixed-content image (random,
# zeros, compressible text) and measures, ROUNDS times each, alternating:
#   full backup          vs  dd bs=4M conv=fsync copy of the image
#   incremental (1 %)    vs  a read-only dd pass of the image (what it must at least do)
#   restore to a file    vs  dd bs=4M conv=fsync of the revision
# (plus stricter baselines: dd conv=sparse, which skips zeros like backy, and
# dd iflag=direct, which reads past the page cache in 4 MiB requests like
# backy's file source, for the copy and the read)
# and prints medians and ratios (of the medians, and the median of each
# round's ratio, "paired"), plus the peak RSS of backy.  Both sides
# fsync their output; every run starts with the file it reads out of the
# page cache (dd iflag=nocache count=0, for that file only) and on a quiet
# file system (lib.sh: quiesce).
#
# usage: bench/storage.sh [SIZE_GIB=2] [ROUNDS=3]   (root; needs xfsprogs, GNU time)
# BACKY_BENCH_BUILD names the build directory (default build/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
size_gib=${1:-2}
rounds=${2:-3}
top=$PWD
build=${BACKY_BENCH_BUILD:-build/bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target backy >/dev/null
BACKY=$top/$build/worker/backy
[[ $build == /* ]] && BACKY=$build/worker/backy

work=$(mktemp -d /tmp/backy-bench.XXXXXX)
mnt=$work/xfs
cleanup() {
	fsfreeze -u "$mnt" 2>/dev/null || true # a run cut short while frozen
	mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
	rm -rf "$work"
}
trap cleanup EXIT
truncate -s $((size_gib * 5 + 4))G "$work/xfs.img"
mkfs.xfs -q -m reflink=1 "$work/xfs.img"
mkdir "$mnt"
mount -o loop,discard "$work/xfs.img" "$mnt"

img=$mnt/source.img
echo "making a ${size_gib} GiB mixed image (40% random, 30% zeros, 30% text)"
python3 - "$img" "$size_gib" <<'PY'
import os, sys
path, gib = sys.argv[1], int(sys.argv[2])
chunk = 4 << 20
text = (b"Nov 26 12:00:01 host sshd[4242]: Accepted publickey for deploy from 10.0.0.7 port 52311\n" * 50000)[:chunk]
with open(path, "wb") as f:
    f.truncate(gib << 30)
    for i in range((gib << 30) // chunk):
        kind = i % 10
        if kind < 4:
            f.seek(i * chunk); f.write(os.urandom(chunk))
        elif kind < 7:
            f.seek(i * chunk); f.write(text)
        # else: leave a hole (zeros)
PY

# cold FILE: drop FILE's pages from the page cache
cold() { dd if="$1" iflag=nocache count=0 status=none; }

change_one_percent() { # overwrite 1 % of the 64 KiB blocks with fresh random data
	python3 - "$img" <<'PY'
import os, random, sys
path = sys.argv[1]
bs = 64 << 10
n = os.path.getsize(path) // bs
with open(path, "r+b") as f:
    for b in random.sample(range(n), n // 100):
        f.seek(b * bs); f.write(os.urandom(bs))
PY
}


declare -a dd_copy dd_sparse dd_dcopy dd_read dd_dread full incr dd_rev restore rss_all
for r in $(seq 1 "$rounds"); do
	repo=$mnt/repo$r
	"$BACKY" -b "$repo" init file "$img" >/dev/null
	cold "$img"
	time_cmd t dd if="$img" of="$mnt/copy.img" bs=4M conv=fsync status=none
	dd_copy+=("$t")
	rm -f "$mnt/copy.img"
	cold "$img"
	time_cmd t dd if="$img" of="$mnt/copy.img" bs=4M conv=sparse,fsync status=none
	dd_sparse+=("$t")
	rm -f "$mnt/copy.img"
	cold "$img"
	time_cmd t dd if="$img" of="$mnt/copy.img" bs=4M iflag=direct conv=fsync status=none
	dd_dcopy+=("$t")
	rm -f "$mnt/copy.img"
	cold "$img"
	time_cmd t "$BACKY" -b "$repo" backup manual:full
	full+=("$t") rss_all+=("$rss")
	change_one_percent
	sync
	cold "$img"
	time_cmd t dd if="$img" of=/dev/null bs=4M status=none
	dd_read+=("$t")
	cold "$img"
	time_cmd t dd if="$img" of=/dev/null bs=4M iflag=direct status=none
	dd_dread+=("$t")
	cold "$img"
	time_cmd t "$BACKY" -b "$repo" backup manual:incr
	incr+=("$t") rss_all+=("$rss")
	rev=$(readlink "$repo/latest")
	cold "$repo/$rev"
	time_cmd t dd if="$repo/$rev" of="$mnt/out-dd.img" bs=4M conv=fsync status=none
	dd_rev+=("$t")
	rm -f "$mnt/out-dd.img"
	cold "$repo/$rev"
	time_cmd t "$BACKY" -b "$repo" restore "$mnt/out.img"
	restore+=("$t") rss_all+=("$rss")
	rm -f "$mnt/out.img"
	rm -rf "$repo"
	echo "round $r: dd copy ${dd_copy[-1]}s, full ${full[-1]}s, incremental ${incr[-1]}s, dd revision ${dd_rev[-1]}s, restore ${restore[-1]}s"
done

m_dd=$(median "${dd_copy[@]}")
m_sparse=$(median "${dd_sparse[@]}")
m_dcopy=$(median "${dd_dcopy[@]}")
m_dread=$(median "${dd_dread[@]}")
m_full=$(median "${full[@]}")
m_incr=$(median "${incr[@]}")
m_read=$(median "${dd_read[@]}")
m_ddrev=$(median "${dd_rev[@]}")
m_rest=$(median "${restore[@]}")
peak=$(printf '%s\n' "${rss_all[@]}" | sort -n | tail -1)
echo
echo "medians over $rounds rounds, ${size_gib} GiB image, cold cache, XFS reflink loop mount:"
# line WHAT MEDIAN BASELINE BASE_MEDIAN PAIRED NOTE: one ratio of the summary
line() {
	awk -v w="$1" -v a="$2" -v bn="$3" -v b="$4" -v p="$5" -v n="$6" \
		'BEGIN {printf "%-18s %6.2fs / %s %6.2fs = %.2f, paired %s (%s)\n", w, a, bn, b, a/b, p, n}'
}
line "full backup" "$m_full" "dd copy" "$m_dd" "$(pratio full dd_copy)" "target <= 1.15"
line "full backup" "$m_full" "dd conv=sparse" "$m_sparse" "$(pratio full dd_sparse)" \
	"stricter baseline: dd skipping zeros too"
line "full backup" "$m_full" "dd iflag=direct" "$m_dcopy" "$(pratio full dd_dcopy)" \
	"stricter baseline: dd reading like backy"
line "incremental 1%" "$m_incr" "dd read" "$m_read" "$(pratio incr dd_read)" "target <= 1.10"
line "incremental 1%" "$m_incr" "dd iflag=direct read" "$m_dread" "$(pratio incr dd_dread)" \
	"stricter baseline"
line "restore" "$m_rest" "dd rev" "$m_ddrev" "$(pratio restore dd_rev)" "target <= 1.10"
echo "peak RSS of backy: $((peak / 1024)) MiB (target < 64 MiB)"
