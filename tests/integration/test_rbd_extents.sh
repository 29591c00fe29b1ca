#!/bin/bash
# test_rbd_extents.sh: an RBD incremental on an image of 64 KiB objects (the
# diff names single blocks, so unchanged blocks of a chunk are not read from
# Ceph) rewrites a fragmented chunk it writes into whole, the unchanged
# blocks read from its own clone (engine.c, design note 4); the revision
# stays exact and verifies, and the rest still shares with the parent.
. "$(dirname "$0")/rbd_lib.sh"
need_tool filefrag

mkfs_loop xfs 512M
repo=$LOOP_MNT/repo
img=$IMG_PREFIX-plain
rbd_rm_image "$img"
at_exit "rbd_rm_image '$img'"
rbda create --size 16M --object-size 64K "$POOL/$img" ||
	fail "rbd create $img failed"
rbd_write "$img" w:0:16M
rbd_repo "$repo" "$img"
backup "$repo" daily

image_digest() { rbda export "$POOL/$img" - 2>/dev/null | b2sum | cut -d' ' -f1; }

# step REVVAR WHAT OPS...: change the image (rbd_write OPS), back it up, and
# check that the new revision (its id into REVVAR) holds what the image holds
step()
{
	local -n _rev=$1
	local what=$2
	shift 2
	rbd_write "$img" "$@"
	backup "$repo" daily
	_rev=$BID
	sync
	assert_eq "content of the $what revision" "$(image_digest)" "$(digest "$repo/$_rev")"
}

check "every other block of chunk 0 changed: the chunk is fragmented"
ops=()
for i in $(seq 0 2 62); do ops+=("w:$((i * BK_BLOCK)):$BK_BLOCK"); done
step second second "${ops[@]}"
assert_ge "extents of chunk 0" 32 "$(extents "$repo/$second" 0 $((4 << 20)))"

check "one more block of chunk 0 changed: the chunk is rewritten whole from the diff and the clone"
step third third "w:$BK_BLOCK:$BK_BLOCK"
assert_le "extents of chunk 0" 2 "$(extents "$repo/$third" 0 $((4 << 20)))"
read -r shared unshared < <(fiemap_bytes "$repo/$third")
assert_eq "bytes the third revision does not share: chunk 0" $((64 * BK_BLOCK)) "$unshared"
ok "$shared bytes still shared"
bk -b "$repo" verify -r all
assert_eq "trust of the third revision" verified "$(rev_field "$repo" "$third" trust)"
