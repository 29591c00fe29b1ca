#!/usr/bin/env bash
# ansible/ for real (issue 13): ansible-lint and --syntax-check are clean; site.yml
# applied to three test hosts (tests/harness/nspawn-hosts.sh: systemd-nspawn
# containers with real systemd, each with its own network address, /etc/backy,
# base directory and services), one broker and coordinator host and two storage
# hosts, installs the packages built from this tree; the broker's users and
# permissions are exactly those of tests/harness/rabbit-perms.sh; backups asked
# for with backyctl run through that fleet with the per-role broker users and
# restore to the source; a second apply changes nothing; a broken worker and
# coordinator config is refused by the roles' validation and the running
# services keep theirs.
#
# Packages: BACKY_DEB_DIR (a directory with backy_*.deb, backy-worker_*.deb and
# backy-coordinator_*.deb), else built from this tree (tests/harness/build-debs.sh).
# Fails, never skips, without them, ansible, ansible-lint, systemd-nspawn or sshd.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
TOP=$(cd "$HERE/../.." && pwd)
need_tool ansible-playbook ansible-lint systemd-nspawn sshd ssh-keygen ip sha256sum
# shellcheck source=../harness/rabbit-perms.sh
. "$TOP/tests/harness/rabbit-perms.sh"

check "ansible-lint and ansible-playbook --syntax-check"
(cd "$TOP/ansible" && ansible-lint --nocolor -q) >"$T/lint.log" 2>&1 || fail "ansible-lint: $(tail -n 30 "$T/lint.log")"
(cd "$TOP/ansible" && ansible-playbook --syntax-check -i inventory/example site.yml) >"$T/syntax.log" 2>&1 ||
	fail "syntax check: $(cat "$T/syntax.log")"
ok "clean"

check "the packages"
if [[ -n ${BACKY_DEB_DIR:-} ]]; then
	DEBS=$(realpath "$BACKY_DEB_DIR")
	info "from BACKY_DEB_DIR=$DEBS"
elif [[ -x $TOP/tests/harness/build-debs.sh ]]; then
	need_tool dpkg-buildpackage
	"$TOP/tests/harness/build-debs.sh" "$T/debs" >/dev/null || fail "tests/harness/build-debs.sh failed (see above)"
	DEBS=$T/debs
	info "built from this tree with tests/harness/build-debs.sh in $SECONDS s"
else
	fail "no packages: BACKY_DEB_DIR is not set and the tree has no tests/harness/build-debs.sh (packaging, debian/)"
fi
for p in backy backy-worker backy-coordinator; do
	compgen -G "$DEBS/${p}_*.deb" >/dev/null || fail "no ${p}_*.deb in $DEBS"
done
ok "$(cd "$DEBS" && echo backy*.deb)"

check "three test hosts: coord (broker and coordinator), stor-a and stor-b (storage, XFS base directories)"
mkfs_loop xfs 1G
XFS=$LOOP_MNT
mkdir "$XFS/stor-a" "$XFS/stor-b"
H=$T/hosts
at_exit "'$TOP/tests/harness/nspawn-hosts.sh' down '$H' >/dev/null"
"$TOP/tests/harness/nspawn-hosts.sh" up "$H" coord,10.200.0.1 \
	"stor-a,10.200.0.2,bind=$XFS/stor-a:/srv/backy" "stor-b,10.200.0.3,bind=$XFS/stor-b:/srv/backy" ||
	fail "the test hosts did not come up"
on() { "$TOP/tests/harness/nspawn-hosts.sh" run "$H" ssh -F "$H/ssh_config" "$@"; }
for h in stor-a stor-b; do
	mkdir -p "$H/$h/root/srv/images"
	head -c 24M /dev/urandom >"$H/$h/root/srv/images/vm-$h.img"
done
ok "up"

pw() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
mkdir "$T/inventory"
cat >"$T/inventory/hosts.yml" <<EOF
all:
  vars:
    ansible_user: root
    backy_package_dir: $DEBS
    backy_amqp_host: coord
    backy_coordinator_amqp_password: $(pw)
    backyctl_amqp_password: $(pw)
    backy_dashboard_amqp_password: $(pw)
  children:
    backy_broker:
      hosts:
        coord: {ansible_host: 10.200.0.1}
    backy_coordinator:
      hosts:
        coord:
      vars:
        backy_schedules:
          default: {daily: {interval: 1d, keep: 7}}
        backy_jobs:
          vm-stor-a: {schedule: default, host: stor-a, source: {type: file, filename: /srv/images/vm-stor-a.img}}
          vm-stor-b: {schedule: default, host: stor-b, source: {type: file, filename: /srv/images/vm-stor-b.img}}
    backy_storage:
      hosts:
        stor-a: {ansible_host: 10.200.0.2, backy_worker_amqp_password: $(pw)}
        stor-b: {ansible_host: 10.200.0.3, backy_worker_amqp_password: $(pw)}
      vars:
        backy_worker_allow: {paths: [/srv/images]}
        ceph_client_fsid: $(cat /proc/sys/kernel/random/uuid)
        ceph_client_mon_host: "[v2:10.200.0.1:3300,v1:10.200.0.1:6789]"
        ceph_client_key: $(ceph-authtool --gen-print-key)
EOF
export ANSIBLE_CONFIG=$TOP/ansible/ansible.cfg ANSIBLE_HOME=$T/ansible-home ANSIBLE_LOCAL_TEMP=$T/ansible-tmp
export ANSIBLE_SSH_ARGS="-F $H/ssh_config -o ControlMaster=auto -o ControlPersist=300s"
export ANSIBLE_SSH_CONTROL_PATH_DIR=$T/cp ANSIBLE_NOCOLOR=1 ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks
# play N [ARGS...]: apply site.yml, output in $T/play-N.log
play() {
	local n=$1
	shift
	"$TOP/tests/harness/nspawn-hosts.sh" run "$H" \
		ansible-playbook -i "$T/inventory/hosts.yml" "$TOP/ansible/site.yml" "$@" >"$T/play-$n.log" 2>&1
}
# recap N: the PLAY RECAP lines of play N
recap() { sed -n '/^PLAY RECAP/,$p' "$T/play-$1.log" | grep -E '^(coord|stor-a|stor-b) '; }

check "first apply of site.yml"
t0=$SECONDS
play 1 || fail "site.yml failed: $(tail -n 40 "$T/play-1.log")"
recap 1 | sed 's/^/  /'
ok "applied in $((SECONDS - t0)) s"

check "the services run as their units say"
for u in coord:backy-coordinator:backy coord:rabbitmq-server:rabbitmq stor-a:backy-worker:root stor-b:backy-worker:root; do
	IFS=: read -r h unit user <<<"$u"
	on "$h" systemctl show -p ActiveState -p Type -p MainPID -p UnitFileState "$unit" >"$T/show" || fail "systemctl show $unit on $h"
	grep -qx ActiveState=active "$T/show" || fail "$unit on $h is not active: $(cat "$T/show")"
	grep -qx UnitFileState=enabled "$T/show" || fail "$unit on $h is not enabled: $(cat "$T/show")"
	pid=$(sed -n 's/^MainPID=//p' "$T/show")
	[[ $(on "$h" ps -o user= -p "$pid") == "$user" ]] || fail "$unit on $h does not run as $user"
	ok "$h: $unit active (Type=$(sed -n 's/^Type=//p' "$T/show")), enabled, runs as $user"
done
on stor-a "stat -c '%a %U' /etc/backy/worker.yaml" >"$T/mode"
assert_eq "mode and owner of worker.yaml" "600 root" "$(cat "$T/mode")"
on stor-a ceph-authtool -l /etc/ceph/ceph.client.backup.keyring >"$T/keyring" || fail "no keyring for client.backup"
assert_contains "client.backup keyring" "$T/keyring" 'caps mon = "profile rbd"'

check "the broker's users and permissions are those of tests/harness/rabbit-perms.sh"
{
	for spec in coordinator ctl dashboard worker/stor-a worker/stor-b; do
		IFS=/ read -r role host <<<"$spec"
		user=$(bk_perm_user "$role" "$host")
		bk_perm_records "$role" "$host" | sed "s/^/$user	/"
	done
} | sort >"$T/perms.want"
{
	on coord rabbitmqctl -q --no-table-headers list_permissions -p backy | sed 's/^\([^\t]*\)\t/\1\tperm\t/'
	on coord rabbitmqctl -q --no-table-headers list_topic_permissions -p backy | sed 's/^\([^\t]*\)\t/\1\ttopic\t/'
} | sort >"$T/perms.have"
diff "$T/perms.want" "$T/perms.have" >"$T/perms.diff" || fail "the broker differs from rabbit-perms.sh (< wanted, > broker): $(cat "$T/perms.diff")"
ok "$(wc -l <"$T/perms.have") permissions, identical"
on coord rabbitmqctl -q --no-table-headers list_users >"$T/users"
assert_not_contains "users" "$T/users" guest
on coord rabbitmqctl -q --no-table-headers list_policies -p backy >"$T/policies"
assert_contains "policies" "$T/policies" '"delivery-limit":50'
on coord rabbitmq-plugins -q list -e >"$T/plugins"
assert_contains "plugins" "$T/plugins" rabbitmq_prometheus

check "backups through the fleet: backyctl run (user backyctl), the workers (their own users)"
for h in stor-a stor-b; do
	on coord "set -a; . /etc/backy/backyctl.env; backyctl run vm-$h" || fail "backyctl run vm-$h failed"
done
for h in stor-a stor-b; do
	for _ in $(seq 120); do
		[[ -e $XFS/$h/vm-$h/latest ]] && break
		sleep 0.5
	done
	[[ -e $XFS/$h/vm-$h/latest ]] || fail "no backup of vm-$h on $h within 60 s: $(on "$h" journalctl -u backy-worker --no-pager | tail -n 20)"
	"$BACKY" -b "$XFS/$h/vm-$h" restore -r latest "$T/vm-$h.restored" 2>"$T/last.err" || fail "restore of vm-$h failed"
	cmp "$T/vm-$h.restored" "$H/$h/root/srv/images/vm-$h.img" || fail "the backup of vm-$h differs from its source"
	ok "vm-$h backed up on $h and restored identical"
done
on coord "set -a; . /etc/backy/backyctl.env; backyctl workers" >"$T/workers" || fail "backyctl workers failed"
assert_contains "backyctl workers" "$T/workers" stor-a
assert_contains "backyctl workers" "$T/workers" stor-b

check "a second apply changes nothing"
t0=$SECONDS
play 2 || fail "the second apply failed: $(tail -n 40 "$T/play-2.log")"
recap 2 | sed 's/^/  /'
[[ $(recap 2 | grep -c ' changed=0 ') == 3 ]] || fail "the second apply changed something: $(grep -B3 '^changed:' "$T/play-2.log")"
ok "changed=0 on all three hosts in $((SECONDS - t0)) s"

check "a broken config is refused by the validation and the services keep theirs"
state() { # HOST UNIT FILE: what must not change
	on "$1" "sha256sum $3; systemctl show -p MainPID -p ActiveState -p NRestarts -p ExecMainStartTimestampMonotonic $2"
}
state coord backy-coordinator /etc/backy/backy.yaml >"$T/coord.before"
state stor-a backy-worker /etc/backy/worker.yaml >"$T/stor-a.before"
# one apply per host, side by side: a play whose hosts all failed ends the playbook
play 3 --limit stor-a -e '{"backy_worker_config_extra": {"slots": 0}}' &
p3=$!
play 4 --limit coord -e '{"backy_coordinator_config_extra": {"job-timeout": "soon"}}' &
p4=$!
wait $p3 && fail "site.yml installed a worker config with slots: 0"
wait $p4 && fail "site.yml installed a coordinator config with job-timeout: soon"
assert_contains "the worker's refusal" "$T/play-3.log" "'slots' must be"
assert_contains "the coordinator's refusal" "$T/play-4.log" "'job-timeout' must be"
for n in 3 4; do
	assert_eq "validation failures in apply $n" 1 "$(grep -c '"msg": "failed to validate"' "$T/play-$n.log")"
done
state coord backy-coordinator /etc/backy/backy.yaml >"$T/coord.after"
state stor-a backy-worker /etc/backy/worker.yaml >"$T/stor-a.after"
cmp -s "$T/coord.before" "$T/coord.after" || fail "the coordinator changed: $(diff "$T/coord.before" "$T/coord.after")"
cmp -s "$T/stor-a.before" "$T/stor-a.after" || fail "the worker changed: $(diff "$T/stor-a.before" "$T/stor-a.after")"
ok "backy.yaml and worker.yaml unchanged, the services neither restarted nor reloaded"
on coord "set -a; . /etc/backy/backyctl.env; backyctl run vm-stor-a --tags manual:after" || fail "backyctl run failed"
for _ in $(seq 120); do
	compgen -G "$XFS/stor-a/vm-stor-a/*.rev" | wc -l | grep -qx 2 && break
	sleep 0.5
done
[[ $(compgen -G "$XFS/stor-a/vm-stor-a/*.rev" | wc -l) == 2 ]] || fail "the fleet ran no backup after the refused apply"
ok "the fleet still backs up"
echo "PASS [$TEST_NAME] in ${SECONDS}s"
