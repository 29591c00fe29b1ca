# rbd_lib.sh: helpers of the Ceph RBD integration tests (source it from bash,
# after nothing else; it sources lib.sh).
#
#   BACKY_CEPH_ENV  env file written by tests/harness/ceph-up.sh (required):
#                   CEPH_CONF, CEPH_ID=backup, CEPH_POOL.  The test runner starts
#                   one cluster for the whole run; by hand:
#                     tests/harness/ceph-up.sh /tmp/backy-ceph
#                     BACKY_CEPH_ENV=/tmp/backy-ceph/env BACKY=build/worker/backy \
#                       bash tests/integration/test_rbd_backup.sh
#
# A missing env file or a cluster that does not answer is a failure, never a
# skip.  backy always runs as the least-privilege client.backup; test setup
# (writing "guest" data, hand-made snapshots) and the hypervisor stand-in run
# as client.admin.  Every image a test creates through rbd_new is purged and
# removed at exit.
# shellcheck shell=bash
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RBD_HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../harness" && pwd)
[[ -n ${BACKY_CEPH_ENV:-} ]] ||
	fail "BACKY_CEPH_ENV is not set: it must name the env file of a running test cluster (tests/harness/ceph-up.sh DIR writes DIR/env)"
[[ -r $BACKY_CEPH_ENV ]] || fail "BACKY_CEPH_ENV='$BACKY_CEPH_ENV' is not a readable file (is the test cluster up?)"
# shellcheck disable=SC1090
. "$BACKY_CEPH_ENV"
[[ -n ${CEPH_CONF:-} && -r $CEPH_CONF ]] || fail "$BACKY_CEPH_ENV does not name a readable CEPH_CONF"
unset CEPH_ARGS CEPH_KEYRING
POOL=${CEPH_POOL:-rbd}
need_tool rbd timeout cmp
# python with the Ceph bindings (Debian's, not a pyenv one)
SYSPY=/usr/bin/python3
"$SYSPY" -c 'import rados, rbd' 2>/dev/null || fail "$SYSPY cannot import rados/rbd (python3-rbd missing)"

timeout 20 rbd --id backup -p "$POOL" ls >/dev/null 2>"$T/probe.err" ||
	fail "the Ceph cluster of $BACKY_CEPH_ENV does not answer 'rbd --id backup -p $POOL ls' within 20 s: $(tail -n 3 "$T/probe.err")"

MiB=$((1 << 20))
OBJ=$((4 << 20))
IMG_PREFIX=bkt-${TEST_NAME#test_rbd_}-$$

# rbda/rbdb ARGS: rbd as admin / as backup, bounded
rbda() { timeout 300 rbd --id admin "$@"; }
rbdb() { timeout 300 rbd --id backup "$@"; }

# rbd_rm_image NAME: purge snapshots and remove (quietly; missing is fine)
rbd_rm_image()
{
	timeout 120 rbd --id admin snap purge "$POOL/$1" >/dev/null 2>&1 || true
	timeout 120 rbd --id admin rm "$POOL/$1" >/dev/null 2>&1 || true
}

# rbd_new VAR NAME SIZE: create image $IMG_PREFIX-NAME of SIZE (rbd syntax, e.g. 1G)
# with the default features, store its name in VAR; removed at exit
rbd_new()
{
	local -n _var=$1
	local name=$IMG_PREFIX-$2
	rbd_rm_image "$name"
	at_exit "rbd_rm_image '$name'"
	rbda create --size "$3" "$POOL/$name" || fail "rbd create $name failed"
	_var=$name
}

# rbd_write IMAGE OP... : change an image as the guest would (admin, librbd).
#   w:OFF:LEN   random data at OFF (byte offsets; suffixes K M G allowed)
#   p:OFF:LEN:B the byte value B repeated
#   z:OFF:LEN   discard (reads as zeros afterwards)
rbd_write()
{
	local img=$1
	shift
	"$SYSPY" - "$POOL" "$img" "$@" <<'EOF' || fail "rbd_write $img $* failed"
import os, sys, rados, rbd
pool, name, ops = sys.argv[1], sys.argv[2], sys.argv[3:]
mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
def num(s):
    return int(s[:-1]) * mult[s[-1]] if s[-1] in mult else int(s)
c = rados.Rados(rados_id="admin", conffile=os.environ["CEPH_CONF"])
c.connect(timeout=30)
io = c.open_ioctx(pool)
with rbd.Image(io, name) as im:
    for op in ops:
        f = op.split(":")
        off, ln = num(f[1]), num(f[2])
        if f[0] == "z":
            im.discard(off, ln)
            continue
        done = 0
        while done < ln:
            k = min(ln - done, 4 << 20)
            data = os.urandom(k) if f[0] == "w" else bytes([int(f[3])]) * k
            im.write(data, off + done)
            done += k
    im.flush()
io.close()
c.shutdown()
EOF
}

# snaps IMAGE: snapshot names, one a line, sorted
snaps() { rbda snap ls --format json "$POOL/$1" | json_eval '[s["name"] for s in d]' | sort; }
backy_snaps() { snaps "$1" | grep '^backy-' || true; }

# export_to IMAGE[@SNAP] FILE: rbd export (as backup)
export_to()
{
	rm -f "$2"
	rbdb export --no-progress "$POOL/$1" "$2" >/dev/null 2>"$T/export.err" ||
		fail "rbd export $1 failed: $(cat "$T/export.err")"
}

# Canonical content digest: size plus blake2b over (index, data) of every
# 64 KiB block that is not all zeros.  Independent of how sparse a file is, and
# cheap for mostly empty images: only data extents (SEEK_DATA) are read.
# content_digest FILE
content_digest()
{
	"$PYTHON" - "$1" <<'EOF'
import hashlib, os, struct, sys
BS = 65536
Z = bytes(BS)
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
h = hashlib.blake2b(digest_size=20)
off = 0
while off < size:
    try:
        d = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:
        break
    d -= d % BS
    e = os.lseek(fd, d, os.SEEK_HOLE)
    e = min(size, -(-e // BS) * BS)
    p = d
    while p < e:
        buf = os.pread(fd, min(e - p, 64 * BS), p)
        if not buf:
            break
        for i in range(0, len(buf), BS):
            b = buf[i:i + BS]
            if b != Z[:len(b)]:
                h.update(struct.pack("<Q", (p + i) // BS))
                h.update(b)
        p += len(buf)
    off = max(e, off + 1)
print(size, h.hexdigest())
EOF
}

# rbd_digest IMAGE[@SNAP] [LENGTH]: content_digest of an RBD image or snapshot
# (or of its first LENGTH bytes), read through librbd (as backup) over its
# allocated extents only
rbd_digest()
{
	"$SYSPY" - "$POOL" "$1" "${2:-}" <<'EOF' || fail "rbd_digest $1 failed"
import hashlib, os, struct, sys, rados, rbd
BS = 65536
Z = bytes(BS)
pool, spec = sys.argv[1], sys.argv[2]
name, _, snap = spec.partition("@")
c = rados.Rados(rados_id="backup", conffile=os.environ["CEPH_CONF"])
c.connect(timeout=30)
io = c.open_ioctx(pool)
with rbd.Image(io, name, snapshot=snap or None, read_only=True) as im:
    size = int(sys.argv[3]) if sys.argv[3] else im.size()
    blocks = set()
    def cb(off, ln, exists):
        if exists:
            for b in range(off // BS, (off + ln + BS - 1) // BS):
                blocks.add(b)
    im.diff_iterate(0, size, None, cb)
    h = hashlib.blake2b(digest_size=20)
    for b in sorted(blocks):
        data = im.read(b * BS, min(BS, size - b * BS))
        if data != Z[:len(data)]:
            h.update(struct.pack("<Q", b))
            h.update(data)
io.close()
c.shutdown()
print(size, h.hexdigest())
EOF
}

# same_content WHAT FILE DIGEST: FILE has content_digest DIGEST ("SIZE HEX")
same_content()
{
	local got
	got=$(content_digest "$2")
	[[ $got == "$3" ]] || fail "$1: $2 differs: digest '$got', expected '$3'"
	ok "$1: identical (size ${got%% *})"
}

# same_file WHAT A B: same content and size (holes = zeros)
same_file() { same_content "$1" "$3" "$(content_digest "$2")"; }

# set_source REPO KEY=VALUE...: set (or add) keys of the source: map in REPO/config
# (values are written verbatim; quote strings yourself)
set_source()
{
	local repo=$1
	shift
	chmod u+w "$repo/config" 2>/dev/null || true
	"$PYTHON" - "$repo/config" "$@" <<'EOF' || fail "set_source $repo $* failed"
import sys
path, kvs = sys.argv[1], sys.argv[2:]
lines = open(path).read().split("\n")
start = lines.index("source:")
end = start + 1
while end < len(lines) and lines[end].startswith("  "):
    end += 1
for kv in kvs:
    k, v = kv.split("=", 1)
    for i in range(start + 1, end):
        if lines[i].startswith("  %s:" % k):
            lines[i] = "  %s: %s" % (k, v)
            break
    else:
        lines.insert(end, "  %s: %s" % (k, v))
        end += 1
open(path + ".tmp", "w").write("\n".join(lines))
import os
os.rename(path + ".tmp", path)
EOF
}

# rbd_repo REPO IMAGE: `backy init rbd POOL/IMAGE --ceph-id backup`, then the
# documented verification defaults made explicit (the written blocks plus 256
# others, 300 s)
rbd_repo()
{
	bk -b "$1" init rbd "$POOL/$2" --ceph-id backup
	set_source "$1" verify_sample=256 verify_budget=300 verify_full=false
}

# backup REPO TAG: run a backup (must succeed), set BID to the new revision
backup()
{
	local before
	before=$(newest_id "$1")
	bk -b "$1" backup "$2"
	BID=$(newest_id "$1")
	[[ -n $BID && $BID != "$before" ]] || fail "backup $2 created no revision"
}

# restore_cmp REPO ID DIGEST WHAT: restore ID to a file and compare it and the
# revision file itself with DIGEST (content_digest/rbd_digest of the snapshot)
restore_cmp()
{
	local out=$T/restore-$2.img
	bk -b "$1" restore -r "$2" "$out"
	same_content "$4: restore -r $2" "$out" "$3"
	same_content "$4: revision file $2" "$1/$2" "$3"
	rm -f "$out"
}

# --- Consul and hypervisor stand-ins ------------------------------------------------

# start_consul [--token TOKEN]: start the Consul stand-in on a free loopback port;
# sets CONSUL_URL, CONSUL_LOG, CONSUL_PID (killed at exit)
start_consul()
{
	local pf=$T/consul.port i
	CONSUL_LOG=$T/consul.log
	: >"$CONSUL_LOG"
	rm -f "$pf"
	"$PYTHON" "$RBD_HARNESS/consul-standin.py" 0 --log "$CONSUL_LOG" --port-file "$pf" "$@" \
		>"$T/consul.out" 2>&1 &
	CONSUL_PID=$!
	kill_later "$CONSUL_PID"
	for i in $(seq 1 100); do
		[[ -s $pf ]] && break
		sleep 0.1
	done
	[[ -s $pf ]] || fail "Consul stand-in did not start: $(cat "$T/consul.out")"
	CONSUL_URL=http://127.0.0.1:$(cat "$pf")
}

# consul_get KEY [QUERY] (as the test, with CONSUL_TOKEN if set): prints the body,
# returns 1 on 404
consul_kv()
{
	"$PYTHON" - "$CONSUL_URL" "${CONSUL_TOKEN:-}" "$@" <<'EOF'
import sys, urllib.request, urllib.error
url, tok, method, key = sys.argv[1:5]
q = sys.argv[5] if len(sys.argv) > 5 else ""
body = sys.argv[6].encode() if len(sys.argv) > 6 else None
req = urllib.request.Request("%s/v1/kv/%s%s" % (url, key, "?" + q if q else ""), data=body, method=method)
req.add_header("User-Agent", "test")
if tok:
    req.add_header("X-Consul-Token", tok)
try:
    print(urllib.request.urlopen(req, timeout=5).read().decode())
except urllib.error.HTTPError as e:
    if e.code == 404:
        sys.exit(1)
    raise
EOF
}

# consul_keys: the keys under snapshot/, one a line (empty when none)
consul_keys()
{
	local js
	js=$(consul_kv GET snapshot/ recurse) || return 0
	json_eval '[i["Key"] for i in d]' <<<"$js"
}

# start_hypervisor MODE VM IMAGE [ARGS...]: the hypervisor stand-in as admin;
# sets HV_LOG, HV_PID (killed at exit)
start_hypervisor()
{
	local mode=$1 vm=$2 img=$3
	shift 3
	HV_LOG=$T/hypervisor-$mode.log
	: >"$HV_LOG"
	"$SYSPY" "$RBD_HARNESS/hypervisor-standin.py" --consul "$CONSUL_URL" \
		${CONSUL_TOKEN:+--token "$CONSUL_TOKEN"} --vm "$vm" --pool "$POOL" --image "$img" \
		--mode "$mode" --ceph-id admin --log "$HV_LOG" "$@" >"$T/hypervisor.out" 2>&1 &
	HV_PID=$!
	kill_later "$HV_PID"
	for i in $(seq 1 100); do
		grep -q '"started"' "$HV_LOG" && return 0
		sleep 0.1
	done
	fail "hypervisor stand-in did not start: $(cat "$T/hypervisor.out")"
}

stop_hypervisor()
{
	kill "$HV_PID" 2>/dev/null
	wait "$HV_PID" 2>/dev/null || true
}

# assert_backy_snaps WHAT REPO IMAGE: the backy-* snapshots of IMAGE are the
# newest revision's of REPO and at most its parent's (an incremental removes
# the older ones when it starts, not after its commit: source_rbd.c, note 4)
assert_backy_snaps()
{
	local newest parent got s
	newest=$(newest_id "$2")
	parent=$(rev_field "$2" "$newest" parent)
	got=$(backy_snaps "$3" | tr '\n' ' ' | sed 's/ $//')
	[[ " $got " == *" backy-$newest "* ]] || fail "$1: backy-$newest is not among the backy-* snapshots '$got'"
	for s in $got; do
		[[ $s == "backy-$newest" || $s == "backy-$parent" ]] ||
			fail "$1: snapshot $s should be gone (newest revision $newest, its parent $parent)"
	done
	ok "$1: backy-* snapshots: $got"
}
