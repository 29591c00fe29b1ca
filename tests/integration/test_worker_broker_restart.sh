#!/usr/bin/env bash
# Restart the broker while a job runs, and let the job finish while the
# broker is away: the worker reconnects by itself, the job is not run twice,
# its result arrives and the worker logs the job's outcome when it publishes
# it.  Uses a private broker (the restart would disturb everything else on a
# shared one).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
WK_PRIVATE_BROKER=1
# shellcheck source=worker_lib.sh
. "$HERE/worker_lib.sh"

cat >"$T/slow-backy" <<EOF2
#!/bin/sh
# test only: a backy that waits until the test lets it go (the broker is down then)
while [ ! -e "$T/go" ]; do sleep 0.1; done
exec "$BACKY" "\$@"
EOF2
chmod +x "$T/slow-backy"
wk_config "backy: $T/slow-backy"
wk_start
wk_listen
head -c 2M /dev/urandom >"$T/small.img"

check "restart the broker while a job runs"
J=$(wk_id)
wk_publish "$(wk_job "$J" vmr "$T/small.img")"
for _ in $(seq 1 100); do grep -q "id $J) backup started" "$T/worker.log" && break; sleep 0.1; done
grep -q "id $J) backup started" "$T/worker.log" || fail "job did not start"
kill "$LPID1" "$LPID2" 2>/dev/null || true
RABBIT_RESTART_PAUSE=3 "$HERE/../harness/rabbit-restart.sh" "$T/rabbit" >>"$T/rabbit.log" 2>&1 &
rpid=$!
for _ in $(seq 1 300); do grep -q "connection to the broker lost" "$T/worker.log" && break; sleep 0.1; done
touch "$T/go" # the job ends while the broker is down
wait "$rpid" || fail "broker restart failed: $(tail -5 "$T/rabbit.log")"
ok "broker restarted"
wk_load_env
wk_listen # our test queues were exclusive: bind them again

check "the worker reconnects by itself and the result arrives"
wk_wait_results 1 120 ".job_id == \"$J\""
sleep 3
assert_contains "reconnect" "$T/worker.log" "connection to the broker lost"
assert_eq "connections" 2 "$(grep -c "connected to the broker" "$T/worker.log")"
assert_eq "results for the job" 1 "$(wk_nresults ".job_id == \"$J\"")"
assert_eq "outcome" ok "$(wk_result "$J" .outcome)"
assert_eq "revisions" 1 "$(wk_revisions vmr)"
assert_eq "backy runs" 1 "$(grep -c "id $J) backup started" "$T/worker.log")"
assert_contains "outcome logged while the broker was away" "$T/worker.log" \
	"job 'vmr' (id $J) backup done: ok, revision $(wk_result "$J" .revision) (result recorded, the broker is away)"
assert_contains "outcome logged when published after the reconnect" "$T/worker.log" \
	"job 'vmr' (id $J) backup done: ok, revision $(wk_result "$J" .revision) (result published after reconnecting)"

check "a job published after the restart runs too"
J2=$(wk_id)
wk_publish "$(wk_job "$J2" vmr2 "$T/small.img")"
wk_wait_results 1 60 ".job_id == \"$J2\""
assert_eq "outcome" ok "$(wk_result "$J2" .outcome)"
wk_term
assert_eq "worker exit status" 0 "$WRC"
echo "PASS [$TEST_NAME] in ${SECONDS}s"
