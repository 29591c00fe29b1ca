#!/usr/bin/env bash
# The backy demo: build backy, make a demo disk image (partition table plus
# an ext4 file system full of real files), back it up onto a loop-mounted
# XFS with reflinks, change the disk, back it up again, show the status,
# restore both revisions and compare them with the disk as it was.
# Run as root on Debian 12; it installs what it needs and cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

tests/install-deps.sh
dpkg-query -W -f='${Status}' fdisk 2>/dev/null | grep -q "install ok installed" ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fdisk >/dev/null
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/demo -j"$(nproc)" --target backy >/dev/null
BACKY=$top/build/demo/worker/backy

work=$(mktemp -d /tmp/backy-demo.XXXXXX)
mnt=$work/xfs
cleanup() {
	mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
	rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "making a 512 MiB demo disk: GPT, one ext4 partition with real files"
disk=$work/disk.img
truncate -s 512M "$disk"
printf 'label: gpt\nstart=2048, type=linux\n' | sfdisk -q "$disk"
mkdir "$work/files"
cp -r /usr/share/doc /usr/include "$work/files/" 2>/dev/null || true
head -c 64M /dev/urandom >"$work/files/random.bin"
mkfs.ext4 -q -F -d "$work/files" "$work/part.img" 500M
dd if="$work/part.img" of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none
rm -rf "$work/files" "$work/part.img"
sha256sum <"$disk" >"$work/disk-v1.sha256"

step "mounting a 4 GiB XFS with reflink=1 as the backup store"
truncate -s 4G "$work/xfs.img"
mkfs.xfs -q -m reflink=1 "$work/xfs.img"
mkdir "$mnt"
mount -o loop "$work/xfs.img" "$mnt"
repo=$mnt/demo-vm

step "backy init file $disk"
"$BACKY" -b "$repo" init file "$disk" --schedule daily=1d:7,weekly=1w:4
cat "$repo/config"

step "first backup (full)"
"$BACKY" -v -b "$repo" backup daily

step "the guest writes: 8 MiB of new data in the middle, the partition table untouched"
dd if=/dev/urandom of="$disk" bs=1M count=8 seek=200 conv=notrunc status=none
sha256sum <"$disk" >"$work/disk-v2.sha256"

step "second backup (incremental: only changed blocks are written)"
"$BACKY" -v -b "$repo" backup manual:demo

step "backy status"
"$BACKY" -b "$repo" status

step "restoring the older revision (-r 1) and comparing with the disk as it was"
"$BACKY" -b "$repo" restore -r 1 "$work/restored-v1.img"
(cd "$work" && sha256sum <restored-v1.img | cmp - disk-v1.sha256) && echo "revision 1: identical to the original disk"
sfdisk -l "$work/restored-v1.img" | tail -2

step "restoring latest with plain dd, as in a disaster"
dd if="$repo/latest" of="$work/restored-v2.img" bs=4M status=none
(cd "$work" && sha256sum <restored-v2.img | cmp - disk-v2.sha256) && echo "latest: identical to the changed disk"

step "verifying every revision against its checksums"
"$BACKY" -v -b "$repo" verify -r all
"$BACKY" -b "$repo" check

echo
echo "demo finished: backups, restores and verification all matched"
