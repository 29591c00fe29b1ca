#!/usr/bin/env bash
# Start a throw-away single-node Ceph 16.2 (1 mon, 1 mgr, 1 osd, cephx) on loopback.
#
# Usage: ceph-up.sh [DIR]            (default DIR: /tmp/backy-test/ceph)
# Environment:
#   CEPH_MON_PORT_V2=3300  CEPH_MON_PORT_V1=6789   mon ports (msgr2 / legacy)
#   CEPH_OBJECTSTORE=memstore|bluestore            memstore keeps data in RAM (default)
#   CEPH_BLUESTORE_SIZE=20G                        sparse block file size for bluestore
#   CEPH_WITH_MGR=1                                0: no ceph-mgr (saves ~300 MB RSS)
#   CEPH_UP_TIMEOUT=120                            bound for each readiness wait, seconds
# Writes DIR/ceph.conf, keyrings, DIR/log/* (all daemon output), DIR/{mon,mgr,osd}.pid
# and, once the cluster is usable, DIR/env to be sourced by tests:
#   CEPH_CONF, CEPH_ID=backup, CEPH_BACKUP_KEYRING, CEPH_ADMIN_KEYRING, CEPH_POOL=rbd, BACKY_CEPH_DIR
# (deliberately NOT CEPH_KEYRING: Ceph itself reads that variable, daemons and admin
#  commands included. The [client] keyring setting in ceph.conf already maps
#  --id backup / --id admin to the right keyring.)
# Leftovers of an earlier run in DIR (daemons we started, found by pid file or by the
# BACKY_HARNESS_ID marker in their environment) are stopped and DIR is recreated.
set -euo pipefail
ME=ceph-up.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

DIR=$(abs_dir "${1:-/tmp/backy-test/ceph}")
safe_dir "$DIR"
V2=${CEPH_MON_PORT_V2:-3300}
V1=${CEPH_MON_PORT_V1:-6789}
STORE=${CEPH_OBJECTSTORE:-memstore}
BS_SIZE=${CEPH_BLUESTORE_SIZE:-20G}
WITH_MGR=${CEPH_WITH_MGR:-1}
TMO=${CEPH_UP_TIMEOUT:-120}
MARKER="BACKY_HARNESS_ID=ceph:$DIR"
CONF=$DIR/ceph.conf
mark_self "ceph:$DIR" "$HERE/ceph-up.sh" "$@"

case $STORE in memstore|bluestore) ;; *) die "CEPH_OBJECTSTORE must be memstore or bluestore, not '$STORE'" ;; esac
# MemStore's omap iterator keeps a std::map iterator between calls under a lock it
# drops in between, and the snapshot mapper is one OSD-wide object: one PG's snap
# trimmer iterating it while another PG's op thread erases keys from it segfaults the
# OSD (SnapMapper::get_next_objects_to_trim -> MemStore::OmapIteratorImpl::value, seen
# twice in benchmark churn).  One op thread serialises them; BlueStore needs none of it.
# MemStore also counts as rotational, which would sleep 5 s between two snap trims
# of a PG (osd_snap_trim_sleep_hdd): with one op thread that lets the clones of
# removed snapshots pile up until the store is full.  RAM needs no such pause.
MEMSTORE_OPTS=
[ "$STORE" = memstore ] && MEMSTORE_OPTS='osd op num shards = 1
osd op num threads per shard = 1
osd snap trim sleep hdd = 0'
case $WITH_MGR in 0|1) ;; *) die "CEPH_WITH_MGR must be 0 or 1" ;; esac
for b in ceph ceph-mon ceph-osd ceph-authtool monmaptool rados rbd ss timeout setsid; do
	command -v "$b" >/dev/null || die "$b not found; run tests/harness/install.sh"
done
((WITH_MGR == 0)) || command -v ceph-mgr >/dev/null || die "ceph-mgr not found; run tests/harness/install.sh"

# ---- leftovers of an earlier (killed) run -------------------------------------------
if [ -e "$DIR" ] || [ -n "$(marked_pids "$MARKER")" ]; then
	log "leftovers from an earlier run in $DIR, cleaning them"
	"$HERE/ceph-down.sh" "$DIR" || die "could not clean the leftovers in $DIR"
fi
check_ports_free "ceph mon v2=$V2" "ceph mon v1=$V1"

log "starting ceph ($STORE, mgr=$WITH_MGR) in $DIR, mon on 127.0.0.1:$V2/$V1"
mkdir -p "$DIR"/{log,run,crash,mon,osd/ceph-0,mgr/ceph-x}
# BACKY_HARNESS_ID=ceph:DIR (set by mark_self) is inherited by every daemon we start
export CEPH_CONF=$CONF
# CEPH_ARGS and CEPH_KEYRING are read by every Ceph binary, daemons included: a
# CEPH_KEYRING left over from a sourced env file would break the whole bring-up.
unset CEPH_ARGS CEPH_KEYRING

ok=0
on_exit() {
	local rc=$?
	((ok)) && return 0
	log "FAILED (rc=$rc) after $(elapsed) s; daemon logs follow, stopping daemons (DIR kept for inspection)"
	tail_logs 25 "$DIR"/log/mon.a.out "$DIR"/log/ceph-mon.a.log "$DIR"/log/osd.0.out \
		"$DIR"/log/ceph-osd.0.log "$DIR"/log/mgr.x.out "$DIR"/log/ceph-mgr.x.log "$DIR"/log/setup.log
	CEPH_DOWN_KEEP_DIR=1 "$HERE/ceph-down.sh" "$DIR" || true
	rm -f "$DIR/env"
	exit 1
}
trap on_exit EXIT
trap 'exit 130' INT TERM HUP

SETUP_LOG=$DIR/log/setup.log
# run a setup command, output into setup.log
run() { "$@" >>"$SETUP_LOG" 2>&1 || { log "command failed: $*"; tail_logs 15 "$SETUP_LOG"; return 1; }; }
# bounded ceph CLI call (never hangs on an absent mon)
c() { timeout 30 ceph -c "$CONF" --connect-timeout 10 "$@"; }

FSID=$(cat /proc/sys/kernel/random/uuid)
cat > "$CONF" <<CONF
[global]
fsid = $FSID
mon initial members = a
mon host = [v2:127.0.0.1:$V2,v1:127.0.0.1:$V1]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = $DIR/run
admin socket = $DIR/run/\$cluster-\$name.asok
pid file = $DIR/run/\$cluster-\$name.pid
log file = $DIR/log/\$cluster-\$name.log
crash dir = $DIR/crash
mon data = $DIR/mon/\$cluster-\$id
osd data = $DIR/osd/\$cluster-\$id
mgr data = $DIR/mgr/\$cluster-\$id
mon cluster log file = $DIR/log/\$cluster.\$channel.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 5
mon data avail crit = 1
osd objectstore = $STORE
[osd]
memstore device bytes = 8G
$MEMSTORE_OPTS
bluestore block create = true
bluestore block size = $BS_SIZE
osd memory target = 1G
[client]
keyring = $DIR/\$cluster.\$name.keyring
admin socket = $DIR/run/\$cluster-\$name.\$pid.\$cctid.asok
CONF

# ---- keyrings (keyring file must be the FIRST ceph-authtool argument) ----------------
run ceph-authtool "$DIR/mon/ceph-a.keyring" --create-keyring --gen-key -n mon. --cap mon 'allow *'
run ceph-authtool "$DIR/ceph.client.admin.keyring" --create-keyring --gen-key -n client.admin \
	--cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *'
run ceph-authtool "$DIR/mgr/ceph-x/keyring" --create-keyring --gen-key -n mgr.x \
	--cap mon 'allow profile mgr' --cap osd 'allow *' --cap mds 'allow *'
run ceph-authtool "$DIR/mon/ceph-a.keyring" --import-keyring "$DIR/ceph.client.admin.keyring"
run ceph-authtool "$DIR/mon/ceph-a.keyring" --import-keyring "$DIR/mgr/ceph-x/keyring"

# ---- mon ----------------------------------------------------------------------------
run monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$V2,v1:127.0.0.1:$V1]" "$DIR/monmap"
run ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon/ceph-a.keyring"
setsid ceph-mon -c "$CONF" -f -i a > "$DIR/log/mon.a.out" 2>&1 < /dev/null &
MON=$!; echo "$MON" > "$DIR/mon.pid"

need_alive() { pid_alive "$1" || die "$2 (pid $1) exited during startup"; }
mon_ready() { need_alive "$MON" ceph-mon; timeout 15 ceph -c "$CONF" --connect-timeout 5 -s >/dev/null 2>&1; }
wait_for "$TMO" "ceph-mon to answer" mon_ready || exit 1
log "mon up at $(elapsed) s"

# ---- mgr (optional), started now so it comes up while the OSD does -------------------
MGR=
if ((WITH_MGR)); then
	setsid ceph-mgr -c "$CONF" -f -i x > "$DIR/log/mgr.x.out" 2>&1 < /dev/null &
	MGR=$!; echo "$MGR" > "$DIR/mgr.pid"
fi

# ---- osd ----------------------------------------------------------------------------
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
S=$(ceph-authtool --gen-print-key)
printf '{"cephx_secret": "%s"}' "$S" > "$DIR/osd-new.json"
id=$(c osd new "$OSD_UUID" -i "$DIR/osd-new.json" 2>>"$SETUP_LOG") || die "ceph osd new failed"
[ "$id" = 0 ] || die "ceph osd new returned id '$id', expected 0"
rm -f "$DIR/osd-new.json"
run ceph-authtool "$DIR/osd/ceph-0/keyring" --create-keyring -n osd.0 --add-key "$S"
run ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID"
setsid ceph-osd -c "$CONF" -f -i 0 > "$DIR/log/osd.0.out" 2>&1 < /dev/null &
OSD=$!; echo "$OSD" > "$DIR/osd.pid"

osd_up() { need_alive "$OSD" ceph-osd; c osd stat -f json 2>/dev/null | grep '"num_up_osds":1' >/dev/null; }
wait_for "$TMO" "osd.0 to be up" osd_up || exit 1
log "osd up at $(elapsed) s"

# ---- pool rbd + probe write -----------------------------------------------------------
run c osd pool create rbd 8 8
run timeout "$TMO" rbd -c "$CONF" pool init rbd
echo ok | timeout "$TMO" rados -c "$CONF" -p rbd put ci-probe - >>"$SETUP_LOG" 2>&1 \
	|| die "probe write to pool rbd failed or timed out"
run timeout 60 rados -c "$CONF" -p rbd rm ci-probe
log "pool rbd writable at $(elapsed) s"

# ---- least-privilege client for the tool under test -------------------------------------
run c auth get-or-create client.backup mon 'profile rbd' osd 'profile rbd pool=rbd' \
	mgr 'profile rbd pool=rbd' -o "$DIR/ceph.client.backup.keyring"
chmod 0600 "$DIR/ceph.client.backup.keyring" "$DIR/ceph.client.admin.keyring"

# ---- mgr available (note: no space after the colon in the JSON) ------------------------
if ((WITH_MGR)); then
	mgr_ready() { need_alive "$MGR" ceph-mgr; c mgr stat -f json 2>/dev/null | grep '"available":true' >/dev/null; }
	wait_for "$TMO" "ceph-mgr to become available" mgr_ready || exit 1
	log "mgr available at $(elapsed) s"
fi

cat > "$DIR/env.tmp" <<ENV
# generated by tests/harness/ceph-up.sh; source me
export CEPH_CONF=$CONF
export CEPH_ID=backup
export CEPH_BACKUP_KEYRING=$DIR/ceph.client.backup.keyring
export CEPH_ADMIN_KEYRING=$DIR/ceph.client.admin.keyring
export CEPH_POOL=rbd
export BACKY_CEPH_DIR=$DIR
ENV
mv "$DIR/env.tmp" "$DIR/env"
ok=1
log "ready in $(elapsed) s (source $DIR/env)"
