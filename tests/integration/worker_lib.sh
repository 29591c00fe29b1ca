# worker_lib.sh: helpers of the backy-worker integration tests (source after lib.sh).
#
#   BACKY_RABBIT_ENV  env file of a running broker (tests/harness/rabbit-up.sh DIR
#                     writes DIR/env); required: without a broker the test fails
#   BACKY_WORKER      the worker binary (default: backy-worker next to $BACKY)
#   MQ_PUBLISH        tests/tools/mq_publish of the build (publishes with confirms;
#                     amqp-publish does not and can lose messages)
#
# Each test gets a unique storage host name $HOST (so its own job queue), a
# base directory $BASE, and two queues of its own (wk_listen): $RQ bound to
# backy.results for its host's results, $DQ bound to the dead-letter exchange.
#
# Nobody uses the broker's administrator (docs/operations.md, "Broker users
# and permissions"): the worker runs as $HOST's own broker user ($URL, made by
# tests/harness/rabbit-worker-user.sh), jobs are published and the topology is
# declared with the coordinator's ($COORD_URL, as no coordinator runs here),
# the result listener is a dashboard ($DASH_URL).

WORKER=${BACKY_WORKER:-$(dirname "$BACKY")/backy-worker}
[[ -x $WORKER ]] || fail "backy-worker not found at '$WORKER'"
MQ_PUBLISH=${MQ_PUBLISH:-$(dirname "$BACKY")/../tests/mq_publish}
[[ -x $MQ_PUBLISH ]] || fail "mq_publish not found at '$MQ_PUBLISH' (build the whole tree)"
for t in amqp-publish amqp-consume jq; do
	command -v "$t" >/dev/null || fail "'$t' not found (apt-get install amqp-tools jq)"
done
wk_load_env()
{
	# shellcheck disable=SC1090
	. "$BACKY_RABBIT_ENV"
	COORD_URL=${BACKY_AMQP_URL_COORDINATOR:?"$BACKY_RABBIT_ENV does not set BACKY_AMQP_URL_COORDINATOR"}
	DASH_URL=${BACKY_AMQP_URL_DASH:?"$BACKY_RABBIT_ENV does not set BACKY_AMQP_URL_DASH"}
}

# wk_private_broker [CONSUMER_TIMEOUT_MS]: start a broker of this test's own in
# $T/rabbit on a free port (tests that restart it or need consumer_timeout)
wk_private_broker()
{
	local h="$HERE/../harness" port=
	for p in $(shuf -i 5700-5799); do
		if ! ss -ltnH | grep -qE ":($p|$((p + 20000))|$((p - 5700 + 4400))) "; then
			port=$p
			break
		fi
	done
	[[ -n $port ]] || fail "no free port for a private broker"
	info "starting a private broker on port $port${1:+ with consumer_timeout $1 ms}"
	at_exit "'$h/rabbit-down.sh' '$T/rabbit' >>'$T/rabbit.log' 2>&1 || true"
	RABBIT_PORT=$port RABBIT_EPMD_PORT=$((port - 5700 + 4400)) RABBIT_MGMT_PORT=$((port + 10000)) \
		RABBIT_NODENAME=rabbit-wk$port@localhost RABBIT_CONSUMER_TIMEOUT_MS=${1:-} \
		"$h/rabbit-up.sh" "$T/rabbit" >>"$T/rabbit.log" 2>&1 ||
		{ tail -20 "$T/rabbit.log"; fail "private broker did not start"; }
	BACKY_RABBIT_ENV=$T/rabbit/env
	wk_load_env
}

if [[ ${WK_PRIVATE_BROKER:-0} == 1 ]]; then
	wk_private_broker "${WK_CONSUMER_TIMEOUT_MS:-}"
else
	[[ -n ${BACKY_RABBIT_ENV:-} && -r ${BACKY_RABBIT_ENV} ]] ||
		fail "no broker: BACKY_RABBIT_ENV must name the env file of tests/harness/rabbit-up.sh"
	wk_load_env
fi

HOST=${WK_HOST:-wk${TEST_NAME#test_worker_}$$}
HOST=${HOST//_/-}
BASE=$T/base
mkdir -p "$BASE"
RQ=dashboard.t.$HOST.results
DQ=backy.t.$HOST.dead
# $HOST's broker user, and its job queue declared as the coordinator would
URL=$("$HERE/../harness/rabbit-worker-user.sh" "$HOST") || fail "cannot create the broker user of '$HOST'"
at_exit "amqp-delete-queue --url='$COORD_URL' -q 'backy.jobs.$HOST' >/dev/null 2>&1 || true"
wk_declare() { "$MQ_PUBLISH" --declare "$COORD_URL" "$HOST" || fail "declaring the job queue of '$HOST' failed"; }
wk_declare
WPID=
: > "$T/results.jsonl"
: > "$T/dead.txt"

amqp() { "$@" --url="$URL" >>"$T/amqp.log" 2>&1; }

# wk_listen: start background consumers of the test's own queues: results of
# $HOST -> $T/results.jsonl, every dead letter -> $T/dead.txt (one message per line).
# The result queue is durable (kept over a broker restart, deleted at exit), the
# dead-letter queue exclusive (it vanishes with its consumer); the consumers die
# with the broker, so call it again after a broker restart.
wk_listen()
{
	local i
	# one write per message, so two appenders never interleave
	cat >"$T/append.sh" <<'EOF_APPEND'
#!/bin/sh
body=$(cat)
printf '%s\n' "$body" >>"$1"
EOF_APPEND
	chmod +x "$T/append.sh"
	# durable: it and its binding survive a broker restart, so a result published
	# right after one waits for the consumer that wk_listen starts again
	"$PYTHON" "$HERE/bind_queue.py" "$DASH_URL" "$RQ" backy.results "*.*.${HOST//./:}.*" \
		2>>"$T/amqp.log" || fail "cannot declare the test's result queue '$RQ': $(tail -1 "$T/amqp.log")"
	at_exit "amqp-delete-queue --url='$DASH_URL' -q '$RQ' >/dev/null 2>&1 || true"
	amqp-consume --url="$DASH_URL" -q "$RQ" "$T/append.sh" "$T/results.jsonl" 2>>"$T/amqp.log" &
	LPID1=$!
	at_exit "kill $LPID1 2>/dev/null || true"
	# dead letters hold jobs: not for a dashboard, the coordinator's user reads them
	amqp-consume --url="$COORD_URL" -q "$DQ" -x -e backy.dlx -r any \
		"$T/append.sh" "$T/dead.txt" 2>>"$T/amqp.log" &
	LPID2=$!
	at_exit "kill $LPID2 2>/dev/null || true"
	# bound once a probe comes through
	for ((i = 0; i < 100; i++)); do
		amqp-publish --url="$URL" -e backy.results -r "probe.probe.${HOST//./:}.probe" \
			-b '{"probe":1}' 2>>"$T/amqp.log" || true
		sleep 0.1
		grep -q probe "$T/results.jsonl" && return 0
	done
	fail "cannot bind the test's result queue (broker down?)"
}

# wk_config [EXTRA-YAML-LINES]: write $T/worker.yaml (WK_ALLOW: its allow line)
wk_config()
{
	local allow=${WK_ALLOW:-"allow: {paths: [\"$T\"]}"}
	cat >"$T/worker.yaml" <<EOF
host: $HOST
base-dir: $BASE
slots: ${WK_SLOTS:-2}
grace: ${WK_GRACE:-600}
heartbeat-interval: 2
$allow
amqp:
  url: "$URL"
  heartbeat: 10
${1:-}
EOF
}

# wk_launch: start the worker in the background (log $T/worker.log), do not wait
wk_launch()
{
	"$WORKER" -c "$T/worker.yaml" -v >>"$T/worker.log" 2>&1 &
	WPID=$!
	at_exit "kill -9 $WPID 2>/dev/null || true"
}

# wk_start: wk_launch, then wait until the worker consumes its job queue
wk_start()
{
	local n0
	n0=$(grep -c "consuming" "$T/worker.log" 2>/dev/null || true)
	wk_launch
	for _ in $(seq 1 200); do
		(($(grep -c "consuming" "$T/worker.log" 2>/dev/null || true) > ${n0:-0})) && return 0
		kill -0 "$WPID" 2>/dev/null || { tail -20 "$T/worker.log"; fail "worker exited at start"; }
		sleep 0.1
	done
	tail -20 "$T/worker.log"
	fail "worker did not start consuming"
}

# wk_alive: the worker is still running
wk_alive() { kill -0 "$WPID" 2>/dev/null; }

# wk_iso [OFFSET-SECONDS]: an ISO 8601 UTC time
wk_iso() { date -u -d "@$(($(date +%s) + ${1:-0}))" +%Y-%m-%dT%H:%M:%S.000000+00:00; }

# wk_id: a fresh id ([A-Za-z0-9_-], 22 characters)
wk_id() { head -c 64 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 22; }

# wk_job JOB_ID JOB SOURCE_FILE [ACTION] [TAGS-JSON-ARRAY] [HOST]: a job message
wk_job()
{
	local job_id=$1 job=$2 file=$3 action=${4:-backup} tags=${5:-'["test"]'} host=${6:-$HOST}
	local src=""
	[[ -n $file ]] && src=",\"source\":{\"type\":\"file\",\"filename\":\"$file\"}"
	[[ $action == backup ]] || tags=""
	printf '{"schema":"backy/1.0","kind":"job","id":"%s","time":"%s","job_id":"%s","job":"%s","host":"%s","action":"%s"%s,"deadline":"%s","attempt":1%s}' \
		"$(wk_id)" "$(wk_iso)" "$job_id" "$job" "$host" "$action" \
		"${tags:+,\"tags\":$tags}" "$(wk_iso 86400)" "$src"
}

# wk_publish BODY: publish BODY as a job for $HOST (with the coordinator's user)
wk_publish()
{
	"$MQ_PUBLISH" "$COORD_URL" backy.jobs "$HOST" "$1" 2>>"$T/amqp.log" ||
		fail "publishing a job failed: $(tail -1 "$T/amqp.log")"
}

# wk_drain: results arrive in the background (wk_listen); nothing to do
wk_drain() { :; }

# wk_nresults [FILTER]: number of drained results (jq FILTER selects)
wk_nresults() { jq -c "select(.kind == \"result\" and (${1:-true}))" "$T/results.jsonl" | wc -l; }

# wk_wait_results N TIMEOUT [FILTER]: wait until at least N results (matching FILTER) arrived
wk_wait_results()
{
	local n=$1 timeout=$2 filter=${3:-true} i
	for ((i = 0; i < timeout * 5; i++)); do
		wk_drain
		(($(wk_nresults "$filter") >= n)) && return 0
		sleep 0.2
	done
	echo "--- results ---"; cat "$T/results.jsonl"; echo "--- worker log ---"; tail -30 "$T/worker.log"
	fail "expected $n results matching '$filter' within $timeout s, got $(wk_nresults "$filter")"
}

# wk_result JOB_ID FIELD: FIELD (jq path) of the first result of JOB_ID
wk_result() { jq -r "select(.job_id == \"$1\") | $2" "$T/results.jsonl" | head -n1; }

# wk_dead_drain: dead letters arrive in $T/dead.txt in the background
wk_dead_drain() { touch "$T/dead.txt"; }

# wk_revisions REPO: number of complete revisions in $BASE/REPO
wk_revisions() { find "$BASE/$1" -maxdepth 1 -name '*.rev' 2>/dev/null | wc -l; }

# wk_term: SIGTERM the worker and wait for it; its exit status in $WRC
wk_term()
{
	WRC=0
	kill -TERM "$WPID"
	wait "$WPID" || WRC=$?
}
