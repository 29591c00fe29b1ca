#!/usr/bin/env bash
# A job that runs longer than RabbitMQ's delivery-acknowledgement timeout
# (consumer_timeout 60 s on a private broker; RabbitMQ checks it about once a
# minute, so the job runs 130 s) is neither run twice nor lost: the broker
# closes the channel, the worker reconnects, the redelivered job is attached
# to the child still running, and exactly one revision and one ok result
# come out.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
WK_PRIVATE_BROKER=1 WK_CONSUMER_TIMEOUT_MS=60000
# shellcheck source=worker_lib.sh
. "$HERE/worker_lib.sh"

SLOW=${WK_SLOW_SECONDS:-130}
cat >"$T/slow-backy" <<EOF2
#!/bin/sh
# test only: a backy that takes $SLOW s longer
sleep $SLOW
exec "$BACKY" "\$@"
EOF2
chmod +x "$T/slow-backy"
wk_config "backy: $T/slow-backy"
wk_start
wk_listen
head -c 2M /dev/urandom >"$T/small.img"

check "a job of ${SLOW} s outlives consumer_timeout"
J=$(wk_id)
wk_publish "$(wk_job "$J" vmslow "$T/small.img")"
wk_wait_results 1 $((SLOW + 120)) ".job_id == \"$J\""
sleep 5 # a duplicate would show up now
grep -q "connection to the broker lost" "$T/worker.log" ||
	fail "the broker never closed the channel (consumer_timeout not effective?)"
ok "the broker closed the channel: $(grep -m1 "connection to the broker lost" "$T/worker.log" | cut -c1-160)"
assert_contains "redelivery attached to the running job" "$T/worker.log" "redelivered while running"
assert_eq "results for the job" 1 "$(wk_nresults ".job_id == \"$J\"")"
assert_eq "outcome" ok "$(wk_result "$J" .outcome)"
assert_eq "revisions" 1 "$(wk_revisions vmslow)"
assert_eq "backy runs" 1 "$(grep -c "id $J) backup started" "$T/worker.log")"
wk_term
assert_eq "worker exit status" 0 "$WRC"
echo "PASS [$TEST_NAME] in ${SECONDS}s"
