#!/usr/bin/env bash
# bench/worker.sh: backy-worker throughput and per-job overhead.
#
# 1,000 backup jobs (BENCH_JOBS) on tiny unchanged file sources, spread over
# 100 repositories (BENCH_REPOS) on two storage hosts, are queued first and
# then drained by two workers (one per host, BENCH_SLOTS slots each).  Checks
# that every job has exactly one result (no loss, no duplicate job id) and
# one revision, and prints:
#   - drain time and jobs/s
#   - median and p90 worker overhead per job (the workers' "worker overhead"
#     log lines); target < 20 ms median.  Definition, per job:
#       overhead = (ack sent - delivery received) - (child exit - vfork returned)
#     * delivery received: bk_mq_wait handed the job message to the worker;
#     * vfork returned: in the worker, so vfork and everything before
#       it (journal, repository config) count as overhead ("before");
#     * child exit: the SIGCHLD of the exit (stamped in the signal handler,
#       not when the main loop gets round to reaping it), so reaping delays
#       and time spent on other jobs count as overhead ("after");
#     * ack sent: after the durable journal write of the result (fsync),
#       the publish and the broker's publisher confirm of that result (the
#       confirm is awaited asynchronously, but the overhead ends only when
#       it has arrived and the delivery is acknowledged).
#     The child's run (exec, backy start-up, the backup and backy's own
#     fsyncs) is "the backup itself" and is subtracted.
#   - median of the backy child's own run and of the backup itself
#
# BENCH_KEEP=1 keeps the scratch directory (logs) for inspection.
#
# Each party uses its own broker user (docs/operations.md, "Broker users and
# permissions"): the jobs are queued with the coordinator's, each worker runs
# as its host's own (tests/harness/rabbit-worker-user.sh), the results are read
# as a dashboard.
#
# Usage: bench/worker.sh   (env: BACKY, BACKY_WORKER, BACKY_RABBIT_ENV; without
#        BACKY_RABBIT_ENV a private broker is started in the scratch directory)
#        BENCH_DIR=/path  scratch directory parent (default /tmp; the disk matters:
#                         the journal and backy fsync)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BACKY=${BACKY:-$ROOT/build/worker/backy}
WORKER=${BACKY_WORKER:-$(dirname "$BACKY")/backy-worker}
JOBS=${BENCH_JOBS:-1000}
REPOS=${BENCH_REPOS:-100}
SLOTS=${BENCH_SLOTS:-2}
die() { echo "bench/worker.sh: $*" >&2; exit 1; }
# publishes with confirms: amqp-publish does not, and can lose messages on the way into a quorum queue
MQ_PUBLISH=${MQ_PUBLISH:-$(dirname "$BACKY")/../tests/mq_publish}
[[ -x $BACKY && -x $WORKER && -x $MQ_PUBLISH ]] || die "build first (BACKY=$BACKY, worker $WORKER, $MQ_PUBLISH)"
for t in amqp-consume jq; do command -v $t >/dev/null || die "'$t' missing"; done

T=$(mktemp -d "${BENCH_DIR:-/tmp}/bench-worker.XXXXXX")
PIDS=()
cleanup()
{
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [[ -d $T/rabbit ]]; then "$ROOT/tests/harness/rabbit-down.sh" "$T/rabbit" >/dev/null 2>&1 || true; fi
	for h in "${HOSTS[@]:-}"; do
		[[ -n $h ]] && amqp-delete-queue --url="$COORD_URL" -q "backy.jobs.$h" >/dev/null 2>&1 || true
	done
	if [[ -n ${BENCH_KEEP:-} ]]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

if [[ -n ${BACKY_RABBIT_ENV:-} ]]; then
	# shellcheck disable=SC1090
	. "$BACKY_RABBIT_ENV"
else
	echo "starting a private broker ..."
	RABBIT_PORT=${BENCH_PORT:-5698} RABBIT_EPMD_PORT=${BENCH_EPMD_PORT:-4398} \
		RABBIT_NODENAME=rabbit-bench@localhost "$ROOT/tests/harness/rabbit-up.sh" "$T/rabbit" \
		>"$T/rabbit.log" 2>&1 || die "broker did not start: $(tail -3 "$T/rabbit.log")"
	# shellcheck disable=SC1091
	. "$T/rabbit/env"
fi
COORD_URL=${BACKY_AMQP_URL_COORDINATOR:?the broker env file lacks BACKY_AMQP_URL_COORDINATOR}
DASH_URL=${BACKY_AMQP_URL_DASH:?the broker env file lacks BACKY_AMQP_URL_DASH}
HOSTS=("bencha$$" "benchb$$")
declare -A WURL=()
mapfile -t urls < <("$ROOT/tests/harness/rabbit-worker-user.sh" "${HOSTS[@]}") || true
((${#urls[@]} == 2)) || die "cannot create the broker users of the storage hosts"
WURL[${HOSTS[0]}]=${urls[0]}
WURL[${HOSTS[1]}]=${urls[1]}

head -c 65536 /dev/urandom >"$T/tiny.img"
for h in "${HOSTS[@]}"; do
	mkdir -p "$T/$h"
	cat >"$T/$h.yaml" <<EOF
host: $h
base-dir: $T/$h
slots: $SLOTS
allow: {paths: ["$T"]}
amqp:
  url: "${WURL[$h]}"
EOF
done

# declare the queues, as the coordinator does (workers may not)
"$MQ_PUBLISH" --declare "$COORD_URL" "${HOSTS[@]}" || die "declaring the job queues failed"

# results of both hosts -> results.jsonl
# one write per message, so two appenders never interleave
cat >"$T/append.sh" <<'EOF_APPEND'
#!/bin/sh
body=$(cat)
printf '%s\n' "$body" >>"$1"
EOF_APPEND
chmod +x "$T/append.sh"
touch "$T/results.jsonl"
for h in "${HOSTS[@]}"; do
	amqp-consume --url="$DASH_URL" -q "dashboard.bench.$h.results" -x -e backy.results -r "*.*.$h.*" -p 200 \
		"$T/append.sh" "$T/results.jsonl" 2>>"$T/amqp.log" &
	PIDS+=($!)
done
sleep 1

echo "queueing $JOBS jobs over $REPOS repositories on 2 hosts ..."
now=$(date -u +%Y-%m-%dT%H:%M:%S.000000+00:00)
deadline=$(date -u -d "@$(($(date +%s) + 86400))" +%Y-%m-%dT%H:%M:%S.000000+00:00)
for hi in 0 1; do
	h=${HOSTS[$hi]}
	for ((i = 0; i < JOBS; i++)); do
		r=$((i % REPOS))
		((r % 2 == hi)) || continue
		printf '{"schema":"backy/1.0","kind":"job","id":"m%05dx%s","time":"%s","job_id":"b%05dx%s","job":"r%03d","host":"%s","action":"backup","tags":["bench"],"deadline":"%s","attempt":1,"source":{"type":"file","filename":"%s"}}\n' \
			"$i" "$$" "$now" "$i" "$$" "$r" "$h" "$deadline" "$T/tiny.img"
	done >"$T/jobs.$h"
	"$MQ_PUBLISH" "$COORD_URL" backy.jobs "$h" <"$T/jobs.$h" || die "publishing failed"
done

echo "draining with 2 workers x $SLOTS slots ..."
t0=$(date +%s.%N)
for h in "${HOSTS[@]}"; do
	"$WORKER" -c "$T/$h.yaml" >>"$T/$h.log" 2>&1 &
	PIDS+=($!)
done
while (($(grep -c . "$T/results.jsonl" || true) < JOBS)); do
	sleep 0.2
	(($(echo "$(date +%s.%N) - $t0 > 1800" | bc) == 0)) || die "not drained after 30 min"
done
t1=$(date +%s.%N)
sleep 3 # duplicates would show up now
for p in "${PIDS[@]:2}"; do kill -TERM "$p"; done

n=$(grep -c . "$T/results.jsonl")
uniq_ids=$(jq -r .job_id "$T/results.jsonl" | sort -u | wc -l)
okn=$(jq -r 'select(.outcome == "ok") | .job_id' "$T/results.jsonl" | wc -l)
revs=$(find "$T/${HOSTS[0]}" "$T/${HOSTS[1]}" -name '*.rev' | wc -l)
drain=$(echo "$t1 - $t0" | bc)
sorted() { sort -n | awk '{a[NR]=$1} END {printf "%.1f %.1f\n", a[int((NR+1)/2)], a[int(NR*0.9)]}'; }
read -r ov_med ov_p90 < <(sed -n 's/.*worker overhead \([0-9.]*\) ms.*/\1/p' "$T"/bench*.log | sorted)
read -r ch_med _ < <(sed -n 's/.*(backy \([0-9.]*\) s,.*/\1/p' "$T"/bench*.log | awk '{print $1*1000}' | sorted)
read -r bk_med _ < <(sed -n 's/.*backup \([0-9.]*\) s, worker.*/\1/p' "$T"/bench*.log | awk '{print $1*1000}' | sorted)

echo
echo "jobs queued            $JOBS"
echo "results                $n (unique job ids $uniq_ids, ok $okn)"
echo "revisions              $revs"
printf 'drain time             %.1f s (%.1f jobs/s)\n' "$drain" "$(echo "$JOBS / $drain" | bc -l)"
echo "worker overhead/job    median $ov_med ms, p90 $ov_p90 ms (target: median < 20 ms)"
echo "backy child run        median $ch_med ms (backup itself: median $bk_med ms)"
rc=0
[[ $n == "$JOBS" && $uniq_ids == "$JOBS" && $okn == "$JOBS" && $revs == "$JOBS" ]] ||
	{ echo "FAIL: lost or duplicated jobs"; rc=1; }
(($(echo "$ov_med < 20" | bc) == 1)) || { echo "FAIL: median overhead >= 20 ms"; rc=1; }
((rc == 0)) && echo "PASS"
exit $rc
