#!/usr/bin/env bash
# Restart the private RabbitMQ in DIR keeping its data (mnesia, queues, users),
# for broker-restart tests. Same ports and settings as the original rabbit-up.sh.
#
# Usage: rabbit-restart.sh [DIR]     (default DIR: /tmp/backy-test/rabbit)
# Environment: RABBIT_RESTART_PAUSE=0  seconds to stay down between stop and start
# DIR/env is removed while the broker is down and rewritten once it is ready again.
set -euo pipefail
ME=rabbit-restart.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=rabbit-lib.sh
. "$HERE/rabbit-lib.sh"

rabbit_settings "${1:-/tmp/backy-test/rabbit}"
mark_self "rabbit:$DIR" "$HERE/rabbit-restart.sh" "$@"
[ -r "$DIR/settings" ] && [ -r "$DIR/rabbitmq.conf" ] || die "$DIR holds no broker set up by rabbit-up.sh"
t0=$(now)
rabbit_stop || die "could not stop the broker"
log "stopped in $(elapsed "$t0") s"
sleep "${RABBIT_RESTART_PAUSE:-0}"
trap 'log "restart FAILED"; rabbit_stop || true' ERR
rabbit_start
rabbit_write_env
log "restarted in $(elapsed) s"
