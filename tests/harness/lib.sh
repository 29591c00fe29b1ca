# Common helpers for the backy service harness (sourced, not executed).
# The caller sets ME (script name used as log prefix) before sourcing.
# shellcheck shell=bash

: "${ME:=harness}"
HARNESS_T0=$(date +%s.%N)
# never fail silently under set -e: name the failing command
set -o errtrace
trap 'echo "$ME: ERROR: command failed (rc=$?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR

log()  { printf '%s: %s\n' "$ME" "$*" >&2; }
die()  { printf '%s: ERROR: %s\n' "$ME" "$*" >&2; exit 1; }
now()  { date +%s.%N; }
# elapsed [T0] -> seconds since T0 (default: script start), one decimal
elapsed() { awk -v a="${1:-$HARNESS_T0}" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

# abs_dir DIR -> absolute path (the directory need not exist)
abs_dir() {
	case $1 in
	/*) printf '%s\n' "${1%/}" ;;
	*)  printf '%s/%s\n' "$PWD" "${1%/}" ;;
	esac
}

# safe_dir DIR: refuse to rm -rf obviously wrong directories
safe_dir() {
	case $1 in
	/|/tmp|/root|/home|/usr|/var|/etc|/opt|/srv|/work|"") die "refusing to use '$1' as a harness directory" ;;
	esac
}

# proc_stat_field PID N -> field N (1 = state, 2 = ppid) after "pid (comm) "; no fork
proc_stat_field() {
	local line f
	{ read -r line < "/proc/$1/stat"; } 2>/dev/null || return 1
	line=${line##*) }
	read -r -a f <<<"$line"
	printf '%s\n' "${f[$(($2 - 1))]:-}"
}

# pid_alive PID: process exists and is not a zombie (zombies are not reaped by
# every init; kill -0 would call them alive forever)
pid_alive() {
	local pid=$1 line st
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	{ read -r line < "/proc/$pid/stat"; } 2>/dev/null || return 1
	line=${line##*) }
	st=${line%% *}
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# has_marker PID MARKER: the process environment contains the exact entry MARKER
has_marker() {
	local pid=$1 marker=$2
	grep -qzxF -- "$marker" "/proc/$pid/environ" 2>/dev/null
}

# marked_pids MARKER: live (non-zombie) processes that carry MARKER in their environment,
# excluding this shell and its ancestors.
marked_pids() {
	local marker=$1 p anc=" " q=$BASHPID
	while [ -n "$q" ] && [ "$q" != 0 ]; do
		anc+="$q "
		q=$(proc_stat_field "$q" 2 || true)
	done
	# one grep over all environments (-z: NUL-separated entries, -x: whole entry)
	# (grep exits 2 when a process vanished while scanning: not an error here)
	local files
	files=$(grep -lzxF -- "$marker" /proc/[0-9]*/environ 2>/dev/null || true)
	for p in $files; do
		p=${p#/proc/}; p=${p%/environ}
		case $anc in *" $p "*) continue ;; esac
		if pid_alive "$p"; then printf '%s\n' "$p"; fi
	done
	return 0
}

# read_pid FILE -> pid or empty
read_pid() { [ -r "$1" ] && tr -dc '0-9' < "$1" || true; }

# owned_pid FILE MARKER -> pid from FILE if it is alive and carries MARKER
owned_pid() {
	local pid
	pid=$(read_pid "$1")
	if [ -n "$pid" ] && pid_alive "$pid" && has_marker "$pid" "$2"; then
		printf '%s\n' "$pid"
	fi
}

# wait_gone TIMEOUT PID...: wait until none of the PIDs is alive; 1 on timeout
wait_gone() {
	local t=$1; shift
	local deadline=$(( $(date +%s) + t )) p any
	while :; do
		any=0
		for p in "$@"; do [ -n "$p" ] && pid_alive "$p" && any=1 && break; done
		((any)) || return 0
		(( $(date +%s) < deadline )) || return 1
		sleep 0.1
	done
}

# alive_of PID... -> the PIDs that are still alive
alive_of() { local p; for p in "$@"; do [ -n "$p" ] && pid_alive "$p" && printf '%s ' "$p"; done; true; }

# kill_hard LABEL PID...: SIGKILL what is still alive and wait 5 s; 1 if something survives
kill_hard() {
	local label=$1; shift
	local a; a=$(alive_of "$@")
	[ -n "$a" ] || return 0
	log "$label: sending SIGKILL to $a"
	# shellcheck disable=SC2086
	kill -KILL $a 2>/dev/null || true
	# shellcheck disable=SC2086
	wait_gone 5 $a && return 0
	log "$label: pids $(alive_of "$@")survived SIGKILL"
	return 1
}

# stop_pids TIMEOUT LABEL PID...: SIGTERM, wait up to TIMEOUT s, then SIGKILL.
stop_pids() {
	local t=$1 label=$2; shift 2
	local a; a=$(alive_of "$@")
	[ -n "$a" ] || return 0
	# shellcheck disable=SC2086
	kill -TERM $a 2>/dev/null || true
	# shellcheck disable=SC2086
	wait_gone "$t" $a && return 0
	log "$label: still running after ${t}s"
	# shellcheck disable=SC2086
	kill_hard "$label" $a
}

# port_in_use PORT: something listens on 127.0.0.1/any address at TCP PORT
port_in_use() { [ -n "$(ss -ltnH "sport = :$1" 2>/dev/null)" ]; }

# port_holders PORT -> human-readable description of the listeners
port_holders() { ss -ltnpH "sport = :$1" 2>/dev/null | awk '{ $1=$2=$3=""; print }' | sed 's/^ *//'; }

# check_ports_free NAME=PORT...: fail with a clear message if any port is taken
check_ports_free() {
	local kv bad=0
	for kv in "$@"; do
		local name=${kv%%=*} port=${kv#*=}
		[[ $port =~ ^[0-9]+$ ]] || die "$name: invalid port '$port'"
		if port_in_use "$port"; then
			log "port $port ($name) is already in use: $(port_holders "$port" | tr '\n' ' ')"
			bad=1
		fi
	done
	((bad == 0)) || die "required TCP port(s) taken; stop the other instance or choose other ports via the environment"
}

# tail_logs N FILE...: print the last N lines of each existing file to stderr
tail_logs() {
	local n=$1 f; shift
	for f in "$@"; do
		[ -s "$f" ] || continue
		printf '%s: ---- last %s lines of %s ----\n' "$ME" "$n" "$f" >&2
		tail -n "$n" "$f" | sed 's/^/    /' >&2
	done
}

# wait_for TIMEOUT WHAT CMD...: run CMD until it succeeds; 0 on success, 1 on timeout.
wait_for() {
	local t=$1 what=$2; shift 2
	local deadline=$(( $(date +%s) + t ))
	until "$@"; do
		if (( $(date +%s) >= deadline )); then
			log "timed out after ${t}s waiting for $what"
			return 1
		fi
		sleep 0.3
	done
}

# mark_self VALUE SCRIPT ARGS...: re-exec SCRIPT with BACKY_HARNESS_ID=VALUE in its
# environment, so that the script itself (not only the daemons it starts) can be found
# and stopped by the down scripts if its caller was killed while it was running.
mark_self() {
	local v=$1 script=$2; shift 2
	if [ "${BACKY_HARNESS_ID:-}" != "$v" ]; then
		BACKY_HARNESS_ID=$v exec bash "$script" "$@"
	fi
}

# kill_marked_scripts MARKER: SIGKILL harness scripts (orphaned *-up.sh / rabbit-restart.sh
# of a killed run) that carry MARKER, so they cannot race with a new run.
kill_marked_scripts() {
	local marker=$1 p cmd victims=()
	for p in $(marked_pids "$marker"); do
		cmd=$({ tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null || true)
		case $cmd in
		*/ceph-up.sh*|*/rabbit-up.sh*|*/rabbit-restart.sh*) victims+=("$p") ;;
		esac
	done
	((${#victims[@]})) || return 0
	log "killing harness script(s) of an earlier run still running: ${victims[*]}"
	kill -KILL "${victims[@]}" 2>/dev/null || true
	wait_gone 5 "${victims[@]}" || true
}
