#!/usr/bin/env bash
# End to end failures with real daemons: an active coordinator and a standby
# on the same state file, workers storage-a and storage-b, a slow job (512 MiB
# source on tmpfs) and two small ones.  Asserts:
#   1. SIGKILL of a worker in the middle of a backup: after its restart the
#      job completes exactly once (one revision, one job id) and no partial
#      revision remains (every image has its .rev, backy verify passes);
#   2. broker restart (tests/harness/rabbit-restart.sh) during a backup: the
#      job completes once, its result reaches the coordinator and a consumer
#      of our own, and both daemons reconnect by themselves
#      (a manual job afterwards runs);
#   3. SIGKILL of the active coordinator while a backup is in flight: the
#      standby takes over, serves /v1/status, keeps the run in flight (no
#      second dispatch) and dispatches the jobs that are due on its clock
#      exactly once;
#   4. the broker-side lock: a coordinator with a state file of its own on
#      the same broker (so flock cannot stop it) stays passive while the
#      active one holds "backy.coordinator.leader", and takes over within
#      a few seconds of the active one's SIGKILL;
#   and over the whole test: job ids are unique per revision and the
#   revisions of each repository are exactly its good backups.
# Time: the active coordinator is frozen at S (nothing scheduled is due), the
# standby at S + 2 days (every job's first ideal time has passed).
#
# Known product bug this test catches (2026-11): backyctl requests are not
# deduplicated by request id, so a request whose ack was still pending when the
# active coordinator died (or the broker restarted) is redelivered and run twice.
#
# Needs BACKY, BACKY_RABBIT_ENV (its directory must hold the broker started by
# tests/harness/rabbit-up.sh, which this test restarts); runs ~2 minutes.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=fleet_lib.sh
. "$HERE/fleet_lib.sh"
at_exit '((rc == 0)) || fl_dump'
RDIR=$(dirname "$(realpath "$BACKY_RABBIT_ENV")")
[[ -r $RDIR/settings ]] || fail "$RDIR (from BACKY_RABBIT_ENV) holds no broker of rabbit-up.sh: cannot restart it"

S=2030-03-04T00:00:00+00:00
S2=$(fl_iso $(($(fl_epoch "$S") + 2 * 86400)))
fl_hosts storage-a storage-b

check "sources: slow (512 MiB on tmpfs), small1, small2 (4 MiB)"
mount_tmpfs 600M
SRC=$TMPFS_MNT
head -c 512M /dev/urandom >"$SRC/slow"
fl_source "$SRC/small1" 4
fl_source "$SRC/small2" 4
FL_JOB_TIMEOUT=7d fl_coord_config "$T/coord.yaml" "  slow: {schedule: default, host: storage-a, source: {type: file, filename: $SRC/slow}}
  small1: {schedule: default, host: storage-a, source: {type: file, filename: $SRC/small1}}
  small2: {schedule: default, host: storage-b, source: {type: file, filename: $SRC/small2}}"
fl_worker_start wa storage-a
fl_worker_start wb storage-b
fl_listen
fl_coord_start c1 "$S" 0
fl_coord_start c2 "$S2" 0 standby
ok "coordinator c1 active at $S, c2 standing by at $S2"

PROBLEMS=()
# ndispatch JOB TAG: dispatches of a backup of JOB tagged TAG by any coordinator
ndispatch() { cat "$T"/c1.log "$T"/c2.log | grep -c "dispatching backup of '$1' ([^,]*, tags $2)" || true; }
# started_after NAME N JOB: worker NAME logged more than N starts of a backup of JOB
nstarted() { grep -c "job '$2' (id [^)]*) backup started" "$T/$1/worker.log" || true; }
nrevs() { "$BACKY" -b "$T/$1/base/$2" status --json | jq "[.[] | select(.tags | index(\"$3\"))] | length"; }
# mid_backup NAME JOB TAG: wait until worker NAME runs the backup of JOB tagged TAG; its job id in MID_JID
mid_backup()
{
	fl_wait 30 "a backup of $2 tagged $3 starts on $1" grep -q "job '$2' (id [^)]*) backup started, tags $3 " "$T/$1/worker.log"
	MID_JID=$(grep "job '$2' (id [^)]*) backup started, tags $3 " "$T/$1/worker.log" | head -1 | sed -n "s/.*(id \([^)]*\)).*/\1/p")
	sleep 0.3
}

check "1. SIGKILL of worker storage-a in the middle of a backup of slow"
"$CTL" --url "$CTL_URL" run slow --tags manual:kill >/dev/null || fail "backyctl run failed"
mid_backup wa slow manual:kill
JID1=$MID_JID
grep -q "(id $JID1) backup done" "$T/wa/worker.log" &&
	fail "the backup of slow finished before the kill (source too fast)"
fl_worker_kill wa
info "killed storage-a during job $JID1"
ls -la "$T/wa/base/slow" | sed 's/^/     /'
fl_worker_start wa
fl_wait 90 "the result of $JID1 after the restart" \
	bash -c "jq -e 'select(.job_id == \"$JID1\" and .action == \"backup\" and .outcome == \"ok\")' '$T/results.jsonl' | grep -q ."
fl_wait 30 "the coordinator is idle again" fl_idle
assert_eq "revisions tagged manual:kill" 1 "$(nrevs wa slow manual:kill)"
assert_eq "backup results of job $JID1 with distinct revisions" 1 \
	"$(fl_results ".job_id == \"$JID1\" and .action == \"backup\"" | jq -r .revision | sort -u | wc -l)"

check "2. broker restart during a backup of slow"
"$CTL" --url "$CTL_URL" run slow --tags manual:broker >/dev/null || fail "backyctl run failed"
mid_backup wa slow manual:broker
RABBIT_RESTART_PAUSE=2 "$HERE/../harness/rabbit-restart.sh" "$RDIR" >"$T/rabbit-restart.log" 2>&1 ||
	fail "rabbit-restart.sh failed: $(tail -5 "$T/rabbit-restart.log")"
info "broker restarted"
fl_wait 120 "the result of the backup during the broker restart (consumer)" \
	bash -c "jq -e 'select(.job == \"slow\" and .action == \"backup\" and (.tags // [] | index(\"manual:broker\")))' '$T/results.jsonl' | grep -q ."
fl_wait 60 "the coordinator applied it" fl_status_true '.jobs.slow.last_tags == "manual:broker" and .jobs.slow.running == null'
assert_eq "revisions tagged manual:broker" 1 "$(nrevs wa slow manual:broker)"
n=$(ndispatch slow manual:broker)
((n == 1)) || PROBLEMS+=("broker restart: the manual:broker request was dispatched $n times (request redelivered after the restart and not deduplicated)")
grep -q "connected to the broker" "$T/c1.log" || fail "coordinator log lacks a connect"
fl_wait 60 "worker storage-a consumes again after the restart" \
	bash -c "(( \$(grep -c consuming '$T/wa/worker.log') >= 3 ))"
"$CTL" --url "$CTL_URL" run small2 --tags manual:after >/dev/null || fail "backyctl run after the restart failed"
fl_wait 60 "a manual job after the broker restart" \
	bash -c "jq -e 'select(.job == \"small2\" and (.tags // [] | index(\"manual:after\")))' '$T/results.jsonl' | grep -q ."
# small2's first backup was that manual one: its missed daily,weekly catch up at once, as with backy
fl_wait 60 "the catch-up of small2 after its first (manual) backup" \
	fl_status_true '.jobs.small2.last_tags == "daily,weekly" and .jobs.small2.running == null'
ok "both daemons reconnected by themselves, no job or result lost"

check "3. SIGKILL of the active coordinator with a backup in flight"
fl_wait 30 "idle before the takeover" fl_idle
"$CTL" --url "$CTL_URL" run slow --tags manual:takeover >/dev/null || fail "backyctl run failed"
mid_backup wa slow manual:takeover
JID3=$MID_JID
[[ $(fl_status | jq -r .jobs.slow.running.job_id) == "$JID3" ]] || fail "run $JID3 not in flight: $(fl_status | jq -c .jobs.slow)"
kill -9 "${FL_CPID[c1]}"
wait "${FL_CPID[c1]}" 2>/dev/null || true
fl_wait 30 "the standby takes over and serves /v1/status" fl_status_true '.coordinator.role == "active"'
fl_wait 30 "the standby connects to the broker" grep -q "connected to the broker" "$T/c2.log"
ok "standby active: $(fl_status | jq -c .coordinator)"
# slow had a run in flight at the takeover, so its first scheduled run waits for its next ideal time
daily_everywhere() { (($(nrevs wa small1 daily) >= 1 && $(nrevs wb small2 daily) >= 2)) && fl_idle; }
fl_wait 120 "the first scheduled backups (due on the standby's clock) and the run in flight" daily_everywhere
sleep 3 # anything duplicated would be dispatched by now
fl_wait 30 "idle" fl_idle
assert_eq "backup starts of job $JID3 (the run in flight)" 1 "$(grep -c "(id $JID3) backup started" "$T/wa/worker.log" || true)"
assert_eq "small1: scheduled (daily) revisions after the takeover" 1 "$(nrevs wa small1 daily)"
assert_eq "small2: scheduled (daily) revisions, the catch-up and one after the takeover" 2 "$(nrevs wb small2 daily)"
n=$(nrevs wa slow manual:takeover)
((n == 1)) || PROBLEMS+=("takeover: the manual:takeover request made $n revisions (dispatched $(ndispatch slow manual:takeover) times: the request was redelivered to the standby and not deduplicated)")

check "over the whole test: revisions = good backups, one revision per job id"
for j in slow small1 small2; do
	host=wa
	[[ $j == small2 ]] && host=wb
	revs=$("$BACKY" -b "$T/$host/base/$j" status --json | jq -r '.[].uuid' | sort)
	res=$(fl_results ".job == \"$j\" and .action == \"backup\" and .outcome == \"ok\"" | jq -r .revision | sort -u)
	[[ $revs == "$res" ]] || fail "$j: revisions [$revs] differ from the revisions of good results [$res]"
	njid=$(fl_results ".job == \"$j\" and .action == \"backup\" and .outcome == \"ok\"" | jq -r .job_id | sort -u | wc -l)
	assert_eq "$j: job ids of good backups = revisions" "$(wc -w <<<"$revs")" "$njid"
	# no leftovers of a partial revision: every image has its metadata
	for f in "$T/$host/base/$j"/*; do
		b=$(basename "$f")
		case $b in config | latest | backy.log | *.rev | *.sums) continue ;; esac
		[[ -e $f.rev ]] || fail "$j: leftover '$b' without metadata"
	done
	"$BACKY" -b "$T/$host/base/$j" verify -r all >>"$T/verify.log" 2>&1 || fail "backy verify -r all of $j failed"
done
ok "no partial revision, one revision per job id"
((${#PROBLEMS[@]} == 0)) || fail "jobs duplicated: $(printf '%s; ' "${PROBLEMS[@]}")"
ok "no job duplicated"

check "4. broker lock: a coordinator with its own state file stays passive while c2 leads"
# frozen at S like c1: an empty state plans every job after S, so it dispatches nothing
sed "s|^state-file: .*|state-file: $T/coord3.state|" "$T/coord.yaml" >"$T/coord3.yaml"
FL_COORD_CONFIG=$T/coord3.yaml fl_coord_start c3 "$S" 0 standby
grep -q "standby: the broker lock 'backy.coordinator.leader' is held by another coordinator" "$T/c3.log" ||
	fail "c3 is not waiting for the broker lock: $(tail -5 "$T/c3.log")"
sleep 5 # two retries
grep -q "active:" "$T/c3.log" && fail "c3 became active while c2 holds the broker lock: $(tail -5 "$T/c3.log")"
assert_eq "the active coordinator's clock (still c2)" "$(fl_epoch "$S2")" "$(fl_epoch "$(fl_status | jq -r .coordinator.now)")"
ok "c3 passive: $(grep -c "broker lock" "$T/c3.log") lines about the broker lock in its log"
kill -9 "${FL_CPID[c2]}"
wait "${FL_CPID[c2]}" 2>/dev/null || true
fl_wait 30 "c3 takes the broker lock after c2's death" grep -q "holding the broker lock" "$T/c3.log"
fl_wait 30 "c3 serves /v1/status as the active coordinator" \
	bash -c "curl -fsS --max-time 5 '$STATUS_URL/v1/status' | jq -e '.coordinator.role == \"active\" and (.coordinator.now | startswith(\"${S:0:10}\"))'"
ok "c3 took over: $(fl_status | jq -c .coordinator)"
fl_coord_stop c3
fl_worker_stop wa
fl_worker_stop wb
