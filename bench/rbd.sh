#!/usr/bin/env bash
# RBD benchmark: backy against the rbd CLI on the same cluster, same run.
#
# On a 2 GiB RBD image (40 % random, 30 % compressible text, 30 % never written)
# it measures ROUNDS times each, alternating, as client.backup:
#   full backup                     vs  rbd export IMG@SNAP FILE (+ fsync), SNAP made just before
#                                       backy's, the same content; after backy in odd rounds,
#                                       before it in even ones, so that background work left by
#                                       the previous round's clean-up (snap trimming) falls on
#                                       both alike
#                                   vs  rbd snap create + export of it (+ fsync): the same work
#                                       as backy's full backup (the plain export is handed its
#                                       snapshot for free)
#   incremental after a 1 % change  vs  rbd export-diff --from-snap A IMG@backy-ID FILE (+ fsync)
#                                   vs  the same with --whole-object (what backy must do on a
#                                       fast-diff image: the issue and Python backy diff whole objects)
#                                   vs  rbd snap create + export-diff --whole-object + snap rm of
#                                       the previous snapshot: the same work as backy's incremental
#                                       (the plain export-diff is handed its snapshots for free)
#   restore into a new RBD image    vs  rbd import FILE (the export of the same revision)
# and prints medians, ratios (backy / rbd; the target is <= 1.1 each: of the
# medians, and the median of each round's ratio, "paired"), the
# median phases of backy's incremental (from its -vv output: snapshot taken,
# data path = copy + sync + read-back + verification against the source,
# older snapshot removed, in the background since issue 12), the time its
# full backup took to create its snapshot, each run's phases, and the peak RSS
# of backy (GNU time %M).  Each round is a new repository on the same image,
# whose incremental has one older backy-* snapshot to remove, as in a chain.
# Repository and
# rbd output files live on the same loop-mounted XFS (reflink=1); both sides
# fsync what they write.  Snapshot creation and removal are monitor commits:
# each waits for the monitor's next Paxos round (paxos_propose_interval, 1 s by
# default, after the last one), a cost of the cluster that the plain export and
# export-diff baselines do not pay.  Every timed command that creates a snapshot
# (backy's and the CLI's alike) starts once the monitor has committed nothing
# for an interval (settle), as on a cluster whose maps did not just change;
# without that, the untimed set-up or clean-up before it cost backy's full
# backup 0.4-1 s against 0.06-0.1 s.
# The 1 % change is 1 % of the 64 KiB blocks at random places (the hard case for
# whole-object diffs); INCR_MODE=clustered writes the same amount in runs of
# 4 MiB instead.
#
# usage: bench/rbd.sh [SIZE_GIB=2] [ROUNDS=3]     (root; needs Ceph and GNU time)
# Uses the cluster of BACKY_CEPH_ENV (tests/harness/ceph-up.sh DIR writes DIR/env);
# without it, starts a private one on mon ports 3320/6809 and stops it at the end.
# BACKY_BENCH_BUILD names the build directory (default build/bench-rbd).
set -euo pipefail
cd "$(dirname "$0")/.."
size_gib=${1:-2}
rounds=${2:-3}
mode=${INCR_MODE:-scattered}
BENCH_NAME=bench-rbd BENCH_XFS_GIB=$((size_gib * 6 + 4)) BENCH_MON_PORTS="3320 6809"
. bench/rbd_bench_lib.sh

echo "making a ${size_gib} GiB RBD image $POOL/$IMG (40% random, 30% text, 30% never written)"
rbd --id admin create --size "${size_gib}G" "$POOL/$IMG"
/usr/bin/python3 - "$POOL" "$IMG" write <<'PY'
import os, sys, rados, rbd
pool, name = sys.argv[1], sys.argv[2]
chunk = 4 << 20
text = (b"Nov 26 12:00:01 host sshd[4242]: Accepted publickey for deploy from 10.0.0.7 port 52311\n" * 50000)[:chunk]
c = rados.Rados(rados_id="admin", conffile=os.environ["CEPH_CONF"]); c.connect()
io = c.open_ioctx(pool)
with rbd.Image(io, name) as im:
    for i in range(im.size() // chunk):
        kind = i % 10
        if kind < 4:
            im.write(os.urandom(chunk), i * chunk)
        elif kind < 7:
            im.write(text, i * chunk)
    im.flush()
io.close(); c.shutdown()
PY

# change_1pct SEED: overwrite 1 % of the image (as the guest, admin)
change_1pct() {
	/usr/bin/python3 - "$POOL" "$IMG" "$1" "$mode" <<'PY'
import os, random, sys, rados, rbd
pool, name, seed, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rng = random.Random(seed)
c = rados.Rados(rados_id="admin", conffile=os.environ["CEPH_CONF"]); c.connect()
io = c.open_ioctx(pool)
with rbd.Image(io, name) as im:
    size = im.size()
    total = size // 100
    unit = 65536 if mode == "scattered" else 4 << 20
    for b in rng.sample(range(size // unit), total // unit):
        im.write(os.urandom(unit), b * unit)
    im.flush()
io.close(); c.shutdown()
PY
}

full=() fsnap=() export=() cexport=() incr=() ediff=() wdiff=() cli=() snap=() rm=() data=() restore=() import=()
rss_full=0 rss_incr=0 rss_rest=0
# note_rss VAR: keep the largest peak RSS (KiB, from time_cmd) of one kind of run in VAR
note_rss() { local -n peak=$1; ((rss > peak)) && peak=$rss; true; }
# phase ARRAY PATTERN: append the seconds of backy's -vv line matching PATTERN
phase() {
	local -n arr=$1
	arr+=("$(sed -n "s/.*$2 \([0-9.]*\) s.*/\1/p" "$work/cmd.err" | head -1)")
}
# export_full ROUND: time the plain export of bench-a-ROUND (the snapshot is handed to it)
export_full() {
	time_cmd t sh -c "rbd --id backup export --no-progress '$POOL/$IMG@bench-a-$1' '$mnt/export-$1' && sync '$mnt/export-$1'"
	export+=("$t")
}
for r in $(seq 1 "$rounds"); do
	repo=$mnt/repo-$r
	rm -rf "$repo"
	"$BACKY" -b "$repo" init rbd "$POOL/$IMG" --ceph-id backup
	# the documented verification defaults, explicitly (see the README of tests)
	sed -i -e 's/^  verify_sample: .*/  verify_sample: 256/' -e 's/^  verify_budget: .*/  verify_budget: 300/' \
		"$repo/config"

	# bench-a-$r: the content of backy's full backup, for the baselines.  The
	# plain export runs after backy in odd rounds and before it in even ones:
	# whatever the previous round's clean-up leaves the cluster doing (snap
	# trimming) falls on both alike.
	rbd --id admin snap create "$POOL/$IMG@bench-a-$r" >/dev/null 2>&1
	((r % 2)) || export_full "$r"
	settle
	time_cmd t "$BACKY" -vv -b "$repo" backup manual:full
	note_rss rss_full
	full+=("$t")
	phase fsnap 'snapshot .* taken in'
	sed -n 's/^backy: \(backup phases: .*\); of the sync.*/  full \1/p' "$work/cmd.err"
	A=$(newest "$repo")
	((r % 2 == 0)) || export_full "$r"
	# the rbd CLI doing backy's whole full backup: a new snapshot, then the export
	settle
	time_cmd t sh -c "rbd --id backup snap create '$POOL/$IMG@bench-f-$r' && \
		rbd --id backup export --no-progress '$POOL/$IMG@bench-f-$r' '$mnt/cexport-$r' && sync '$mnt/cexport-$r'"
	cexport+=("$t")
	rbd --id admin snap rm "$POOL/$IMG@bench-f-$r" >/dev/null 2>&1
	rm -f "$mnt/cexport-$r"

	# what a chain leaves for its next incremental to remove: the snapshot of
	# the parent's parent (the CLI baseline removes one too)
	rbd --id admin snap create "$POOL/$IMG@backy-older-$r" >/dev/null 2>&1
	change_1pct "$r"
	settle
	time_cmd t "$BACKY" -vv -b "$repo" backup manual:incr
	note_rss rss_incr
	incr+=("$t")
	phase snap 'snapshot .* taken in'
	phase rm 'snapshot .* removed in'
	sed -n 's/^backy: \(backup phases: .*\); of the sync.*/  incremental \1/p' "$work/cmd.err"
	data+=("$(sed -n 's/.*backup phases: .* copy \([0-9.]*\) s, sync \([0-9.]*\) s, read-back \([0-9.]*\) s, verify against source \([0-9.]*\) s.*/\1 \2 \3 \4/p' "$work/cmd.err" |
		awk '{ print $1 + $2 + $3 + $4 }')")
	B=$(newest "$repo")
	time_cmd t sh -c "rbd --id backup export-diff --no-progress --from-snap 'bench-a-$r' '$POOL/$IMG@backy-$B' '$mnt/diff-$r' && sync '$mnt/diff-$r'"
	ediff+=("$t")
	time_cmd t sh -c "rbd --id backup export-diff --no-progress --whole-object --from-snap 'bench-a-$r' '$POOL/$IMG@backy-$B' '$mnt/wdiff-$r' && sync '$mnt/wdiff-$r'"
	wdiff+=("$t")
	# the rbd CLI doing backy's whole incremental: new snapshot, diff, drop the old one
	settle
	time_cmd t sh -c "rbd --id backup snap create '$POOL/$IMG@bench-c-$r' && \
		rbd --id backup export-diff --no-progress --whole-object --from-snap 'bench-a-$r' '$POOL/$IMG@bench-c-$r' '$mnt/cdiff-$r' && \
		sync '$mnt/cdiff-$r' && rbd --id backup snap rm --no-progress '$POOL/$IMG@bench-a-$r'"
	cli+=("$t")
	rbd --id admin snap rm "$POOL/$IMG@bench-c-$r" >/dev/null 2>&1

	time_cmd t "$BACKY" -b "$repo" restore -r "$A" "rbd:$POOL/$IMG-rest-$r"
	note_rss rss_rest
	restore+=("$t")
	time_cmd t rbd --id backup import --no-progress "$mnt/export-$r" "$POOL/$IMG-imp-$r"
	import+=("$t")
	for i in rest imp; do rbd --id admin rm "$POOL/$IMG-$i-$r" >/dev/null 2>&1; done
	rm -f "$mnt/export-$r" "$mnt/diff-$r" "$mnt/wdiff-$r" "$mnt/cdiff-$r"
	rm -rf "$repo"
	# every round starts as the first: the next one's incremental would otherwise
	# remove this round's snapshots too, a monitor round each, where a chain of
	# one repository removes one
	for s in "backy-$A" "backy-$B"; do rbd --id admin snap rm --no-progress "$POOL/$IMG@$s" >/dev/null 2>&1; done
	echo "round $r: full ${full[-1]} s / export ${export[-1]} s, incr ${incr[-1]} s / export-diff ${ediff[-1]} s" \
		"(whole-object ${wdiff[-1]} s, with snapshots ${cli[-1]} s), restore ${restore[-1]} s / import ${import[-1]} s"
done

m_full=$(median "${full[@]}") m_fsnap=$(median "${fsnap[@]}") m_export=$(median "${export[@]}") m_cexport=$(median "${cexport[@]}")
m_incr=$(median "${incr[@]}") m_ediff=$(median "${ediff[@]}")
m_wdiff=$(median "${wdiff[@]}") m_cli=$(median "${cli[@]}")
m_snap=$(median "${snap[@]}") m_rm=$(median "${rm[@]}") m_data=$(median "${data[@]}")
m_rest=$(median "${restore[@]}") m_imp=$(median "${import[@]}")
echo
echo "medians over $rounds rounds, ${size_gib} GiB RBD image, 1 % change $mode, XFS reflink loop mount:"
printf '  %-34s %7s s   %-30s %7s s   ratio %s (paired %s)\n' \
	"backy full backup" "$m_full" "rbd export (+fsync)" "$m_export" "$(ratio "$m_full" "$m_export")" "$(pratio full export)" \
	"backy full backup" "$m_full" "  snap create+export" "$m_cexport" "$(ratio "$m_full" "$m_cexport")" "$(pratio full cexport)" \
	"backy incremental (1 %)" "$m_incr" "rbd export-diff (+fsync)" "$m_ediff" "$(ratio "$m_incr" "$m_ediff")" "$(pratio incr ediff)" \
	"backy incremental (1 %)" "$m_incr" "  --whole-object" "$m_wdiff" "$(ratio "$m_incr" "$m_wdiff")" "$(pratio incr wdiff)" \
	"backy incremental (1 %)" "$m_incr" "  snap create+diff+snap rm" "$m_cli" "$(ratio "$m_incr" "$m_cli")" "$(pratio incr cli)" \
	"  backy data path only" "$m_data" "  --whole-object" "$m_wdiff" "$(ratio "$m_data" "$m_wdiff")" "$(pratio data wdiff)" \
	"backy restore into RBD" "$m_rest" "rbd import" "$m_imp" "$(ratio "$m_rest" "$m_imp")" "$(pratio restore import)"
echo "  backy full backup phases (medians): snapshot taken $m_fsnap s (the plain export is handed its snapshot)"
echo "  backy incremental phases (medians): snapshot taken $m_snap s, data path $m_data s, older snapshot removed $m_rm s (in the background)"
echo "  peak RSS of backy: full backup $((rss_full / 1024)) MiB, incremental $((rss_incr / 1024)) MiB" \
	"(target < 96 MiB), restore into RBD $((rss_rest / 1024)) MiB"
