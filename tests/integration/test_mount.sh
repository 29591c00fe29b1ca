#!/bin/bash
# test_mount.sh: one file back without restoring the image (backy mount / umount).
#
# Disk images with partition tables (sfdisk) are backed up with backy into
# repositories on a loop-mounted XFS: an ext4 disk (GPT: ext4 + swap) and an
# XFS disk (DOS: XFS + ext4), plus whole-disk ext4, minix and btrfs images and
# an empty one, without a partition table.  Then, while the source disk is mounted
# (the live file system: same UUIDs) and changed after the backup, the
# revision is mounted, one file is read and compared with the original, and
# the mount is undone.  Checked on the way: the revision's digest and mtime
# never change, the mounted revision is kept by expire and refused by
# forget, and every bad input gets a clear error and changes nothing (no
# loop device on the revision, no record, DIR as it was).
. "$(dirname "$0")/lib.sh"
need_tool sfdisk losetup mkfs.ext4 mkfs.xfs mkfs.minix mkfs.btrfs mkswap findmnt

mkfs_loop xfs 2G
W=$LOOP_MNT

# part_loop IMG N: attach partition N of disk image IMG (offset and size from
# sfdisk: this kernel may have no partition parsers) as PART_DEV, detached at exit
part_loop()
{
	local img=$1 n=$2 start size
	read -r start size < <(sfdisk -J "$img" | "$PYTHON" -c "
import json, sys
p = json.load(sys.stdin)['partitiontable']['partitions'][$n - 1]
print(p['start'] * 512, p['size'] * 512)")
	PART_DEV=$(losetup --find --show -o "$start" --sizelimit "$size" "$img") ||
		fail "unable to attach partition $n of $img"
	at_exit "losetup -d '$PART_DEV' 2>/dev/null"
}

# fill_fs DEV TYPE DIR: make a TYPE file system on DEV with a few files, copies in DIR/orig
fill_fs()
{
	local dev=$1 type=$2 orig=$3 mnt
	case $type in
	ext4) mkfs.ext4 -q -F "$dev" >/dev/null ;;
	xfs) mkfs.xfs -q -f "$dev" >/dev/null ;;
	esac || fail "mkfs.$type on $dev failed"
	mnt=$(mktemp -d "$T/fill.XXXX")
	mount -o discard "$dev" "$mnt" || fail "unable to mount the fresh $type"
	mkdir -p "$mnt/etc" "$orig"
	head -c 300000 /dev/urandom >"$orig/data.bin"
	printf 'hostname %s\n' "$type-vm" >"$orig/hostname"
	cp "$orig/data.bin" "$mnt/etc/data.bin"
	cp "$orig/hostname" "$mnt/etc/hostname"
	umount "$mnt"
}

# rev_state REPO REV: digest and mtime of the revision's image
rev_state() { echo "$(digest "$1/$2") $(stat -c %Y.%y "$1/$2")"; }

# nothing_left IMG DIR: no loop device on IMG, no record, DIR not mounted and empty
nothing_left()
{
	[[ -z $(losetup -j "$1") ]] || fail "a loop device is left on $1: $(losetup -j "$1")"
	! mountpoint -q "$2" || fail "$2 is mounted"
	[[ -z $(ls -A "$2") ]] || fail "$2 is not empty"
	"$BACKY" mount --list >"$T/list.out" || fail "backy mount --list failed"
	assert_not_contains "mount --list" "$T/list.out" "$2"
}

M=$T/m
mkdir -p "$M"
at_exit "umount_retry '$M'; rmdir '$M' 2>/dev/null"

# --- the ext4 disk: GPT, partition 1 ext4, partition 2 swap --------------------
check "an ext4 disk image with a GPT partition table (ext4 + swap), backed up"
E=$W/ext4-disk.img
truncate -s 96M "$E"
printf 'label: gpt\nsize=64MiB, type=linux\nsize=16MiB, type=swap\n' | sfdisk -q "$E" ||
	fail "sfdisk failed"
part_loop "$E" 1
EP1=$PART_DEV
fill_fs "$EP1" ext4 "$T/orig-ext4"
part_loop "$E" 2
mkswap -q "$PART_DEV" >/dev/null || fail "mkswap failed"
ER=$W/repo-ext4
bk -b "$ER" init file "$E"
bk -b "$ER" backup -f gone # a tag of no schedule: the next expiry removes it
EREV=$(newest_id "$ER")
ESTATE=$(rev_state "$ER" "$EREV")

check "the live ext4 file system is mounted and changed after the backup"
LIVE=$T/live
mkdir -p "$LIVE"
mount -o discard "$EP1" "$LIVE" || fail "unable to mount the live ext4"
at_exit "umount_retry '$LIVE'"
echo "changed after the backup" >"$LIVE/etc/hostname"
sync

check "backy mount of the ext4 revision next to the live disk (same UUID)"
bk_run -b "$ER" mount "$M"
((BK_RC == 0)) || fail "backy mount exited $BK_RC: $(cat "$T/last.err")"
assert_contains "mount output" "$T/last.out" "partition 1, ext4"
findmnt -n -o FSTYPE,OPTIONS "$M" >"$T/findmnt.out"
assert_contains "file system type" "$T/findmnt.out" "ext4"
assert_contains "mount options" "$T/findmnt.out" "ro,"
assert_contains "mount options" "$T/findmnt.out" "nosuid"
cmp "$T/orig-ext4/data.bin" "$M/etc/data.bin" || fail "data.bin differs from the original"
ok "etc/data.bin is the original"
assert_eq "etc/hostname (as backed up, not as live)" "hostname ext4-vm" "$(cat "$M/etc/hostname")"
assert_eq "live etc/hostname" "changed after the backup" "$(cat "$LIVE/etc/hostname")"
if touch "$M/etc/new" 2>/dev/null; then
	fail "the mounted revision is writable"
fi
ok "the mounted revision is read-only"
DEV=$(findmnt -n -o SOURCE "$M")
assert_eq "the loop device is read-only" 1 "$(cat "/sys/block/${DEV#/dev/}/ro")"

check "backy mount --list shows it"
bk_run mount --list
assert_contains "mount --list" "$T/last.out" "$M"
assert_contains "mount --list" "$T/last.out" "$EREV"

check "a mounted revision is kept by expire and refused by forget"
bk_run -b "$ER" expire --dry-run --force
assert_contains "expire --dry-run --force" "$T/last.out" "would keep revision $EREV (tags: gone): mounted"
bk -b "$ER" expire --force
assert_eq "revisions after expire" 1 "$(status_eval "$ER" 'len(d)')"
expect_fail "is mounted" -b "$ER" forget --force -r "$EREV"
assert_eq "revisions after forget" 1 "$(status_eval "$ER" 'len(d)')"

check "mount on DIR that is a backy mount already"
expect_fail "is already a backy mount" -b "$ER" mount "$M"

check "backy umount"
bk_run umount "$M"
((BK_RC == 0)) || fail "backy umount exited $BK_RC: $(cat "$T/last.err")"
nothing_left "$W/repo-ext4/$EREV" "$M"
assert_eq "ext4 revision digest and mtime" "$ESTATE" "$(rev_state "$ER" "$EREV")"
assert_eq "the live file system is still mounted" 0 "$(mountpoint -q "$LIVE"; echo $?)"
bk_run -b "$ER" expire --dry-run --force
assert_contains "expire --dry-run --force after umount" "$T/last.out" "would remove revision $EREV"

check "mount on a directory something else is mounted on"
expect_fail "has something else mounted on it already" -b "$ER" mount "$LIVE"

check "umount of what is not a backy mount"
expect_fail "is not a backy mount" umount "$M"
expect_fail "is not a backy mount" umount "$LIVE"
mountpoint -q "$LIVE" || fail "backy umount unmounted the live file system"
umount_retry "$LIVE"

# --- bad input: nothing changes -------------------------------------------------
check "bad input to backy mount: clear errors, nothing changed"
expect_fail "no revision matches" -b "$ER" mount -r tag:nosuch "$M"
expect_fail "has no partition 3 (gpt partition table: partition 1: ext4, partition 2: swap)" \
	-b "$ER" mount --partition 3 "$M"
expect_fail "partition 2 of revision $EREV holds swap, not a file system" \
	-b "$ER" mount --partition 2 "$M"
touch "$T/a-file"
expect_fail "is not a directory" -b "$ER" mount "$T/a-file"
touch "$M/x"
expect_fail "is not empty" -b "$ER" mount "$M"
rm "$M/x"
expect_fail "invalid --partition" -b "$ER" mount --partition 0 "$M"
nothing_left "$W/repo-ext4/$EREV" "$M"
assert_eq "ext4 revision digest and mtime" "$ESTATE" "$(rev_state "$ER" "$EREV")"

# --- the XFS disk: DOS, partition 1 XFS, partition 2 ext4 ------------------------
check "an XFS disk image with a DOS partition table (XFS + ext4), backed up"
X=$W/xfs-disk.img
truncate -s 400M "$X"
printf 'label: dos\nsize=320MiB, type=83\nsize=48MiB, type=83\n' | sfdisk -q "$X" ||
	fail "sfdisk failed"
part_loop "$X" 1
XP1=$PART_DEV
fill_fs "$XP1" xfs "$T/orig-xfs"
part_loop "$X" 2
fill_fs "$PART_DEV" ext4 "$T/orig-xfs-p2"
XR=$W/repo-xfs
bk -b "$XR" init file "$X"
bk -b "$XR" backup manual:first
XREV=$(newest_id "$XR")
XSTATE=$(rev_state "$XR" "$XREV")
mount "$XP1" "$LIVE" || fail "unable to mount the live XFS"
echo "changed after the backup" >"$LIVE/etc/hostname"
sync

check "two file systems: --partition is required, and the error lists them"
expect_fail "has 2 file systems (partition 1: xfs, partition 2: ext4): choose one with --partition N" \
	-b "$XR" mount "$M"
nothing_left "$W/repo-xfs/$XREV" "$M"

check "backy mount --partition 1 of the XFS revision next to the live disk (same UUID)"
bk_run -b "$XR" mount --partition 1 "$M"
((BK_RC == 0)) || fail "backy mount exited $BK_RC: $(cat "$T/last.err")"
findmnt -n -o FSTYPE,OPTIONS "$M" >"$T/findmnt.out"
assert_contains "file system type" "$T/findmnt.out" "xfs"
assert_contains "mount options" "$T/findmnt.out" "norecovery"
assert_contains "mount options" "$T/findmnt.out" "nouuid"
cmp "$T/orig-xfs/data.bin" "$M/etc/data.bin" || fail "data.bin differs from the original"
ok "etc/data.bin is the original"
assert_eq "etc/hostname (as backed up, not as live)" "hostname xfs-vm" "$(cat "$M/etc/hostname")"
bk_run umount "$M"
((BK_RC == 0)) || fail "backy umount exited $BK_RC: $(cat "$T/last.err")"
nothing_left "$W/repo-xfs/$XREV" "$M"
umount_retry "$LIVE"

check "after umount, forget deletes the revision it refused while mounted"
bk -b "$XR" forget --force -r "$XREV"
assert_eq "revisions after forget" 0 "$(status_eval "$XR" 'len(d)')"

# --- whole disks without a partition table -----------------------------------------
check "a whole-disk ext4 without a partition table"
D=$W/whole.img
truncate -s 32M "$D"
fill_fs "$D" ext4 "$T/orig-whole"
DR=$W/repo-whole
bk -b "$DR" init file "$D"
bk -b "$DR" backup manual:first
DREV=$(newest_id "$DR")
DSTATE=$(rev_state "$DR" "$DREV")
expect_fail "has no partition table (whole disk: ext4)" -b "$DR" mount --partition 1 "$M"
bk_run -b "$DR" mount -r "$DREV" "$M"
((BK_RC == 0)) || fail "backy mount exited $BK_RC: $(cat "$T/last.err")"
assert_contains "mount output" "$T/last.out" "whole disk, ext4"
cmp "$T/orig-whole/data.bin" "$M/etc/data.bin" || fail "data.bin differs from the original"
ok "etc/data.bin is the original"
bk_run umount "$M"
((BK_RC == 0)) || fail "backy umount exited $BK_RC: $(cat "$T/last.err")"
nothing_left "$W/repo-whole/$DREV" "$M"
assert_eq "whole-disk revision digest and mtime" "$DSTATE" "$(rev_state "$DR" "$DREV")"

check "a file system backy has no options for (minix) is refused without -o"
N=$W/minix.img
truncate -s 8M "$N"
mkfs.minix "$N" >/dev/null || fail "mkfs.minix failed"
NR=$W/repo-minix
bk -b "$NR" init file "$N"
bk -b "$NR" backup manual:first
NREV=$(newest_id "$NR")
expect_fail "whole disk of revision $NREV holds minix, which backy mounts only with explicit options" \
	-b "$NR" mount "$M"
nothing_left "$W/repo-minix/$NREV" "$M"
# with -o it is tried, and this kernel has no minix: the failed mount(2) leaves nothing behind
expect_fail "unable to mount /dev/loop" -b "$NR" mount -o ro "$M"
nothing_left "$W/repo-minix/$NREV" "$M"

check "btrfs is refused: its device scan would pair the copy with the live file system"
B=$W/btrfs.img
truncate -s 128M "$B"
mkfs.btrfs -q -f "$B" >/dev/null || fail "mkfs.btrfs failed"
BR=$W/repo-btrfs
bk -b "$BR" init file "$B"
bk -b "$BR" backup manual:first
BREV=$(newest_id "$BR")
expect_fail "whole disk of revision $BREV holds btrfs, which backy does not mount" -b "$BR" mount "$M"
expect_fail "holds btrfs, which backy does not mount" -b "$BR" mount -o ro "$M"
nothing_left "$W/repo-btrfs/$BREV" "$M"

check "a disk that holds nothing backy can identify"
Z=$W/zero.img
truncate -s 8M "$Z"
ZR=$W/repo-zero
bk -b "$ZR" init file "$Z"
bk -b "$ZR" backup manual:first
expect_fail "has no partition table and no file system (whole disk: nothing found)" \
	-b "$ZR" mount "$M"
nothing_left "$W/repo-zero/$(newest_id "$ZR")" "$M"
