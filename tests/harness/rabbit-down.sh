#!/usr/bin/env bash
# Stop the private RabbitMQ started by rabbit-up.sh, stop our epmd, remove DIR.
#
# Usage: rabbit-down.sh [DIR]        (default DIR: /tmp/backy-test/rabbit)
# Environment: RABBIT_DOWN_KEEP_DIR=1 keeps DIR; RABBIT_STOP_TIMEOUT=30 (then SIGKILL).
# Only processes we own are touched (pid files + BACKY_HARNESS_ID marker); an epmd
# that is not ours (e.g. the machine-wide one on 4369) is left alone.
# Idempotent: succeeds when nothing runs and DIR does not exist.
set -euo pipefail
ME=rabbit-down.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=rabbit-lib.sh
. "$HERE/rabbit-lib.sh"

rabbit_settings "${1:-/tmp/backy-test/rabbit}"
unset BACKY_HARNESS_ID    # our own helper processes must not look like leftovers
kill_marked_scripts "$MARKER"
if [ ! -e "$DIR" ] && [ -z "$(marked_pids "$MARKER")" ]; then
	log "nothing to do ($DIR absent, no processes)"
	exit 0
fi
rc=0
rabbit_stop || rc=1
if [ "${RABBIT_DOWN_KEEP_DIR:-0}" = 1 ]; then
	log "stopped in $(elapsed) s; keeping $DIR"
else
	rm -rf "$DIR"
	log "stopped and removed $DIR in $(elapsed) s"
fi
exit $rc
