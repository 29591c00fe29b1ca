# rabbit-perms.sh: backy's broker users and their permissions, defined once (sourced).
# shellcheck shell=bash
#
# The broker is not trusted to decide anything, but it can still keep each
# party to its own corner: every role gets its own user, and only the
# coordinator may configure (declare, delete) anything.  This file is the one
# definition of those users.  docs/operations.md ("Broker users and
# permissions") prints the same rabbitmqctl lines, and
# tests/integration/test_broker_perms.sh checks that the two agree and that
# the broker enforces them.
#
#   role          user                 configure        write                          read
#   coordinator   backy-coordinator    ^backy\.         ^(backy\.|amq\.default$)      ^backy\.
#   worker H      backy-worker-H       ^$               ^backy\.(results|workers)$     ^backy\.jobs\.H$
#   ctl           backyctl             ^$               ^backy\.control$               ^$
#   dashboard     backy-dashboard      ^dashboard\.     ^dashboard\.                   ^(backy\.(results|workers)|dashboard\..*)$
#
# plus topic permissions for worker H (H' = H with '.' written as ':'):
#   backy.results  write ^[^.]+\.[^.]+\.H'\.[^.]+$   read ^$   (result key <action>.<outcome>.<host>.<job>)
#   backy.workers  write ^H$                         read ^$   (heartbeat key: the host name)
#
# Functions (no side effects; they print):
#   bk_perm_user ROLE [HOST]         the user name
#   bk_perm_records ROLE [HOST]      "perm<TAB>CONFIGURE<TAB>WRITE<TAB>READ" and
#                                    "topic<TAB>EXCHANGE<TAB>WRITE<TAB>READ" lines
#   bk_perm_commands VHOST ROLE [HOST]   the literal rabbitmqctl lines (add_user reads
#                                    the password from standard input)
#   bk_perm_definitions VHOST SPEC...    a definitions document for
#                                    `rabbitmqctl import_definitions` (one call for any
#                                    number of users: each rabbitmqctl call costs about a
#                                    second); SPEC is ROLE/HOST/PASSWORD (HOST empty
#                                    unless ROLE is worker)
# ROLE is coordinator, worker, ctl or dashboard.  Host names are those backy accepts
# in a queue name: 1 to 200 characters of [A-Za-z0-9._-].

# bk_perm_host_ok HOST: HOST is usable in a queue name, a user name and a pattern
bk_perm_host_ok() { [[ $1 =~ ^[A-Za-z0-9._-]{1,200}$ ]]; }

bk_perm_user()
{
	case $1 in
	coordinator) echo backy-coordinator ;;
	ctl) echo backyctl ;;
	dashboard) echo backy-dashboard ;;
	worker)
		bk_perm_host_ok "${2:-}" || { echo "rabbit-perms: invalid storage host name '${2:-}'" >&2; return 1; }
		echo "backy-worker-$2"
		;;
	*) echo "rabbit-perms: unknown role '$1'" >&2; return 1 ;;
	esac
}

bk_perm_records()
{
	local role=$1 host=${2:-} re key
	case $role in
	coordinator)
		# declares everything, publishes jobs, consumes its queues, holds backy.coordinator.leader;
		# replies to requests through the default exchange (amq.default)
		printf 'perm\t%s\t%s\t%s\n' '^backy\.' '^(backy\.|amq\.default$)' '^backy\.'
		;;
	worker)
		bk_perm_host_ok "$host" || { echo "rabbit-perms: invalid storage host name '$host'" >&2; return 1; }
		re=${host//./\\.}   # the only regex metacharacter a host name can hold
		key=${host//./:}    # how a host is written inside a result routing key
		printf 'perm\t%s\t%s\t%s\n' '^$' '^backy\.(results|workers)$' "^backy\\.jobs\\.$re\$"
		printf 'topic\t%s\t%s\t%s\n' backy.results "^[^.]+\\.[^.]+\\.$key\\.[^.]+\$" '^$'
		printf 'topic\t%s\t%s\t%s\n' backy.workers "^$re\$" '^$'
		;;
	ctl)
		printf 'perm\t%s\t%s\t%s\n' '^$' '^backy\.control$' '^$'
		;;
	dashboard)
		# its own queues (and exchanges) named dashboard.*, bound to backy.results
		# (results) and backy.workers (heartbeats with the progress of running jobs)
		printf 'perm\t%s\t%s\t%s\n' '^dashboard\.' '^dashboard\.' '^(backy\.(results|workers)|dashboard\..*)$'
		;;
	*) echo "rabbit-perms: unknown role '$role'" >&2; return 1 ;;
	esac
}

bk_perm_commands()
{
	local vhost=$1 role=$2 host=${3:-} user records kind a b c
	user=$(bk_perm_user "$role" "$host") || return 1
	records=$(bk_perm_records "$role" "$host") || return 1
	echo "rabbitmqctl add_user $user"
	while IFS=$'\t' read -r kind a b c; do
		case $kind in
		perm) echo "rabbitmqctl set_permissions -p $vhost $user '$a' '$b' '$c'" ;;
		topic) echo "rabbitmqctl set_topic_permissions -p $vhost $user $a '$b' '$c'" ;;
		esac
	done <<<"$records"
}

# _bk_json STRING: STRING as a JSON string (the names and patterns here need only \ and ")
_bk_json()
{
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}

bk_perm_definitions()
{
	local vhost=$1 spec role host pass user records kind a b c
	local users=() perms=() topics=()
	shift
	for spec in "$@"; do
		IFS=/ read -r role host pass <<<"$spec"
		user=$(bk_perm_user "$role" "$host") || return 1
		records=$(bk_perm_records "$role" "$host") || return 1
		users+=("{\"name\":$(_bk_json "$user"),\"password\":$(_bk_json "$pass"),\"tags\":[]}")
		while IFS=$'\t' read -r kind a b c; do
			case $kind in
			perm)
				perms+=("{\"user\":$(_bk_json "$user"),\"vhost\":$(_bk_json "$vhost"),\"configure\":$(_bk_json "$a"),\"write\":$(_bk_json "$b"),\"read\":$(_bk_json "$c")}")
				;;
			topic)
				topics+=("{\"user\":$(_bk_json "$user"),\"vhost\":$(_bk_json "$vhost"),\"exchange\":$(_bk_json "$a"),\"write\":$(_bk_json "$b"),\"read\":$(_bk_json "$c")}")
				;;
			esac
		done <<<"$records"
	done
	local IFS=,
	printf '{"users":[%s],"permissions":[%s],"topic_permissions":[%s]}\n' \
		"${users[*]}" "${perms[*]}" "${topics[*]}"
}
