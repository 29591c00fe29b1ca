#!/usr/bin/env bash
# RBD scale benchmark: does the cost follow the change or the image size?
#
# For thin RBD images of 10 GiB, 100 GiB and 1 TiB holding the same ~1 GiB of
# data (512 KiB of random data in each of 2048 objects spread evenly over the
# image), ROUNDS times each, in a fresh repository:
#   full backup                     vs  rbd export-diff IMG@backy-ID FILE (+ fsync): from no
#                                       snapshot, reads only the allocated extents too
#   unchanged incremental           vs  rbd export-diff --whole-object --from-snap (+ fsync)
#   10 changed objects incremental  vs  the same
# and prints per image size the medians of the wall time and of each phase
# (from backy -vv: snapshot, diff or allocation map, parent manifest, clone,
# copy, sync, read-back, verification against the source, commit, close;
# the removal of older snapshots runs in the background, its time is shown
# apart), the ratios against the baselines, the targets of issue 12, and an
# extrapolation to a fully written 6 TB image from the measured per-block and
# per-extent costs (assumptions printed with it).  Every timed command starts
# on a quiet monitor and file system (settle, quiesce: rbd_bench_lib.sh,
# lib.sh), so that it does not pay for a snapshot or a file of the command
# before it.  Repositories live on a loop-mounted XFS (reflink=1) whose
# backing file is removed at the end.
#
# usage: bench/rbd-scale.sh [ROUNDS=3] [SIZES_GIB="10 100 1024"]   (root; Ceph, GNU time)
# Uses the cluster of BACKY_CEPH_ENV (tests/harness/ceph-up.sh DIR writes DIR/env);
# without it, starts a private one on mon ports 3321/6810 and stops it at the end.
# BACKY_BENCH_BUILD names the build directory (default build/bench-rbd).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
sizes=${2:-10 100 1024}
BENCH_NAME=bench-scale BENCH_XFS_GIB=12 BENCH_MON_PORTS="3321 6810"
. bench/rbd_bench_lib.sh

# write_objects SIZE_GIB: 512 KiB of random data at the start of 2048 objects
write_objects() {
	/usr/bin/python3 - "$POOL" "$IMG" "$1" <<'PY'
import os, sys, rados, rbd
pool, name, gib = sys.argv[1], sys.argv[2], int(sys.argv[3])
obj, n = 4 << 20, 2048
c = rados.Rados(rados_id="admin", conffile=os.environ["CEPH_CONF"]); c.connect()
io = c.open_ioctx(pool)
with rbd.Image(io, name) as im:
    step = (gib << 30) // obj // n
    for i in range(n):
        im.write(os.urandom(512 << 10), i * step * obj)
    im.flush()
io.close(); c.shutdown()
PY
}

# change_objects SIZE_GIB SEED: 64 KiB of new data in 10 of the written objects
change_objects() {
	/usr/bin/python3 - "$POOL" "$IMG" "$1" "$2" <<'PY'
import os, random, sys, rados, rbd
pool, name, gib, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
obj, n = 4 << 20, 2048
c = rados.Rados(rados_id="admin", conffile=os.environ["CEPH_CONF"]); c.connect()
io = c.open_ioctx(pool)
with rbd.Image(io, name) as im:
    step = (gib << 30) // obj // n
    for i in random.Random(seed).sample(range(n), 10):
        im.write(os.urandom(64 << 10), i * step * obj + (128 << 10))
    im.flush()
io.close(); c.shutdown()
PY
}

# The phases of one backy -vv run (cmd.err), as "name=seconds" words.
PHASES="snapshot map parent source clone copy sync readback verify commit close reap"
phases_of() {
	python3 - "$work/cmd.err" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def num(pat):
    m = re.search(pat, t)
    return float(m.group(1)) if m else 0.0
p = {"snapshot": num(r"snapshot '\S+' taken in ([0-9.]+) s"),
     "map": sum(float(x) for x in re.findall(r"rbd: (?:diff|allocation map|extents): \d+ blocks in ([0-9.]+) s", t)),
     "reap": sum(float(x) for x in re.findall(r"snapshot '\S+' removed in ([0-9.]+) s", t))}
m = re.search(r"backup phases: parent manifest ([0-9.]+) s, open source ([0-9.]+) s, clone parent ([0-9.]+) s, "
              r"copy ([0-9.]+) s, sync ([0-9.]+) s, read-back ([0-9.]+) s, verify against source ([0-9.]+) s, "
              r"commit ([0-9.]+) s, close source ([0-9.]+) s", t)
if not m:
    sys.exit("no phases line in the output of backy -vv")
for k, v in zip("parent source clone copy sync readback verify commit close".split(), m.groups()):
    p[k] = float(v)
# the snapshot and the map are part of opening the source
p["source"] = max(0.0, p["source"] - p["snapshot"] - p["map"])
print(" ".join("%s=%.3f" % kv for kv in p.items()))
PY
}

# extents FILE: number of extents (FIEMAP)
extents() { xfs_io -r -c "fiemap" "$1" | awk 'NR > 1 && $3 != "hole" { n++ } END { print n + 0 }'; }

# last KEY: the newest value of R[KEY] (this round's)
last() { local a=(${R[$1]}); echo "${a[-1]}"; }

declare -A M      # M[size,kind,phase] = median
rss_max=0
for gib in $sizes; do
	echo "== ${gib} GiB thin image, ~1 GiB of data in 2048 objects"
	rbd --id admin create --size "${gib}G" "$POOL/$IMG"
	write_objects "$gib"
	declare -A R=()
	for r in $(seq 1 "$rounds"); do
		repo=$mnt/repo
		rm -rf "$repo"
		"$BACKY" -b "$repo" init rbd "$POOL/$IMG" --ceph-id backup >/dev/null
		for kind in full unchanged changed; do
			[[ $kind == changed ]] && change_objects "$gib" "$r"
			settle
			time_cmd t "$BACKY" -vv -b "$repo" backup "manual:$kind"
			((rss > rss_max)) && rss_max=$rss
			R[$kind,wall]+="$t "
			for kv in $(phases_of); do R[$kind,${kv%%=*}]+="${kv#*=} "; done
			id=$(newest "$repo")
			settle
			if [[ $kind == full ]]; then
				time_cmd b sh -c "rbd --id backup export-diff --no-progress '$POOL/$IMG@backy-$id' '$mnt/diff' && sync '$mnt/diff'"
				R[full,extents]+="$(extents "$repo/$id") "
			else
				time_cmd b sh -c "rbd --id backup export-diff --no-progress --whole-object --from-snap 'backy-$prev' '$POOL/$IMG@backy-$id' '$mnt/diff' && sync '$mnt/diff'"
			fi
			R[$kind,base]+="$b "
			rm -f "$mnt/diff"
			prev=$id
		done
		rm -rf "$repo"
		# one repository per image, as in production: the next round must not
		# find (and remove) this one's snapshots
		rbd --id admin snap purge --no-progress "$POOL/$IMG" >/dev/null 2>&1
		echo "  round $r: full $(last full,wall) s / $(last full,base) s, unchanged $(last unchanged,wall) s /" \
			"$(last unchanged,base) s, 10 changed objects $(last changed,wall) s / $(last changed,base) s (backy / export-diff)"
	done
	for key in "${!R[@]}"; do
		# shellcheck disable=SC2086
		M[$gib,$key]=$(median ${R[$key]})
	done
	unset R
	rbd --id admin snap purge "$POOL/$IMG" >/dev/null 2>&1
	rbd --id admin rm --no-progress "$POOL/$IMG" >/dev/null 2>&1
done

echo
echo "medians over $rounds rounds; ~1 GiB of data in 2048 objects; XFS reflink loop mount"
printf '%-10s %-10s %8s %8s %6s |' size run wall baseline ratio
for p in $PHASES; do printf ' %8s' "$p"; done
echo
for gib in $sizes; do
	for kind in full unchanged changed; do
		printf '%-10s %-10s %8s %8s %6s |' "${gib}GiB" "$kind" "${M[$gib,$kind,wall]}" "${M[$gib,$kind,base]}" \
			"$(ratio "${M[$gib,$kind,wall]}" "${M[$gib,$kind,base]}")"
		for p in $PHASES; do printf ' %8s' "${M[$gib,$kind,$p]:-0}"; done
		echo
	done
done
echo "(baseline: rbd export-diff + fsync; from no snapshot for full, --whole-object --from-snap for the"
echo " incrementals; 'reap' is the removal of older snapshots in the background, not part of the wall time)"
echo "peak RSS of backy: $((rss_max / 1024)) MiB (target < 96 MiB)"

first=${sizes%% *}
last=${sizes##* }
mid=$(echo "$sizes" | awk '{print $2}')
echo
echo "targets of issue 12:"
awk -v a="${M[$last,unchanged,wall]}" -v s="$last" 'BEGIN { printf "  unchanged incremental at %s GiB: %.2f s (target <= 3 s)\n", s, a }'
awk -v a="${M[$last,unchanged,wall]}" -v b="${M[$first,unchanged,wall]}" -v s="$last" -v f="$first" \
	'BEGIN { printf "  unchanged incremental %s GiB / %s GiB: %.2f (target <= 2)\n", s, f, (b > 0 ? a / b : 0) }'
[[ -n $mid ]] && awk -v a="${M[$mid,changed,wall]}" -v s="$mid" \
	'BEGIN { printf "  10 changed objects at %s GiB: %.2f s (target <= 2 s)\n", s, a }'
awk -v a="${M[$last,full,wall]}" -v b="${M[$last,full,base]}" -v s="$last" \
	'BEGIN { printf "  full backup at %s GiB / rbd export-diff: %.2f (target <= 1.2)\n", s, (b > 0 ? a / b : 0) }'

# Extrapolation: what grows with the image size is split into a cost per
# block (every phase but snapshot, map and clone, from the difference between
# the largest and the smallest image: same data, so only size differs), a
# cost per object (the map) and a cost per extent (the clone, measured on
# the largest image's full revision); the rest is fixed.
echo
python3 - "$first" "$last" "${M[$first,unchanged,wall]}" "${M[$last,unchanged,wall]}" \
	"${M[$first,unchanged,map]}" "${M[$last,unchanged,map]}" "${M[$last,unchanged,clone]}" \
	"${M[$last,full,extents]}" "${M[$first,unchanged,clone]}" "${EXTENTS_6TB:-}" <<'PY'
import sys
f, l, wf, wl, mf, ml, cl, el, cf, e6 = sys.argv[1:]
f, l = int(f), int(l)
wf, wl, mf, ml, cl, el, cf = map(float, (wf, wl, mf, ml, cl, el, cf))
bs, obj = 64 << 10, 4 << 20
blocks = lambda gib: (gib << 30) // bs
objs = lambda gib: (gib << 30) // obj
size6 = 6 * 10**12
b6, o6 = size6 // bs, size6 // obj
per_obj = (ml - mf) / (objs(l) - objs(f)) if l > f else 0.0
per_ext = cl / el if el else 0.0
rest_f, rest_l = wf - mf - cf, wl - ml - cl
per_block = max(0.0, (rest_l - rest_f) / (blocks(l) - blocks(f))) if l > f else 0.0
fixed = max(0.0, rest_f - per_block * blocks(f))
e6 = float(e6) if e6 else float(o6)
t6 = fixed + per_block * b6 + per_obj * o6 + per_ext * e6
print("extrapolation to an unchanged incremental of a fully written 6 TB image:")
print("  measured: per block %.3g us (everything but snapshot, map and clone; %d vs %d GiB),"
      % (per_block * 1e6, l, f))
print("            per object %.3g us (diff from the object map), per extent %.3g us (clone of the"
      % (per_obj * 1e6, per_ext * 1e6))
print("            %d GiB full revision, %d extents), fixed %.2f s" % (l, el, fixed))
print("  assumed:  %d blocks of 64 KiB, %d objects of 4 MiB, %d extents in the parent revision"
      % (b6, o6, e6))
print("            (default one extent per object; EXTENTS_6TB=N to change), the same fixed costs,")
print("            and that the per-block costs stay linear (the manifest work of the parent open and")
print("            the rewrite are in the per-block share)")
print("  result:   %.1f s = fixed %.2f + blocks %.2f + objects %.2f + extents %.2f (target <= 30 s)"
      % (t6, fixed, per_block * b6, per_obj * o6, per_ext * e6))
PY
