#!/bin/bash
# test_cow_extents.sh: on a loop-mounted XFS (reflink=1), an incremental keeps
# what it did not change shared with the parent, image and manifest alike,
# and a fragmented chunk it writes into is rewritten whole (engine.c, design
# note 4), so the newest revision's extent count stays bounded; the data
# stays exact.
. "$(dirname "$0")/lib.sh"
need_tool filefrag

mkfs_loop xfs 512M
repo=$LOOP_MNT/repo
src=$T/source.img
# 16 MiB of random data: four 4 MiB chunks of 64 blocks
head -c $((16 << 20)) /dev/urandom >"$src"
bk -b "$repo" init file "$src"
bk -b "$repo" backup -f daily
first=$(newest_id "$repo")

# change BLOCK...: overwrite these blocks of the source with random data
change() {
	for i in "$@"; do
		dd if=/dev/urandom of="$src" bs=$BK_BLOCK seek="$i" count=1 conv=notrunc status=none
	done
}
# backup_exact: back up, sync; the new revision (its id in $rev) equals the source
backup_exact() {
	bk -b "$repo" backup -f daily
	rev=$(newest_id "$repo")
	sync
	assert_eq "content of revision $rev" "$(digest "$src")" "$(digest "$repo/$rev")"
}

check "an incremental that changes every other block of chunk 0 fragments it"
change $(seq 0 2 62) # every other block of chunk 0
change 140 150       # two blocks of chunk 2
backup_exact
second=$rev
assert_ge "extents of chunk 0" 32 "$(extents "$repo/$second" 0 $((4 << 20)))"

check "the next incremental that writes into chunk 0 rewrites it whole; chunk 2 stays as it is"
change 1
backup_exact
third=$rev
assert_le "extents of chunk 0" 2 "$(extents "$repo/$third" 0 $((4 << 20)))"
assert_ge "extents of chunk 2 (two changed blocks between shared data)" 5 \
	"$(extents "$repo/$third" $((8 << 20)) $((4 << 20)))"
read -r shared unshared < <(fiemap_bytes "$repo/$third")
assert_eq "bytes the third revision does not share: chunk 0" $((64 * BK_BLOCK)) "$unshared"
ok "$shared bytes still shared"

check "the new manifest is a clone of the parent's: only the changed segment is unshared"
read -r shared unshared < <(fiemap_bytes "$repo/$third.sums")
# 16 MiB = 256 blocks: one segment of 4 KiB of digests plus header and table blocks
assert_le "unshared bytes of the manifest" $((3 * 4096)) "$unshared"
head -c 8 "$repo/$third.sums" | grep -q BKYSUMS2 || fail "the manifest is not format 2"
ok "manifest: $shared bytes shared, $unshared unshared"

check "every revision verifies"
bk -b "$repo" verify -r all
assert_eq "trust of the first revision" verified "$(rev_field "$repo" "$first" trust)"
assert_eq "trust of the third revision" verified "$(rev_field "$repo" "$third" trust)"

check "a fragmented chunk rewritten from a sparse source gets zeros for the holes it did not read"
change $(seq 192 2 254) # every other block of chunk 3
backup_exact
assert_ge "extents of chunk 3" 32 "$(extents "$repo/$rev" $((12 << 20)) $((4 << 20)))"
# blocks 200-231 of chunk 3 become a hole of the source; one more block changes
fallocate -p -o $((200 * BK_BLOCK)) -l $((32 * BK_BLOCK)) "$src"
change 240
backup_exact
fifth=$rev
assert_le "extents of chunk 3" 3 "$(extents "$repo/$fifth" $((12 << 20)) $((4 << 20)))"
bk -b "$repo" verify -r "$fifth"
assert_eq "trust of the fifth revision" verified "$(rev_field "$repo" "$fifth" trust)"
