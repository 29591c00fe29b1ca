# RabbitMQ helpers shared by rabbit-up.sh, rabbit-down.sh and rabbit-restart.sh (sourced).
# shellcheck shell=bash

RABBIT_BIN=/usr/lib/rabbitmq/bin   # NOT /usr/sbin/rabbitmq*: as root those `su rabbitmq`
RABBIT_VHOST=ci
# shellcheck source=rabbit-perms.sh
. "$(dirname "${BASH_SOURCE[0]}")/rabbit-perms.sh"

# rabbit_settings DIR: set DIR, PORT, EPMD_PORT, DIST_PORT, MGMT, MGMT_PORT, NODE, MARKER.
# Values saved in DIR/settings by rabbit-up.sh win over the environment, so that
# down/restart act on the instance that was actually started.
rabbit_settings() {
	DIR=$(abs_dir "${1:-/tmp/backy-test/rabbit}")
	safe_dir "$DIR"
	PORT=${RABBIT_PORT:-5673}
	EPMD_PORT=${RABBIT_EPMD_PORT:-4370}
	DIST_PORT=${RABBIT_DIST_PORT:-$((PORT + 20000))}
	MGMT=${RABBIT_MANAGEMENT:-0}
	MGMT_PORT=${RABBIT_MGMT_PORT:-15673}
	NODE=${RABBIT_NODENAME:-rabbit-ci@localhost}
	CONSUMER_TIMEOUT=${RABBIT_CONSUMER_TIMEOUT_MS:-}
	if [ -r "$DIR/settings" ]; then
		# shellcheck disable=SC1091
		. "$DIR/settings"
	fi
	MARKER="BACKY_HARNESS_ID=rabbit:$DIR"
}

rabbit_save_settings() {
	cat > "$DIR/settings" <<S
PORT=$PORT
EPMD_PORT=$EPMD_PORT
DIST_PORT=$DIST_PORT
MGMT=$MGMT
MGMT_PORT=$MGMT_PORT
NODE=$NODE
CONSUMER_TIMEOUT=$CONSUMER_TIMEOUT
S
}

# rabbit_export_env: the environment shared by server and CLI
rabbit_export_env() {
	export HOME=$DIR/home                     # Erlang cookie: server and CLI must share it
	export RABBITMQ_NODENAME=$NODE
	export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$PORT
	export RABBITMQ_DIST_PORT=$DIST_PORT
	export ERL_EPMD_PORT=$EPMD_PORT ERL_EPMD_ADDRESS=127.0.0.1   # private epmd, loopback only
	export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
	export RABBITMQ_CONF_ENV_FILE=$DIR/rabbitmq-env.conf      # ignore /etc/rabbitmq/rabbitmq-env.conf
	export RABBITMQ_CONFIG_FILE=$DIR/rabbitmq.conf RABBITMQ_ADVANCED_CONFIG_FILE=$DIR/advanced.config
	export RABBITMQ_ENABLED_PLUGINS_FILE=$DIR/enabled_plugins
	export RABBITMQ_MNESIA_BASE=$DIR/mnesia RABBITMQ_LOG_BASE=$DIR/log RABBITMQ_PID_FILE=$DIR/rabbit.pid
	case ":$PATH:" in *":$RABBIT_BIN:"*) ;; *) export PATH=$RABBIT_BIN:$PATH ;; esac
}

rabbit_write_config() {
	mkdir -p "$DIR/home" "$DIR/mnesia" "$DIR/log"
	: > "$DIR/rabbitmq-env.conf"
	{
		echo "listeners.tcp.1 = 127.0.0.1:$PORT"
		echo "loopback_users = none"
		echo "log.console = false"
		echo "log.file.level = info"
		echo "disk_free_limit.absolute = 10MB"
		echo "management.tcp.ip = 127.0.0.1"
		echo "management.tcp.port = $MGMT_PORT"
		echo "default_vhost = $RABBIT_VHOST"
		echo "default_user = ciuser"
		echo "default_pass = cipass"
		echo "default_user_tags.administrator = true"
		echo "default_permissions.configure = .*"
		echo "default_permissions.read = .*"
		echo "default_permissions.write = .*"
		[ -z "$CONSUMER_TIMEOUT" ] || echo "consumer_timeout = $CONSUMER_TIMEOUT"
		# the role users (rabbit-perms.sh), created at boot: no rabbitmqctl call needed
		echo "load_definitions = $DIR/definitions.json"
	} > "$DIR/rabbitmq.conf"
	rabbit_write_definitions
	echo '[].' > "$DIR/advanced.config"
	if [ "$MGMT" = 1 ]; then
		echo '[rabbitmq_management].' > "$DIR/enabled_plugins"
	else
		echo '[].' > "$DIR/enabled_plugins"
	fi
}

# rabbit_password USER: the password of USER on this broker, derived from DIR/secret
# (made by rabbit_write_definitions), so every harness script computes the same one
rabbit_password() {
	local secret
	secret=$(cat "$DIR/secret") || return 1
	printf '%s:%s' "$secret" "$1" | sha256sum | cut -c1-32
}

# rabbit_url USER: the AMQP URL of USER on this broker
rabbit_url() {
	local pw
	pw=$(rabbit_password "$1") || return 1
	printf 'amqp://%s:%s@127.0.0.1:%s/%s\n' "$1" "$pw" "$PORT" "$RABBIT_VHOST"
}

# rabbit_write_definitions: DIR/secret and DIR/definitions.json, loaded at boot: the
# vhost, the harness administrator ciuser (harness checks and "compromised broker"
# probes only) and backy's coordinator, backyctl and dashboard users
rabbit_write_definitions() {
	local defs spec=() role user admin adminperm
	if [ ! -s "$DIR/secret" ]; then
		(umask 077; head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/secret")
	fi
	for role in coordinator ctl dashboard; do
		user=$(bk_perm_user "$role")
		spec+=("$role//$(rabbit_password "$user")")
	done
	defs=$(bk_perm_definitions "$RABBIT_VHOST" "${spec[@]}")
	admin='{"name":"ciuser","password":"cipass","tags":["administrator"]}'
	adminperm="{\"user\":\"ciuser\",\"vhost\":\"$RABBIT_VHOST\",\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}"
	defs=${defs/'{"users":['/"{\"vhosts\":[{\"name\":\"$RABBIT_VHOST\"}],\"users\":[$admin,"}
	defs=${defs/'"permissions":['/"\"permissions\":[$adminperm,"}
	(umask 077; printf '%s\n' "$defs" > "$DIR/definitions.json")
}

rabbit_ports() {
	local p=("rabbit amqp=$PORT" "rabbit erlang dist=$DIST_PORT" "rabbit epmd=$EPMD_PORT")
	[ "$MGMT" != 1 ] || p+=("rabbit management=$MGMT_PORT")
	check_ports_free "${p[@]}"
}

# rabbit_start: start the broker in DIR (config must exist) and wait until it is ready
rabbit_start() {
	local tmo=${RABBIT_UP_TIMEOUT:-120} t0 sh
	t0=$(now)
	rabbit_ports
	rabbit_export_env
	export BACKY_HARNESS_ID="rabbit:$DIR"   # marker inherited by beam, epmd and friends
	rm -f "$DIR/rabbit.pid" "$DIR/epmd.pid"
	setsid "$RABBIT_BIN/rabbitmq-server" >> "$DIR/log/server.out" 2>&1 < /dev/null &
	sh=$!
	echo "$sh" > "$DIR/server-sh.pid"
	# await_startup fails at once (rc 69) until the node registered with epmd: retry
	local deadline=$(( $(date +%s) + tmo ))
	until timeout 70 rabbitmqctl -n "$NODE" await_startup --timeout 60 >> "$DIR/log/cli.out" 2>&1; do
		if ! pid_alive "$sh"; then
			log "rabbitmq-server exited during startup"
			tail_logs 30 "$DIR/log/server.out" "$DIR"/log/"${NODE}".log "$DIR/log/cli.out"
			return 1
		fi
		if (( $(date +%s) >= deadline )); then
			log "timed out after ${tmo}s waiting for the broker (rabbitmqctl await_startup)"
			tail_logs 30 "$DIR/log/server.out" "$DIR"/log/"${NODE}".log "$DIR/log/cli.out"
			return 1
		fi
		sleep 0.5
	done
	port_up() { port_in_use "$1"; }
	wait_for 20 "AMQP listener on 127.0.0.1:$PORT" port_up "$PORT" || return 1
	if [ "$MGMT" = 1 ]; then
		wait_for 30 "management listener on 127.0.0.1:$MGMT_PORT" port_up "$MGMT_PORT" || return 1
	fi
	# record our epmd (Erlang daemonises it; it outlives the broker)
	local epmd
	epmd=$(ss -ltnpH "sport = :$EPMD_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true)
	if [ -n "$epmd" ] && has_marker "$epmd" "$MARKER"; then
		echo "$epmd" > "$DIR/epmd.pid"
	else
		log "warning: epmd on port $EPMD_PORT (pid ${epmd:-?}) was not started by us"
	fi
	log "broker $NODE up on 127.0.0.1:$PORT in $(elapsed "$t0") s (beam pid $(read_pid "$DIR/rabbit.pid"))"
}

rabbit_write_env() {
	local q=\$
	cat > "$DIR/env.tmp" <<ENV
# generated by tests/harness/rabbit-up.sh; source me
# administrator: harness checks and "compromised broker" probes only
export BACKY_AMQP_URL=amqp://ciuser:cipass@127.0.0.1:$PORT/$RABBIT_VHOST
# backy's roles (tests/harness/rabbit-perms.sh); a storage host's user comes from
# tests/harness/rabbit-worker-user.sh HOST
export BACKY_AMQP_URL_COORDINATOR=$(rabbit_url backy-coordinator)
export BACKY_AMQP_URL_CTL=$(rabbit_url backyctl)
export BACKY_AMQP_URL_DASH=$(rabbit_url backy-dashboard)
export BACKY_RABBIT_VHOST=$RABBIT_VHOST
export BACKY_RABBIT_DIR=$DIR
export BACKY_RABBIT_PORT=$PORT
# what rabbitmqctl / rabbitmq-diagnostics need to reach this node
export HOME=$DIR/home
export RABBITMQ_NODENAME=$NODE
export ERL_EPMD_PORT=$EPMD_PORT
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_CONF_ENV_FILE=$DIR/rabbitmq-env.conf
case ":${q}PATH:" in *":$RABBIT_BIN:"*) ;; *) export PATH="$RABBIT_BIN:${q}PATH" ;; esac
ENV
	if [ "$MGMT" = 1 ]; then
		echo "export BACKY_RABBIT_MGMT_URL=http://ciuser:cipass@127.0.0.1:$MGMT_PORT" >> "$DIR/env.tmp"
	fi
	mv "$DIR/env.tmp" "$DIR/env"
}

# rabbit_stop: stop broker + our epmd, keep DIR. 0 on success.
rabbit_stop() {
	local tmo=${RABBIT_STOP_TIMEOUT:-30} rc=0 p
	# 1. read pids FIRST: RabbitMQ deletes its pid file when it stops
	local beam sh epmd
	beam=$(owned_pid "$DIR/rabbit.pid" "$MARKER")
	sh=$(owned_pid "$DIR/server-sh.pid" "$MARKER")
	epmd=$(owned_pid "$DIR/epmd.pid" "$MARKER")
	for p in $(marked_pids "$MARKER"); do
		case $(cat "/proc/$p/comm" 2>/dev/null) in
		beam.smp) [ -n "$beam" ] || beam=$p ;;
		epmd) [ -n "$epmd" ] || epmd=$p ;;
		rabbitmq-server) [ -n "$sh" ] || sh=$p ;;
		esac
	done
	if [ -n "$sh$beam" ]; then
		# 2. SIGTERM to the sh wrapper: it turns it into a clean broker stop
		if [ -n "$sh" ]; then kill -TERM "$sh" 2>/dev/null || true
		else kill -TERM "$beam" 2>/dev/null || true; fi
		# 3. wait for both
		local t; t=$(now)
		# shellcheck disable=SC2086
		if ! wait_gone "$tmo" $sh $beam; then
			log "broker still running after ${tmo}s"
			# shellcheck disable=SC2086
			kill_hard broker $sh $beam || rc=1
		fi
		log "broker stopped in $(elapsed "$t") s"
	fi
	# 4. our epmd outlives the broker
	if [ -n "$epmd" ]; then
		ERL_EPMD_ADDRESS=127.0.0.1 timeout 10 epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true
		wait_gone 5 "$epmd" || stop_pids 5 epmd "$epmd" || rc=1
	fi
	local rest
	rest=$(marked_pids "$MARKER" | tr '\n' ' ')
	if [ -n "${rest// /}" ]; then
		log "stopping other leftover processes of ours: $rest($(ps -o comm= -p "$(echo $rest | tr ' ' ,)" 2>/dev/null | tr '\n' ' '))"
		# shellcheck disable=SC2086
		stop_pids 5 leftovers $rest || rc=1
	fi
	rm -f "$DIR/rabbit.pid" "$DIR/server-sh.pid" "$DIR/epmd.pid" "$DIR/env"
	return $rc
}
