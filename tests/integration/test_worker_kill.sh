#!/usr/bin/env bash
# SIGKILL backy-worker in the middle of a backup and start it again: the job
# completes exactly once (one new revision, one ok result for its job id) and
# no partial revision (.new-*) remains.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=worker_lib.sh
. "$HERE/worker_lib.sh"

wk_config
wk_start
wk_listen
head -c 256M /dev/urandom >"$T/big.img"
grow_written "$T/big.img" 2048

check "kill -9 the worker while its backup runs"
J=$(wk_id)
wk_publish "$(wk_job "$J" vmk "$T/big.img")"
for _ in $(seq 1 200); do grep -q "id $J) backup started" "$T/worker.log" && break; sleep 0.05; done
grep -q "id $J) backup started" "$T/worker.log" || fail "job did not start"
child=$(sed -n "s/.*id $J) backup started.*pid \([0-9]*\)).*/\1/p" "$T/worker.log" | head -n1)
# kill while the partial revision is being written
for _ in $(seq 1 300); do
	find "$BASE/vmk" -maxdepth 1 -name '.new-*' 2>/dev/null | grep -q . && break
	sleep 0.05
done
find "$BASE/vmk" -maxdepth 1 -name '.new-*' | grep -q . || fail "no partial revision appeared"
ok "partial revision $(find "$BASE/vmk" -maxdepth 1 -name '.new-*' -printf '%f ' | cut -c1-60)being written"
kill -9 "$WPID"
wait "$WPID" 2>/dev/null || true
for _ in $(seq 1 50); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
kill -0 "$child" 2>/dev/null && fail "backy child $child outlived the worker"
ok "backy child $child died with the worker"
assert_eq "revisions after the kill" 0 "$(wk_revisions vmk)"
assert_eq "results after the kill" 0 "$(wk_nresults ".job_id == \"$J\"")"

check "after a restart the job completes exactly once"
wk_start
wk_wait_results 1 300 ".job_id == \"$J\""
sleep 3 # a duplicate would show up now
assert_eq "results for the job" 1 "$(wk_nresults ".job_id == \"$J\"")"
assert_eq "outcome" ok "$(wk_result "$J" .outcome)"
assert_eq "revisions" 1 "$(wk_revisions vmk)"
assert_eq "partial revisions left" 0 "$(find "$BASE/vmk" -maxdepth 1 -name '.new-*' | wc -l)"
[[ -f $BASE/vmk/$(wk_result "$J" .revision).rev ]] || fail "the result's revision does not exist"
ok "the result names the revision on disk"
wk_term
assert_eq "worker exit status" 0 "$WRC"
echo "PASS [$TEST_NAME] in ${SECONDS}s"
