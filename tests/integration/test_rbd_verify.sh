#!/bin/bash
# test_rbd_verify.sh: "a corrupted backup never becomes the parent of a trusted
# incremental" with an RBD source.
#  - one 64 KiB block of the newest revision file is overwritten on disk (a
#    block the source does not change afterwards); with verify_full: true the
#    next backup fails (exit 1) with a quarantine report naming the offset, no
#    new revision, no .new-* left, no extra backy-* snapshot, the corrupted
#    revision marked distrusted
#  - `backy verify -r <corrupted>` detects it too (exit 1)
#  - the following backup is full (parent null, bytes_written = every non-zero
#    block of the snapshot), succeeds and restores bit-identically
#  - the same with verify_percent: 100 (a key of older configs) instead of
#    verify_full
#  - the same with a sample as big as the image: an incremental compares the
#    blocks outside its diff alongside its copy (in a second thread, through
#    librbd alongside the copy's reads), and the damaged one among them
#    distrusts the parent
#  - verification sized to the change (the written blocks plus verify_sample
#    others; here 0, so only the written ones): a block of the newest revision
#    damaged on disk, which no later backup rewrites, is not what a backup
#    compares; the next scrub (`backy verify` of the revision that inherited
#    it) finds it, names the offset and distrusts the revision.  (That a
#    damaged written block fails the backup is tests/unit/test_engine_verify.c:
#    only a fault in the read or write path can make one.)
. "$(dirname "$0")/rbd_lib.sh"

mkfs_loop xfs 3G
repo=$LOOP_MNT/repo
rbd_new img v 512M
rbd_write "$img" w:0:32M w:200M:8M w:$((512 - 4))M:4M
rbd_repo "$repo" "$img"

nrevs() { status_eval "$repo" 'len(d)'; }

# corrupt_and_catch LABEL BLOCK VERIFY_KEYS...: corrupt BLOCK of the newest
# revision, set the verify keys, change another object, expect the failure
corrupt_and_catch()
{
	local label=$1 blk=$2 bad n0 q
	shift 2
	bad=$(newest_id "$repo")
	check "$label: corrupt block $blk of revision $bad on disk"
	chmod u+w "$repo/$bad"
	dd if=/dev/urandom of="$repo/$bad" bs=65536 seek="$blk" count=1 conv=notrunc status=none
	chmod u-w "$repo/$bad"
	set_source "$repo" "$@"
	rbd_write "$img" w:$((100 * OBJ)):64K
	n0=$(nrevs)
	rm -rf "$repo/quarantine"
	expect_fail "verification failed" -vv -b "$repo" backup manual:after-corruption
	cp "$T/last.err" "$T/caught.err"
	assert_eq "$label: revisions after the failed run" "$n0" "$(nrevs)"
	assert_eq "$label: newest revision" "$bad" "$(newest_id "$repo")"
	assert_eq "$label: .new-* left" 0 "$(find "$repo" -maxdepth 1 -name '.new-*' | wc -l)"
	assert_eq "$label: trust of $bad" distrusted "$(rev_field "$repo" "$bad" trust)"
	q=$(find "$repo/quarantine" -name '*.yaml' 2>/dev/null | head -n 1)
	[[ -n $q ]] || fail "$label: no quarantine report in $repo/quarantine"
	assert_contains "$label: quarantine report" "$q" "offset: $((blk * 65536))"
	assert_backy_snaps "$label: backy-* snapshots" "$repo" "$img"

	check "$label: backy verify -r $bad detects the corruption"
	expect_fail "damaged" -b "$repo" verify -r "$bad"

	check "$label: the next backup is full and good"
	rbd_write "$img" w:$((101 * OBJ)):64K
	backup "$repo" manual:recovered
	assert_eq "$label: parent of the recovery backup" null "$(rev_field "$repo" "$BID" parent)"
	export_to "$img@backy-$BID" "$T/recovered.export"
	assert_eq "$label: bytes_written = every non-zero block" "$(nonzero_bytes "$T/recovered.export")" \
		"$(rev_field "$repo" "$BID" bytes_written)"
	restore_cmp "$repo" "$BID" "$(content_digest "$T/recovered.export")" "$label: recovery"
	rm -f "$T/recovered.export"
	assert_eq "$label: trust of the recovery backup" trusted "$(rev_field "$repo" "$BID" trust)"
}

check "full and incremental backup"
backup "$repo" manual:full
rbd_write "$img" w:$((40 * OBJ)):1M
backup "$repo" manual:inc
[[ $(rev_field "$repo" "$BID" parent) != null ]] || fail "second backup was not incremental"

corrupt_and_catch "verify_full" 5 verify_full=true

check "an incremental on top of the recovery backup is trusted again"
rbd_write "$img" w:$((60 * OBJ)):64K
backup "$repo" manual:inc-again
assert_eq "parent" "$(status_eval "$repo" 'd[-2]["uuid"]')" "$(rev_field "$repo" "$BID" parent)"
restore_cmp "$repo" "$BID" "$(rbd_digest "$img@backy-$BID")" "inc-again"

corrupt_and_catch "verify_percent 100" 130 verify_full=false verify_percent=100

corrupt_and_catch "sample alongside the copy" 200 verify_full=false verify_percent=1 verify_sample=100000
grep -qE "blocks compared alongside the copy" "$T/caught.err" ||
	fail "the sample was not compared alongside the copy: $(grep -F 'verification against' "$T/caught.err")"
ok "the sample was compared alongside the copy"

check "narrow verification: a damaged unchanged block is found by the next scrub"
set_source "$repo" verify_full=false verify_percent=1 verify_sample=0
rbd_write "$img" w:$((102 * OBJ)):64K
backup "$repo" manual:clean-base
bad=$(newest_id "$repo")
chmod u+w "$repo/$bad"
dd if=/dev/urandom of="$repo/$bad" bs=65536 seek=9 count=1 conv=notrunc status=none
chmod u-w "$repo/$bad"
rbd_write "$img" w:$((103 * OBJ)):64K
rm -rf "$repo/quarantine"
bk_run -b "$repo" backup manual:narrow
if ((BK_RC == 0)); then
	new=$(newest_id "$repo")
	assert_eq "parent of the narrow backup" "$bad" "$(rev_field "$repo" "$new" parent)"
	ok "the backup compared only what it wrote and committed $new"
	expect_fail "damaged" -b "$repo" verify -r "$new"
	assert_eq "trust of $new after the scrub" distrusted "$(rev_field "$repo" "$new" trust)"
	q=$(find "$repo/quarantine" -name "$new-*.yaml" | head -n 1)
	[[ -n $q ]] || fail "no quarantine report of the scrub of $new"
	assert_contains "scrub report" "$q" "offset: $((9 * 65536))"
else
	# the read-back of a random sample of cloned blocks met it first (16 of 8192)
	grep -qF "verification failed" "$T/last.err" ||
		fail "backup manual:narrow failed otherwise: $(head -c 500 "$T/last.err")"
	ok "the backup's read-back sample found the damaged block first"
fi
expect_fail "damaged" -b "$repo" verify -r "$bad"
assert_eq "trust of $bad after the scrub" distrusted "$(rev_field "$repo" "$bad" trust)"
