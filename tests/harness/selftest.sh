#!/usr/bin/env bash
# Prove that the service harness works: both services up in parallel via with-services.sh,
# least-privilege rbd checks, cephx refusal, AMQP publish/get, rabbitmqctl through the env
# file, then teardown and a check that nothing of ours is left (processes, ports, dirs).
#
# Usage: selftest.sh [--kill-first=up|ready|orphan] [--restart]
#   --kill-first=ready  first start a run and SIGKILL it (the whole process group) once the
#                       services are ready, leaving daemons behind; then the real selftest
#                       must recover from those leftovers.
#   --kill-first=up     the same, but killed 4 s into the bring-up (daemons mid-startup).
#   --kill-first=orphan SIGKILL only with-services.sh 4 s into the bring-up: its ceph-up.sh and
#                       rabbit-up.sh keep running as orphans and must be stopped by the new run.
#   --restart           also exercise rabbit-restart.sh (a persistent message survives).
# Environment: BACKY_TEST_BASE (default /tmp/backy-test) and all ceph-up/rabbit-up settings.
set -euo pipefail
ME=selftest.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

# ---------------------------------------------------------------- inner part (services up)
if [ "${1:-}" = --inner ]; then
	RESTART=$2 STAMP=$3
	now > "$STAMP.start"
	t0=$(now)
	fail() { log "CHECK FAILED: $*"; exit 1; }
	step() { log "check: $*"; }
	[ -n "${CEPH_CONF:-}" ] && [ -r "$CEPH_CONF" ] || fail "CEPH_CONF not set by the env file"
	[ "${CEPH_ID:-}" = backup ] || fail "CEPH_ID is '${CEPH_ID:-}', expected backup"
	[ -n "${BACKY_AMQP_URL:-}" ] || fail "BACKY_AMQP_URL not set by the env file"
	R() { timeout 60 rbd --id "$CEPH_ID" "$@"; }

	step "rbd --id backup create --size 64M rbd/probe"
	R create --size 64M rbd/probe || fail "rbd create as client.backup"
	step "rbd snap create / snap ls / ls / rm as client.backup"
	R snap create --no-progress rbd/probe@s1 || fail "snap create"
	R snap ls rbd/probe | grep -w s1 >/dev/null || fail "snap ls does not show s1"
	R ls rbd | grep -x probe >/dev/null || fail "rbd ls does not show probe"
	head -c 4096 /dev/urandom > "$STAMP.blk"
	R import --no-progress "$STAMP.blk" rbd/probe2 >/dev/null 2>&1 || fail "rbd import"
	R export --no-progress rbd/probe2 "$STAMP.out" >/dev/null 2>&1 || fail "rbd export"
	cmp -s "$STAMP.blk" "$STAMP.out" || fail "exported data differs from imported data"
	R rm --no-progress rbd/probe2 >/dev/null 2>&1 || fail "rbd rm probe2"
	R snap purge --no-progress rbd/probe >/dev/null 2>&1 || fail "snap purge"
	R rm --no-progress rbd/probe >/dev/null 2>&1 || fail "rbd rm"
	[ -z "$(R ls rbd)" ] || fail "pool rbd not empty after rm"

	step "ceph --id backup osd pool create x must be refused"
	out=$(timeout 30 ceph --id backup --connect-timeout 10 osd pool create x 2>&1) \
		&& fail "client.backup could create a pool: $out"
	grep -qiE 'EACCES|access denied|permission denied' <<<"$out" \
		|| fail "pool create failed, but not with EACCES: $out"
	timeout 30 ceph --connect-timeout 10 osd pool ls | grep -x x >/dev/null && fail "pool x exists"
	timeout 30 ceph --connect-timeout 10 health | grep HEALTH_OK >/dev/null || log "note: ceph health: $(timeout 30 ceph --connect-timeout 10 health 2>&1)"

	step "AMQP declare/publish/get against $BACKY_AMQP_URL"
	q=selftest.$$ msg="hello-$$-$RANDOM"
	timeout 20 amqp-declare-queue --url="$BACKY_AMQP_URL" -d -q "$q" >/dev/null || fail "amqp-declare-queue"
	echo "$msg" | timeout 20 amqp-publish --url="$BACKY_AMQP_URL" -r "$q" -p || fail "amqp-publish"
	got=$(timeout 20 amqp-get --url="$BACKY_AMQP_URL" -q "$q") || fail "amqp-get"
	[ "$got" = "$msg" ] || fail "amqp-get returned '$got', expected '$msg'"
	step "rabbitmqctl through the env file"
	timeout 60 rabbitmqctl -q list_queues -p ci name | grep -x "$q" >/dev/null || fail "rabbitmqctl list_queues does not show $q"
	users=$(timeout 60 rabbitmqctl -q list_users) || fail "rabbitmqctl list_users"
	for u in ciuser backy-coordinator backyctl backy-dashboard; do
		grep "^$u[[:space:]]" <<<"$users" >/dev/null || fail "user $u missing"
	done
	grep '^guest' <<<"$users" >/dev/null && fail "user guest exists"
	[ -n "${BACKY_AMQP_URL_COORDINATOR:-}" ] && [ -n "${BACKY_AMQP_URL_CTL:-}" ] &&
		[ -n "${BACKY_AMQP_URL_DASH:-}" ] || fail "the env file lacks the role users' URLs"

	if [ "$RESTART" = 1 ]; then
		step "rabbit-restart.sh keeps durable queues and persistent messages"
		echo "persist-$msg" | timeout 20 amqp-publish --url="$BACKY_AMQP_URL" -r "$q" -p || fail "amqp-publish"
		tr0=$(now)
		"$HERE/rabbit-restart.sh" "$BACKY_RABBIT_DIR" || fail "rabbit-restart.sh"
		log "broker restart took $(elapsed "$tr0") s"
		got=$(timeout 20 amqp-get --url="$BACKY_AMQP_URL" -q "$q") || fail "amqp-get after restart"
		[ "$got" = "persist-$msg" ] || fail "after restart got '$got'"
	fi
	timeout 20 amqp-delete-queue --url="$BACKY_AMQP_URL" -q "$q" >/dev/null 2>&1 || true
	rm -f "$STAMP.blk" "$STAMP.out"
	log "all checks passed in $(elapsed "$t0") s"
	now > "$STAMP.end"
	exit 0
fi

# ---------------------------------------------------------------- outer part
KILL_FIRST= RESTART=0
for a in "$@"; do
	case $a in
	--kill-first=up|--kill-first=ready|--kill-first=orphan) KILL_FIRST=${a#--kill-first=} ;;
	--restart) RESTART=1 ;;
	*) die "usage: selftest.sh [--kill-first=up|ready|orphan] [--restart]" ;;
	esac
done
BASE=$(abs_dir "${BACKY_TEST_BASE:-/tmp/backy-test}")
export BACKY_TEST_BASE=$BASE
CEPH_DIR=$BASE/ceph RABBIT_DIR=$BASE/rabbit
RPORT=${RABBIT_PORT:-5673} EPORT=${RABBIT_EPMD_PORT:-4370}
PORTS=("${CEPH_MON_PORT_V2:-3300}" "${CEPH_MON_PORT_V1:-6789}" "$RPORT" "${RABBIT_DIST_PORT:-$((RPORT + 20000))}" "$EPORT")
[ "${RABBIT_MANAGEMENT:-0}" != 1 ] || PORTS+=("${RABBIT_MGMT_PORT:-15673}")
STAMP=$(mktemp -d /tmp/backy-selftest.XXXXXX)/s
trap 'rm -rf "${STAMP%/s}"' EXIT

if [ -n "$KILL_FIRST" ]; then
	log "kill test: starting a run that will be SIGKILLed ($KILL_FIRST)"
	tk=$(now)
	setsid "$HERE/with-services.sh" --ceph --rabbit -- sleep 600 > "${STAMP%/s}/killed.log" 2>&1 < /dev/null &
	victim=$!
	disown "$victim"    # no "Killed" job notice
	if [ "$KILL_FIRST" != ready ]; then
		sleep 4
	else
		ready() { [ -e "$CEPH_DIR/env" ] && [ -e "$RABBIT_DIR/env" ]; }
		wait_for 150 "services of the run to be killed" ready || { tail_logs 30 "${STAMP%/s}/killed.log"; die "kill test: services never came up"; }
	fi
	if [ "$KILL_FIRST" = orphan ]; then
		kill -KILL "$victim" 2>/dev/null || true      # only with-services.sh
	else
		kill -KILL -- "-$victim" 2>/dev/null || true   # whole process group: no trap runs
	fi
	wait_gone 5 "$victim" || true
	log "kill test: killed after $(elapsed "$tk") s; left behind: $(marked_pids "BACKY_HARNESS_ID=ceph:$CEPH_DIR" | wc -l) ceph + $(marked_pids "BACKY_HARNESS_ID=rabbit:$RABBIT_DIR" | wc -l) rabbit processes"
fi

t0=$(now)
rc=0
"$HERE/with-services.sh" --ceph --rabbit -- "$HERE/selftest.sh" --inner "$RESTART" "$STAMP" || rc=$?
t_end=$(now)

problems=0
bad() { log "LEAK: $*"; problems=1; }
for m in "ceph:$CEPH_DIR" "rabbit:$RABBIT_DIR"; do
	left=$(marked_pids "BACKY_HARNESS_ID=$m" | tr '\n' ' ')
	[ -z "${left// /}" ] || bad "processes of $m still running: $left ($(ps -o comm= -p "${left// /,}" | tr '\n' ' '))"
done
for p in $(pgrep -x 'ceph-mon|ceph-osd|ceph-mgr' || true); do
	grep -qF -- "$CEPH_DIR/ceph.conf" "/proc/$p/cmdline" 2>/dev/null && bad "ceph daemon $p uses $CEPH_DIR"
done
for port in "${PORTS[@]}"; do
	port_in_use "$port" && bad "port $port still in use: $(port_holders "$port")"
done
[ ! -e "$CEPH_DIR" ] || bad "$CEPH_DIR still exists"
[ ! -e "$RABBIT_DIR" ] || bad "$RABBIT_DIR still exists"

total=$(elapsed "$t0")
if [ -r "$STAMP.start" ] && [ -r "$STAMP.end" ]; then
	up=$(awk -v a="$t0" -v b="$(cat "$STAMP.start")" 'BEGIN{printf "%.1f", b-a}')
	chk=$(awk -v a="$(cat "$STAMP.start")" -v b="$(cat "$STAMP.end")" 'BEGIN{printf "%.1f", b-a}')
	down=$(awk -v a="$(cat "$STAMP.end")" -v b="$t_end" 'BEGIN{printf "%.1f", b-a}')
	log "timings: services up ${up} s (incl. leftover cleanup), checks ${chk} s, teardown ${down} s, total ${total} s"
else
	log "timings: total ${total} s (checks did not complete)"
fi
if ((rc != 0)); then
	log "FAILED: with-services.sh/checks exited with $rc"
	exit 1
fi
((problems == 0)) || { log "FAILED: leftovers after teardown"; exit 1; }
log "PASSED"
