# fleet_lib.sh: helpers of the end-to-end fleet tests (source after lib.sh).
#
#   BACKY              the backy binary (lib.sh)
#   BACKY_WORKER       default: backy-worker next to $BACKY
#   BACKY_COORDINATOR  default: $(dirname $BACKY)/../coordinator/backy-coordinator
#   BACKYCTL           default: $(dirname $BACKY)/../coordinator/backyctl
#   BACKY_RABBIT_ENV   env file of a running broker (tests/harness/rabbit-up.sh DIR
#                      writes DIR/env); required: without a broker the test fails
#
# A fleet test runs real daemons: workers (fl_worker_start NAME HOST) with
# private base and state directories under $T/NAME and simulated-time: true,
# so every backup runs at the coordinator's (simulated) now, and coordinators
# (fl_coord_start NAME NOW SCALE) with a private state file and status port.
# Every daemon is killed at exit, and the per-host job queues are deleted.
#
# Every party uses its own broker user, never the administrator (docs/
# operations.md, "Broker users and permissions"; tests/harness/rabbit-perms.sh):
#   COORD_URL         the coordinators (also $URL, for tests written before)
#   fl_worker_url H   storage host H's worker (made by fl_hosts or on first use)
#   CTL_URL           backyctl
#   DASH_URL          the test's own result listener (fl_listen), a dashboard
#   ADMIN_URL         harness checks and deliberate "compromised broker" probes only

WORKER=${BACKY_WORKER:-$(dirname "$BACKY")/backy-worker}
COORD=${BACKY_COORDINATOR:-$(realpath -m "$(dirname "$BACKY")/../coordinator/backy-coordinator")}
CTL=${BACKYCTL:-$(realpath -m "$(dirname "$BACKY")/../coordinator/backyctl")}
for _b in "$WORKER" "$COORD" "$CTL"; do
	[[ -x $_b ]] || fail "binary not found: '$_b' (build the whole tree)"
done
need_tool amqp-consume amqp-publish amqp-delete-queue curl jq ss
[[ -n ${BACKY_RABBIT_ENV:-} && -r ${BACKY_RABBIT_ENV} ]] ||
	fail "no broker: BACKY_RABBIT_ENV must name the env file of tests/harness/rabbit-up.sh"
# shellcheck disable=SC1090
. "$BACKY_RABBIT_ENV"
for _v in BACKY_AMQP_URL BACKY_AMQP_URL_COORDINATOR BACKY_AMQP_URL_CTL BACKY_AMQP_URL_DASH; do
	[[ -n ${!_v:-} ]] || fail "$BACKY_RABBIT_ENV does not set $_v"
done
ADMIN_URL=$BACKY_AMQP_URL
COORD_URL=$BACKY_AMQP_URL_COORDINATOR
CTL_URL=$BACKY_AMQP_URL_CTL
DASH_URL=$BACKY_AMQP_URL_DASH
URL=$COORD_URL
MQ_PUBLISH=${MQ_PUBLISH:-$(dirname "$BACKY")/../tests/mq_publish}
[[ -x $MQ_PUBLISH ]] || fail "mq_publish not found at '$MQ_PUBLISH' (build the whole tree)"
# a harness check: is the broker there at all
amqp-publish --url="$ADMIN_URL" -e amq.direct -r backy.fleet.probe -b probe 2>"$T/amqp-probe.log" ||
	fail "the broker of $BACKY_RABBIT_ENV is not reachable: $(cat "$T/amqp-probe.log")"

# a free loopback port for the coordinators' status endpoint
FL_PORT=
for _p in $(shuf -i 21000-29999 -n 200); do
	ss -ltnH | grep -q ":$_p " || { FL_PORT=$_p; break; }
done
[[ -n $FL_PORT ]] || fail "no free port for the status endpoint"
STATUS_URL=http://127.0.0.1:$FL_PORT

declare -A FL_WPID=() FL_CPID=() FL_WURL=()
FL_HOSTS=()

# fl_delete_queue NAME: delete a queue of the broker (leftovers, cleanup)
fl_delete_queue() { amqp-delete-queue --url="$COORD_URL" -q "$1" >/dev/null 2>&1 || true; }

# fl_worker_users HOST...: make the broker users of storage hosts (one rabbitmqctl
# call for all of them); their URLs are then in FL_WURL[HOST]
fl_worker_users()
{
	local urls i
	mapfile -t urls < <("$HERE/../harness/rabbit-worker-user.sh" "$@" || echo FAILED)
	((${#urls[@]} == $#)) || fail "cannot create the broker users of $*: ${urls[*]}"
	for ((i = 1; i <= $#; i++)); do FL_WURL[${!i}]=${urls[i - 1]}; done
}

# fl_worker_url HOST: the AMQP URL of storage host HOST's own broker user
fl_worker_url()
{
	[[ -n ${FL_WURL[$1]:-} ]] || fl_worker_users "$1"
	printf '%s\n' "${FL_WURL[$1]}"
}

# fl_hosts HOST...: the storage hosts of this test: their broker users are made,
# their job queues emptied (leftovers of an aborted run), declared as the
# coordinator does (so that workers may start before it) and deleted at exit
fl_hosts()
{
	local h
	FL_HOSTS=("$@")
	fl_worker_users "$@"
	for h in "$@"; do
		fl_delete_queue "backy.jobs.$h"
		at_exit "fl_delete_queue 'backy.jobs.$h'"
	done
	"$MQ_PUBLISH" --declare "$COORD_URL" "$@" || fail "declaring the job queues of $* failed"
	# requests of an aborted earlier run must not reach this test's coordinator
	fl_delete_queue backy.coordinator.requests
}

# fl_worker_config NAME HOST [EXTRA-YAML]: $T/NAME/worker.yaml, base $T/NAME/base
# (FL_SLOTS slots, default 2; a heartbeat every FL_HEARTBEAT seconds, default 2)
fl_worker_config()
{
	local name=$1 host=$2 wurl
	mkdir -p "$T/$name/base"
	[[ -n ${FL_WURL[$host]:-} ]] || fl_worker_users "$host"
	wurl=${FL_WURL[$host]}
	cat >"$T/$name/worker.yaml" <<EOF
host: $host
base-dir: $T/$name/base
slots: ${FL_SLOTS:-2}
grace: 30
heartbeat-interval: ${FL_HEARTBEAT:-2}
simulated-time: true
backy: $BACKY
allow: {paths: ["$T"]}
amqp:
  url: "$wurl"
  heartbeat: 10
${3:-}
EOF
}

# fl_worker_start NAME [HOST]: start worker NAME (config written if HOST is given),
# wait until it consumes its queue
fl_worker_start()
{
	local name=$1 n0 n pid i
	[[ -n ${2:-} ]] && fl_worker_config "$name" "$2"
	# grep -c prints nothing when the log is not there (yet)
	n0=$(grep -c "consuming" "$T/$name/worker.log" 2>/dev/null || true)
	"$WORKER" -c "$T/$name/worker.yaml" -v >>"$T/$name/worker.log" 2>&1 &
	pid=$!
	FL_WPID[$name]=$pid
	at_exit "kill -9 $pid 2>/dev/null || true"
	for ((i = 0; i < 300; i++)); do
		n=$(grep -c "consuming" "$T/$name/worker.log" 2>/dev/null || true)
		((${n:-0} > ${n0:-0})) && return 0
		kill -0 "$pid" 2>/dev/null || { tail -20 "$T/$name/worker.log"; fail "worker $name exited at start"; }
		sleep 0.1
	done
	tail -20 "$T/$name/worker.log"
	fail "worker $name did not start consuming within 30 s"
}

# fl_worker_stop NAME: SIGTERM and wait (bounded by its grace period)
fl_worker_stop()
{
	local pid=${FL_WPID[$1]} rc=0
	kill -TERM "$pid" 2>/dev/null || true
	timeout 60 tail --pid="$pid" -f /dev/null || fail "worker $1 did not stop within 60 s"
	wait "$pid" 2>/dev/null || rc=$?
	((rc == 0)) || fail "worker $1 exited $rc on SIGTERM"
}

# fl_worker_kill NAME: SIGKILL
fl_worker_kill()
{
	local pid=${FL_WPID[$1]}
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# fl_coord_config FILE JOBS-YAML [EXTRA]: a central config with every host of fl_hosts,
# the schedule "default" ($FL_SCHEDULE, YAML map) and the given jobs
fl_coord_config()
{
	local hosts
	hosts=$(IFS=,; echo "${FL_HOSTS[*]}")
	cat >"$1" <<EOF
global: {base-dir: /srv/backy, worker-limit: 1}
schedules:
  default: ${FL_SCHEDULE:-"{daily: {interval: 1d, keep: 3}, weekly: {interval: 1w, keep: 2}}"}
jobs:
$2
hosts: [$hosts]
amqp: {url: "$COORD_URL", heartbeat: 10}
status: {listen: "127.0.0.1:$FL_PORT"}
state-file: $T/coord.state
job-timeout: ${FL_JOB_TIMEOUT:-1d}
expire: true
${3:-}
EOF
}

# fl_coord_start NAME NOW SCALE [wait]: start a coordinator (log $T/NAME.log) at
# BACKY_NOW=NOW with time scale SCALE (0: frozen); with "wait" (default) wait until it
# is active and connected, with "standby" until it reports standing by.  Its config is
# $T/coord.yaml, or FL_COORD_CONFIG.
fl_coord_start()
{
	local name=$1 now=$2 scale=$3 mode=${4:-wait} pid i logf=$T/$1.log
	: >>"$logf"
	local n0
	n0=$(grep -c "connected to the broker" "$logf" || true)
	BACKY_NOW=$now BACKY_TIME_SCALE=$scale "$COORD" -v -c "${FL_COORD_CONFIG:-$T/coord.yaml}" >>"$logf" 2>&1 &
	pid=$!
	FL_CPID[$name]=$pid
	at_exit "kill -9 $pid 2>/dev/null || true"
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || { tail -20 "$logf"; fail "coordinator $name exited at start"; }
		if [[ $mode == standby ]]; then
			grep -q standby "$logf" && return 0
		elif (($(grep -c "connected to the broker" "$logf" || true) > ${n0:-0})) &&
			curl -fs "$STATUS_URL/v1/status" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	tail -20 "$logf"
	fail "coordinator $name did not become $mode within 30 s"
}

# fl_coord_stop NAME: SIGTERM, wait, exit status must be 0
fl_coord_stop()
{
	local pid=${FL_CPID[$1]} rc=0
	kill -TERM "$pid" 2>/dev/null || true
	timeout 30 tail --pid="$pid" -f /dev/null || fail "coordinator $1 did not stop within 30 s"
	wait "$pid" 2>/dev/null || rc=$?
	((rc == 0)) || fail "coordinator $1 exited $rc on SIGTERM"
}

# fl_status: the active coordinator's status document
fl_status() { curl -fsS --max-time 5 "$STATUS_URL/v1/status"; }

# fl_wait TIMEOUT WHAT COMMAND...: poll COMMAND every 0.2 s until it succeeds
fl_wait()
{
	local timeout=$1 what=$2 end
	shift 2
	end=$((SECONDS + timeout))
	while ((SECONDS < end)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	fail "timed out after $timeout s waiting for: $what"
}

# fl_status_true JQ-EXPR: the status document satisfies JQ-EXPR
fl_status_true() { [[ $(fl_status | jq -r "$1") == true ]]; }

# fl_idle: no backup or expiry in flight and no request pending
fl_idle() { fl_status_true '[.jobs[] | (.running == null and .expiring == false and (.scrub.running // false) == false)] | all'; }

# fl_listen: a consumer of our own, as a dashboard would run it (the dashboard's
# broker user): amqp-consume on a durable queue dashboard.t.fleet.$$ bound to
# backy.results with "#", restarted within 0.5 s whenever the broker drops it.  The
# queue and its binding survive a broker restart, so results published right after
# the restart (a worker publishing what it recorded while the broker was away)
# wait for the consumer instead of being lost; every result, one JSON document per
# line, lands in $T/results.jsonl.
fl_listen()
{
	local i pid q=dashboard.t.fleet.$$
	: >"$T/results.jsonl"
	"$PYTHON" "$HERE/bind_queue.py" "$DASH_URL" "$q" backy.results '#' 2>>"$T/amqp.log" ||
		fail "cannot declare the test's result queue '$q': $(tail -1 "$T/amqp.log")"
	at_exit "amqp-delete-queue --url='$DASH_URL' -q '$q' >/dev/null 2>&1 || true"
	cat >"$T/append.sh" <<'EOF_APPEND'
#!/bin/sh
body=$(cat)
printf '%s\n' "$body" >>"$1"
EOF_APPEND
	chmod +x "$T/append.sh"
	(
		c=
		trap '[ -n "$c" ] && kill "$c" 2>/dev/null; exit 0' TERM
		while :; do
			amqp-consume --url="$DASH_URL" -q "$q" "$T/append.sh" "$T/results.jsonl" 2>>"$T/amqp.log" &
			c=$!
			wait "$c" || true
			sleep 0.5
		done
	) &
	pid=$!
	FL_LISTENER=$pid
	at_exit "kill $pid 2>/dev/null || true"
	for ((i = 0; i < 100; i++)); do
		# the probe names no storage host: sent with the coordinator's user
		amqp-publish --url="$COORD_URL" -e backy.results -r "probe.probe.probe.probe$$" \
			-b '{"probe":1}' 2>>"$T/amqp.log" || true
		sleep 0.1
		grep -q probe "$T/results.jsonl" && return 0
	done
	fail "no message of backy.results reaches the test's result queue"
}

# fl_results [JQ-FILTER]: the results received by fl_listen (one per line)
fl_results() { jq -c "select(.kind == \"result\" and (${1:-true}))" "$T/results.jsonl"; }

# fl_epoch ISO / fl_iso EPOCH: conversions (seconds, UTC)
fl_epoch() { date -u -d "$1" +%s; }
fl_iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S+00:00; }

# fl_source FILE MIB: a small random source image
fl_source() { head -c "$(($2 << 20))" /dev/urandom >"$1"; }

# fl_repo_status BASE JOB: backy status --json of one repository
fl_repo_status() { "$BACKY" -b "$1/$2" status --json; }

# fl_dump: diagnostics on failure
fl_dump()
{
	local f
	for f in "$T"/*.log "$T"/*/worker.log; do
		[[ -s $f ]] || continue
		echo "--- tail of $f ---" >&2
		tail -n 25 "$f" >&2
	done
}
