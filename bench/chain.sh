#!/usr/bin/env bash
# Chain benchmark: does a long chain of incrementals keep the newest revision
# cheap to clone?
#
# On a loop-mounted XFS (reflink=1; --fs btrfs for btrfs) it backs up an image
# of random data (a file source: every day reads the whole image) once in
# full, then DAYS times after changing CHANGE % of its 64 KiB blocks at
# random places, and every EVERY days prints the newest revision's extent
# count (FIEMAP, filefrag) and its clone time (cp --reflink=always, median of
# CLONES) against those of the first revision, measured in the same run, plus
# the median backup time and the space the chain took per day (df), which is
# what rewriting more than the changed blocks would cost.
#
# usage: bench/chain.sh [--size GIB=10] [--days 60] [--change PCT=1] [--every 10]
#                       [--clones 5] [--fs xfs|btrfs]     (root; xfsprogs/btrfs-progs, e2fsprogs)
# BACKY=PATH uses that binary (default: build/bench, configured Release).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
size_gib=10 days=60 change=1 every=10 clones=5 fs=xfs
while [ $# -gt 0 ]; do
	case $1 in
	--size) size_gib=$2 ;;
	--days) days=$2 ;;
	--change) change=$2 ;;
	--every) every=$2 ;;
	--clones) clones=$2 ;;
	--fs) fs=$2 ;;
	*) echo "usage: bench/chain.sh [--size GIB] [--days N] [--change PCT] [--every N] [--clones N] [--fs xfs|btrfs]" >&2; exit 2 ;;
	esac
	shift 2
done
case $fs in xfs|btrfs) ;; *) echo "bench/chain.sh: --fs must be xfs or btrfs" >&2; exit 2 ;; esac
if [ -z "${BACKY:-}" ]; then
	cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build/bench -j2 --target backy >/dev/null
	BACKY=$PWD/build/bench/worker/backy
fi

# the image, the first revision, and each day's change eight times over
# (rewritten chunks) as slack; a sparse file: only what is used is allocated
bench_loop_fs "$fs" $(((size_gib * 2 * 1024 + size_gib * 1024 * days * change * 8 / 100 + 2048) / 1024 + 1))G chain

img=$mnt/source.img
python3 - "$img" "$size_gib" <<'PY'
import os, sys
path, gib = sys.argv[1], int(sys.argv[2])
chunk = 64 << 20
data = bytearray(os.urandom(chunk))
with open(path, "wb") as f:
    for i in range((gib << 30) // chunk):
        data[0:8] = i.to_bytes(8, "little")  # no two chunks alike
        f.write(data)
PY

change_blocks() { # overwrite CHANGE % of the 64 KiB blocks, at random places, with fresh random data
	python3 - "$img" "$change" <<'PY'
import os, random, sys
path, pct = sys.argv[1], float(sys.argv[2])
bs = 64 << 10
n = os.path.getsize(path) // bs
with open(path, "r+b") as f:
    for b in sorted(random.sample(range(n), int(n * pct / 100))):
        f.seek(b * bs); f.write(os.urandom(bs))
PY
}

extents() { filefrag "$1" | sed -n 's/.*: \([0-9]*\) extents\? found/\1/p'; }
used_mib() { df -B1M --output=used "$mnt" | tail -1 | tr -d ' '; }
clone_time() { # median seconds of CLONES reflink copies of $1
	local t=() s e
	for _ in $(seq 1 "$clones"); do
		sync
		s=$(date +%s.%N)
		cp --reflink=always "$1" "$mnt/clone"
		e=$(date +%s.%N)
		t+=("$(echo "$e - $s" | bc)")
		rm -f "$mnt/clone"
	done
	median "${t[@]}"
}
newest() { readlink "$repo/latest"; }

repo=$mnt/repo
"$BACKY" -b "$repo" init file "$img" >/dev/null
"$BACKY" -b "$repo" backup -f daily >/dev/null
first=$repo/$(newest)
sync
first_ext=$(extents "$first")
first_clone=$(clone_time "$first")
used0=$(used_mib)
echo "# chain on $fs, $(uname -n), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%FT%TZ)"
echo "# ${size_gib} GiB image, ${change} % of its 64 KiB blocks changed per day, ${days} days; clone = median of ${clones}"
printf '%5s %9s %9s %10s %9s %11s %13s\n' day extents ext/first clone_s clone/1st backup_s MiB/day
printf '%5s %9s %9s %10.4f %9s %11s %13s\n' 0 "$first_ext" 1.00 "$first_clone" 1.00 - -
times=()
for day in $(seq 1 "$days"); do
	change_blocks
	sync
	s=$(date +%s.%N)
	"$BACKY" -b "$repo" backup -f daily >/dev/null
	e=$(date +%s.%N)
	times+=("$(echo "$e - $s" | bc)")
	if [ $((day % every)) -eq 0 ] || [ "$day" -eq "$days" ]; then
		rev=$repo/$(newest)
		sync
		ext=$(extents "$rev")
		ct=$(clone_time "$rev")
		per_day=$(( ($(used_mib) - used0) / day ))
		printf '%5s %9s %9.1f %10.4f %9.1f %11.2f %13s\n' "$day" "$ext" \
			"$(echo "$ext / $first_ext" | bc -l)" "$ct" "$(echo "$ct / $first_clone" | bc -l)" \
			"$(median "${times[@]}")" "$per_day"
		times=()
	fi
done
