#!/usr/bin/env bash
# The backy demo, a small fleet on one machine: build backy, make two demo
# disk images (partition table plus an ext4 file system full of real files,
# made without mounting anything), bring up a private RabbitMQ, a coordinator
# and two workers (storage hosts storage-a and storage-b, each with its own
# base directory on a loop-mounted XFS with reflinks), let the coordinator
# run the scheduled backups, change a disk, ask for a manual backup with
# backyctl, show the fleet status, restore both revisions with backy and
# compare them with the disk as it was, and tear everything down.  Each
# party has its own broker user with least privilege (docs/operations.md,
# "Broker users and permissions"): the coordinator declares the queues, each
# storage host may only read its own and publish under its own name, and
# backyctl may only send requests.
#
# The coordinator runs on a demo clock 120 times faster than real time
# (--time-scale), so the first hourly ideal time of each job comes within
# 30 s; the workers run with simulated-time: true, so the revisions carry
# that clock too.  Run as root on Debian 12; it installs what it needs and
# cleans up after itself.  DEMO_BUILD_DIR (default build/demo) and
# DEMO_RABBIT_DIR (default /tmp/backy-demo-rabbit) let two demos run side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
t_start=$SECONDS
step() { printf '\n\033[1m== %s\033[0m  (+%ss)\n' "$*" "$((SECONDS - t_start))"; }
die() { echo "demo: FAILED: $*" >&2; exit 1; }

step "installing what the demo needs (build deps, RabbitMQ, amqp-tools) and building"
tests/install-deps.sh
tests/harness/install.sh
for p in fdisk xfsprogs curl jq; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" >/dev/null
done
bdir=${DEMO_BUILD_DIR:-build/demo}
cmake -S . -B "$bdir" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$bdir" -j"$(nproc)" --target backy backy-worker backy-coordinator backyctl >/dev/null
bdir=$(realpath "$bdir")
BACKY=$bdir/worker/backy
WORKER=$bdir/worker/backy-worker
COORD=$bdir/coordinator/backy-coordinator
CTL=$bdir/coordinator/backyctl

work=$(mktemp -d /tmp/backy-demo.XXXXXX)
rdir=${DEMO_RABBIT_DIR:-/tmp/backy-demo-rabbit}
mnt=$work/xfs
pids=()
cleanup() {
	local rc=$? p
	set +e
	((rc == 0)) || { echo "demo: logs:" >&2; tail -n 15 "$work"/*.log >&2; }
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do timeout 20 tail --pid="$p" -f /dev/null; kill -9 "$p" 2>/dev/null; done
	[[ -d $rdir ]] && tests/harness/rabbit-down.sh "$rdir" >/dev/null 2>&1
	mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
	rm -rf "$work"
}
trap cleanup EXIT

step "making two 256 MiB demo disks: GPT, one ext4 partition with real files"
mkdisk() { # IMAGE DIR...
	local disk=$1 files=$work/files
	shift
	truncate -s 256M "$disk"
	printf 'label: gpt\nstart=2048, type=linux\n' | sfdisk -q "$disk"
	mkdir "$files"
	cp -r "$@" "$files/" 2>/dev/null || true
	head -c 32M /dev/urandom >"$files/random.bin"
	mkfs.ext4 -q -F -d "$files" "$work/part.img" 250M
	dd if="$work/part.img" of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none
	rm -rf "$files" "$work/part.img"
}
mkdisk "$work/vm-web.img" /usr/share/doc
mkdisk "$work/vm-db.img" /usr/include
sha256sum <"$work/vm-web.img" >"$work/vm-web-v1.sha256"
sfdisk -l "$work/vm-web.img" | tail -2

step "mounting a 2 GiB XFS with reflink=1: base directories of storage-a and storage-b"
truncate -s 2G "$work/xfs.img"
mkfs.xfs -q -m reflink=1 "$work/xfs.img"
mkdir "$mnt"
mount -o loop,discard "$work/xfs.img" "$mnt"
mkdir "$mnt/storage-a" "$mnt/storage-b"

step "starting a private RabbitMQ in $rdir (tests/harness/rabbit-up.sh)"
port=
for p in $(seq 5750 5799); do
	ss -ltnH | grep -qE ":($p|$((p + 20000))|$((p - 5700 + 4400))) " || { port=$p; break; }
done
[[ -n $port ]] || die "no free port for the broker"
RABBIT_PORT=$port RABBIT_EPMD_PORT=$((port - 5700 + 4400)) RABBIT_NODENAME=rabbit-demo@localhost \
	tests/harness/rabbit-up.sh "$rdir" >"$work/rabbit.log" 2>&1 || die "the broker did not start"
# shellcheck disable=SC1091
. "$rdir/env"
# one broker user per storage host (tests/harness/rabbit-worker-user.sh)
mapfile -t wurls < <(tests/harness/rabbit-worker-user.sh storage-a storage-b) || true
((${#wurls[@]} == 2)) || die "could not create the storage hosts' broker users"
declare -A WURL=([storage-a]=${wurls[0]} [storage-b]=${wurls[1]})
echo "broker on 127.0.0.1:$BACKY_RABBIT_PORT, vhost $BACKY_RABBIT_VHOST, users:"
rabbitmqctl -q list_permissions -p "$BACKY_RABBIT_VHOST" | grep -v '^ciuser' | sed 's/^/  /'
# configs hold passwords: shown without them
nopw() { sed -E 's#(amqps?://[^:/]+:)[^@]+@#\1***@#' "$@"; }
sport=
for p in $(seq 16090 16190); do ss -ltnH | grep -q ":$p " || { sport=$p; break; }; done
STATUS=http://127.0.0.1:$sport

step "starting the workers: storage-a and storage-b (they wait for the coordinator to declare their queues)"
for h in storage-a storage-b; do
	cat >"$work/$h.yaml" <<EOF
host: $h
base-dir: $mnt/$h
slots: 2
heartbeat-interval: 2
simulated-time: true   # demo clock: each backup runs at the coordinator's time
allow: {paths: ["$work"]}   # the only sources this host backs up
backy: $BACKY
amqp: {url: "${WURL[$h]}"}
EOF
	"$WORKER" -c "$work/$h.yaml" >"$work/$h.log" 2>&1 &
	pids+=($!)
done
nopw "$work/storage-a.yaml"

step "starting the coordinator: 2 jobs, schedule hourly=1h:24,daily=1d:7, demo clock x120"
cat >"$work/backy.yaml" <<EOF
schedules:
  default:
    hourly: {interval: 1h, keep: 24}
    daily: {interval: 1d, keep: 7}
jobs:
  vm-web: {schedule: default, host: storage-a, source: {type: file, filename: $work/vm-web.img}}
  vm-db: {schedule: default, host: storage-b, source: {type: file, filename: $work/vm-db.img}}
hosts: [storage-a, storage-b]
amqp: {url: "$BACKY_AMQP_URL_COORDINATOR"}
status: {listen: "127.0.0.1:$sport"}
state-file: $work/coordinator.state
job-timeout: 6h
expire: true
EOF
nopw "$work/backy.yaml"
BACKY_NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ) "$COORD" -c "$work/backy.yaml" --time-scale 120 \
	>"$work/coordinator.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "$STATUS/v1/status" >/dev/null 2>&1 && break; sleep 0.2; done
"$CTL" --status-url "$STATUS" status

step "waiting for the scheduled backups (first hourly ideal time, carrying all tags)"
revs() { "$BACKY" -b "$mnt/$1/$2" status --json 2>/dev/null || echo '[]'; }
for _ in $(seq 120); do
	[[ $(revs storage-a vm-web | jq length) -ge 1 && $(revs storage-b vm-db | jq length) -ge 1 ]] && break
	sleep 0.5
done
[[ $(revs storage-b vm-db | jq length) -ge 1 ]] || die "no scheduled backup of vm-db within 60 s"
rev1=$(revs storage-a vm-web | jq -r '.[0].uuid')
[[ $rev1 != null ]] || die "no scheduled backup of vm-web within 60 s"
grep -h "backup done" "$work"/storage-*.log

step "the guest of vm-web writes 8 MiB in the middle of its disk"
dd if=/dev/urandom of="$work/vm-web.img" bs=1M count=8 seek=100 conv=notrunc status=none
sha256sum <"$work/vm-web.img" >"$work/vm-web-v2.sha256"

step "backyctl run vm-web --tags manual:demo (a manual backup through the fleet)"
"$CTL" --url "$BACKY_AMQP_URL_CTL" run vm-web --tags manual:demo
rev2=
for _ in $(seq 120); do
	rev2=$(revs storage-a vm-web | jq -r 'map(select(.tags | index("manual:demo"))) | .[0].uuid')
	[[ $rev2 != null ]] && break
	sleep 0.5
done
[[ $rev2 != null ]] || die "the manual backup did not arrive within 60 s"
grep -h "manual:demo" "$work/storage-a.log"

step "backyctl status and backyctl workers"
sleep 2 # let the expiry after the manual backup finish
"$CTL" --status-url "$STATUS" status
"$CTL" --status-url "$STATUS" workers
"$CTL" --status-url "$STATUS" check || true

step "backy status of vm-web on storage-a ($mnt/storage-a/vm-web), at the demo clock's now"
BACKY_NOW=$(curl -fs "$STATUS/v1/status" | jq -r .coordinator.now) "$BACKY" -b "$mnt/storage-a/vm-web" status

step "restoring the scheduled revision and the manual one, comparing with the disk as it was"
"$BACKY" -b "$mnt/storage-a/vm-web" restore -r "$rev1" "$work/restored-v1.img"
(cd "$work" && sha256sum <restored-v1.img | cmp - vm-web-v1.sha256) ||
	die "the scheduled revision differs from the disk"
echo "scheduled revision $rev1: identical to the disk before the write"
"$BACKY" -b "$mnt/storage-a/vm-web" restore -r "$rev2" "$work/restored-v2.img"
(cd "$work" && sha256sum <restored-v2.img | cmp - vm-web-v2.sha256) ||
	die "the manual revision differs from the disk"
echo "manual revision $rev2: identical to the changed disk"
sfdisk -l "$work/restored-v2.img" | tail -2

step "tearing down: coordinator, workers (SIGTERM), broker, XFS"
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p" || die "a daemon exited non-zero on SIGTERM"; done
pids=()
tests/harness/rabbit-down.sh "$rdir" >/dev/null 2>&1

echo
echo "demo finished in $((SECONDS - t_start)) s: scheduled and manual backups through the fleet, restores matched"
