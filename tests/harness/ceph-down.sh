#!/usr/bin/env bash
# Stop the single-node Ceph started by ceph-up.sh and remove its directory.
#
# Usage: ceph-down.sh [DIR]         (default DIR: /tmp/backy-test/ceph)
# Environment: CEPH_DOWN_KEEP_DIR=1 stops the daemons but keeps DIR (logs).
# Order: osd + mgr SIGTERM together, wait, then mon; SIGKILL after 15 s each.
# Only processes we own are touched: pids from DIR/*.pid that carry our
# BACKY_HARNESS_ID marker, plus any other process carrying that marker.
# Idempotent: succeeds when nothing runs and DIR does not exist.
set -euo pipefail
ME=ceph-down.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

DIR=$(abs_dir "${1:-/tmp/backy-test/ceph}")
safe_dir "$DIR"
MARKER="BACKY_HARNESS_ID=ceph:$DIR"
unset BACKY_HARNESS_ID    # our own helper processes must not look like leftovers

# an orphaned ceph-up.sh of a killed run must not go on starting things
kill_marked_scripts "$MARKER"

mon=$(owned_pid "$DIR/mon.pid" "$MARKER")
osd=$(owned_pid "$DIR/osd.pid" "$MARKER")
mgr=$(owned_pid "$DIR/mgr.pid" "$MARKER")
# daemons whose pid file is missing (killed mid-startup) are found by marker
for p in $(marked_pids "$MARKER"); do
	case $(cat "/proc/$p/comm" 2>/dev/null) in
	ceph-mon) [ -n "$mon" ] || mon=$p ;;
	ceph-osd) [ -n "$osd" ] || osd=$p ;;
	ceph-mgr) [ -n "$mgr" ] || mgr=$p ;;
	esac
done

if [ -z "$mon$osd$mgr" ] && [ ! -e "$DIR" ]; then
	log "nothing to do ($DIR absent, no daemons)"
	exit 0
fi
rc=0
if [ -n "$osd$mgr" ]; then
	t=$(now)
	# shellcheck disable=SC2086
	stop_pids 15 "osd+mgr" $osd $mgr || rc=1
	log "osd+mgr stopped in $(elapsed "$t") s"
fi
if [ -n "$mon" ]; then
	t=$(now)
	stop_pids 15 "mon" "$mon" || rc=1
	log "mon stopped in $(elapsed "$t") s"
fi
rest=$(marked_pids "$MARKER" | tr '\n' ' ')
if [ -n "${rest// /}" ]; then
	log "stopping other leftover processes of ours: $rest($(ps -o comm= -p "$(echo $rest | tr ' ' ,)" 2>/dev/null | tr '\n' ' '))"
	# shellcheck disable=SC2086
	stop_pids 5 "leftovers" $rest || rc=1
fi
if [ "${CEPH_DOWN_KEEP_DIR:-0}" = 1 ]; then
	log "daemons stopped in $(elapsed) s; keeping $DIR"
else
	rm -rf "$DIR"
	log "stopped and removed $DIR in $(elapsed) s"
fi
exit $rc
