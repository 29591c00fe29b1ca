#!/bin/bash
# test_rbd_backup.sh: backups of a 1 GiB RBD image as client.backup against the
# real test cluster.
#  - full, then incremental with 3 changed objects: bytes_written = the 3
#    changed 64 KiB blocks (the fast-diff names 3 whole objects; their
#    unchanged blocks stay shared with the parent), parent = previous revision
#  - every revision (file and `backy restore`) is bit-identical to its
#    backy-<id> snapshot, read right after the backup (librbd digest over the
#    allocated extents; for the full one also through `rbd export`), and still
#    is at the end (later runs did not disturb earlier revisions)
#  - a foreign snapshot (keep-me) survives every run; a stale backy-stale1 is
#    removed; after each run the backy-* snapshots are the newest revision's
#    and at most its parent's (removed when the next incremental starts)
#  - image grown (to a size that is not a multiple of the block size) and
#    shrunk: revisions end at the exact size and restore identically
#  - parent snapshot removed by hand: the backup warns about it, reads the
#    whole image, succeeds and restores identically
. "$(dirname "$0")/rbd_lib.sh"

mkfs_loop xfs 6G
repo=$LOOP_MNT/repo
rbd_new img main 1G
declare -A EXP SIZE

# after_backup WHAT: digest the new revision's snapshot, compare, check snapshots
after_backup()
{
	local what=$1
	EXP[$BID]=$(rbd_digest "$img@backy-$BID")
	SIZE[$BID]=${EXP[$BID]%% *}
	restore_cmp "$repo" "$BID" "${EXP[$BID]}" "$what"
	assert_backy_snaps "$what: backy-* snapshots" "$repo" "$img"
	snaps "$img" | grep -qx keep-me || fail "$what: foreign snapshot keep-me is gone"
	ok "$what: keep-me untouched"
	assert_eq "$what: revision size" "${SIZE[$BID]}" "$(rev_field "$repo" "$BID" size)"
}

check "setup: 1 GiB image, 64 MiB + scattered objects of random data, a foreign snapshot"
rbd_write "$img" w:0:64M w:400M:1M w:$((1024 - 4))M:4M p:600M:2M:7
rbda snap create "$POOL/$img@keep-me" >/dev/null
rbd_repo "$repo" "$img"

check "full backup"
backup "$repo" manual:full
after_backup "full"
assert_eq "full: parent" null "$(rev_field "$repo" "$BID" parent)"
export_to "$img@backy-$BID" "$T/full.export"
same_content "full: rbd export of the snapshot" "$T/full.export" "${EXP[$BID]}"
assert_eq "full: bytes_written = non-zero blocks" "$(nonzero_bytes "$T/full.export")" \
	"$(rev_field "$repo" "$BID" bytes_written)"
rm -f "$T/full.export"
assert_eq "full: consistency" crash-consistent "$(rev_field "$repo" "$BID" consistency)"
FULL=$BID

check "incremental: 4 KiB written into objects 3, 10 and the last one"
rbd_write "$img" w:$((3 * OBJ + 8192)):4K w:$((10 * OBJ)):4K w:$((255 * OBJ + OBJ - 4096)):4K
backup "$repo" manual:inc1
after_backup "inc1"
assert_eq "inc1: parent" "$FULL" "$(rev_field "$repo" "$BID" parent)"
assert_eq "inc1: bytes_written = the 3 changed blocks of 3 whole objects" $((3 * 65536)) "$(rev_field "$repo" "$BID" bytes_written)"
INC1=$BID

check "stale backy-stale1 snapshot made by hand, one more change"
rbda snap create "$POOL/$img@backy-stale1" >/dev/null
rbd_write "$img" w:$((20 * OBJ)):64K
backup "$repo" manual:inc2
after_backup "inc2 (stale snapshot removed)"
assert_eq "inc2: parent" "$INC1" "$(rev_field "$repo" "$BID" parent)"
assert_le "inc2: bytes_written (one object)" "$OBJ" "$(rev_field "$repo" "$BID" bytes_written)"

check "image grown to 1100 MiB + 4 KiB (last block short), data in the new tail"
rbda resize --size $((1100 * 1024 + 4))K "$POOL/$img" >/dev/null 2>&1 || fail "rbd resize (grow) failed"
rbd_write "$img" w:$((1100 * MiB - 1024 * 1024)):1M w:$((1100 * MiB)):4K
backup "$repo" manual:grown
after_backup "grown"
assert_eq "grown: exact size" $((1100 * MiB + 4096)) "${SIZE[$BID]}"

check "image shrunk to 900 MiB (--allow-shrink)"
rbda resize --size 900M --allow-shrink "$POOL/$img" >/dev/null 2>&1 || fail "rbd resize (shrink) failed"
rbd_write "$img" w:$((899 * MiB)):1M
backup "$repo" manual:shrunk
after_backup "shrunk"
assert_eq "shrunk: exact size" $((900 * MiB)) "${SIZE[$BID]}"
assert_eq "shrunk: revision file size" $((900 * MiB)) "$(stat -c %s "$repo/$BID")"

check "parent snapshot removed by hand: warning, whole image read, backup succeeds"
PREV=$BID
rbda snap rm "$POOL/$img@backy-$PREV" >/dev/null 2>&1 || fail "rbd snap rm failed"
rbd_write "$img" w:$((50 * OBJ)):128K
backup "$repo" manual:nosnap
assert_contains "backup stderr" "$T/last.err" "backy-$PREV"
after_backup "parent snapshot gone"

check "every revision still restores bit-identical to its snapshot export"
for id in "${!EXP[@]}"; do
	restore_cmp "$repo" "$id" "${EXP[$id]}" "final"
done
assert_eq "revisions" 6 "$(status_eval "$repo" 'len(d)')"
bk -b "$repo" verify -r all
