#!/bin/bash
# test_rbd_restore.sh: `backy restore -r ID rbd:POOL/IMAGE` as client.backup.
#  - into a new image: created at the revision's size, bit-identical to the
#    backed-up snapshot (librbd digest and `rbd export`)
#  - into an existing larger image full of other data: the revision's range
#    comes out identical, holes of the revision as zeros (no stale data)
#  - an incremental revision over the previous restore: identical
#  - into a smaller image: exit 1, message, image untouched
. "$(dirname "$0")/rbd_lib.sh"

mkfs_loop xfs 4G
repo=$LOOP_MNT/repo
rbd_new img src 1G
rbd_new new1 restored1 64M
rbda rm "$POOL/$new1" >/dev/null 2>&1 # only reserve the name and the cleanup
rbd_new big restored-big 1200M
rbd_new small restored-small 512M

check "setup: data, written zeros and holes; full and incremental backup"
rbd_write "$img" w:0:20M p:20M:4M:0 w:30M:3M p:500M:8M:165 w:$((1024 - 4))M:4M
rbd_repo "$repo" "$img"
backup "$repo" manual:full
FULL=$BID
D_FULL=$(rbd_digest "$img@backy-$FULL")
rbd_write "$img" w:$((2 * OBJ)):4K z:$((500 * MiB)):4M w:700M:1M
backup "$repo" manual:inc
INC=$BID
D_INC=$(rbd_digest "$img@backy-$INC")
[[ $D_FULL != "$D_INC" ]] || fail "the incremental snapshot should differ from the full one"

check "restore the full revision into a new image"
bk -b "$repo" restore -r "$FULL" "rbd:$POOL/$new1"
assert_eq "new image size" $((1 << 30)) "$(rbda info --format json "$POOL/$new1" | json_eval 'd["size"]')"
assert_eq "new image content (librbd)" "$D_FULL" "$(rbd_digest "$new1")"
export_to "$new1" "$T/new1.export"
same_content "new image content (rbd export)" "$T/new1.export" "$D_FULL"
rm -f "$T/new1.export"

check "restore the incremental revision over it"
bk -b "$repo" restore -r "$INC" "rbd:$POOL/$new1"
assert_eq "content" "$D_INC" "$(rbd_digest "$new1")"

check "restore into an existing larger image full of other data"
# other data where the revision has holes, written zeros and data
rbd_write "$big" p:0:8M:1 p:20M:8M:2 p:100M:16M:3 p:300M:4M:4 p:504M:8M:5 p:$((1024 - 8))M:12M:6
bk -b "$repo" restore -r "$INC" "rbd:$POOL/$big"
assert_eq "larger image size unchanged" $((1200 << 20)) "$(rbda info --format json "$POOL/$big" | json_eval 'd["size"]')"
assert_eq "first 1 GiB = the revision, holes as zeros" "$D_INC" "$(rbd_digest "$big" $((1 << 30)))"
export_to "$big" "$T/big.export"
truncate -s 1G "$T/big.export"
same_content "first 1 GiB via rbd export" "$T/big.export" "$D_INC"
rm -f "$T/big.export"

check "restore into a smaller image is refused"
rbd_write "$small" p:0:1M:9
before=$(rbd_digest "$small")
expect_fail "smaller" -b "$repo" restore -r "$INC" "rbd:$POOL/$small"
assert_eq "smaller image untouched" "$before" "$(rbd_digest "$small")"
