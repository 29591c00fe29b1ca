#!/usr/bin/env bash
# Least privilege on the broker (docs/operations.md, "Broker users and
# permissions"): with a dashboard's and a storage host's credentials a
# third-party client (pika, broker_perms.py) cannot publish a job, an expiry,
# a request, or a result or heartbeat under another host's name, cannot
# consume, bind, purge, declare or delete another host's job queue or backy's
# queues: the broker refuses each with 403 ACCESS_REFUSED.  Positive controls
# (a worker's own result and heartbeat, the dashboard's own queue receiving
# it, a backyctl request, the broker dead-lettering a job its host rejected)
# must work, so broken permissions fail too.
#
# The users are those of tests/harness/rabbit-perms.sh: host A is set up as
# every test does (rabbit-worker-user.sh: rabbitmqctl import_definitions),
# host B (a name with a dot) with the literal rabbitmqctl lines that
# docs/operations.md prints, and the docs must print exactly those lines.
#
# Needs BACKY (CTest sets it) and BACKY_RABBIT_ENV; fails, never skips, without
# a broker or python3-pika.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
need_tool amqp-delete-queue rabbitmqctl
MQ_PUBLISH=${MQ_PUBLISH:-$(dirname "$BACKY")/../tests/mq_publish}
[[ -x $MQ_PUBLISH ]] || fail "mq_publish not found at '$MQ_PUBLISH' (build the whole tree)"
"$PYTHON" -c 'import pika' 2>/dev/null || fail "python3-pika is not installed (tests/install-deps.sh)"
[[ -n ${BACKY_RABBIT_ENV:-} && -r ${BACKY_RABBIT_ENV} ]] ||
	fail "no broker: BACKY_RABBIT_ENV must name the env file of tests/harness/rabbit-up.sh"
# shellcheck disable=SC1090
. "$BACKY_RABBIT_ENV"
for v in BACKY_AMQP_URL_COORDINATOR BACKY_AMQP_URL_CTL BACKY_AMQP_URL_DASH BACKY_RABBIT_VHOST; do
	[[ -n ${!v:-} ]] || fail "$BACKY_RABBIT_ENV does not set $v (a broker of an older rabbit-up.sh?)"
done
# shellcheck source=../harness/rabbit-perms.sh
. "$HERE/../harness/rabbit-perms.sh"

check "docs/operations.md prints the rabbitmqctl lines of tests/harness/rabbit-perms.sh"
DOC=$HERE/../../docs/operations.md
n=0
for role in coordinator "worker backy01.dc1" ctl dashboard; do
	# shellcheck disable=SC2086
	while IFS= read -r line; do
		grep -qxF -- "$line" "$DOC" || fail "docs/operations.md lacks the line: $line"
		n=$((n + 1))
	done < <(bk_perm_commands backy $role)
done
ok "all $n lines are there, word for word"

A=bp-a$$
B=bp.b$$
at_exit "amqp-delete-queue --url='$BACKY_AMQP_URL_COORDINATOR' -q 'backy.jobs.$A' >/dev/null 2>&1 || true"
at_exit "amqp-delete-queue --url='$BACKY_AMQP_URL_COORDINATOR' -q 'backy.jobs.$B' >/dev/null 2>&1 || true"

check "users of the storage hosts $A (import_definitions) and $B (the documented lines)"
t0=$SECONDS
URL_A=$("$HERE/../harness/rabbit-worker-user.sh" "$A") || fail "rabbit-worker-user.sh $A failed"
URL_B=$("$HERE/../harness/rabbit-worker-user.sh" --literal "$B") || fail "rabbit-worker-user.sh --literal $B failed"
ok "created in $((SECONDS - t0)) s"
rabbitmqctl -q list_topic_permissions -p "$BACKY_RABBIT_VHOST" | grep -F "backy-worker-$B" >"$T/topic.txt" || true
assert_contains "topic permission of $B on backy.results" "$T/topic.txt" "backy.results	^[^.]+\.[^.]+\.${B//./:}\.[^.]+$"

check "only the coordinator's user may declare the topology"
if "$MQ_PUBLISH" --declare "$URL_A" "$A" 2>"$T/declare.err"; then
	fail "a storage host's user could declare the topology"
fi
assert_contains "refusal" "$T/declare.err" "403 ACCESS_REFUSED"
"$MQ_PUBLISH" --declare "$BACKY_AMQP_URL_COORDINATOR" "$A" "$B" || fail "the coordinator's user could not declare"
ok "declared with the coordinator's user"

check "pika as a dashboard, as storage host $A and as backyctl"
URL_COORD=$BACKY_AMQP_URL_COORDINATOR URL_CTL=$BACKY_AMQP_URL_CTL URL_DASH=$BACKY_AMQP_URL_DASH \
	URL_A=$URL_A URL_B=$URL_B HOST_A=$A HOST_B=$B \
	timeout 300 "$PYTHON" "$HERE/broker_perms.py" || fail "the broker did not enforce the permissions (see above)"
echo "PASS [$TEST_NAME] in ${SECONDS}s"
