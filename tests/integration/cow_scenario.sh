# cow_scenario.sh: the copy-on-write scenario shared by test_cow_{btrfs,xfs,ext4}.sh.
#
# cow_scenario FSTYPE: on a loop-mounted FSTYPE holding source and repository:
# a 1 GiB mixed image, a full backup, exactly 1 % of the 64 KiB blocks changed,
# an incremental backup, then a shrink and a grow of the source.  Checks
# bytes_written, extent sharing (btrfs, XFS), the reflink warning (ext4), and
# that every revision restores (and reads back as a plain file) bit-identical
# to the source as it was at that time.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cow_scenario()
{
	local fs=$1 size=$((1 << 30)) nblocks nchanged src repo id rev1 rev2 slack
	local -A state_digest state_size
	local -a revs=()
	need_tool filefrag

	mkfs_loop "$fs" 4G
	src=$LOOP_MNT/src.img
	repo=$LOOP_MNT/repo
	nblocks=$((size / BK_BLOCK))
	nchanged=$(((nblocks + 99) / 100)) # 1 % of the blocks, rounded up: 164

	check "1 GiB mixed source image on $fs"
	make_mixed_image "$src" $size 42
	local expect_full
	expect_full=$(nonzero_bytes "$src")
	info "source has $expect_full bytes in non-zero 64 KiB blocks"

	# remember the state every revision must restore to
	record_state()
	{
		state_digest[$1]=$(digest "$src")
		state_size[$1]=$(stat -c %s "$src")
		revs+=("$1")
	}

	bk -b "$repo" init file "$src"
	check "full backup"
	bk -b "$repo" backup manual:full 2>"$T/backup1.err"
	rev1=$(newest_id "$repo")
	record_state "$rev1"
	assert_eq "bytes_written of the full backup (non-zero blocks)" "$expect_full" \
		"$(rev_field "$repo" "$rev1" bytes_written)"
	assert_eq "size of the full backup" "$size" "$(rev_field "$repo" "$rev1" size)"
	assert_eq "parent of the full backup" null "$(rev_field "$repo" "$rev1" parent)"

	check "change exactly $nchanged of $nblocks blocks (1 %) with fresh random data"
	change_blocks "$src" "$nchanged" 7 >"$T/changed.txt"
	assert_eq "distinct changed blocks" "$nchanged" "$(sort -u "$T/changed.txt" | wc -l)"

	check "incremental backup"
	local rc=0
	"$BACKY" -b "$repo" backup manual:incr 2>"$T/backup2.err" || rc=$?
	cat "$T/backup2.err" >&2
	((rc == 0)) || fail "incremental backup exited $rc"
	rev2=$(newest_id "$repo")
	[[ $rev2 != "$rev1" ]] || fail "no new revision after the incremental backup"
	record_state "$rev2"
	assert_eq "(a) bytes_written of the incremental backup = changed blocks * 65536" \
		$((nchanged * BK_BLOCK)) "$(rev_field "$repo" "$rev2" bytes_written)"
	assert_eq "parent of the incremental backup" "$rev1" "$(rev_field "$repo" "$rev2" parent)"
	assert_eq "latest after the incremental backup" "$rev2" "$(readlink "$repo/latest")"

	if [[ $fs == ext4 ]]; then
		check "(d) ext4: the reflink fallback is announced on stderr"
		assert_contains "stderr of the incremental backup" "$T/backup2.err" "does not support reflinks"
		local shared unshared
		read -r shared unshared < <(fiemap_bytes "$repo/$rev2")
		assert_eq "shared bytes of the incremental revision (full copy on ext4)" 0 "$shared"
	else
		check "(b) $fs: the incremental revision shares every unchanged extent with its parent"
		assert_not_contains "stderr of the backups" "$T/backup2.err" "does not support reflinks"
		local shared1 unshared1 shared unshared changed
		sync
		read -r shared1 unshared1 < <(fiemap_bytes "$repo/$rev1")
		read -r shared unshared < <(fiemap_bytes "$repo/$rev2")
		changed=$((nchanged * BK_BLOCK))
		slack=$((8 * 4096))
		info "parent: $((shared1 + unshared1)) bytes mapped; new revision: $shared shared, $unshared not shared"
		assert_le "unshared bytes of the new revision (changed $changed + slack)" \
			$((changed + slack)) "$unshared"
		assert_ge "shared bytes of the new revision (parent's mapped bytes - changed - slack)" \
			$((shared1 + unshared1 - changed - slack)) "$shared"
		assert_le "mapped bytes of the new revision (parent's + changed + slack)" \
			$((shared1 + unshared1 + changed + slack)) $((shared + unshared))
	fi

	check "shrink the source to an unaligned size and back it up"
	local shrunk=$((size - 3 * BK_BLOCK - 1000)) expect
	block_digests "$src" >"$T/blocks.prev"
	# make sure the new partial last block holds data
	printf 'shrink-marker' | dd of="$src" bs=1 seek=$((shrunk - 100)) conv=notrunc status=none
	truncate -s $shrunk "$src"
	expect=$(expected_written "$T/blocks.prev" "$src")
	assert_eq "expected bytes_written (only the partial last block)" $((BK_BLOCK - 1000)) "$expect"
	bk -b "$repo" backup manual:shrink
	id=$(newest_id "$repo")
	record_state "$id"
	assert_eq "size of the shrunk revision" $shrunk "$(rev_field "$repo" "$id" size)"
	assert_eq "bytes_written of the shrunk revision (partial last block)" "$expect" \
		"$(rev_field "$repo" "$id" bytes_written)"
	assert_eq "image file size of the shrunk revision" $shrunk "$(stat -c %s "$repo/$id")"

	check "grow the source (zero tail plus 1 MiB + 123 bytes of new data) and back it up"
	local grown=$((size + 5 * 1048576 + 123))
	block_digests "$src" >"$T/blocks.prev"
	truncate -s $grown "$src"
	dd if=/dev/urandom of="$src" bs=1048576 seek=$((size / 1048576 + 2)) count=1 conv=notrunc \
		iflag=fullblock status=none
	printf 'tail-marker' | dd of="$src" bs=1 seek=$((grown - 11)) conv=notrunc status=none
	assert_eq "grown source size" $grown "$(stat -c %s "$src")"
	expect=$(expected_written "$T/blocks.prev" "$src")
	assert_eq "expected bytes_written (old partial block, 1 MiB, 123 byte tail)" \
		$((BK_BLOCK + 1048576 + 123)) "$expect"
	bk -b "$repo" backup manual:grow
	id=$(newest_id "$repo")
	record_state "$id"
	assert_eq "size of the grown revision" $grown "$(rev_field "$repo" "$id" size)"
	assert_eq "bytes_written of the grown revision (changed non-zero blocks)" "$expect" \
		"$(rev_field "$repo" "$id" bytes_written)"
	assert_eq "latest after the grow" "$id" "$(readlink "$repo/latest")"

	check "(c) every revision restores bit-identical to the source at its time"
	# restore into memory: the revisions are read from $fs, the copies need no disk
	mount_tmpfs 1200M
	local out=$TMPFS_MNT/restored.img
	for id in "${revs[@]}"; do
		rm -f "$out"
		assert_eq "plain read (dd bs=4M) of revision file $id: b2sum" "${state_digest[$id]:0:32}" \
			"$(dd if="$repo/$id" bs=4M status=none | digest - | cut -c 1-32)"
		assert_eq "revision file size of $id" "${state_size[$id]}" "$(stat -c %s "$repo/$id")"
		bk -b "$repo" restore -r "$id" "$out"
		assert_eq "restored size of $id" "${state_size[$id]}" "$(stat -c %s "$out")"
		cmp "$out" "$repo/$id" || fail "restore -r $id differs from the source state at its time"
		ok "restore -r $id equals the source state at its time (cmp)"
	done
	rm -f "$out"
	cmp "$repo/latest" "$src" || fail "latest differs from the current source"
	ok "latest (cmp) equals the current source"

	check "backy verify -r all"
	bk -b "$repo" verify -r all
	assert_eq "trust of every revision after verify" "verified" \
		"$(status_eval "$repo" "sorted(set(r['trust'] for r in d))")"
	assert_eq "revisions" "${#revs[@]}" "$(status_eval "$repo" 'len(d)')"
}
