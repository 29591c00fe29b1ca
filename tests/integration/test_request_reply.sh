#!/usr/bin/env bash
# Replies to requests (issue 14): a third-party client that knows only
# docs/messages.md (docs/examples/request.py: pika, direct reply-to, with
# backyctl's broker user) gets a reply to every request that names a
# reply_to, with a real broker, coordinator and worker:
#   - run: accepted, with the job id of the backup it started, and a result
#     with that job id comes on the result stream;
#   - a run while that backup is in flight: accepted, queued, no job id;
#   - expire: accepted with its job id; status: accepted, pointing to HTTP;
#   - an unknown job, a tag outside the schedule: refused with the code;
#   - a reply_to naming one of backy's own queues gets no reply there;
#   - `backyctl watch` (JSON lines and the table) and the example consumer
#     of docs/messages.md (docs/examples/consumer.py) show the results.
# Needs BACKY (CTest sets it) and BACKY_RABBIT_ENV; about 17 s.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=fleet_lib.sh
. "$HERE/fleet_lib.sh"
at_exit '((rc == 0)) || fl_dump'
CLIENT=$HERE/../../docs/examples/request.py
export REQUEST_TIMEOUT=20

H=rr$$
JOB=rvm1
NOW=2030-01-07T00:00:00+00:00
fl_hosts "$H"
mkdir -p "$T/src"
fl_source "$T/src/$JOB" 64
fl_coord_config "$T/coord.yaml" "  $JOB: {schedule: default, host: $H, source: {type: file, filename: $T/src/$JOB}}"
fl_listen
fl_worker_start w1 "$H"
fl_coord_start c1 "$NOW" 0
# backyctl watch, as an operator follows the fleet (the dashboard's broker user)
"$CTL" --url "$DASH_URL" watch --json --count 2 --binding 'backup.#' >"$T/watch.jsonl" 2>"$T/watch.log" &
WATCH=$!
kill_later "$WATCH"
"$CTL" --url "$DASH_URL" watch >"$T/watch.txt" 2>"$T/watch-table.log" &
kill_later $!
# and the example consumer of docs/messages.md, on a durable queue of its own
CQ=dashboard.example.t$$
at_exit "amqp-delete-queue --url='$DASH_URL' -q '$CQ' >/dev/null 2>&1 || true"
COUNT=1 "$PYTHON" "$HERE/../../docs/examples/consumer.py" "$DASH_URL" "$CQ" 'backup.ok.#' >"$T/consumer.txt" 2>"$T/consumer.log" &
CONSUMER=$!
kill_later "$CONSUMER"
fl_wait 20 "backyctl watch --json listens" grep -q "watching backy.results" "$T/watch.log"
fl_wait 20 "backyctl watch (table) listens" grep -q "watching backy.results" "$T/watch-table.log"
fl_wait 20 "the example consumer listens" grep -q "listening on $CQ" "$T/consumer.log"

# ask ACTION [JOB [TAG...]]: the reply as JSON in $reply, the client's exit code in $asked
ask()
{
	set +e
	reply=$("$PYTHON" "$CLIENT" "$CTL_URL" "$@" 2>"$T/client.err")
	asked=$?
	set -e
	[[ -n $reply ]] || fail "the client printed nothing (exit $asked): $(cat "$T/client.err")"
}

check "run: accepted with the job id of the backup it started"
ask run "$JOB" manual:reply
((asked == 0)) || fail "run not accepted (exit $asked): $reply"
JID=$(jq -r '.job_id // empty' <<<"$reply")
[[ -n $JID ]] || fail "the accepted run carries no job id: $reply"
jq -e '.kind == "reply" and .action == "run" and .job == "'"$JOB"'"' <<<"$reply" >/dev/null || fail "reply: $reply"
ok "$reply"

check "a second run while that backup is in flight: accepted and queued"
ask run "$JOB"
reply2=$reply
((asked == 0)) || fail "the second run was not accepted (exit $asked): $reply2"
if jq -e '.job_id' <<<"$reply2" >/dev/null; then
	# the first backup may have finished already: then this one was dispatched at once
	[[ $(jq -r .job_id <<<"$reply2") != "$JID" ]] || fail "the second run got the first one's job id: $reply2"
else
	jq -e '.message | test("queued")' <<<"$reply2" >/dev/null || fail "a queued run should say so: $reply2"
fi
ok "$reply2"

# has_result JOB-ID: an ok result of that job id came on the result stream
has_result() { [[ -n $(fl_results ".job_id == \"$1\" and .outcome == \"ok\"") ]]; }

check "the result stream carries the backup of job id $JID"
fl_wait 60 "a result with job id $JID" has_result "$JID"
ok "followed the run by its job id"

check "backyctl watch shows the results: JSON lines and a table"
timeout 60 tail --pid="$WATCH" -f /dev/null || fail "backyctl watch --count 2 did not end: $(cat "$T/watch.log")"
wait "$WATCH" || fail "backyctl watch exited $?: $(cat "$T/watch.log")"
(($(wc -l <"$T/watch.jsonl") == 2)) || fail "watch --count 2 printed $(wc -l <"$T/watch.jsonl") lines"
jq -e -s 'all(.[]; .kind == "result" and .action == "backup") and any(.[]; .job_id == "'"$JID"'")' "$T/watch.jsonl" >/dev/null ||
	fail "watch --json lines: $(cat "$T/watch.jsonl")"
grep -q "^TIME (UTC) .*ACTION .*OUTCOME" "$T/watch.txt" || fail "no table header: $(cat "$T/watch.txt")"
fl_wait 20 "the table shows the backup" grep -q " backup  ok .*$JOB .*(job id $JID)" "$T/watch.txt"
ok "$(grep -c . "$T/watch.txt") table lines, 2 JSON lines"
timeout 30 tail --pid="$CONSUMER" -f /dev/null || fail "the example consumer did not end after one result: $(cat "$T/consumer.log")"
wait "$CONSUMER" || fail "the example consumer failed: $(cat "$T/consumer.log")"
grep -q "^backup of $JOB on $H: ok, revision [A-Za-z0-9_-]* (job id " "$T/consumer.txt" || fail "example consumer printed: $(cat "$T/consumer.txt")"
ok "example consumer: $(cat "$T/consumer.txt")"
fl_wait 60 "the coordinator is idle" fl_idle

check "expire and status: accepted"
ask expire "$JOB"
((asked == 0)) && jq -e '.job_id | length > 0' <<<"$reply" >/dev/null || fail "expire: exit $asked: $reply"
ask status
((asked == 0)) && jq -e '.message | test("GET /v1/status")' <<<"$reply" >/dev/null || fail "status: exit $asked: $reply"
ok "expire and status answered"

check "refusals name the reason"
ask run nosuchjob
((asked == 1)) || fail "an unknown job should be refused (exit 1), got $asked: $reply"
jq -e '.accepted == false and .error.code == "BK_EUSAGE" and (.error.message | test("nosuchjob")) and (has("job_id") | not)' <<<"$reply" >/dev/null ||
	fail "refusal of an unknown job: $reply"
ask run "$JOB" bogus
((asked == 1)) && jq -e '.error.code == "BK_ETAG"' <<<"$reply" >/dev/null || fail "refusal of a bad tag (exit $asked): $reply"
ok "unknown job: BK_EUSAGE; bad tag: BK_ETAG"

check "a reply_to naming backy's own queue gets no reply"
"$PYTHON" - "$CTL_URL" <<'PY' || fail "publishing the hostile request failed"
import json, sys, uuid, pika
ch = pika.BlockingConnection(pika.URLParameters(sys.argv[1])).channel()
req = {"schema": "backy/1.0", "kind": "request", "id": "hostileReplyTo" + uuid.uuid4().hex[:8],
       "time": "2030-01-07T00:00:00+00:00", "action": "status"}
ch.basic_publish("backy.control", "request", json.dumps(req).encode(),
                 pika.BasicProperties(delivery_mode=2, message_id=req["id"],
                                      reply_to="backy.coordinator.results"))
PY
fl_wait 20 "the coordinator refuses to reply into its own queue" grep -q "into backy's own queue 'backy.coordinator.results': not replying" "$T/c1.log"
ok "not replied"
fl_coord_stop c1
fl_worker_stop w1
