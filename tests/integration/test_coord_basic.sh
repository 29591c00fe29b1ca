#!/usr/bin/env bash
# backy-coordinator and backyctl against a real RabbitMQ, with amqp-tools
# playing the workers: due dispatch (BACKY_NOW), never two in flight,
# restart keeps runs in flight, deadline re-dispatch with the same job id,
# backoff after a failed result, expiry after a good one, manual runs,
# SIGHUP with a broken config, /v1/status and /metrics, backyctl codes,
# standby takeover without duplicates, and Python backy's global keys:
# backup-completed-callback (job argument, the result message on stdin,
# good backups only), status-file and worker-limit, from a Python-style
# backy.conf the config includes (reloaded with it).
#
# Needs BACKY_RABBIT_ENV (the env file of tests/harness/rabbit-up.sh with
# the role users' URLs); fails, never skips, without it.  Binaries come from
# BACKY_COORDINATOR and BACKYCTL (set by CTest) or build-co/.  Every party
# uses its own broker user (docs/operations.md, "Broker users and
# permissions"): the coordinator the coordinator's, backyctl backyctl's, and
# the fake workers each their host's own, for taking jobs and publishing
# results.
set -euo pipefail
ME=test_coord_basic
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
COORD=${BACKY_COORDINATOR:-$ROOT/build-co/coordinator/backy-coordinator}
CTL=${BACKYCTL:-$ROOT/build-co/coordinator/backyctl}
# publishes with confirms (amqp-publish does not, and can lose messages)
MQ_PUBLISH=${MQ_PUBLISH:-$(dirname "$COORD")/../tests/mq_publish}
fail() { echo "$ME: FAIL: $*" >&2; exit 1; }
log() { echo "$ME: $*" >&2; }

[ -n "${BACKY_RABBIT_ENV:-}" ] || fail "BACKY_RABBIT_ENV is not set (start a broker with tests/harness/rabbit-up.sh)"
[ -r "$BACKY_RABBIT_ENV" ] || fail "cannot read BACKY_RABBIT_ENV '$BACKY_RABBIT_ENV'"
# shellcheck disable=SC1090
. "$BACKY_RABBIT_ENV"
for v in BACKY_AMQP_URL_COORDINATOR BACKY_AMQP_URL_CTL; do
	[ -n "${!v:-}" ] || fail "$BACKY_RABBIT_ENV does not set $v"
done
for t in amqp-consume curl jq python3; do
	command -v $t >/dev/null || fail "$t not found (apt-get install amqp-tools curl jq python3)"
done
[ -x "$COORD" ] && [ -x "$CTL" ] && [ -x "$MQ_PUBLISH" ] || fail "binaries not found: $COORD $CTL $MQ_PUBLISH"

mkdir -p "${BACKY_TEST_TMP:-/tmp}"
T=$(mktemp -d "${BACKY_TEST_TMP:-/tmp}/coord.XXXXXX")
RUN=$$
HA=coha$RUN
HB=cohb$RUN
declare -A WURL=()
mapfile -t _urls < <("$ROOT/tests/harness/rabbit-worker-user.sh" "$HA" "$HB") || true
[ "${#_urls[@]}" = 2 ] || fail "cannot create the broker users of $HA and $HB"
WURL[$HA]=${_urls[0]}
WURL[$HB]=${_urls[1]}
PORT=$((20000 + RUN % 20000))
URL="http://127.0.0.1:$PORT"
PIDS=()
cleanup() {
	local rc=$?
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	if ((rc)); then
		log "logs kept in $T"
		tail -n 30 "$T"/coord*.log >&2 || true
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
start=$SECONDS

write_config() { # FILE [extra job lines]: FILE holds the fleet keys and includes a Python backy.conf
	cat >"$T/backy.conf" <<YAML
global: {base-dir: /srv/backy, worker-limit: 1, backup-completed-callback: $T/callback,
         status-file: $T/status-file.json, status-interval: 1}
schedules:
  default:
    daily: {interval: 1d, keep: 7}
    weekly: {interval: 1w, keep: 4}
jobs:
  joba: {schedule: default, host: $HA, source: {type: file, filename: /dev/null}}
  jobb: {schedule: default, source: {type: ceph-rbd, pool: rbd, image: jobb}}
${2:-}
YAML
	cat >"$1" <<YAML
include: backy.conf
hosts: [$HA, $HB]
amqp: {url: "$BACKY_AMQP_URL_COORDINATOR", heartbeat: 10}
status: {listen: "127.0.0.1:$PORT"}
state-file: $T/state
job-timeout: 1h
expire: true
YAML
}

COORD_PID=
start_coord() { # NOW [LOG]; waits until active
	local now=$1 logf=${2:-$T/coord.log}
	BACKY_NOW=$now "$COORD" -v -c "$T/c.yaml" >>"$logf" 2>&1 &
	COORD_PID=$!
	PIDS+=("$COORD_PID")
	for _ in $(seq 100); do
		curl -fs "$URL/v1/status" >/dev/null 2>&1 && grep -q "connected to the broker" "$logf" && return 0
		kill -0 "$COORD_PID" 2>/dev/null || fail "coordinator died at start (see $logf)"
		sleep 0.1
	done
	fail "coordinator not active after 10 s"
}
stop_coord() {
	kill -TERM "$COORD_PID"
	wait "$COORD_PID" || fail "coordinator exited non-zero on SIGTERM"
}
status() { curl -fs "$URL/v1/status"; }
jobfield() { status | jq -r ".jobs.$1.$2"; }
# take_job HOST [SECONDS]: print the next job message of HOST's queue (as HOST's
# worker), or fail with 1.
take_job() {
	timeout "${2:-5}" amqp-consume -u "${WURL[$1]}" -q "backy.jobs.$1" -c 1 -p 1 cat 2>/dev/null
}
expect_no_job() { # HOST SECONDS WHAT
	local m
	if m=$(take_job "$1" "$2"); then fail "$3: unexpected job $m"; fi
}
iso() { python3 -c 'import sys,datetime; print(datetime.datetime.fromtimestamp(float(sys.argv[1]), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00"))' "$1"; }
epoch() { python3 -c 'import sys,datetime; print(int(datetime.datetime.fromisoformat(sys.argv[1]).timestamp()))' "$1"; }
rid() { python3 -c 'import random,string; print("".join(random.choice(string.ascii_letters) for _ in range(22)))'; }
publish_result() { # JOBMSG OUTCOME NOW [TAGS-JSON]
	local m=$1 outcome=$2 now=$3 job host jid action key body tags
	job=$(jq -r .job <<<"$m")
	host=$(jq -r .host <<<"$m")
	jid=$(jq -r .job_id <<<"$m")
	action=$(jq -r .action <<<"$m")
	tags=${4:-$(jq -c .tags <<<"$m")}
	[ "$tags" != null ] || tags='[]'
	key="$action.$outcome.$host.$job"
	if [ "$outcome" = ok ]; then
		body=$(jq -cn --arg id "$(rid)" --arg t "$now" --arg jid "$jid" --arg job "$job" \
			--arg host "$host" --arg a "$action" --argjson tags "$tags" \
			'{schema:"backy/1.0",kind:"result",id:$id,time:$t,job_id:$jid,job:$job,host:$host,action:$a,outcome:"ok",tags:$tags,started:$t,finished:$t,stats:{bytes_written:1,size:1,duration:1.5}}')
	else
		body=$(jq -cn --arg id "$(rid)" --arg t "$now" --arg jid "$jid" --arg job "$job" \
			--arg host "$host" --arg a "$action" \
			'{schema:"backy/1.0",kind:"result",id:$id,time:$t,job_id:$jid,job:$job,host:$host,action:$a,outcome:"failed",error:{code:"BK_ESOURCE",message:"source failed"},started:$t,finished:$t}')
	fi
	"$MQ_PUBLISH" "${WURL[$host]}" backy.results "$key" "$body" # as that host's worker
}
wait_for() { # JQ-EXPR WHAT
	for _ in $(seq 50); do
		[ "$(status | jq -r "$1")" = true ] && return 0
		sleep 0.1
	done
	fail "$2: $(status | jq -c .jobs)"
}

write_config "$T/c.yaml"
T0=2026-03-02T00:00:00+00:00
cat >"$T/callback" <<SH
#!/bin/sh
echo "\$# \$1" >>"$T/callback.args"
cat >"$T/callback.\$1.json"
SH
chmod +x "$T/callback"

log "1. nothing is dispatched before it is due; placement is stable"
start_coord "$T0"
NA=$(jobfield joba next_time)
[ "$(jobfield joba status)" = waiting ] || fail "joba not waiting"
[ "$(jobfield joba next_tags)" = daily,weekly ] || fail "first run should carry all tags"
for _ in $(seq 30); do [ -s "$T/status-file.json" ] && break; sleep 0.1; done
jq -e '.jobs.joba.status == "waiting"' "$T/status-file.json" >/dev/null || fail "status-file not written"
# a worker with other slots than global.worker-limit (1): one warning per change
for slots in 2 2 1; do
	"$MQ_PUBLISH" "${WURL[$HA]}" backy.workers "$HA" "$(jq -cn --arg id "$(rid)" --arg t "$T0" --arg h "$HA" \
		--argjson s $slots '{schema:"backy/1.0",kind:"heartbeat",id:$id,time:$t,host:$h,version:"0.1.0",slots:$s,busy:0,free_bytes:0,running:[]}')"
done
for _ in $(seq 30); do [ "$(status | jq -r ".workers[\"$HA\"].slots")" = 1 ] && break; sleep 0.1; done
[ "$(grep -c "worker '$HA' runs 2 jobs at once, global.worker-limit says 1" "$T/coord.log")" = 1 ] ||
	fail "worker-limit warning (once for slots 2): $(grep -c "worker '$HA' runs" "$T/coord.log")"
HOSTB=$(jobfield jobb host)
case $HOSTB in "$HA" | "$HB") ;; *) fail "jobb placed on '$HOSTB'" ;; esac
expect_no_job "$HA" 2 "before due"
stop_coord
grep -q "^J name=jobb host=$HOSTB " "$T/state" || fail "placement not remembered in the state"

log "2. due at $NA: exactly one dispatch"
NOW=$(iso $(($(epoch "$NA") + 10)))
start_coord "$NOW"
M1=$(take_job "$HA" 5) || fail "joba not dispatched when due"
[ "$(jq -r .action <<<"$M1")" = backup ] && [ "$(jq -r .attempt <<<"$M1")" = 1 ] || fail "bad job $M1"
[ "$(jq -c .tags <<<"$M1")" = '["daily","weekly"]' ] || fail "bad tags $M1"
[ "$(jq -r .time <<<"$M1" | cut -c1-19)" = "${NOW:0:19}" ] || fail "job time is not the coordinator's now: $M1"
J1=$(jq -r .job_id <<<"$M1")
[ "$(jobfield joba status)" = running ] || fail "joba not running"
expect_no_job "$HA" 2 "second dispatch while in flight"

log "3. restart keeps the run in flight (no duplicate)"
stop_coord
start_coord "$NOW"
[ "$(status | jq -r .jobs.joba.running.job_id)" = "$J1" ] || fail "run lost by the restart"
expect_no_job "$HA" 3 "duplicate after restart"
stop_coord

log "4. deadline passed: re-dispatch with the same job id, attempt 2"
NOW=$(iso $(($(epoch "$NA") + 10 + 3600 + 60)))
start_coord "$NOW"
M2=$(take_job "$HA" 5) || fail "no re-dispatch after the deadline"
[ "$(jq -r .job_id <<<"$M2")" = "$J1" ] && [ "$(jq -r .attempt <<<"$M2")" = 2 ] || fail "bad re-dispatch $M2"

log "5. failed result: backoff 2 min, no dispatch meanwhile"
publish_result "$M2" failed "$NOW"
wait_for '.jobs.joba.status == "failed"' "failed result not applied"
[ "$(jobfield joba backoff)" = 120 ] || fail "backoff is not 120 s"
NEXT=$(jobfield joba next_time)
[ $(($(epoch "$NEXT") - $(epoch "$NOW"))) -eq 120 ] || fail "retry not 2 min later: $NEXT"
publish_result "$M2" failed "$NOW" # duplicate of an ended run: ignored
sleep 0.5
curl -fs "$URL/metrics" | grep '^backy_coordinator_results_ignored_total [1-9]' >/dev/null || fail "duplicate result not counted as ignored"
expect_no_job "$HA" 2 "dispatch during backoff"
stop_coord

log "6. retry after the backoff, good result, expiry job to the same host"
NOW=$(iso $(($(epoch "$NEXT") + 5)))
start_coord "$NOW"
M3=$(take_job "$HA" 5) || fail "no retry after the backoff"
J3=$(jq -r .job_id <<<"$M3")
[ "$J3" != "$J1" ] && [ "$(jq -r .attempt <<<"$M3")" = 1 ] || fail "retry should be a new job: $M3"
publish_result "$M3" ok "$NOW"
E1=$(take_job "$HA" 5) || fail "no expiry job after a good backup"
[ "$(jq -r .action <<<"$E1")" = expire ] && [ "$(jq -r .job <<<"$E1")" = joba ] || fail "bad expiry job $E1"
wait_for '.jobs.joba.status == "finished"' "good result not applied"
[ "$(jobfield joba sla)" = OK ] && [ "$(jobfield joba last_tags)" = daily,weekly ] || fail "status after success: $(status | jq -c .jobs.joba)"
publish_result "$E1" ok "$NOW"
wait_for '.jobs.joba.expiring == false' "expiry result not applied"
for _ in $(seq 50); do [ -s "$T/callback.joba.json" ] && break; sleep 0.1; done
[ "$(jq -r '.job_id + " " + .outcome' "$T/callback.joba.json")" = "$J3 ok" ] ||
	fail "backup-completed-callback did not get the result: $(cat "$T/callback.joba.json")"
[ "$(cat "$T/callback.args")" = "1 joba" ] || fail "callback calls (one, for the backup): $(cat "$T/callback.args")"

log "7. backyctl: run (manual), status, where, check 0"
"$CTL" --url "$BACKY_AMQP_URL_CTL" run joba --tags manual:test >/dev/null || fail "backyctl run failed"
M4=$(take_job "$HA" 5) || fail "manual job not dispatched"
[ "$(jq -c .tags <<<"$M4")" = '["manual:test"]' ] || fail "manual tags wrong: $M4"
publish_result "$M4" ok "$NOW"
wait_for '.jobs.joba.status == "finished"' "manual result not applied"
E2=$(take_job "$HA" 5) || fail "no expiry after the manual backup"
publish_result "$E2" ok "$NOW"
wait_for '.jobs.joba.expiring == false' "expiry result not applied"
if "$CTL" --url "$BACKY_AMQP_URL_CTL" run joba --tags bogus >/dev/null 2>&1; then
	sleep 0.5
	expect_no_job "$HA" 1 "run with a tag outside the schedule"
fi
"$CTL" --status-url "$URL" status | grep -q "^joba .* OK .*finished" || fail "backyctl status table"
"$CTL" --status-url "$URL" status --json | jq -e '.jobs.joba.sla == "OK"' >/dev/null || fail "backyctl status --json"
[ "$("$CTL" --status-url "$URL" where joba)" = "$HA" ] || fail "backyctl where joba should print $HA"
if "$CTL" --status-url "$URL" where nosuchjob >/dev/null 2>"$T/where.err"; then
	fail "backyctl where of an unknown job should fail"
fi
grep -q "unknown job 'nosuchjob'" "$T/where.err" || fail "backyctl where error: $(cat "$T/where.err")"
set +e
OUT=$("$CTL" -c "$T/c.yaml" check)
RC=$?
set -e
[ $RC = 0 ] || fail "check should be 0 within SLA: $RC $OUT"
[[ $OUT == "OK: 2 jobs within SLA | jobs=2;;;0 overdue=0;;0;0 failing=0;0;;0 workers="* ]] || fail "check line (with perfdata): $OUT"
stop_coord

log "8. outside the SLA: check 2"
NOW=$(iso $(($(epoch "$NOW") + 3 * 86400)))
start_coord "$NOW"
set +e
OUT=$("$CTL" --status-url "$URL" check)
RC=$?
set -e
[ $RC = 2 ] || fail "check should be 2 outside the SLA: $RC $OUT"
[[ $OUT == CRITICAL:*joba*" | jobs=2;;;0 overdue="[12]";;0;0 "* ]] || fail "check line (with perfdata): $OUT"
curl -fs "$URL/metrics" | grep '^backy_job_sla_overdue_seconds{job="joba",host="'"$HA"'"} [1-9]' >/dev/null || fail "metrics per-job overdue"
curl -fs "$URL/metrics" | grep '^backy_coordinator_sla_overdue_jobs 2' >/dev/null || fail "metrics overdue count"
# drain what became due (joba catch-up, jobb first run)
DRAINED=
while M=$(take_job "$HA" 2); do DRAINED+="$(jq -r '.job + ":" + .action' <<<"$M") "; done
while M=$(take_job "$HB" 2); do DRAINED+="$(jq -r '.job + ":" + .action' <<<"$M") "; done
[[ $DRAINED == *joba:backup* && $DRAINED == *jobb:backup* ]] || fail "due jobs after 3 days: $DRAINED"
[ "$(grep -o 'joba:backup' <<<"$DRAINED" | wc -l)" = 1 ] || fail "joba dispatched twice: $DRAINED"

log "9. SIGHUP with a broken config keeps the old one; a good one adds a job"
cp "$T/c.yaml" "$T/good.yaml"
echo "jobs: [broken" >>"$T/c.yaml"
kill -HUP "$COORD_PID"
for _ in $(seq 50); do grep -q "reload failed, keeping the old configuration" "$T/coord.log" && break; sleep 0.1; done
grep -q "reload failed, keeping the old configuration" "$T/coord.log" || fail "broken reload not reported"
[ "$(status | jq '.jobs | length')" = 2 ] || fail "jobs changed by a broken reload"
write_config "$T/c.yaml" "  jobc: {schedule: default, host: $HB, source: {type: file, filename: /dev/zero}}"
kill -HUP "$COORD_PID"
wait_for '.jobs.jobc != null' "good reload did not add jobc"
[ "$(status | jq -r .jobs.joba.running.job_id)" != null ] || fail "run in flight lost by the reload"
curl -fs "$URL/metrics" | grep '^backy_coordinator_reloads_total{result="error"} 1' >/dev/null || fail "reload error not counted"

log "10. standby takes over when the active dies, without duplicates"
BACKY_NOW=$NOW "$COORD" -v -c "$T/c.yaml" >>"$T/coord2.log" 2>&1 &
C2=$!
PIDS+=("$C2")
for _ in $(seq 50); do grep -q standby "$T/coord2.log" && break; sleep 0.1; done
grep -q standby "$T/coord2.log" || fail "second coordinator is not standing by"
expect_no_job "$HA" 1 "standby dispatched"
kill -9 "$COORD_PID"
wait "$COORD_PID" 2>/dev/null || true
for _ in $(seq 100); do grep -q "connected to the broker" "$T/coord2.log" && break; sleep 0.1; done
grep -q "connected to the broker" "$T/coord2.log" || fail "standby did not take over"
COORD_PID=$C2
wait_for '.coordinator.role == "active"' "standby not serving status"
[ "$(status | jq -r .jobs.joba.status)" = running ] || fail "in-flight run lost by the takeover"
expect_no_job "$HA" 2 "duplicate after takeover"
expect_no_job "$HB" 1 "duplicate after takeover (host b)"
stop_coord
set +e
OUT=$("$CTL" --status-url "$URL" check)
RC=$?
set -e
[ $RC = 3 ] && [[ $OUT == UNKNOWN:* ]] || fail "check without a coordinator should be 3 UNKNOWN: $RC $OUT"

log "PASS in $((SECONDS - start)) s"
