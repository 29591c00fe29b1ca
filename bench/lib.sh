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
