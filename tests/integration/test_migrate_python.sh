#!/bin/bash
# test_migrate_python.sh: repositories written by Python backy 2.5.3 (the
# fixtures of tests/fixtures/python-backy, or BACKY_PY_FIXTURES) come
# along, on a loop-mounted XFS with reflinks:
#   - `backy adopt` takes the cowfile repository over in place: the same
#     revisions (ids, timestamps, tags, trust), restores with the digests
#     Python's own restore produced, Python's files untouched, and the next
#     backup is an incremental on top of the newest adopted revision;
#   - `backy import` converts the chunked repository: every revision
#     restores bit-identical to Python's restore, the revisions share
#     extents, the source is never modified, a second run continues, damage
#     stops it with a message naming revision and chunk.
. "$(dirname "$0")/lib.sh"

FIX=${BACKY_PY_FIXTURES:-$(realpath "$(dirname "$0")/..")/fixtures/python-backy}
[[ -f $FIX/expected.json ]] || fail "Python backy fixtures not found at '$FIX' (set BACKY_PY_FIXTURES)"
need_tool filefrag sha256sum

# expected REPO EXPR: python expression over the revisions of REPO in expected.json (r)
expected()
{
	"$PYTHON" -c '
import json, sys
revs = json.load(open(sys.argv[1]))["repositories"][sys.argv[2]]["revisions"]
for r in revs:
    print(eval(sys.argv[3]))
' "$FIX/expected.json" "$1" "$2"
}

# same_revisions REPO FIXTURE_REPO: status --json lists exactly the fixture's
# revisions, with their timestamps to the microsecond, tags and trust
same_revisions()
{
	local js
	js=$("$BACKY" -b "$1" status --json) || fail "backy -b $1 status --json failed"
	"$PYTHON" -c '
import datetime, json, sys
want = json.load(open(sys.argv[1]))["repositories"][sys.argv[2]]["revisions"]
have = {r["uuid"]: r for r in json.load(sys.stdin)}
ts = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
assert set(have) >= {w["uuid"] for w in want}, (sorted(have), [w["uuid"] for w in want])
for w in want:
    h = have[w["uuid"]]
    assert ts(h["timestamp"]) == ts(w["timestamp"]), (w["uuid"], h["timestamp"], w["timestamp"])
    assert sorted(h["tags"]) == sorted(w["tags"]), (w["uuid"], h["tags"], w["tags"])
    assert h["trust"] == w["trust"], (w["uuid"], h["trust"], w["trust"])
    assert h["complete"], w["uuid"]
' "$FIX/expected.json" "$2" <<<"$js" || fail "revisions of $1 differ from the fixture"
	ok "$1 lists the $(expected "$2" 'r["uuid"]' | wc -l) revisions of Python's $2 (ids, timestamps, tags, trust)"
}

# restores_match REPO FIXTURE_REPO: every revision restores to Python's digest and size
restores_match()
{
	local id want size
	while read -r id want size; do
		bk -b "$1" restore -r "$id" "$T/restore.img"
		assert_eq "size of restored $id" "$size" "$(stat -c %s "$T/restore.img")"
		assert_eq "sha256 of restored $id" "$want" "$(sha256sum "$T/restore.img" | cut -d' ' -f1)"
	done < <(expected "$2" 'r["uuid"] + " " + r["sha256"] + " " + str(r["size"])')
	rm -f "$T/restore.img"
}

used_bytes() { sync -f "$1"; df -B1 --output=used "$1" | tail -n 1 | tr -d ' '; }

mkfs_loop xfs 400M
MNT=$LOOP_MNT

check "a Python repository is recognised and refused until adopted"
cp -a "$FIX/cowfile-repo" "$MNT/cow"
chmod u+w "$MNT/cow"
repo_snapshot "$MNT/cow" >"$T/cow.before"
expect_fail "backy -b $MNT/cow adopt" -b "$MNT/cow" status
cp -a "$FIX/chunked-repo" "$MNT/chunky"
chmod u+w "$MNT/chunky"
expect_fail "is stored in chunks: adoption takes raw images only" -b "$MNT/chunky" adopt
# its config parses as ours, but no command may take it for one of ours
repo_snapshot "$MNT/chunky" >"$T/chunky.before"
expect_fail "was not written by backy" -b "$MNT/chunky" status
expect_fail "'backy -b NEWDIR import $MNT/chunky'" -b "$MNT/chunky" backup daily
repo_snapshot "$MNT/chunky" | diff "$T/chunky.before" - || fail "a refused command changed the repository"
rm -rf "$MNT/chunky"

check "backy adopt takes the cowfile repository over in place"
bk -b "$MNT/cow" adopt
same_revisions "$MNT/cow" cowfile-repo
restores_match "$MNT/cow" cowfile-repo
cmp "$FIX/cowfile-repo/config" "$MNT/cow/config.python-backy" || fail "Python's config was not kept"
# every file Python wrote is as it was (config as config.python-backy)
repo_snapshot "$MNT/cow" | grep -v -e '\.sums ' -e '^config ' -e '^config.python-backy ' \
	-e '^latest ' >"$T/cow.after"
grep -v -e '^config ' "$T/cow.before" | diff - "$T/cow.after" ||
	fail "adoption changed files Python wrote"
ok "Python's images and .rev files are unchanged"
expect_fail "has a backy config already" -b "$MNT/cow" adopt

check "the next backup after adoption is an incremental on the newest adopted revision"
newest=$(expected cowfile-repo 'r["uuid"]' | tail -n 1)
bk -b "$MNT/cow" restore -r "$newest" "$MNT/src.img"
chmod u+w "$MNT/src.img"
printf 'changed after the migration' | dd of="$MNT/src.img" bs=1 seek=300000 conv=notrunc status=none
bk -b "$MNT/cow" init --replace file "$MNT/src.img"
bk -b "$MNT/cow" --result "$T/result.json" backup daily
full=$(json_eval 'd["stats"]["full"]' <"$T/result.json")
assert_eq "the backup after adoption is full" false "$full"
new=$(newest_id "$MNT/cow")
assert_eq "parent of the new revision" "$newest" "$(rev_field "$MNT/cow" "$new" parent)"
assert_le "bytes written by the incremental" 65536 "$(rev_field "$MNT/cow" "$new" bytes_written)"
read -r shared _ < <(fiemap_bytes "$MNT/cow/$new")
assert_ge "bytes the new revision shares with the adopted one" 262144 "$shared"
bk -b "$MNT/cow" restore -r "$new" "$T/restore.img"
cmp "$MNT/src.img" "$T/restore.img" || fail "the new revision does not restore to its source"
ok "the new revision restores to its source"

check "backy import converts the chunked repository, never touching it"
repo_snapshot "$FIX/chunked-repo" >"$T/chunked.before"
used0=$(used_bytes "$MNT")
bk -b "$MNT/imp" import "$FIX/chunked-repo"
used1=$(used_bytes "$MNT")
repo_snapshot "$FIX/chunked-repo" | diff "$T/chunked.before" - || fail "import changed its source"
ok "the source repository is unchanged"
same_revisions "$MNT/imp" chunked-repo
restores_match "$MNT/imp" chunked-repo
check_repo_files "$MNT/imp"
ok "every imported revision has its image and manifest"

check "imported revisions share extents"
total=$(expected chunked-repo 'r["size"]' | paste -sd+ | bc)
assert_le "space the import took on XFS (of $total bytes of images)" $((total * 35 / 100)) $((used1 - used0))
last=$(expected chunked-repo 'r["uuid"]' | tail -n 1)
read -r shared _ < <(fiemap_bytes "$MNT/imp/$last")
assert_ge "bytes of the newest revision shared with earlier ones" $((8 << 20)) "$shared"

check "the next backup of the imported repository is an incremental"
bk -b "$MNT/imp" restore -r "$last" "$MNT/src2.img"
printf 'after the import' | dd of="$MNT/src2.img" bs=1 seek=5000000 conv=notrunc status=none
bk -b "$MNT/imp" init --replace file "$MNT/src2.img"
bk -b "$MNT/imp" --result "$T/result2.json" backup daily
assert_eq "the backup after import is full" false "$(json_eval 'd["stats"]["full"]' <"$T/result2.json")"
assert_le "bytes written by it" 65536 "$(rev_field "$MNT/imp" "$(newest_id "$MNT/imp")" bytes_written)"
bk -b "$MNT/imp" forget -r "$(newest_id "$MNT/imp")" --force

check "a second import continues: nothing to do"
bk_run -b "$MNT/imp" import "$FIX/chunked-repo"
assert_eq "exit code" 0 "$BK_RC"
assert_contains "import summary" "$T/last.err" "0 revisions (6 there already"

check "damage in the source stops the import, naming revision and chunk"
cp -a "$FIX/chunked-repo" "$T/bad"
chmod -R u+w "$T/bad"
chunk=$T/bad/chunks/4f/4fae6d7e03ae8a879f0ef05be1ee4857.chunk.lzo
printf 'XXXX' | dd of="$chunk" bs=1 seek=100000 conv=notrunc status=none
expect_fail "revision 'VsvaEu9ZswmmBUaUXRk64u', chunk 5" -b "$MNT/bad" import "$T/bad"
assert_eq "revisions committed before the damage" 5 "$(status_eval "$MNT/bad" 'len(d)')"
check_repo_files "$MNT/bad"
# a chunk that decompresses well but is not what its name promises
cp "$FIX/chunked-repo/chunks/fc/fc7de27599e3e6af90fce29d95ef0c1f.chunk.lzo" "$chunk"
expect_fail "4fae6d7e03ae8a879f0ef05be1ee4857.chunk.lzo' is damaged: its data hashes to fc7de275" \
	-b "$MNT/bad" import "$T/bad"
cp "$FIX/chunked-repo/chunks/4f/4fae6d7e03ae8a879f0ef05be1ee4857.chunk.lzo" "$chunk"
truncate -s 100 "$T/bad/VsvaEu9ZswmmBUaUXRk64u"
expect_fail "chunk map" -b "$MNT/bad" import "$T/bad"
# what is not a file is refused, never waited on
rm "$T/bad/VsvaEu9ZswmmBUaUXRk64u" "$chunk"
mkfifo "$T/bad/VsvaEu9ZswmmBUaUXRk64u"
BK_TIMEOUT=20 expect_fail "unable to read its chunk map" -b "$MNT/bad" import "$T/bad"
rm "$T/bad/VsvaEu9ZswmmBUaUXRk64u"
cp "$FIX/chunked-repo/VsvaEu9ZswmmBUaUXRk64u" "$T/bad/"
mkfifo "$chunk"
BK_TIMEOUT=20 expect_fail "4fae6d7e03ae8a879f0ef05be1ee4857.chunk.lzo' is not a regular file" \
	-b "$MNT/bad" import "$T/bad"
expect_fail "is a raw image (cowfile): 'backy -b" -b "$MNT/bad2" import "$FIX/cowfile-repo"
repo_snapshot "$T/bad" >"$T/bad.before"
expect_fail "which import never changes" -b "$T/bad/new" import "$T/bad"
expect_fail "which import never changes" -b "$T/bad" import "$T/bad"
repo_snapshot "$T/bad" | diff "$T/bad.before" - || fail "an import into its source changed it"
