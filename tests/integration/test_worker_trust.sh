#!/usr/bin/env bash
# backy-worker decides what its host backs up, whoever publishes the job (a
# compromised broker: the jobs here are published with whatever rights the
# test has, and the worker must not care):
# - a backup of /etc/shadow, of a device outside 'allow.paths', or of a new
#   source for an existing repository is rejected (BK_EDENIED), nothing is
#   read or created;
# - an expiry job carrying a hostile schedule keeps the retention floors
#   (min-keep, min-age, newest trusted revision) and the retired tags'
#   revisions within the retention they had;
# - a job id seen before with other content is rejected, not answered with
#   the old result; a job past its deadline is skipped, not run.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=worker_lib.sh
. "$HERE/worker_lib.sh"

wk_config
wk_start
wk_listen
head -c 2M /dev/urandom >"$T/disk.img"
head -c 2M /dev/urandom >"$T/other.img"

# wk_outcome JOB_ID: wait for the result of JOB_ID, print "outcome code"
wk_outcome()
{
	wk_wait_results 1 30 ".job_id == \"$1\""
	echo "$(wk_result "$1" .outcome) $(wk_result "$1" '.error.code // "-"')"
}

check "a backup of /etc/shadow or of a device outside allow.paths is rejected, nothing is created"
for src in shadow:/etc/shadow loopdev:/dev/loop0; do
	J=$(wk_id)
	wk_publish "$(wk_job "$J" "${src%%:*}" "${src#*:}")"
	assert_eq "result of the ${src#*:} job" "rejected BK_EDENIED" "$(wk_outcome "$J")"
	[[ ! -e $BASE/${src%%:*} ]] || fail "a repository was created for ${src#*:}"
done

check "an allowed source is backed up; the same job naming another source is rejected"
J=$(wk_id)
wk_publish "$(wk_job "$J" vm1 "$T/disk.img" backup '["daily"]')"
assert_eq "first backup" "ok -" "$(wk_outcome "$J")"
cp "$BASE/vm1/config" "$T/config.before"
for src in "$T/other.img" /etc/shadow; do
	J=$(wk_id)
	wk_publish "$(wk_job "$J" vm1 "$src" backup '["daily"]')"
	assert_eq "backup of vm1 from '$src'" "rejected BK_EDENIED" "$(wk_outcome "$J")"
done
assert_eq "revisions of vm1" 1 "$(wk_revisions vm1)"
cmp -s "$T/config.before" "$BASE/vm1/config" || fail "the repository config changed"
assert_contains "the refusal names the fixed source" "$T/results.jsonl" "its source is fixed"

check "an operator on the host replaces the source; then the job is accepted"
"$BACKY" -b "$BASE/vm1" init --replace file "$T/other.img" --block-size 4096 2>"$T/replace.err" &&
	fail "init --replace accepted a new block size"
assert_contains "block size refusal" "$T/replace.err" "--block-size cannot change"
"$BACKY" -b "$BASE/vm1" init --replace file "$T/other.img" 2>"$T/replace.err" ||
	fail "init --replace failed: $(cat "$T/replace.err")"
assert_contains "replace log" "$T/replace.err" "1 revision kept"
cmp -s <(grep -v -e filename "$T/config.before") <(grep -v -e filename "$BASE/vm1/config") ||
	fail "init --replace changed more than the source: $(diff "$T/config.before" "$BASE/vm1/config")"
J=$(wk_id)
wk_publish "$(wk_job "$J" vm1 "$T/other.img" backup '["daily"]')"
assert_eq "backup from the replaced source" "ok -" "$(wk_outcome "$J")"
"$BACKY" -b "$BASE/vm1" restore "$T/vm1.out" >/dev/null 2>&1 || fail "restore failed"
cmp -s "$T/vm1.out" "$T/other.img" || fail "the new revision is not the new source"

check "a job id seen before with other content is rejected, not answered from the journal"
J1=$(wk_id)
wk_publish "$(wk_job "$J1" vm1 "$T/other.img" backup '["daily"]')"
assert_eq "backup" "ok -" "$(wk_outcome "$J1")"
wk_publish "$(wk_job "$J1" vm1 "$T/other.img" backup '["weekly"]')"
# answered without the job id: the coordinator must not take it for the genuine job's result
changed="(.error.message // \"\") | contains(\"job id '$J1' was seen before\")"
wk_wait_results 1 30 "$changed"
assert_eq "answer to the changed job" "rejected BK_EPROTO null" \
	"$(jq -r "select($changed) | \"\(.outcome) \(.error.code) \(.job_id)\"" "$T/results.jsonl")"
assert_eq "revisions of vm1" 3 "$(wk_revisions vm1)"

check "a job whose deadline passed is skipped, not run"
J=$(wk_id)
wk_publish "$(wk_job "$J" vm1 "$T/other.img" backup '["daily"]' | jq -c ".deadline = \"$(wk_iso -60)\" | .time = \"$(wk_iso -120)\"")"
assert_eq "late job" "skipped ETIMEDOUT" "$(wk_outcome "$J")"
assert_eq "revisions of vm1" 3 "$(wk_revisions vm1)"

check "an expiry job with a hostile schedule keeps the floors and the retired tags' retention"
# A repository made by an operator on this host, revisions from 20 days to 1 hour old.
R=$BASE/vmold
"$BACKY" -b "$R" init file "$T/disk.img" --schedule daily=1d:7,weekly=1w:4 >/dev/null 2>&1 ||
	fail "backy init failed"
declare -A rev_at
for spec in 480:daily,weekly 216:daily 144:daily 72:daily,weekly 48:daily 10:daily 1:daily; do
	h=${spec%%:*}
	BACKY_NOW=$(date -u -d "@$(($(date +%s) - h * 3600))" +%Y-%m-%dT%H:%M:%SZ) \
		"$BACKY" -b "$R" backup "${spec#*:}" >/dev/null 2>&1 || fail "backup at -${h}h failed"
	rev_at[$h]=$(readlink "$R/latest")
done
assert_eq "revisions of vmold" 7 "$(wk_revisions vmold)"
J=$(wk_id)
wk_publish "$(wk_job "$J" vmold "" expire | jq -c '.schedule = {"x": {"interval": "1d", "keep": 1}}')"
assert_eq "hostile expiry" "ok -" "$(wk_outcome "$J")"
# daily had 7 x 1d and weekly 4 x 1w: only the 9-day-old daily-only revision is past both
assert_eq "revisions of vmold after the hostile expiry" 6 "$(wk_revisions vmold)"
[[ ! -e $R/${rev_at[216]}.rev ]] || fail "the 9-day-old daily revision was kept"
for h in 480 144 72 48 10 1; do
	[[ -e $R/${rev_at[$h]}.rev ]] || fail "the revision of -${h}h was deleted"
done
ok "every revision within its tag's recorded retention is still there"
grep -q "^  x:" "$R/config" || fail "the job's schedule was not written"
assert_contains "the retired tags' retention is recorded" "$R/config" "daily: 1w"

check "an expiry job cannot go below min-keep or min-age, even when every tag is gone"
R2=$BASE/vmfew
"$BACKY" -b "$R2" init file "$T/disk.img" --schedule daily=1d:1 >/dev/null 2>&1 || fail "init failed"
for h in 1000 900 800 700 5 2; do
	BACKY_NOW=$(date -u -d "@$(($(date +%s) - h * 3600))" +%Y-%m-%dT%H:%M:%SZ) \
		"$BACKY" -b "$R2" backup manual:m$h >/dev/null 2>&1 || fail "backup at -${h}h failed"
done
"$BACKY" -b "$R2" tags remove -r all -f manual:m1000,manual:m900,manual:m800,manual:m700,manual:m5,manual:m2 \
	>/dev/null 2>&1 || fail "untagging failed"
J=$(wk_id)
wk_publish "$(wk_job "$J" vmfew "" expire | jq -c '.schedule = {"x": {"interval": "1s", "keep": 1}}')"
assert_eq "expiry of untagged revisions" "ok -" "$(wk_outcome "$J")"
# 6 untagged revisions: the two younger than 1d stay, and min-keep 3 keeps one old one
assert_eq "revisions of vmfew" 3 "$(wk_revisions vmfew)"

check "schedules with ever new tag names cannot grow the retention record without bound"
outcomes=
for round in 1 2 3 4 5; do
	sched=$(for i in $(seq 1 64); do printf '"r%dt%d": {"interval": "1d", "keep": 1},' "$round" "$i"; done)
	J=$(wk_id)
	wk_publish "$(wk_job "$J" vmfew "" expire | jq -c ".schedule = {${sched%,}}")"
	outcomes+="$(wk_outcome "$J" | cut -d' ' -f1) "
done
assert_eq "outcomes of five schedules of 64 new tags" "ok ok ok rejected rejected " "$outcomes"
assert_contains "the refusal says why" "$T/results.jsonl" "would record the retention of"
(($(stat -c %s "$R2/config") < 20000)) || fail "the config grew to $(stat -c %s "$R2/config") bytes"

wk_term
assert_eq "worker exit status" 0 "$WRC"

check "a repository config the worker writes with a Consul token is readable by root only"
WK_ALLOW='allow: {pools: [rbd], paths: ["'$T'"]}' wk_config "consul: {url: 'http://127.0.0.1:9', token: secret-token}"
wk_start
J=$(wk_id)
wk_publish "$(wk_job "$J" fc "" backup '["daily"]' | jq -c '.source = {"type": "flyingcircus", "pool": "rbd", "image": "fc", "vm": "fc"}')"
wk_outcome "$J" >/dev/null # fails without a Ceph cluster: only the config matters here
grep -q "secret-token" "$BASE/fc/config" || fail "the token is not in the repository config"
assert_eq "mode of a config with a token" 600 "$(stat -c %a "$BASE/fc/config")"
assert_eq "mode of a config without one" 640 "$(stat -c %a "$BASE/vm1/config")"
wk_term
assert_eq "worker exit status" 0 "$WRC"
echo "PASS [$TEST_NAME] in ${SECONDS}s"
