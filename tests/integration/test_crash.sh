#!/bin/bash
# test_crash.sh: SIGKILL `backy backup` at 20 moments spread over a run (full and
# incremental runs alternate); after every kill the repository must be
# consistent: every revision complete and verifying, nothing uncommitted but
# the files of the one run that died (also when it died during its commit),
# and the next backup succeeds and removes them.  Then: a concurrent backup fails fast with "in
# progress" while status and restore keep working.
. "$(dirname "$0")/lib.sh"

mkfs_loop xfs 3G
M=$LOOP_MNT
src=$M/src.img
repo=$M/repo
mount_tmpfs 600M

now_ms() { date +%s%3N; }

# timed_backup TAG: run a backup, print its wall time in ms
timed_backup()
{
	local t0 t1
	t0=$(now_ms)
	"$BACKY" -b "$repo" backup "$1" 2>"$T/last.err" || fail "backup $1 failed: $(cat "$T/last.err")"
	t1=$(now_ms)
	echo $((t1 - t0))
}

count_revs() { status_eval "$repo" 'len(d)'; }

check "setup: 256 MiB mixed source on XFS, measure a full and an incremental run"
make_mixed_image "$src" 256M 3
bk -b "$repo" init file "$src"
D_FULL=$(timed_backup manual:measure-full)
change_blocks "$src" 16 100 >/dev/null
D_INC=$(timed_backup manual:measure-incr)
info "full run ${D_FULL} ms, incremental run ${D_INC} ms"
((D_FULL > 100)) || fail "a full run of 256 MiB took only ${D_FULL} ms: cannot spread kills"

# Kill moments as per-mille of the measured duration: very early ones, the
# whole run, and many near the end (manifest, read-back check, commit).
PERMILLE=(0 5 20 60 120 200 300 400 500 600 700 780 850 900 930 960 980 1000 1030 1100)

killed_mid=0 killed_before=0 committed=0 finished=0 slots_killed=0

# after_kill: the invariants that must hold whenever a backup died
after_kill()
{
	assert_eq "incomplete revisions" 0 \
		"$(status_eval "$repo" "sum(1 for r in d if not r['complete'] or r['duration'] is None)")"
	ok "every image/manifest of a revision has its .rev (uncommitted:${uncommitted:- none})"
	if [[ -L $repo/latest ]]; then
		[[ -e $repo/$(readlink "$repo/latest").rev ]] || fail "latest points to a missing revision"
	fi
	bk_run -b "$repo" verify -r all
	((BK_RC == 0)) || fail "verify -r all after the kill exited $BK_RC: $(cat "$T/last.err")"
	ok "verify -r all: $(count_revs) revisions intact"
}

for i in $(seq 0 19); do
	# keep the history short so that verify -r all stays cheap
	while (($(count_revs) > 1)); do
		bk -b "$repo" forget --force -r 'first(all)' # young revisions: past the floors
	done
	change_blocks "$src" 8 $((200 + i)) >/dev/null
	if ((i % 2 == 0)); then kind=full; else kind=incremental; fi
	# up to 3 tries per moment: a run that finishes before the kill shows
	# the machine is faster than measured, so the next try comes earlier
	for try in 1 2 3; do
		if [[ $kind == full ]]; then
			bk -b "$repo" distrust -r latest # the next run must write everything
			dur=$D_FULL
		else
			dur=$D_INC
		fi
		# jitter of +-2 % so that repeated test runs probe other moments
		delay_ms=$((dur * PERMILLE[i] / 1000 + (RANDOM % (dur / 25 + 1)) - dur / 50))
		((delay_ms >= 0)) || delay_ms=0
		before=$(status_eval "$repo" "' '.join(sorted(r['uuid'] for r in d))")

		check "moment $((i + 1))/20 (try $try): $kind backup killed after ${delay_ms} ms (${PERMILLE[i]}/1000 of ${dur} ms)"
		"$BACKY" -b "$repo" backup manual:crash-$i 2>"$T/crash.err" &
		pid=$!
		kill_later $pid
		sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
		kill -9 $pid 2>/dev/null || true
		rc=0
		wait $pid 2>/dev/null || rc=$?
		after=$(status_eval "$repo" "' '.join(sorted(r['uuid'] for r in d))")
		check_repo_files "$repo" killed
		if ((rc == 0)); then
			finished=$((finished + 1))
			info "the run finished before the kill"
			# the run took less than delay_ms: aim lower next time
			if [[ $kind == full ]]; then
				D_FULL=$((delay_ms * 9 / 10 > 50 ? delay_ms * 9 / 10 : 50))
			else
				D_INC=$((delay_ms * 9 / 10 > 20 ? delay_ms * 9 / 10 : 20))
			fi
			after_kill
			continue
		elif ((rc != 137)); then
			fail "backup exited $rc instead of being killed: $(cat "$T/crash.err")"
		elif [[ $after != "$before" ]]; then
			committed=$((committed + 1))
			info "killed after the commit (new revision present)"
		elif [[ -n $uncommitted ]]; then
			killed_mid=$((killed_mid + 1))
			info "killed mid-run, leftovers:$uncommitted"
		else
			killed_before=$((killed_before + 1))
			info "killed before anything was written"
		fi
		slots_killed=$((slots_killed + 1))
		after_kill
		break
	done

	# the next backup (of the same kind, timed to follow the machine's pace)
	# cleans up and succeeds
	if [[ $kind == full ]]; then
		bk -b "$repo" distrust -r latest
	fi
	t=$(timed_backup manual:after-$i)
	if [[ $kind == full ]]; then
		D_FULL=$(((D_FULL + t) / 2))
	else
		D_INC=$(((D_INC + t) / 2))
	fi
	check_repo_files "$repo"
	assert_eq "uncommitted files after the next backup" "" "$uncommitted"
	new=$(newest_id "$repo")
	assert_eq "latest after the next backup" "$new" "$(readlink "$repo/latest")"
	assert_eq "incomplete revisions" 0 "$(status_eval "$repo" "sum(1 for r in d if not r['complete'])")"
	cmp "$repo/$new" "$src" || fail "the revision after the crash differs from the source"
	ok "the new revision equals the source"
	if ((i % 5 == 4)); then
		rm -f "$TMPFS_MNT/out"
		bk -b "$repo" restore "$TMPFS_MNT/out"
		cmp "$TMPFS_MNT/out" "$src" || fail "restore after the crash differs from the source"
		ok "restore of latest equals the source"
		rm -f "$TMPFS_MNT/out"
	fi
done

check "kill moments covered the run"
info "killed before writing: $killed_before, mid-run: $killed_mid, after commit: $committed, finished before the kill: $finished"
assert_ge "moments at which a run was killed" 16 "$slots_killed"
assert_ge "kills that interrupted a run in progress" 8 "$killed_mid"

check "a concurrent backup fails fast while one runs; status and restore keep working"
crepo=$M/crepo
csrc=$M/csrc.img
head -c 8M /dev/urandom >"$csrc"
bk -b "$crepo" init file "$csrc"
bk -b "$crepo" backup manual:small
small=$(newest_id "$crepo")
small_digest=$(digest "$csrc")
# 512 MiB more of written zeros (grow_written) keep the next run busy for a moment; once it
# has its .new-* files it is stopped (SIGSTOP) until the checks are done
grow_written "$csrc" 520
"$BACKY" -b "$crepo" backup manual:big 2>"$T/bg.err" &
bgpid=$!
kill_later $bgpid
for _ in $(seq 1 1000); do
	compgen -G "$crepo/.new-*" >/dev/null && break
	kill -0 $bgpid 2>/dev/null || break
	sleep 0.01
done
kill -STOP $bgpid 2>/dev/null || fail "the background backup ended too early for the check"
compgen -G "$crepo/.new-*" >/dev/null || fail "the background backup never created its .new-* files"
t0=$(now_ms)
bk_run -b "$crepo" backup manual:second
t1=$(now_ms)
assert_eq "exit code of the concurrent backup" 1 "$BK_RC"
assert_contains "stderr of the concurrent backup" "$T/last.err" "in progress"
assert_le "time of the concurrent backup (ms)" 5000 $((t1 - t0))
bk_run -b "$crepo" backup
assert_eq "exit code of a concurrent scheduled backup" 1 "$BK_RC"
assert_contains "stderr of the concurrent scheduled backup" "$T/last.err" "in progress"

bk_run -b "$crepo" status --json
assert_eq "exit code of status during the backup" 0 "$BK_RC"
assert_eq "revisions listed during the backup" "$small" "$(json_eval "' '.join(r['uuid'] for r in d)" <"$T/last.out")"
bk_run -b "$crepo" status
assert_eq "exit code of status (table) during the backup" 0 "$BK_RC"
bk_run -b "$crepo" restore -r "$small" "$TMPFS_MNT/small.img"
assert_eq "exit code of restore during the backup" 0 "$BK_RC"
assert_eq "restored content during the backup" "$small_digest" "$(digest "$TMPFS_MNT/small.img")"
bk_run -b "$crepo" find -r all
assert_eq "exit code of find during the backup" 0 "$BK_RC"
kill -CONT $bgpid
rc=0
wait $bgpid || rc=$?
assert_eq "exit code of the background backup" 0 "$rc"
assert_eq "revisions after the background backup" 2 "$(status_eval "$crepo" 'len(d)')"
bk -b "$crepo" verify -r all
