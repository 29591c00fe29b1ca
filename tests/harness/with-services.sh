#!/usr/bin/env bash
# Run a command with throw-away Ceph and/or RabbitMQ services, always tearing them down.
#
# Usage: with-services.sh [--ceph] [--rabbit] [--ceph-dir DIR] [--rabbit-dir DIR] -- CMD [ARGS...]
#   --ceph        single-node Ceph (ceph-up.sh), DIR default $BACKY_TEST_BASE/ceph
#   --rabbit      private RabbitMQ (rabbit-up.sh), DIR default $BACKY_TEST_BASE/rabbit
#   BACKY_TEST_BASE defaults to /tmp/backy-test. All ceph-up.sh / rabbit-up.sh
#   environment settings (ports, CEPH_OBJECTSTORE, CEPH_WITH_MGR, RABBIT_MANAGEMENT,
#   RABBIT_CONSUMER_TIMEOUT_MS, ...) pass through.
# The services start in parallel; their DIR/env files are sourced before CMD runs, so CMD
# sees CEPH_CONF, CEPH_ID, ..., BACKY_AMQP_URL (administrator), BACKY_AMQP_URL_COORDINATOR,
# _CTL, _DASH (backy's role users), HOME=<rabbit dir>/home, RABBITMQ_NODENAME, ...
# Exit status: that of CMD; 1 if CMD succeeded but teardown failed; 1 if a service
# failed to start (CMD is not run). Teardown always runs (EXIT trap), also on SIGINT/SIGTERM.
set -euo pipefail
ME=with-services.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

usage() { sed -n '2,14p' "$HERE/with-services.sh" | sed 's/^# \{0,1\}//' >&2; exit 2; }
BASE=${BACKY_TEST_BASE:-/tmp/backy-test}
want_ceph=0 want_rabbit=0
CEPH_DIR=$BASE/ceph RABBIT_DIR=$BASE/rabbit
while (($#)); do
	case $1 in
	--ceph) want_ceph=1 ;;
	--rabbit) want_rabbit=1 ;;
	--ceph-dir) CEPH_DIR=$2; want_ceph=1; shift ;;
	--rabbit-dir) RABBIT_DIR=$2; want_rabbit=1; shift ;;
	--) shift; break ;;
	-h|--help) usage ;;
	*) log "unknown option '$1'"; usage ;;
	esac
	shift
done
(($#)) || { log "no command given"; usage; }
((want_ceph || want_rabbit)) || log "warning: no service requested, just running the command"
CEPH_DIR=$(abs_dir "$CEPH_DIR"); RABBIT_DIR=$(abs_dir "$RABBIT_DIR")

started_ceph=0 started_rabbit=0
teardown() {
	local rc=$? t0 trc=0 cpid= rpid=
	trap - EXIT INT TERM HUP
	((started_ceph || started_rabbit)) || exit "$rc"
	t0=$(now)
	log "tearing down"
	if ((started_ceph)); then "$HERE/ceph-down.sh" "$CEPH_DIR" & cpid=$!; fi
	if ((started_rabbit)); then "$HERE/rabbit-down.sh" "$RABBIT_DIR" & rpid=$!; fi
	[ -z "$cpid" ] || wait "$cpid" || trc=1
	[ -z "$rpid" ] || wait "$rpid" || trc=1
	if ((trc)); then
		log "ERROR: teardown failed ($(elapsed "$t0") s)"
		((rc != 0)) || rc=1
	else
		log "teardown done in $(elapsed "$t0") s"
	fi
	exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

t_up=$(now)
cpid= rpid=
# mark as started before launching: a half-started service is torn down as well
if ((want_ceph)); then started_ceph=1; "$HERE/ceph-up.sh" "$CEPH_DIR" & cpid=$!; fi
if ((want_rabbit)); then started_rabbit=1; "$HERE/rabbit-up.sh" "$RABBIT_DIR" & rpid=$!; fi
fail=0
if [ -n "$cpid" ]; then wait "$cpid" || { log "ceph failed to start"; fail=1; }; fi
if [ -n "$rpid" ]; then wait "$rpid" || { log "rabbitmq failed to start"; fail=1; }; fi
((fail == 0)) || exit 1
UP_SECONDS=$(elapsed "$t_up")
log "services up in $UP_SECONDS s"
export BACKY_SERVICES_UP_SECONDS=$UP_SECONDS
# shellcheck disable=SC1091
if ((want_ceph)); then . "$CEPH_DIR/env"; fi
# shellcheck disable=SC1091
if ((want_rabbit)); then . "$RABBIT_DIR/env"; fi

t_cmd=$(now)
rc=0
"$@" || rc=$?
log "command exited with $rc after $(elapsed "$t_cmd") s"
exit "$rc"
