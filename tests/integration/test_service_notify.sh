#!/usr/bin/env bash
# The daemons' side of systemd (common/service.h, dist/systemd/): with
# NOTIFY_SOCKET set, backy-worker and backy-coordinator tell a stand-in of
# systemd's notification socket (notify_listen.py)
#   - READY=1 only once connected with the topology in place: the worker,
#     started first, waits for its job queue and is not ready until the
#     coordinator, ready itself, has declared it;
#   - WATCHDOG=1 pings with WATCHDOG_USEC set;
#   - RELOADING=1, then READY=1, around a SIGHUP reload;
#   - STOPPING=1 on SIGTERM (and they exit 0);
# and log lines carry sd-daemon priority prefixes ("<5>...") exactly when
# JOURNAL_STREAM names their stderr.  Also the config checks the units run
# before starting and reloading: backy-coordinator --check-config and
# backy-worker --check.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=fleet_lib.sh
. "$HERE/fleet_lib.sh"

HOST=svc$$
# the status port: fleet_lib's free one, or the caller's
FL_PORT=${BACKY_TEST_STATUS_PORT:-$FL_PORT}
NLOG=$T/notify.log
FL_HOSTS=("$HOST")
fl_worker_users "$HOST"
# no job queue yet: the coordinator declares it (the worker must wait for it)
fl_delete_queue "backy.jobs.$HOST"
at_exit "fl_delete_queue 'backy.jobs.$HOST'"
fl_delete_queue backy.coordinator.requests
fl_worker_config w "$HOST"
head -c 1M /dev/urandom >"$T/src.img"
fl_coord_config "$T/coord.yaml" "  svc: {schedule: default, host: $HOST, source: {type: file, filename: $T/src.img}}"

# notified LINE-REGEX [AFTER-LINE]: the number of the first line of the
# notification log after AFTER-LINE matching LINE-REGEX, or nothing
notified() { awk -v re="$1" -v after="${2:-0}" 'NR > after && $0 ~ re { print NR; exit }' "$NLOG"; }
# wait_notified WHAT LINE-REGEX [AFTER-LINE]: wait (up to 30 s) for it; sets N
wait_notified()
{
	local i
	for ((i = 0; i < 300; i++)); do
		N=$(notified "$2" "${3:-0}")
		[[ -n $N ]] && { ok "$1 (line $N)"; return 0; }
		sleep 0.1
	done
	cat "$NLOG"
	fail "$1: no '$2' after line ${3:-0} within 30 s"
}
lines() { wc -l <"$NLOG"; }

check "the config checks: good files pass, broken ones fail with the problem"
"$COORD" --check-config "$T/coord.yaml" >"$T/check.out" || fail "--check-config refused a good file"
assert_contains "--check-config of a good file" "$T/check.out" "ok (1 jobs"
"$WORKER" -c "$T/w/worker.yaml" --check >"$T/check.out" || fail "--check refused a good file"
assert_contains "--check of a good file" "$T/check.out" "ok (host $HOST"
printf 'schedules: {}\njobs: []\n' >"$T/bad.yaml"
"$COORD" --check-config "$T/bad.yaml" 2>"$T/check.err" && fail "--check-config passed a bad file"
assert_contains "--check-config names the problem" "$T/check.err" "bad.yaml: line 2: 'jobs' must be a map"
"$WORKER" -c "$T/bad.yaml" --check 2>"$T/check.err" && fail "--check passed a bad file"
assert_contains "--check names the problem" "$T/check.err" "bad.yaml: line 1: unknown key 'schedules'"

check "stderr on the journal: sd-daemon priorities instead of the program name"
: >"$T/journal.err"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/journal.err") "$COORD" --check-config "$T/bad.yaml" \
	2>>"$T/journal.err" && fail "--check-config passed a bad file"
assert_contains "an error on the journal" "$T/journal.err" "<3>error: $T/bad.yaml"
JOURNAL_STREAM=1:1 "$COORD" --check-config "$T/bad.yaml" 2>"$T/plain.err" && fail "--check-config passed a bad file"
assert_contains "an error elsewhere" "$T/plain.err" "backy-coordinator: error: $T/bad.yaml"

"$PYTHON" "$HERE/notify_listen.py" "$NLOG" "$T/worker.sock" "$T/coord.sock" &
kill_later $!
for ((i = 0; i < 100; i++)); do grep -q listening "$NLOG" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$NLOG" || fail "notify_listen.py did not start"

check "the worker, started first, waits for its job queue and is not ready"
: >"$T/worker.err"
NOTIFY_SOCKET=$T/worker.sock WATCHDOG_USEC=1000000 JOURNAL_STREAM=$(stat -c '%d:%i' "$T/worker.err") \
	"$WORKER" -v -c "$T/w/worker.yaml" 2>>"$T/worker.err" &
WPID=$!
kill_later $WPID
wait_notified "worker: waiting for its queue" "^worker.sock STATUS=waiting for the job queue"
[[ -z $(notified "^worker.sock READY=1") ]] || fail "the worker was ready before its queue existed"
ok "no READY=1 from the worker"

check "the coordinator is ready once it declared the topology; then the worker is"
NOTIFY_SOCKET=$T/coord.sock WATCHDOG_USEC=1000000 "$COORD" -v -c "$T/coord.yaml" 2>>"$T/coord.log" &
CPID=$!
kill_later $CPID
wait_notified "coordinator ready" "^coord.sock READY=1"
CREADY=$N
assert_contains "coordinator status" "$NLOG" "coord.sock STATUS=active: 1 jobs, 1 hosts"
wait_notified "worker ready after the coordinator" "^worker.sock READY=1" "$CREADY"
assert_contains "worker status" "$NLOG" "worker.sock STATUS=consuming backy.jobs.$HOST"

check "watchdog pings every half WATCHDOG_USEC"
sleep 2
assert_ge "worker WATCHDOG=1 pings" 3 "$(grep -c '^worker.sock WATCHDOG=1$' "$NLOG")"
assert_ge "coordinator WATCHDOG=1 pings" 3 "$(grep -c '^coord.sock WATCHDOG=1$' "$NLOG")"

check "SIGHUP: RELOADING=1, then READY=1"
for d in worker coord; do
	n0=$(lines)
	if [[ $d == worker ]]; then kill -HUP $WPID; else kill -HUP $CPID; fi
	wait_notified "$d reloading" "^$d.sock RELOADING=1" "$n0"
	wait_notified "$d ready again" "^$d.sock READY=1" "$N"
done
assert_contains "MONOTONIC_USEC with RELOADING=1" "$NLOG" "MONOTONIC_USEC="
grep -q "configuration reloaded" "$T/worker.err" || fail "the worker did not reload"

check "SIGTERM: STOPPING=1 and a clean exit"
n0=$(lines)
kill -TERM $WPID $CPID
wait_notified "worker stopping" "^worker.sock STOPPING=1" "$n0"
wait_notified "coordinator stopping" "^coord.sock STOPPING=1" "$n0"
rc=0
timeout 40 tail --pid=$WPID -f /dev/null || fail "the worker did not stop"
wait $WPID || rc=$?
assert_eq "worker exit status" 0 $rc
timeout 30 tail --pid=$CPID -f /dev/null || fail "the coordinator did not stop"
wait $CPID || rc=$?
assert_eq "coordinator exit status" 0 $rc

check "the worker's stderr was the journal: priorities, no program name"
assert_contains "a notice" "$T/worker.err" "<5>connected to the broker"
assert_contains "a warning" "$T/worker.err" "<4>warning: job queue 'backy.jobs.$HOST' does not exist yet"
assert_not_contains "no program name" "$T/worker.err" "backy-worker:"
assert_contains "the coordinator's stderr was a file: program name" "$T/coord.log" "backy-coordinator: "
assert_not_contains "no priorities there" "$T/coord.log" "<5>"
