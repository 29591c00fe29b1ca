#!/usr/bin/env bash
# backy-worker against a real broker: a file-source job gives an ok result and a
# revision; a duplicate job id is answered from the journal; hostile, malformed,
# oversized and wrong-version messages are rejected with a result and
# dead-lettered without touching anything outside the base directory; a verify
# job reads the revisions, and for a missing repository fails (BK_ECONFIG) and
# creates nothing; a second job for a running repository is skipped; SIGTERM
# lets a running job finish.
# The worker runs as its host's broker user: it never declares, and waits for
# its job queue until the coordinator (here: mq_publish --declare) declares it.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=worker_lib.sh
. "$HERE/worker_lib.sh"

check "--check validates the config"
wk_config
"$WORKER" -c "$T/worker.yaml" --check >"$T/check.out" || fail "--check failed: $(cat "$T/check.out")"
printf 'host: x\nbase-dir: %s\nslots: 0\namqp: {url: "%s"}\n' "$BASE" "$URL" >"$T/bad.yaml"
if "$WORKER" -c "$T/bad.yaml" --check 2>"$T/bad.err"; then fail "slots: 0 accepted"; fi
assert_contains "bad config error" "$T/bad.err" "line 3"
printf 'host: x\nbase-dir: %s\nbogus: 1\namqp: {url: "%s"}\n' "$BASE" "$URL" >"$T/bad.yaml"
if "$WORKER" -c "$T/bad.yaml" --check 2>"$T/bad.err"; then fail "unknown key accepted"; fi
assert_contains "unknown key error" "$T/bad.err" "unknown key 'bogus'"

check "without its job queue the worker waits for backy-coordinator to declare it"
# the worker's broker user may not declare: only the coordinator does
amqp-delete-queue --url="$COORD_URL" -q "backy.jobs.$HOST" >/dev/null || fail "deleting the job queue failed"
wk_launch
missing="job queue 'backy.jobs.$HOST' does not exist yet: it is declared by backy-coordinator"
for _ in $(seq 1 100); do grep -qF "$missing" "$T/worker.log" && break; sleep 0.1; done
assert_contains "worker log" "$T/worker.log" "$missing"
sleep 2.5 # retries at 0.5, 1 and 2 s
wk_alive || fail "the worker died waiting for its queue"
assert_eq "times the missing queue was logged" 1 "$(grep -cF "$missing" "$T/worker.log")"
assert_not_contains "worker log" "$T/worker.log" "ACCESS_REFUSED"
wk_declare
for _ in $(seq 1 150); do grep -q "consuming backy.jobs.$HOST " "$T/worker.log" && break; sleep 0.1; done
assert_contains "worker log once the queue exists" "$T/worker.log" "consuming backy.jobs.$HOST "
wk_listen
head -c 3M /dev/urandom >"$T/small.img"

check "a file-source backup job gives an ok result and a revision"
J1=$(wk_id)
wk_publish "$(wk_job "$J1" vm1 "$T/small.img" backup '["daily"]')"
wk_wait_results 1 30 ".job_id == \"$J1\""
assert_eq "outcome" ok "$(wk_result "$J1" .outcome)"
rev=$(wk_result "$J1" .revision)
[[ -f $BASE/vm1/$rev.rev ]] || fail "revision '$rev' not in $BASE/vm1"
ok "revision $rev exists"
assert_eq "revisions of vm1" 1 "$(wk_revisions vm1)"
assert_eq "result host" "$HOST" "$(wk_result "$J1" .host)"
assert_eq "result tags" daily "$(wk_result "$J1" '.tags[0]')"

check "the same job id again is answered from the journal, not run again"
wk_publish "$(wk_job "$J1" vm1 "$T/small.img" backup '["daily"]')"
wk_wait_results 2 30 ".job_id == \"$J1\""
assert_eq "revisions of vm1" 1 "$(wk_revisions vm1)"
assert_eq "revision in the repeated result" "$rev" \
	"$(jq -r "select(.job_id == \"$J1\") | .revision" "$T/results.jsonl" | tail -n1)"

check "hostile and invalid messages are rejected and dead-lettered"
before=$(cd "$T" && find . -path ./base -prune -o -print | grep -v -e results.jsonl -e amqp.log -e worker.log -e dead.txt | sort)
n0=$(wk_nresults '.outcome == "rejected"')
bad=0
for name in '../../etc' '..' 'a/b' '.hidden' '-rf' "$(printf 'x%.0s' {1..65})"; do
	wk_publish "$(wk_job "$(wk_id)" "$name" "$T/small.img")"
	bad=$((bad + 1))
done
wk_publish '{"schema":"backy/1.0","kind":"job",'              # truncated JSON
wk_publish 'not json at all'
wk_publish "$(wk_job "$(wk_id)" vm1 "$T/small.img" | sed 's#backy/1.0#backy/2.0#')" # wrong major
wk_publish "$(wk_job "$(wk_id)" vm1 "$T/small.img" | sed 's#"attempt":1#"attempt":1,"x":"'"$(head -c 70000 /dev/zero | tr '\0' a)"'"#')"
wk_publish "$(wk_job "$(wk_id)" vm1 "$T/small.img" backup '["t"]' other-host)" # not our host
wk_publish "$(wk_job "$(wk_id)" vm1 "/etc/../etc/passwd\u0000" )"                # NUL in a path
bad=$((bad + 6))
for f in "$HERE"/../fuzz/corpus/proto/hostile-*.json; do
	wk_publish "$(cat "$f")"
	bad=$((bad + 1))
done
wk_wait_results $((n0 + bad)) 60 '.outcome == "rejected"'
assert_eq "rejected results" $((n0 + bad)) "$(wk_nresults '.outcome == "rejected"')"
wk_alive || fail "the worker died"
ok "worker still running"
sleep 1
wk_dead_drain
assert_ge "dead letters" "$bad" "$(wc -l <"$T/dead.txt")"
assert_contains "rejection reason" "$T/results.jsonl" '"code":"BK_EPROTO"'
assert_contains "wrong version" "$T/results.jsonl" '"code":"BK_EVERSION"'
after=$(cd "$T" && find . -path ./base -prune -o -print | grep -v -e results.jsonl -e amqp.log -e worker.log -e dead.txt | sort)
assert_eq "files outside the base directory" "$before" "$after"
[[ ! -e $T/etc && ! -e $BASE/../etc && ! -e $BASE/a ]] || fail "a hostile name became a path"
assert_eq "repositories in base" "vm1" "$(ls "$BASE")"

check "a verify job reads vm1's revisions; for a missing repository it fails clearly and creates nothing"
JV=$(wk_id)
JN=$(wk_id)
wk_publish "$(wk_job "$JV" vm1 "" verify)"
wk_publish "$(wk_job "$JN" nosuch "$T/small.img" verify)" # a source does not make it create one
wk_wait_results 1 60 ".job_id == \"$JV\""
wk_wait_results 1 60 ".job_id == \"$JN\""
assert_eq "outcome of the verify" ok "$(wk_result "$JV" .outcome)"
assert_eq "revisions checked" "$(wk_revisions vm1)" "$(wk_result "$JV" .verify.checked)"
assert_eq "revisions distrusted" 0 "$(wk_result "$JV" .verify.distrusted)"
assert_eq "outcome for a missing repository" failed "$(wk_result "$JN" .outcome)"
assert_eq "its error code" BK_ECONFIG "$(wk_result "$JN" .error.code)"
assert_eq "repositories in base" "vm1" "$(ls "$BASE")"

check "a second job for a running repository is skipped"
truncate -s 0 "$T/big.img"
head -c 64M /dev/urandom >"$T/big.img"
grow_written "$T/big.img" 1024
J2=$(wk_id)
J3=$(wk_id)
wk_publish "$(wk_job "$J2" vm2 "$T/big.img")"
for _ in $(seq 1 100); do grep -q "id $J2) backup started" "$T/worker.log" && break; sleep 0.05; done
wk_publish "$(wk_job "$J3" vm2 "$T/big.img")"
wk_wait_results 1 60 ".job_id == \"$J3\""
assert_eq "outcome of the second job" skipped "$(wk_result "$J3" .outcome)"
assert_eq "error code" BK_ELOCKED "$(wk_result "$J3" .error.code)"
wk_wait_results 1 120 ".job_id == \"$J2\""
assert_eq "outcome of the first job" ok "$(wk_result "$J2" .outcome)"

check "SIGTERM lets a running job finish, then the worker exits 0"
J4=$(wk_id)
wk_publish "$(wk_job "$J4" vm3 "$T/big.img")"
for _ in $(seq 1 100); do grep -q "id $J4) backup started" "$T/worker.log" && break; sleep 0.05; done
grep -q "id $J4) backup started" "$T/worker.log" || fail "job $J4 did not start"
wk_term
assert_eq "worker exit status" 0 "$WRC"
wk_wait_results 1 30 ".job_id == \"$J4\""
assert_eq "outcome of the job running at SIGTERM" ok "$(wk_result "$J4" .outcome)"
assert_eq "revisions of vm3" 1 "$(wk_revisions vm3)"
echo "PASS [$TEST_NAME] in ${SECONDS}s"
