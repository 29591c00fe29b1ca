#!/usr/bin/env bash
# The coordinator believes only what it asked for (issue 10), with a real
# broker, coordinator and worker; the "compromised broker" publishes with the
# harness administrator's URL (BACKY_AMQP_URL):
#   - a forged result for a job in flight, from host 'evilhost' with a
#     made-up revision, is dropped: logged, counted in /metrics by reason,
#     `backyctl status` unchanged; so are results whose routing key is not
#     their body's and results for job ids not in flight; the real worker's
#     result is then accepted;
#   - heartbeats of a host the config does not name, or whose routing key is
#     not their host, are counted and dropped, never listed;
#   - a broker that refuses the coordinator's set-up after it connected (403:
#     a user without the rights; 406: a queue declared with other arguments)
#     gets reconnects backing off from 0.5 s, not dozens a second, and the
#     coordinator carries on once it is fixed, without a restart;
#   - 70 clients dribbling header lines do not lock /v1/status out for longer
#     than the 5 s bound on a request's headers.
# Needs BACKY (CTest sets it) and BACKY_RABBIT_ENV (with BACKY_AMQP_URL_CTL);
# about 20 s.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=fleet_lib.sh
. "$HERE/fleet_lib.sh"
at_exit '((rc == 0)) || fl_dump'
need_tool python3 amqp-declare-queue
MQ_PUBLISH=${MQ_PUBLISH:-$(realpath -m "$(dirname "$COORD")/../tests/mq_publish")}
[[ -x $MQ_PUBLISH ]] || fail "mq_publish not found: '$MQ_PUBLISH' (build the whole tree)"
ADMIN=$BACKY_AMQP_URL
[[ -n ${BACKY_AMQP_URL_CTL:-} ]] || fail "$BACKY_RABBIT_ENV does not set BACKY_AMQP_URL_CTL (backyctl's broker user)"

S=2030-01-07T00:00:00+00:00 # the coordinator's (frozen) time
H=trust$$                   # the storage host
JOB=tvm1
fl_hosts "$H"
mkdir -p "$T/src"
fl_source "$T/src/$JOB" 4
fl_coord_config "$T/coord.yaml" "  $JOB: {schedule: default, source: {type: file, filename: $T/src/$JOB}}"

# coord_bg NAME CONFIG: start a coordinator without waiting for it (log $T/NAME.log)
coord_bg()
{
	BACKY_NOW=$S BACKY_TIME_SCALE=0 "$COORD" -v -c "$2" >>"$T/$1.log" 2>&1 &
	FL_CPID[$1]=$!
	at_exit "kill -9 ${FL_CPID[$1]} 2>/dev/null || true"
}

# count PATTERN FILE: lines of FILE with PATTERN
count() { grep -c -- "$1" "$2" || true; }

# metric NAME-AND-LABELS: its value on /metrics (empty if absent)
metric() { curl -fsS --max-time 5 "$STATUS_URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
metric_is() { [[ $(metric "$1") == "$2" ]]; }

# --- the broker refuses the set-up --------------------------------------------

check "a coordinator whose broker user may not declare: backs off and stays up (403)"
sed "s|url: \"[^\"]*\"|url: \"$BACKY_AMQP_URL_CTL\"|" "$T/coord.yaml" >"$T/coord-ctl.yaml"
grep -qF "$BACKY_AMQP_URL_CTL" "$T/coord-ctl.yaml" || fail "could not set the amqp url in the config"
coord_bg c403 "$T/coord-ctl.yaml"
fl_wait 10 "the first refused set-up" grep -q "taking the broker lock failed.*403" "$T/c403.log"
sleep 3
kill -0 "${FL_CPID[c403]}" 2>/dev/null || fail "the coordinator exited on a 403: $(tail -3 "$T/c403.log")"
n=$(count "taking the broker lock failed" "$T/c403.log")
assert_le "set-up attempts within 3 s of the first 403" 5 "$n"
assert_contains "the backoff is logged" "$T/c403.log" "reconnecting in"
fl_coord_stop c403

check "a queue declared with other arguments: backoff (406), then recovery without a restart"
fl_delete_queue backy.coordinator.results # results of an aborted earlier run would count too
fl_delete_queue backy.coordinator.heartbeats
amqp-declare-queue --url="$ADMIN" -q backy.coordinator.heartbeats -d >/dev/null ||
	fail "could not declare the conflicting queue"
at_exit "fl_delete_queue backy.coordinator.heartbeats" # the next coordinator declares it right
coord_bg c1 "$T/coord.yaml"
fl_wait 10 "the first refused set-up" grep -q "406 PRECONDITION_FAILED" "$T/c1.log"
sleep 3
n=$(count "broker set-up failed" "$T/c1.log")
assert_le "set-up attempts within 3 s of the first 406" 5 "$n"
assert_ge "set-up attempts within 3 s of the first 406" 2 "$n"
fl_delete_queue backy.coordinator.heartbeats # the operator fixes the broker
fl_wait 15 "the coordinator connects after the fix" grep -q "connected to the broker" "$T/c1.log"
fl_wait 5 "status after the fix" fl_status
ok "connected after $(count "broker set-up failed" "$T/c1.log") refused set-ups"

# --- forged results --------------------------------------------------------------

check "a backup of $JOB is dispatched to $H (no worker yet: it stays in flight)"
"$CTL" --url "$BACKY_AMQP_URL_CTL" run "$JOB" --tags manual:trust >/dev/null || fail "backyctl run failed"
fl_wait 10 "$JOB running" fl_status_true ".jobs.\"$JOB\".status == \"running\""
JID=$(fl_status | jq -r ".jobs.\"$JOB\".running.job_id")
assert_eq "host of $JOB" "$H" "$(fl_status | jq -r ".jobs.\"$JOB\".host")"
"$CTL" --status-url "$STATUS_URL" status --json | jq -S .jobs >"$T/before.json"
"$CTL" --status-url "$STATUS_URL" status >"$T/before.txt"

# result HOST KEY-HOST JOB-ID: a good backup result of $JOB in the body's HOST, published
# by the compromised broker with routing key backup.ok.KEY-HOST.$JOB
result()
{
	local body
	body=$(jq -cn --arg id "forged$RANDOM$RANDOM" --arg t "$S" --arg jid "$3" --arg job "$JOB" \
		--arg host "$1" \
		'{schema:"backy/1.0",kind:"result",id:$id,time:$t,job_id:$jid,job:$job,host:$host,action:"backup",outcome:"ok",revision:"MadeUpRevision0000000x",tags:["manual:trust"],started:$t,finished:$t,stats:{bytes_written:1,size:1,duration:1.5}}')
	"$MQ_PUBLISH" "$ADMIN" backy.results "backup.ok.$2.$JOB" "$body" || fail "publishing a forged result failed"
}
result evilhost evilhost "$JID"            # wrong_host
result "$H" evilhost "$JID"                # routing_key: the body claims the real host
result evilhost "$H" "$JID"                # routing_key: the key claims the real host
result "$H" "$H" UnknownJobId00000000000x  # unknown_job
fl_wait 10 "four dropped results counted" metric_is 'backy_coordinator_results_dropped_total{reason="unknown_job"}' 1
assert_eq "results dropped: wrong_host" 1 "$(metric 'backy_coordinator_results_dropped_total{reason="wrong_host"}')"
assert_eq "results dropped: routing_key" 2 "$(metric 'backy_coordinator_results_dropped_total{reason="routing_key"}')"
assert_eq "results ignored (all drops)" 4 "$(metric backy_coordinator_results_ignored_total)"
assert_eq "results accepted" 0 "$(metric 'backy_coordinator_results_total{outcome="ok"}')"
assert_contains "the forgery is logged" "$T/c1.log" \
	"dropping ok result for job '$JOB' ($JID) from 'evilhost' (routing key 'backup.ok.evilhost.$JOB'): the job is in flight on another host"
assert_eq "warnings about dropped results" 4 "$(count "warning: dropping ok result for job '$JOB'" "$T/c1.log")"
"$CTL" --status-url "$STATUS_URL" status --json | jq -S .jobs >"$T/after.json"
"$CTL" --status-url "$STATUS_URL" status >"$T/after.txt"
cmp -s "$T/before.json" "$T/after.json" || fail "backyctl status --json changed: $(diff "$T/before.json" "$T/after.json")"
cmp -s "$T/before.txt" "$T/after.txt" || fail "backyctl status changed: $(diff "$T/before.txt" "$T/after.txt")"
ok "backyctl status is unchanged (still running $JID, no last backup)"

# --- heartbeats of strangers -------------------------------------------------------

check "heartbeats of a host the config does not name, or under another key, are dropped"
# heartbeat HOST KEY
heartbeat()
{
	local body
	body=$(jq -cn --arg id "beat$RANDOM$RANDOM" --arg t "$S" --arg host "$1" \
		'{schema:"backy/1.0",kind:"heartbeat",id:$id,time:$t,host:$host,version:"0.1.0",slots:2,busy:0,free_bytes:1,running:[]}')
	"$MQ_PUBLISH" "$ADMIN" backy.workers "$2" "$body" || fail "publishing a heartbeat failed"
}
heartbeat evilhost evilhost # unknown_host
heartbeat evilhost "$H"     # routing_key
heartbeat "$H" evilhost     # routing_key
fl_wait 10 "dropped heartbeats counted" metric_is 'backy_coordinator_heartbeats_dropped_total{reason="routing_key"}' 2
assert_eq "heartbeats dropped: unknown_host" 1 "$(metric 'backy_coordinator_heartbeats_dropped_total{reason="unknown_host"}')"
assert_eq "workers listed" 0 "$(metric backy_coordinator_workers)"
assert_eq "/v1/workers" "{}" "$(curl -fsS "$STATUS_URL/v1/workers" | jq -c .)"
assert_contains "the drop is logged" "$T/c1.log" "dropping a heartbeat of 'evilhost' (routing key 'evilhost'): the configuration names no such host"

# --- the real worker ----------------------------------------------------------------

check "the real worker's result is accepted; only it is listed as a worker"
fl_worker_start w1 "$H"
fl_wait 60 "$JOB finished" fl_status_true ".jobs.\"$JOB\".status == \"finished\""
# a first manual backup is history: the missed schedule tags catch up at once, as with backy
fl_wait 60 "the catch-up of $JOB" fl_status_true \
	".jobs.\"$JOB\".last_tags == \"daily,weekly\" and .jobs.\"$JOB\".status == \"finished\""
fl_wait 30 "its expiry done" fl_idle
assert_eq "results accepted (the backup, the catch-up and their expiries)" 4 "$(metric 'backy_coordinator_results_total{outcome="ok"}')"
assert_eq "results dropped, all reasons" 4 "$(metric backy_coordinator_results_ignored_total)"
fl_repo_status "$T/w1/base" "$JOB" >"$T/repo.json"
assert_eq "revisions in $H's repository" 2 "$(jq length "$T/repo.json")"
REV=$(jq -r '[.[] | select(.tags | index("manual:trust"))][0].uuid' "$T/repo.json")
assert_contains "the accepted result is the worker's" "$T/c1.log" "backup of '$JOB' ($JID) on '$H' succeeded: revision $REV"
fl_wait 15 "$H listed as a worker" fl_status_true ".workers.\"$H\" != null"
"$CTL" --status-url "$STATUS_URL" workers >"$T/workers.txt"
grep -q "$H" "$T/workers.txt" || fail "backyctl workers does not list $H: $(cat "$T/workers.txt")"
! grep -q evilhost "$T/workers.txt" || fail "backyctl workers lists evilhost: $(cat "$T/workers.txt")"
ok "backyctl workers lists $H only"

# --- slow HTTP clients -----------------------------------------------------------------

check "70 clients dribbling a header line every 2 s: /v1/status answers within the 5 s bound"
cat >"$T/slow.py" <<'EOF'
import socket, sys, time
port, n, every, dur = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
for s in socks:
    s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n")
print("open", flush=True)
end = time.time() + dur
while time.time() < end and socks:
    time.sleep(every)
    alive = []
    for s in socks:
        try:
            s.sendall(b"X-Slow: 1\r\n")
            alive.append(s)
        except OSError:
            pass
    socks = alive
print("alive", len(socks), flush=True)
EOF
python3 "$T/slow.py" "$FL_PORT" 70 2 12 >"$T/slow.out" 2>&1 &
SLOW=$!
at_exit "kill $SLOW 2>/dev/null || true"
fl_wait 5 "the slow clients connected" grep -q open "$T/slow.out"
t0=$(date +%s%N)
fl_wait 15 "an answer from /v1/status" curl -fs --max-time 1 "$STATUS_URL/v1/status"
waited=$((($(date +%s%N) - t0) / 1000000))
assert_le "milliseconds until /v1/status answered" 8000 "$waited"
wait "$SLOW" || true
assert_eq "slow clients still connected" "alive 0" "$(tail -1 "$T/slow.out")"
n=$(metric backy_coordinator_http_cut_total)
assert_ge "connections cut" 60 "$n"

fl_worker_stop w1
fl_coord_stop c1
