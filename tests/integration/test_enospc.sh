#!/bin/bash
# test_enospc.sh: a backup that runs out of space in the repository fails
# cleanly: exit 1 naming "No space left on device", earlier revisions intact
# and verifying, no partial revision, no .new-* leftovers; once the source
# fits again, backups work again.  On a small ext4 and a small XFS.
. "$(dirname "$0")/lib.sh"

# enospc_case FSTYPE FSSIZE SMALL_MIB BIG_MIB
enospc_case()
{
	local fs=$1 fssize=$2 small=$3 big=$4 repo src good digest_small leftovers
	mkfs_loop "$fs" "$fssize"
	repo=$LOOP_MNT/repo
	src=$T/src-$fs.img # the source lives outside the small file system

	check "$fs ($fssize): a small backup ($small MiB) succeeds"
	head -c ${small}M /dev/urandom >"$src"
	digest_small=$(digest "$src")
	bk -b "$repo" init file "$src"
	bk -b "$repo" backup manual:small
	good=$(newest_id "$repo")
	info "free space now: $(df -h --output=avail "$LOOP_MNT" | tail -n 1)"

	check "$fs: the source grows to $big MiB, more than the free space: backup fails"
	head -c $(((big - small) * 1048576)) /dev/urandom >>"$src"
	expect_fail "No space left on device" -b "$repo" backup manual:big
	assert_contains "stderr of the failed backup" "$T/last.err" "$repo"

	check "$fs: the repository is as before the failed run"
	assert_eq "revisions after ENOSPC" "$good" "$(status_eval "$repo" "' '.join(r['uuid'] for r in d)")"
	assert_eq "incomplete revisions" 0 "$(status_eval "$repo" "sum(1 for r in d if not r['complete'])")"
	leftovers=$(cd "$repo" && ls -A | grep -E '^\.(new|tmp)-' || true)
	assert_eq ".new-*/.tmp-* leftovers" "" "$leftovers"
	check_repo_files "$repo"
	assert_eq "latest" "$good" "$(readlink "$repo/latest")"
	bk -b "$repo" verify -r all
	ok "verify -r all"
	rm -f "$T/restored"
	bk -b "$repo" restore -r "$good" "$T/restored"
	assert_eq "restored content of the earlier revision" "$digest_small" "$(digest "$T/restored")"
	rm -f "$T/restored"

	check "$fs: the space of the failed run is free again"
	truncate -s ${small}M "$src"
	dd if=/dev/urandom of="$src" bs=65536 count=4 conv=notrunc status=none
	bk -b "$repo" backup manual:again
	assert_eq "revisions after the next backup" 2 "$(status_eval "$repo" 'len(d)')"
	cmp "$repo/latest" "$src" || fail "the new revision differs from the source"
	ok "the new revision equals the source"
	bk -b "$repo" verify -r all
}

enospc_case ext4 96M 8 160
enospc_case xfs 320M 16 300
