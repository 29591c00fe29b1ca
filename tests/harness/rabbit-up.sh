#!/usr/bin/env bash
# Start a private RabbitMQ 3.10 on loopback (own epmd, own cookie, own data dir).
#
# Usage: rabbit-up.sh [DIR]          (default DIR: /tmp/backy-test/rabbit)
# Environment:
#   RABBIT_PORT=5673                 AMQP port (127.0.0.1)
#   RABBIT_EPMD_PORT=4370            private epmd port (never the shared 4369)
#   RABBIT_DIST_PORT=RABBIT_PORT+20000  Erlang distribution port
#   RABBIT_NODENAME=rabbit-ci@localhost
#   RABBIT_MANAGEMENT=0              1: enable rabbitmq_management on RABBIT_MGMT_PORT
#   RABBIT_MGMT_PORT=15673
#   RABBIT_CONSUMER_TIMEOUT_MS=      if set: consumer_timeout in rabbitmq.conf (fleet tests: 60000)
#   RABBIT_UP_TIMEOUT=120            bound for the readiness wait, seconds
# vhost ci, user ciuser/cipass (administrator), no guest user, and backy's role users
# backy-coordinator, backyctl and backy-dashboard (rabbit-perms.sh; loaded at boot from
# DIR/definitions.json, passwords derived from DIR/secret); a storage host's user comes
# from rabbit-worker-user.sh HOST.
# Writes DIR/{rabbitmq.conf,definitions.json,secret,settings,server-sh.pid,rabbit.pid,epmd.pid},
# DIR/log/* and, once the broker is ready, DIR/env: BACKY_AMQP_URL (the administrator:
# harness checks only), BACKY_AMQP_URL_COORDINATOR, BACKY_AMQP_URL_CTL, BACKY_AMQP_URL_DASH,
# BACKY_RABBIT_VHOST, plus HOME, RABBITMQ_NODENAME, ERL_EPMD_PORT, ERL_EPMD_ADDRESS,
# RABBITMQ_CONF_ENV_FILE, PATH for rabbitmqctl.
# Leftovers of an earlier run in DIR are stopped and DIR is recreated.
set -euo pipefail
ME=rabbit-up.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=rabbit-lib.sh
. "$HERE/rabbit-lib.sh"

[ -x "$RABBIT_BIN/rabbitmq-server" ] || die "$RABBIT_BIN/rabbitmq-server not found; run tests/harness/install.sh"
command -v epmd >/dev/null || die "epmd not found; run tests/harness/install.sh"

D=$(abs_dir "${1:-/tmp/backy-test/rabbit}")
safe_dir "$D"
mark_self "rabbit:$D" "$HERE/rabbit-up.sh" "$@"
if [ -e "$D" ] || [ -n "$(marked_pids "BACKY_HARNESS_ID=rabbit:$D")" ]; then
	log "leftovers from an earlier run in $D, cleaning them"
	"$HERE/rabbit-down.sh" "$D" || die "could not clean the leftovers in $D"
fi
rabbit_settings "$D"      # DIR is gone now: settings come from the environment
[[ $PORT =~ ^[0-9]+$ && $EPMD_PORT =~ ^[0-9]+$ && $DIST_PORT =~ ^[0-9]+$ && $MGMT_PORT =~ ^[0-9]+$ ]] \
	|| die "ports must be numbers"
[ -z "$CONSUMER_TIMEOUT" ] || [[ $CONSUMER_TIMEOUT =~ ^[0-9]+$ ]] || die "RABBIT_CONSUMER_TIMEOUT_MS must be a number of ms"
rabbit_ports

log "starting rabbitmq in $DIR (amqp 127.0.0.1:$PORT, epmd $EPMD_PORT, dist $DIST_PORT, management=$MGMT${CONSUMER_TIMEOUT:+, consumer_timeout=$CONSUMER_TIMEOUT})"
mkdir -p "$DIR"
rabbit_save_settings
rabbit_write_config

ok=0
on_exit() {
	local rc=$?
	((ok)) && return 0
	log "FAILED (rc=$rc) after $(elapsed) s; stopping the broker (DIR kept for inspection)"
	rabbit_stop || true
	exit 1
}
trap on_exit EXIT
trap 'exit 130' INT TERM HUP

rabbit_start
rabbit_write_env
ok=1
log "ready in $(elapsed) s (source $DIR/env)"
