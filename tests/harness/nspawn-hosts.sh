#!/usr/bin/env bash
# Test hosts on one machine: systemd-nspawn containers booting the machine's own
# Debian (an overlay of / per host, the upper layer on a tmpfs, so nothing the
# hosts install or write reaches the machine), each with real systemd as PID 1,
# its own network namespace and address, and sshd for Ansible.
#
# Usage:
#   nspawn-hosts.sh up DIR SPEC...   boot one host per SPEC = NAME,IP[,bind=SRC:DST]...
#                                    (IP in 10.200.0.0/24, not .254); returns when
#                                    every host answers ssh
#   nspawn-hosts.sh run DIR CMD...   run CMD where the hosts are reachable (the
#                                    "lan" network namespace, address 10.200.0.254)
#   nspawn-hosts.sh down DIR         power the hosts off, unmount, delete namespaces
# Writes DIR/id_ed25519 (root's throw-away key on every host), DIR/ssh_config (ssh -F
# DIR/ssh_config NAME reaches host NAME as root),
# DIR/hosts ("NAME IP" lines), DIR/NAME/console (the boot log) and DIR/NAME/root
# (the host's root, also writable from outside while it runs).
# The hosts boot backy-testhost.target (basic.target and ssh.service), not the
# machine's default target, so services enabled on the machine stay off until a
# playbook starts them.  Every host's /etc/hosts names all hosts.
# Needs root, systemd-container and openssh-server (tests/harness/install.sh);
# the machine itself needs no running systemd.
set -euo pipefail
ME=nspawn-hosts.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

cmd=${1:-}
D=$(abs_dir "${2:-}")
[[ -n ${2:-} ]] || die "usage: nspawn-hosts.sh up|run|down DIR ..."
safe_dir "$D"
shift 2
# one namespace name per DIR, so that two runs in different DIRs never meet
LAN=bkh$(printf '%s' "$D" | cksum | cut -c1-8)

ssh_config() {
	local name ip
	while read -r name ip; do printf 'Host %s\n  HostName %s\n' "$name" "$ip"; done <"$D/hosts" >"$D/ssh_config"
	cat >>"$D/ssh_config" <<EOF
Host *
  User root
  IdentityFile $D/id_ed25519
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
  ConnectTimeout 5
EOF
}

# prepare_root NAME: the overlay's upper layer, written before the boot
prepare_root() {
	local name=$1 r=$D/$1/root h ip
	echo "$name" >"$r/etc/hostname"
	rm -f "$r/etc/machine-id"
	systemd-machine-id-setup --root="$r" >/dev/null 2>&1
	{
		echo "127.0.0.1 localhost"
		echo "127.0.1.1 $name"
		while read -r h ip; do echo "$ip $h"; done <"$D/hosts"
	} >"$r/etc/hosts"
	install -d -m 0700 "$r/root/.ssh"
	cp "$D/id_ed25519.pub" "$r/root/.ssh/authorized_keys"
	cat >"$r/etc/systemd/system/backy-testhost.target" <<'EOF'
[Unit]
Description=backy test host (tests/harness/nspawn-hosts.sh)
Requires=basic.target
Wants=ssh.service
After=basic.target ssh.service
AllowIsolate=yes
EOF
	ln -sf backy-testhost.target "$r/etc/systemd/system/default.target"
}

up() {
	local spec name ip binds part i=0 pid t0
	(($#)) || die "usage: nspawn-hosts.sh up DIR NAME,IP[,bind=SRC:DST]..."
	command -v systemd-nspawn >/dev/null || die "systemd-nspawn not found: install systemd-container"
	command -v sshd >/dev/null || die "sshd not found: install openssh-server"
	[[ ! -e $D ]] || down || die "could not clean the leftovers in $D"
	mkdir -p "$D"
	ssh-keygen -q -t ed25519 -N '' -C "backy test hosts" -f "$D/id_ed25519"
	: >"$D/hosts"
	for spec in "$@"; do
		IFS=, read -r name ip _ <<<"$spec"
		[[ $name =~ ^[a-z][a-z0-9-]{0,30}$ && $ip =~ ^10\.200\.0\.([0-9]{1,3})$ ]] ||
			die "bad host spec '$spec' (NAME,10.200.0.N[,bind=SRC:DST]...)"
		echo "$name $ip" >>"$D/hosts"
	done
	ssh_config
	ip netns add "$LAN"
	ip -n "$LAN" link set lo up
	ip -n "$LAN" link add br0 type bridge
	ip -n "$LAN" addr add 10.200.0.254/24 dev br0
	ip -n "$LAN" link set br0 up
	for spec in "$@"; do
		IFS=, read -r name ip binds <<<"$spec"
		i=$((i + 1))
		ip netns add "$LAN-$name"
		ip -n "$LAN" link add "v$i" type veth peer name host0 netns "$LAN-$name"
		ip -n "$LAN" link set "v$i" master br0 up
		ip -n "$LAN-$name" link set lo up
		ip -n "$LAN-$name" addr add "$ip/24" dev host0
		ip -n "$LAN-$name" link set host0 up
		mkdir -p "$D/$name/t" "$D/$name/root"
		mount -t tmpfs -o size=2g,mode=0755 "bkh-$name" "$D/$name/t"
		mkdir "$D/$name/t/upper" "$D/$name/t/work"
		mount -t overlay "bkh-$name" -o "lowerdir=/,upperdir=$D/$name/t/upper,workdir=$D/$name/t/work" "$D/$name/root"
		prepare_root "$name"
		local args=()
		IFS=, read -ra part <<<"$binds"
		for b in "${part[@]}"; do
			[[ $b == bind=*:* ]] || die "bad option '$b' in '$spec'"
			args+=("--bind=${b#bind=}")
		done
		setsid systemd-nspawn -q -D "$D/$name/root" -M "$name" -b --register=no --keep-unit \
			--link-journal=no --console=read-only --network-namespace-path="/run/netns/$LAN-$name" \
			"${args[@]}" >"$D/$name/console" 2>&1 </dev/null &
		echo $! >"$D/$name/pid"
	done
	t0=$(now)
	while read -r name ip; do
		pid=$(read_pid "$D/$name/pid")
		ssh_up() { ip netns exec "$LAN" ssh -F "$D/ssh_config" "$1" true 2>/dev/null; }
		pid_alive "$pid" || { tail_logs 30 "$D/$name/console"; die "host $name did not boot"; }
		wait_for 120 "ssh on $name ($ip)" ssh_up "$ip" || { tail_logs 30 "$D/$name/console"; die "host $name is not reachable"; }
	done <"$D/hosts"
	log "$(wc -l <"$D/hosts") hosts up in $(elapsed "$t0") s (run commands with: nspawn-hosts.sh run $D CMD)"
}

down() {
	local name ip pid pids=() rc=0
	if [[ -r $D/hosts ]]; then
		while read -r name ip; do
			pid=$(read_pid "$D/$name/pid")
			# SIGTERM makes systemd-nspawn power the container off
			[[ -n $pid ]] && pid_alive "$pid" && kill -TERM "$pid" && pids+=("$pid")
		done <"$D/hosts"
		if ((${#pids[@]})) && ! wait_gone 60 "${pids[@]}"; then
			kill_hard "nspawn hosts" "${pids[@]}" || rc=1
		fi
		while read -r name ip; do
			mountpoint -q "$D/$name/root" && { umount "$D/$name/root" || rc=1; }
			mountpoint -q "$D/$name/t" && { umount "$D/$name/t" || rc=1; }
			[[ -e /run/netns/$LAN-$name ]] && { ip netns del "$LAN-$name" || rc=1; }
		done <"$D/hosts"
	fi
	[[ -e /run/netns/$LAN ]] && { ip netns del "$LAN" || rc=1; }
	((rc == 0)) || return 1
	rm -rf "$D"
}

case $cmd in
up) up "$@" ;;
run) exec ip netns exec "$LAN" "$@" ;;
down) down ;;
*) die "usage: nspawn-hosts.sh up|run|down DIR ..." ;;
esac
