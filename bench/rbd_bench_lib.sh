# rbd_bench_lib.sh: what the RBD benchmarks (rbd.sh, rbd-scale.sh) share:
# the backy build, the Ceph cluster, a loop-mounted XFS, timing and medians.
# Source it from the repository root with set -euo pipefail; before that set
#   BENCH_NAME      names the scratch directory and the image ($IMG)
#   BENCH_XFS_GIB   the size of the XFS (sparse backing file, removed at exit)
#   BENCH_MON_PORTS "V2 V1" of the private cluster started without BACKY_CEPH_ENV
# It sets BACKY, work, mnt, IMG, POOL and defines settle and newest (lib.sh:
# time_cmd); every image whose name is $IMG or starts with $IMG- is purged and
# removed at exit.
# shellcheck shell=bash
top=$PWD
. bench/lib.sh # time_cmd, median, ratio, pratio
[[ -x /usr/bin/time ]] || { echo "GNU time (/usr/bin/time) is required" >&2; exit 1; }
build=${BACKY_BENCH_BUILD:-build/bench-rbd}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target backy >/dev/null
BACKY=$top/$build/worker/backy
[[ $build == /* ]] && BACKY=$build/worker/backy

work=$(mktemp -d "/tmp/backy-$BENCH_NAME.XXXXXX")
mnt=$work/xfs
own_cluster=
IMG=$BENCH_NAME-$$
cleanup() {
	set +e
	if [[ -n ${CEPH_CONF:-} ]]; then
		for i in $IMG $(rbd --id admin -p "$POOL" ls 2>/dev/null | grep "^$IMG-"); do
			rbd --id admin snap purge "$POOL/$i" >/dev/null 2>&1
			rbd --id admin rm --no-progress "$POOL/$i" >/dev/null 2>&1
		done
	fi
	fsfreeze -u "$mnt" 2>/dev/null || true # a run cut short while frozen
	mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
	[[ -n $own_cluster ]] && tests/harness/ceph-down.sh "$own_cluster" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
if [[ -z ${BACKY_CEPH_ENV:-} ]]; then
	own_cluster=$work/ceph
	echo "starting a private Ceph cluster in $own_cluster"
	read -r v2 v1 <<<"$BENCH_MON_PORTS"
	CEPH_MON_PORT_V2=$v2 CEPH_MON_PORT_V1=$v1 tests/harness/ceph-up.sh "$own_cluster" >"$work/ceph-up.log" 2>&1 ||
		{ cat "$work/ceph-up.log" >&2; exit 1; }
	BACKY_CEPH_ENV=$own_cluster/env
fi
# shellcheck disable=SC1090
. "$BACKY_CEPH_ENV"
unset CEPH_ARGS CEPH_KEYRING
POOL=${CEPH_POOL:-rbd}
rbdb() { rbd --id backup "$@"; }

truncate -s "${BENCH_XFS_GIB}G" "$work/xfs.img"
mkfs.xfs -q -m reflink=1 "$work/xfs.img"
mkdir "$mnt"
mount -o loop,discard "$work/xfs.img" "$mnt"

# settle: wait until the monitor has committed nothing for its propose
# interval, so that a timed command that creates a snapshot (a map change,
# committed in the next Paxos round) does not wait for a round opened by the
# untimed set-up or clean-up before it.  A snapshot creation commits twice at
# once and once more about an interval later, so one interval is not enough.
# The commits are counted on the monitor's admin socket where this machine has
# it (the harness's cluster); elsewhere settle waits two intervals.
propose=$(ceph --id admin config get mon paxos_propose_interval 2>/dev/null || echo 1)
mon_asok=$(ls "${BACKY_CEPH_DIR:-/nonexistent}"/run/ceph-mon.*.asok 2>/dev/null | head -1) || true
paxos_commits() {
	ceph --admin-daemon "$mon_asok" perf dump paxos 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["paxos"]["commit"])'
}
settle() {
	local last now
	if [[ -z $mon_asok ]] || ! last=$(paxos_commits); then
		sleep "$propose" && sleep "$propose"
		return
	fi
	while sleep "$propose" && now=$(paxos_commits) && [[ $now != "$last" ]]; do
		last=$now
	done
}
newest() { "$BACKY" -b "$1" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["uuid"])'; }
