# lib.sh: what the benchmarks share (source it from bash).

# bench_loop_fs TYPE SIZE NAME: a scratch directory $work (removed at exit)
# holding a loop-mounted TYPE (xfs with reflink=1, or btrfs) file system of
# SIZE (truncate syntax) on $mnt, mounted with discard, unmounted at exit.
bench_loop_fs()
{
	local type=$1 size=$2 name=$3
	work=$(mktemp -d "/tmp/backy-$name.XXXXXX")
	mnt=$work/mnt
	trap 'mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"; rm -rf "$work"' EXIT
	truncate -s "$size" "$work/fs.img"
	case $type in
	xfs) mkfs.xfs -q -m reflink=1 "$work/fs.img" ;;
	btrfs) mkfs.btrfs -q "$work/fs.img" ;;
	*) echo "bench_loop_fs: unknown file system '$type'" >&2; return 1 ;;
	esac
	mkdir "$mnt"
	mount -o loop,discard "$work/fs.img" "$mnt"
}

# quiesce DIR: flush the file system holding DIR and finish what earlier
# removals left pending.  XFS frees a removed file's blocks in the background
# and, mounted with discard, discards them at a later log checkpoint, which
# the timed command's own fsync may be: it would pay for a file the benchmark
# removed before it (0.65 s for 1 GiB on a loop device, seen as one discard
# in the loop device's stat during the backup).  A freeze flushes all of it
# and waits.
quiesce() { sync -f "$1" && fsfreeze -f "$1" && fsfreeze -u "$1"; }

# time_cmd VAR CMD...: quiesce $mnt, then run CMD: its wall seconds into VAR,
# its peak RSS (KiB) into $rss, its stderr into $work/cmd.err (the tail is
# printed and the benchmark stops if CMD fails).  Needs GNU time.
time_cmd() {
	local var=$1 secs
	shift
	quiesce "$mnt"
	/usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/cmd.err" ||
		{ echo "failed: $*" >&2; tail -n 20 "$work/cmd.err" >&2; exit 1; }
	read -r secs rss <"$work/time"
	printf -v "$var" '%s' "$secs"
}

# median VALUES...: the median of numbers
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# ratio A B: A / B to two places (0 when B is 0)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# pratio A B: the median of the rounds' ratios of the arrays named A and B (a
# round runs both back to back, so a pair shares the load of its moment)
pratio() {
	local -n pa=$1 pb=$2
	local i rs=()
	for i in "${!pa[@]}"; do rs+=("$(ratio "${pa[i]}" "${pb[i]}")"); done
	printf "%.2f" "$(median "${rs[@]}")"
}
