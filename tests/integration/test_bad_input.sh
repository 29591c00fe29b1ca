#!/bin/bash
# test_bad_input.sh: bad input is refused with exit 1, a clear message on
# stderr, and no change to the repository (listing, modes, sizes and content
# digests of every file except backy.log and .lock).
#
# Every case runs on a fresh copy of a template repository (two revisions),
# in a subshell, so one failing case does not hide the others; the test
# fails at the end if any case failed.
. "$(dirname "$0")/lib.sh"

SRC=$T/src.img
TPL=$T/template
R=$T/repo
make_mixed_image "$SRC" 3M 5
bk -b "$TPL" init file "$SRC" --schedule daily=1d:3,weekly=1w:2
bk -b "$TPL" backup daily
dd if=/dev/urandom of="$SRC" bs=65536 count=2 seek=5 conv=notrunc status=none
bk -b "$TPL" backup manual:second
ID=$(newest_id "$TPL")
FIRST=$(status_eval "$TPL" "d[0]['uuid']")
rm -f "$TPL/backy.log" "$TPL/.lock"

# reject SUBSTRING ARGS...: backy ARGS exits 1 with SUBSTRING on stderr and
# leaves the repository $R unchanged
reject()
{
	local before
	before=$(repo_snapshot "$R")
	expect_fail "$@"
	if [[ $before != "$(repo_snapshot "$R")" ]]; then
		diff <(echo "$before") <(repo_snapshot "$R") >&2 || true
		fail "backy ${*:2} changed the repository"
	fi
	ok "repository unchanged"
}

# set_source PATH: point the repository config at another source
set_source()
{
	sed -i "s#^  filename: .*#  filename: \"$1\"#" "$R/config"
	grep -qF "filename: \"$1\"" "$R/config" || fail "unable to edit the config"
}

# rev_path ID: path of the repository's ID.rev, made writable for corruption
rev_path() { chmod u+w "$R/$1.rev"; echo "$R/$1.rev"; }

FAILED=()
run_case()
{
	local name=$1 rc=0
	shift
	echo
	echo "=== case: $name"
	rm -rf "$R"
	cp -a "$TPL" "$R"
	set +e
	(
		set -euo pipefail
		"$@"
	)
	rc=$?
	set -e
	if ((rc != 0)); then
		FAILED+=("$name")
		echo "--- case '$name' FAILED" >&2
	fi
}

# --- sources ---------------------------------------------------------------------

case_missing_source()
{
	check "backup of a source that does not exist"
	set_source "$T/no-such-image.img"
	reject "No such file or directory" -b "$R" backup manual:x
	assert_contains "stderr" "$T/last.err" "$T/no-such-image.img"
	check "backup of a source below a directory that does not exist"
	set_source "$T/no/such/dir/disk.img"
	reject "No such file or directory" -b "$R" backup manual:x
	check "scheduled backup of a missing source"
	BACKY_NOW=2030-01-01T12:00:00Z reject "No such file or directory" -b "$R" backup
}

case_special_source_backup()
{
	check "backup of a character device (/dev/null)"
	set_source /dev/null
	reject "special file" -b "$R" backup manual:x
	check "backup of a FIFO must be refused at once, not block on open()"
	mkfifo "$T/fifo"
	set_source "$T/fifo"
	BK_TIMEOUT=5 reject "special file" -b "$R" backup manual:x
}

case_special_source_init()
{
	check "init with a character device (/dev/null) as the image"
	reject "special file" -b "$R.new" init file /dev/null
	[[ ! -e $R.new/config ]] || fail "init wrote a config for /dev/null"
	check "init with a FIFO as the image"
	mkfifo "$T/fifo2"
	reject "special file" -b "$R.new" init file "$T/fifo2"
	[[ ! -e $R.new/config ]] || fail "init wrote a config for a FIFO"
}

case_directory_source()
{
	check "init with a directory as the image"
	reject "is a directory" -b "$R.dir" init file "$T"
	[[ ! -e $R.dir/config ]] || fail "init wrote a config for a directory"
	check "backup when the configured source is a directory"
	set_source "$T"
	reject "is a directory" -b "$R" backup manual:x
}

# --- corrupt revision metadata ---------------------------------------------------

# rev_rejected ID: every command refuses the repository, naming ID.rev, and
# nothing is deleted (backup and expire must not treat it as a leftover)
rev_rejected()
{
	local id=$1
	reject "$id.rev" -b "$R" status --json
	reject "$id.rev" -b "$R" backup manual:x
	BACKY_NOW=2030-01-01T12:00:00Z reject "$id.rev" -b "$R" backup
	BACKY_NOW=2030-01-01T12:00:00Z reject "$id.rev" -b "$R" expire
	reject "$id.rev" -b "$R" forget -r "$FIRST"
	reject "$id.rev" -b "$R" restore -r "$FIRST" "$T/out.img"
	[[ ! -e $T/out.img ]] || fail "restore created its target"
}

case_rev_garbage_binary()
{
	check "a .rev of random bytes"
	head -c 300 /dev/urandom >"$(rev_path "$ID")"
	rev_rejected "$ID"
}

case_rev_garbage_text()
{
	check "a .rev of YAML syntax garbage"
	printf 'uuid: [%s\n  - : : {\n' "$ID" >"$(rev_path "$ID")"
	rev_rejected "$ID"
}

case_rev_empty()
{
	check "an empty .rev"
	: >"$(rev_path "$ID")"
	rev_rejected "$ID"
}

case_rev_truncated_mid_value()
{
	check "a .rev cut in the middle of the timestamp"
	local f
	f=$(rev_path "$ID")
	head -c "$(($(grep -b '^timestamp:' "$f" | cut -d: -f1) + 17))" "$TPL/$ID.rev" >"$f"
	info "truncated to: $(tr '\n' '|' <"$f")"
	rev_rejected "$ID"
}

case_rev_truncated_at_line()
{
	check "a .rev cut at a line boundary before 'stats:' (a committed revision lost its tail)"
	local f
	f=$(rev_path "$ID")
	sed '/^stats:/,$d' "$TPL/$ID.rev" >"$f"
	info "truncated to: $(tr '\n' '|' <"$f")"
	# the worst outcome first: the next backup must never delete the data
	bk_run -b "$R" backup manual:x
	[[ -e $R/$ID && -e $R/$ID.sums ]] ||
		fail "backup (exit $BK_RC) deleted the image/manifest of revision $ID because its .rev was truncated"
	rm -rf "$R"
	cp -a "$TPL" "$R"
	f=$(rev_path "$ID")
	sed '/^stats:/,$d' "$TPL/$ID.rev" >"$f"
	rev_rejected "$ID"
}

case_rev_wrong_types()
{
	local f
	f=$(rev_path "$ID")
	check "a .rev with stats.bytes_written: lots"
	sed 's/bytes_written: .*/bytes_written: lots/' "$TPL/$ID.rev" >"$f"
	rev_rejected "$ID"
	check "a .rev with timestamp: 12"
	sed 's/^timestamp: .*/timestamp: 12/' "$TPL/$ID.rev" >"$f"
	rev_rejected "$ID"
	check "a .rev with tags: 5"
	sed "s/^tags:.*/tags: 5/; /^- /d" "$TPL/$ID.rev" >"$f"
	rev_rejected "$ID"
	check "a .rev with trust: [a]"
	sed 's/^trust: .*/trust: [a]/' "$TPL/$ID.rev" >"$f"
	rev_rejected "$ID"
	check "a .rev with stats.duration: -x"
	sed 's/duration: .*/duration: -x/' "$TPL/$ID.rev" >"$f"
	rev_rejected "$ID"
	check "a .rev whose uuid names another revision"
	sed "s/^uuid: .*/uuid: $FIRST/" "$TPL/$ID.rev" >"$f"
	rev_rejected "$ID"
}

# --- corrupt config --------------------------------------------------------------

config_rejected()
{
	reject "config" -b "$R" status
	reject "config" -b "$R" backup manual:x
	BACKY_NOW=2030-01-01T12:00:00Z reject "config" -b "$R" backup
	BACKY_NOW=2030-01-01T12:00:00Z reject "config" -b "$R" expire
	reject "config" -b "$R" restore "$T/out.img"
	[[ ! -e $T/out.img ]] || fail "restore created its target"
}

case_config_syntax()
{
	check "config with a YAML syntax error"
	printf 'source: [unclosed\nschedule: {\n' >"$R/config"
	config_rejected
}

case_config_unknown_key()
{
	check "config with an unknown key"
	echo "colour: blue" >>"$R/config"
	config_rejected
	assert_contains "stderr" "$T/last.err" "colour"
}

case_config_bad_schedule()
{
	check "config with an interval '1x'"
	sed -i '0,/interval: 1d/s//interval: 1x/' "$R/config"
	config_rejected
	assert_contains "stderr" "$T/last.err" "1x"
	check "config with keep: -2"
	cp "$TPL/config" "$R/config"
	sed -i '0,/keep: 3/s//keep: -2/' "$R/config"
	config_rejected
	check "config with a schedule that is a list"
	cp "$TPL/config" "$R/config"
	"$PYTHON" - "$R/config" <<'EOF'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
out, skip = [], False
for l in lines:
    if l.startswith("schedule:"):
        out.append("schedule: [daily, weekly]")
        skip = True
        continue
    if skip and l.startswith(" "):
        continue
    skip = False
    out.append(l)
open(p, "w").write("\n".join(out))
EOF
	config_rejected
}

case_config_missing_source()
{
	check "config without source"
	sed -i '/^source:/,/^  filename/d' "$R/config"
	config_rejected
}

# --- tags ------------------------------------------------------------------------

case_tags()
{
	check "backup with a tag that is not in the schedule and has no manual: prefix"
	reject "not in the schedule" -b "$R" backup monthly
	reject "not in the schedule" -b "$R" backup daily,unknown
	check "backup with invalid tag characters"
	reject "invalid tag" -b "$R" backup 'manual:a b'
	reject "invalid tag" -b "$R" backup 'manual:bad/tag'
	reject "invalid tag" -b "$R" backup 'daily,bad!'
	reject "invalid tag" -b "$R" backup ':x'
	reject "invalid tag" -b "$R" backup -f 'a b'
	reject "no tags" -b "$R" backup ','
	check "tags add/set with unknown or invalid tags"
	reject "not in the schedule" -b "$R" tags add -r latest unknown
	reject "invalid tag" -b "$R" tags set -r latest 'x y'
	reject "invalid tag" -b "$R" tags add -f -r latest 'a/b'
}

# --- revision specs ----------------------------------------------------------------

case_bad_specs()
{
	local specs=('aaaa..125' 'first(not(all))' '2015-09..2015-08-30' '((' '-1' '99' '')
	local subs=('aaaa' 'not(all)' '2015-09' 'revision spec' '-1' '99' 'revision spec')
	local i spec sub
	for i in "${!specs[@]}"; do
		spec=${specs[i]}
		sub=${subs[i]}
		check "revision spec '$spec'"
		reject "$sub" -b "$R" restore -r "$spec" "$T/out.img"
		[[ ! -e $T/out.img ]] || fail "restore -r '$spec' created its target"
		reject "$sub" -b "$R" find -r "$spec"
		[[ ! -s $T/last.out ]] || fail "find -r '$spec' printed paths: $(cat "$T/last.out")"
		reject "$sub" -b "$R" forget -r "$spec"
		reject "$sub" -b "$R" tags add -r "$spec" manual:z
	done
}

# --- restore targets ----------------------------------------------------------------

case_restore_targets()
{
	check "restore into a directory"
	mkdir -p "$T/target-dir"
	reject "is a directory" -b "$R" restore "$T/target-dir"
	check "restore onto the repository's own revision files"
	reject "this repository" -b "$R" restore -r "$FIRST" "$R/$ID"
	reject "this repository" -b "$R" restore -r "$ID" "$R/$ID"
	reject "this repository" -b "$R" restore -r "$FIRST" "$R/latest"
	reject "this repository" -b "$R" restore -r "$FIRST" "$R/$ID.sums"
	reject "this repository" -b "$R" restore -r "$FIRST" "$R/../$(basename "$R")/$FIRST"

	check "restore onto the repository's config, .rev, .lock and backy.log"
	echo "a log line" >"$R/backy.log"
	: >"$R/.lock"
	local sums
	sums=$(b2sum "$R/backy.log" "$R/.lock")
	reject "file of this repository" -b "$R" restore -r "$FIRST" "$R/config"
	reject "file of this repository" -b "$R" restore -r "$FIRST" "$R/$ID.rev"
	reject "file of this repository" -b "$R" restore -r "$FIRST" "$R/.lock"
	reject "file of this repository" -b "$R" restore -r "$FIRST" "$R/backy.log"
	check "restore onto other names of repository files"
	ln "$R/config" "$T/config-hardlink"
	ln -s "$R/config" "$T/config-symlink"
	ln -s "$R" "$T/repo-link"
	reject "file of this repository" -b "$R" restore -r "$FIRST" "$T/config-hardlink"
	reject "file of this repository" -b "$R" restore -r "$FIRST" "$T/config-symlink"
	reject "file of this repository" -b "$R" restore -r "$FIRST" "$T/repo-link/config"
	reject "file of this repository" -b "$R" restore -r "$FIRST" "$T/repo-link/$ID.sums"
	check "restore to a new file inside the repository"
	reject "inside this repository" -b "$R" restore -r "$FIRST" "$R/restored.img"
	reject "inside this repository" -b "$R" restore -r "$FIRST" "$T/repo-link/restored.img"
	mkdir "$R/quarantine"
	reject "inside this repository" -b "$R" restore -r "$FIRST" "$R/quarantine/restored.img"
	[[ ! -e $R/restored.img && ! -e $R/quarantine/restored.img ]] || fail "restore created a file in the repository"
	check "restore to stdout appended to the config"
	local before
	before=$(repo_snapshot "$R")
	BK_RC=0
	"$BACKY" -b "$R" restore -r "$FIRST" - >>"$R/config" 2>"$T/last.err" || BK_RC=$?
	((BK_RC == 1)) || fail "restore - >>config exited $BK_RC"
	assert_contains "stderr" "$T/last.err" "file of this repository"
	[[ $before == "$(repo_snapshot "$R")" ]] || fail "restore - >>config changed the repository"
	[[ $sums == "$(b2sum "$R/backy.log" "$R/.lock")" ]] || fail "restore changed backy.log or .lock"
	ok "backy.log and .lock unchanged"
	check "restore next to the repository still works"
	bk -b "$R" restore -r "$FIRST" "$T/config"
	ok "restore to '$T/config'"
}

# --- retention floors (issue 10) -------------------------------------------------------

case_forget_floors()
{
	check "forget of a revision younger than min-age (the template's are minutes old)"
	reject "younger than min-age 1d" -b "$R" forget -r "$FIRST"
	assert_contains "stderr" "$T/last.err" "--force"
	reject "younger than min-age 1d" -b "$R" --result "$T/result.json" forget -r "$FIRST" --min-keep 0
	assert_contains "result" "$T/result.json" '"BK_EDENIED"'
	check "forget of the newest trusted revision, whatever the other floors"
	reject "newest trusted revision" -b "$R" forget -r latest --min-keep 0 --min-age 0
	reject "newest trusted revision" -b "$R" forget -r latest --min-keep 0 --min-age 0s
	check "forget that would leave fewer than min-keep revisions"
	BACKY_NOW=2030-01-01T00:00:00Z reject "fewer than min-keep 3" -b "$R" forget -r "$FIRST"
	check "the operator lowers the floors or forces"
	BACKY_NOW=2030-01-01T00:00:00Z bk -b "$R" forget -r "$FIRST" --min-keep 1
	assert_eq "revisions" "$ID" "$(status_eval "$R" "' '.join(r['uuid'] for r in d)")"
	bk -b "$R" forget -r latest --force
	assert_eq "revisions" "0" "$(status_eval "$R" "len(d)")"
	check "bad floor options"
	reject "invalid --min-keep" -b "$R" expire --min-keep -1
	reject "invalid --min-age" -b "$R" expire --min-age 1x
	reject "invalid --min-age" -b "$R" forget -r all --min-age ''
}

case_log_symlink()
{
	check "backy.log as a symlink to another file is not appended to"
	echo "root:x:0:0:root:/root:/bin/bash" >"$T/passwd"
	local before
	before=$(b2sum <"$T/passwd")
	ln -s "$T/passwd" "$R/backy.log"
	bk_run -b "$R" tags add -r latest manual:x
	((BK_RC == 0)) || fail "tags add exited $BK_RC: $(cat "$T/last.err")"
	assert_contains "stderr" "$T/last.err" "it is a symbolic link"
	[[ $before == "$(b2sum <"$T/passwd")" ]] || fail "backy appended to the symlink's target: $(cat "$T/passwd")"
	ok "the symlink's target is unchanged"
	check "backy.log as a FIFO does not block and is not used"
	rm "$R/backy.log"
	mkfifo "$R/backy.log"
	BK_TIMEOUT=10 bk_run -b "$R" tags add -r latest manual:y
	((BK_RC == 0)) || fail "tags add with a FIFO as backy.log exited $BK_RC"
	assert_contains "stderr" "$T/last.err" "not a plain file"
}

# --- init ------------------------------------------------------------------------

case_init()
{
	check "init when the config exists"
	reject "exists already" -b "$R" init file "$SRC"
	reject "exists already" -b "$R" init file "$SRC" --schedule daily=1h:2
	check "init with bad schedules"
	local spec
	for spec in daily=1x:3 daily=1d daily=1d:0 daily=1d:-1 =1d:3 'daily=1d:3,daily=2d:3' ''; do
		rm -rf "$T/newrepo"
		bk_run -b "$T/newrepo" init file "$SRC" --schedule "$spec"
		((BK_RC == 1)) || fail "init --schedule '$spec' exited $BK_RC, expected 1"
		grep -qi "schedule" "$T/last.err" || fail "init --schedule '$spec': no message about the schedule: $(cat "$T/last.err")"
		[[ ! -e $T/newrepo/config ]] || fail "init --schedule '$spec' wrote a config"
		ok "init --schedule '$spec' -> exit 1: $(head -n 1 "$T/last.err")"
	done
	check "init with a bad block size"
	rm -rf "$T/newrepo"
	bk_run -b "$T/newrepo" init file "$SRC" --block-size 1000
	((BK_RC == 1)) || fail "init --block-size 1000 exited $BK_RC"
	[[ ! -e $T/newrepo/config ]] || fail "init --block-size 1000 wrote a config"
	ok "init --block-size 1000 -> exit 1"
}

# --- BACKY_NOW ---------------------------------------------------------------------

case_backy_now()
{
	local now
	for now in garbage 2015-13-45T00:00:00Z '2015-09-01 25:00' 1e9; do
		check "BACKY_NOW='$now'"
		BACKY_NOW=$now reject "BACKY_NOW" -b "$R" backup
		BACKY_NOW=$now reject "BACKY_NOW" -b "$R" expire
	done
	BACKY_NOW=garbage reject "BACKY_NOW" -b "$R" backup manual:x
}

run_case "missing source" case_missing_source
run_case "special file source at backup" case_special_source_backup
run_case "special file source at init" case_special_source_init
run_case "directory source" case_directory_source
run_case "rev: random bytes" case_rev_garbage_binary
run_case "rev: syntax garbage" case_rev_garbage_text
run_case "rev: empty" case_rev_empty
run_case "rev: truncated mid-value" case_rev_truncated_mid_value
run_case "rev: truncated at a line boundary" case_rev_truncated_at_line
run_case "rev: wrong types" case_rev_wrong_types
run_case "config: syntax error" case_config_syntax
run_case "config: unknown key" case_config_unknown_key
run_case "config: bad schedule" case_config_bad_schedule
run_case "config: no source" case_config_missing_source
run_case "tags" case_tags
run_case "revision specs" case_bad_specs
run_case "restore targets" case_restore_targets
run_case "forget floors" case_forget_floors
run_case "backy.log symlink" case_log_symlink
run_case "init" case_init
run_case "BACKY_NOW" case_backy_now

echo
if ((${#FAILED[@]})); then
	fail "${#FAILED[@]} case(s) failed: $(printf '[%s] ' "${FAILED[@]}")"
fi
echo "all cases passed"
