#!/usr/bin/env bash
# Create (or update) the broker user of one or more storage hosts and print their URLs.
#
# Usage: rabbit-worker-user.sh [--literal] HOST...
#   Prints one AMQP URL per HOST, in order, on standard output.  The user is
#   backy-worker-HOST with the permissions of rabbit-perms.sh (role worker): read
#   its own job queue, write results and heartbeats under its own name, nothing else.
#   All hosts are set up with one `rabbitmqctl import_definitions` call (about a
#   second, however many hosts); calling it again for a host is harmless (same password).
#   --literal runs the rabbitmqctl lines of docs/operations.md instead, one call per
#   line (add_user, set_permissions, set_topic_permissions): slower, it proves them.
# Environment: the broker's env file sourced (BACKY_RABBIT_DIR and what rabbitmqctl
# needs: HOME, RABBITMQ_NODENAME, ERL_EPMD_PORT, ...), as with-services.sh does.
set -euo pipefail
ME=rabbit-worker-user.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=rabbit-lib.sh
. "$HERE/rabbit-lib.sh"

literal=0
if [ "${1:-}" = --literal ]; then literal=1; shift; fi
(($#)) || die "usage: rabbit-worker-user.sh [--literal] HOST..."
[ -n "${BACKY_RABBIT_DIR:-}" ] || die "BACKY_RABBIT_DIR is not set: source the broker's env file first"
rabbit_settings "$BACKY_RABBIT_DIR"
[ -s "$DIR/secret" ] || die "$DIR holds no broker of rabbit-up.sh (no secret)"
command -v rabbitmqctl >/dev/null || die "rabbitmqctl not found: source the broker's env file first"

hosts=("$@")
args=()
specs=()
for h in "${hosts[@]}"; do
	bk_perm_host_ok "$h" || die "invalid storage host name '$h'"
	specs+=("worker/$h/$(rabbit_password "backy-worker-$h")")
done
ctl() { timeout 60 rabbitmqctl -q "$@" >>"$DIR/log/cli.out" 2>&1 || die "rabbitmqctl $1 failed (see $DIR/log/cli.out)"; }
if ((literal)); then
	for h in "${hosts[@]}"; do
		pw=$(rabbit_password "backy-worker-$h")
		mapfile -t lines < <(bk_perm_commands "$RABBIT_VHOST" worker "$h")
		# the documented lines, word for word (the patterns are in single quotes)
		for line in "${lines[@]}"; do
			eval "args=(${line#rabbitmqctl })"
			if [ "${args[0]}" = add_user ]; then
				# add_user reads the password from standard input
				timeout 60 rabbitmqctl -q list_users </dev/null | cut -f1 | grep -xF -- "${args[1]}" >/dev/null ||
					printf '%s\n' "$pw" | ctl "${args[@]}"
			else
				ctl "${args[@]}" </dev/null
			fi
		done
	done
else
	bk_perm_definitions "$RABBIT_VHOST" "${specs[@]}" | ctl import_definitions
fi
for h in "${hosts[@]}"; do rabbit_url "backy-worker-$h"; done
