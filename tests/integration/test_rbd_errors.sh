#!/bin/bash
# test_rbd_errors.sh: RBD failures are clean failures.
#  - image that does not exist: exit 1, "does not exist", no revision, no
#    .new-* left, nothing created in the pool
#  - pool that does not exist: exit 1, message names the pool, no revision
#  - Ceph unreachable (a ceph.conf whose mon address has no listener, and one
#    whose "mon" accepts connections and never answers): exit 1 with a clear
#    message within 60 s (backy bounds the mount timeout itself, no
#    CEPH_ARGS), no revision; CEPH_ARGS=--client_mount_timeout=5 honoured (< 20 s)
#  - a failed run leaves the image's snapshots as they were and the next
#    good run works
. "$(dirname "$0")/rbd_lib.sh"

repo=$T/repo
rbd_new img e 64M
rbd_write "$img" w:0:8M

no_revision()
{
	assert_eq "$1: revisions" 0 "$(status_eval "$repo" 'len(d)')"
	local left
	left=$(find "$repo" -maxdepth 1 -name '.new-*' | wc -l)
	assert_eq "$1: .new-* files left" 0 "$left"
}

check "image that does not exist"
bk -b "$repo" init rbd "$POOL/$IMG_PREFIX-missing" --ceph-id backup
expect_fail "does not exist" -b "$repo" backup manual:x
assert_contains "message names the image" "$T/last.err" "$IMG_PREFIX-missing"
no_revision "missing image"
if rbda info "$POOL/$IMG_PREFIX-missing" >/dev/null 2>&1; then
	fail "backup created the missing image"
fi
ok "no image was created"

check "pool that does not exist"
rm -rf "$repo"
bk -b "$repo" init rbd "nosuchpool/$img" --ceph-id backup
expect_fail "nosuchpool" -b "$repo" backup manual:x
no_revision "missing pool"

# dead_conf PORTS: a copy of the cluster's ceph.conf with only the mon address
# changed (named ceph.conf: Ceph derives $cluster, and so the keyring path, from it)
dead_conf()
{
	mkdir -p "$T/dead"
	sed -E "s/^mon host = .*/mon host = $1/" "$CEPH_CONF" >"$T/dead/ceph.conf"
	grep -qF "mon host = $1" "$T/dead/ceph.conf" || fail "could not rewrite the mon address"
	rm -rf "$repo"
	bk -b "$repo" init rbd "$POOL/$img" --ceph-id backup --ceph-conf "$T/dead/ceph.conf"
}
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

check "Ceph unreachable: mon address where nothing listens"
port=$(free_port)
dead_conf "[v2:127.0.0.1:$port,v1:127.0.0.1:$((port + 1))]"
t0=$SECONDS
expect_fail "connect" -b "$repo" backup manual:x
assert_le "seconds until the failure" 60 $((SECONDS - t0))
no_revision "nothing listens"

check "Ceph unreachable: a mon address that accepts and never answers (default bounded timeout)"
"$PYTHON" -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
keep = []
while True:
    keep.append(s.accept()[0])
' "$T/blackhole.port" &
kill_later $!
for i in $(seq 1 100); do [[ -s $T/blackhole.port ]] && break; sleep 0.1; done
[[ -s $T/blackhole.port ]] || fail "black-hole listener did not start"
dead_conf "[v2:127.0.0.1:$(cat "$T/blackhole.port")]"
t0=$SECONDS
expect_fail "connect" -b "$repo" backup manual:x
dt=$((SECONDS - t0))
assert_le "seconds until the failure" 60 $dt
no_revision "black hole"

check "the same with CEPH_ARGS=--client_mount_timeout=5 (honoured)"
t0=$SECONDS
CEPH_ARGS=--client_mount_timeout=5 expect_fail "connect" -b "$repo" backup manual:x
assert_le "seconds until the failure" 20 $((SECONDS - t0))
no_revision "black hole (CEPH_ARGS)"
assert_eq "snapshots of the image" "" "$(snaps "$img")"

check "the same repository works once the config points at the cluster"
rm -rf "$repo"
bk -b "$repo" init rbd "$POOL/$img" --ceph-id backup
backup "$repo" manual:ok
assert_backy_snaps "backy-* snapshots" "$repo" "$img"
restore_cmp "$repo" "$BID" "$(rbd_digest "$img@backy-$BID")" "after failures"
