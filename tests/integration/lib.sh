# lib.sh: shared helpers of the backy integration tests (source it from bash).
#
#   BACKY          path of the backy binary (required)
#   BACKY_TEST_TMP parent of the per-test scratch directories
#                  (default /tmp/backy-itest)
#   BACKY_TEST_KEEP=1 keeps the scratch directory (not the mounts) for debugging
#
# Every test gets its own directory $T and an EXIT trap that runs the
# registered cleanups (at_exit) in reverse order, on success and on failure.
# Missing tools or a loop file system that cannot be mounted are failures,
# never skips.
set -euo pipefail

TEST_NAME=$(basename "$0" .sh)
BK_BLOCK=65536

# --- reporting -----------------------------------------------------------------

fail()
{
	echo "FAIL [$TEST_NAME]: $*" >&2
	if [[ -n ${T:-} && -s ${T}/last.err ]]; then
		echo "--- stderr of the last backy command ---" >&2
		tail -n 20 "$T/last.err" >&2
	fi
	exit 1
}

# check TEXT: announce what is being checked next
check() { echo "CHECK [+${SECONDS}s]: $*"; }
ok() { echo "  ok: $*"; }
info() { echo "  .. $*"; }

assert_eq()
{
	local what=$1 expected=$2 actual=$3
	[[ "$expected" == "$actual" ]] || fail "$what: expected '$expected', got '$actual'"
	ok "$what = ${actual:0:64}"
}

assert_le()
{
	local what=$1 limit=$2 actual=$3
	((actual <= limit)) || fail "$what: expected <= $limit, got $actual"
	ok "$what = $actual (<= $limit)"
}

assert_ge()
{
	local what=$1 limit=$2 actual=$3
	((actual >= limit)) || fail "$what: expected >= $limit, got $actual"
	ok "$what = $actual (>= $limit)"
}

# assert_contains WHAT FILE SUBSTRING
assert_contains()
{
	grep -qF -- "$3" "$2" || fail "$1: '$3' not found in: $(head -c 2000 "$2")"
	ok "$1 mentions '$3'"
}

assert_not_contains()
{
	if grep -qF -- "$3" "$2"; then
		fail "$1: unexpected '$3' in: $(head -c 2000 "$2")"
	fi
	ok "$1 does not mention '$3'"
}

need_tool()
{
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || fail "required tool '$t' is not installed"
	done
}

# --- setup and cleanup -----------------------------------------------------------

[[ $(id -u) == 0 ]] || fail "integration tests must run as root (loop mounts)"
[[ -n ${BACKY:-} ]] || fail "BACKY must name the backy binary (e.g. BACKY=build/worker/backy)"
[[ -x $BACKY ]] || fail "BACKY='$BACKY' is not an executable"
BACKY=$(realpath "$BACKY")
need_tool python3 mount umount mountpoint truncate dd cmp b2sum timeout
# the system interpreter starts fastest; wrappers like pyenv shims cost a second per call
if [[ -x /usr/bin/python3 ]]; then
	PYTHON=/usr/bin/python3
else
	PYTHON=$(python3 -c 'import sys; print(sys.executable)') || fail "python3 does not run"
fi
ITEST_ROOT=${BACKY_TEST_TMP:-/tmp/backy-itest}
mkdir -p "$ITEST_ROOT"
T=$(mktemp -d "$ITEST_ROOT/$TEST_NAME.XXXXXX")

_CLEANUP=()
# at_exit CMD: run the shell command string CMD when the test ends (LIFO)
at_exit() { _CLEANUP+=("$1"); }

umount_retry()
{
	local mnt=$1 i
	mountpoint -q "$mnt" || return 0
	for i in $(seq 1 20); do
		umount "$mnt" 2>/dev/null && return 0
		sleep 0.25
	done
	echo "warning: $mnt is busy, detaching it lazily" >&2
	umount -l "$mnt"
}

_run_cleanup()
{
	local rc=$? i
	set +e
	for ((i = ${#_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${_CLEANUP[i]}"
	done
	if [[ ${BACKY_TEST_KEEP:-0} == 1 ]]; then
		echo "scratch directory kept: $T" >&2
	else
		rm -rf "$T"
	fi
	if ((rc == 0)); then
		echo "PASS [$TEST_NAME]"
	else
		echo "FAILED [$TEST_NAME] (exit $rc)" >&2
	fi
	exit $rc
}
trap _run_cleanup EXIT
trap 'exit 130' INT TERM

# grow_written FILE SIZE_MIB: grow FILE to SIZE_MIB MiB with written zeros.  Unlike
# truncate's hole (which a backup skips, source_file.c), a backup must read them:
# a source that keeps a backup busy for a moment.
grow_written() { head -c $(($2 * 1048576 - $(stat -c %s "$1"))) /dev/zero >>"$1"; }

# kill_later PID: make sure a background process we started is gone at the end
kill_later() { at_exit "kill -9 $1 2>/dev/null; wait $1 2>/dev/null"; }

_LOOP_N=0
# mkfs_loop TYPE SIZE: create a TYPE (btrfs, xfs, ext4) file system in an image
# file of SIZE (truncate syntax), loop-mount it and set LOOP_MNT.  Unmounted and
# deleted at exit.
mkfs_loop()
{
	local type=$1 size=$2 img mnt
	_LOOP_N=$((_LOOP_N + 1))
	img=$T/$type-$_LOOP_N.img
	mnt=$T/$type-$_LOOP_N
	need_tool "mkfs.$type"
	truncate -s "$size" "$img"
	at_exit "rm -f '$img'"
	case $type in
	btrfs) mkfs.btrfs -q -f "$img" >"$T/mkfs.log" 2>&1 ;;
	xfs) mkfs.xfs -q -f -m reflink=1 "$img" >"$T/mkfs.log" 2>&1 ;;
	ext4) mkfs.ext4 -q -F "$img" >"$T/mkfs.log" 2>&1 ;;
	*) fail "mkfs_loop: unknown file system type '$type'" ;;
	esac || fail "mkfs.$type failed: $(cat "$T/mkfs.log")"
	mkdir -p "$mnt"
	mount -o loop,discard "$img" "$mnt" 2>"$T/mount.log" ||
		fail "unable to loop-mount a $type file system: $(cat "$T/mount.log")"
	at_exit "umount_retry '$mnt'"
	LOOP_MNT=$mnt
	info "mounted $type ($size) on $mnt"
}

# mount_tmpfs SIZE: mount a private tmpfs of SIZE and set TMPFS_MNT (unmounted at exit)
mount_tmpfs()
{
	local mnt=$T/tmpfs-$((++_LOOP_N))
	mkdir -p "$mnt"
	mount -t tmpfs -o size="$1" backy-itest "$mnt" || fail "unable to mount a tmpfs"
	at_exit "umount_retry '$mnt'"
	TMPFS_MNT=$mnt
}

# --- running backy -----------------------------------------------------------------

# bk ARGS...: run backy; the test fails if it exits non-zero
bk()
{
	local rc=0
	"$BACKY" "$@" 2>"$T/last.err" || rc=$?
	((rc == 0)) || fail "backy $* exited $rc"
	cat "$T/last.err" >&2
}

# bk_run ARGS...: run backy, output in $T/last.out and $T/last.err, exit code in
# BK_RC; killed after BK_TIMEOUT seconds (default 300; exit code 124 then)
bk_run()
{
	BK_RC=0
	timeout -k 5 "${BK_TIMEOUT:-300}" "$BACKY" "$@" >"$T/last.out" 2>"$T/last.err" || BK_RC=$?
	if ((BK_RC == 124 || BK_RC == 137)); then
		echo "backy $* did not finish within ${BK_TIMEOUT:-300} s (killed)" >>"$T/last.err"
	fi
}

# expect_fail SUBSTRING ARGS...: backy ARGS must exit 1 with SUBSTRING on stderr
expect_fail()
{
	local sub=$1
	shift
	bk_run "$@"
	((BK_RC == 1)) || fail "backy $* should exit 1, exited $BK_RC (stderr: $(head -c 1000 "$T/last.err"))"
	grep -qF -- "$sub" "$T/last.err" ||
		fail "backy $*: stderr lacks '$sub': $(head -c 1000 "$T/last.err")"
	ok "backy $* -> exit 1: $(grep -F -m 1 -- "$sub" "$T/last.err" | cut -c 1-200)"
}

# json_eval EXPR: evaluate the python expression EXPR over the JSON document on
# stdin (bound to d); lists print one item a line, None prints 'null'
json_eval()
{
	"$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
if isinstance(v, (list, tuple)):
    for x in v:
        print(x)
elif v is None:
    print("null")
elif isinstance(v, bool):
    print("true" if v else "false")
else:
    print(v)
' "$1"
}

# status_eval REPO EXPR: json_eval over `backy -b REPO status --json`
status_eval()
{
	local js
	js=$("$BACKY" -b "$1" status --json) || fail "backy -b $1 status --json failed"
	json_eval "$2" <<<"$js"
}

# rev_field REPO ID FIELD: a field of revision ID from status --json
rev_field()
{
	status_eval "$1" "[r for r in d if r['uuid'] == '$2'][0]['$3']"
}

newest_id() { status_eval "$1" "d[-1]['uuid'] if d else ''"; }

# --- data -------------------------------------------------------------------------

# make_mixed_image FILE SIZE [SEED]: a realistic disk image of SIZE bytes (K/M/G
# suffixes allowed): runs of random data, holes, compressible text and written
# zeros, at unaligned offsets.
make_mixed_image()
{
	"$PYTHON" - "$1" "$2" "${3:-1}" <<'EOF'
import os, random, sys
path, size, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
size = int(size[:-1]) * mult[size[-1]] if size[-1] in mult else int(size)
rng = random.Random(seed)
words = "the quick brown fox jumps over lazy dog backup block extent image disk".split()
lines = []
n = 0
while n < (2 << 20):
    line = "%08d %s\n" % (len(lines), " ".join(rng.choice(words) for _ in range(rng.randrange(3, 14))))
    lines.append(line)
    n += len(line)
text = "".join(lines).encode()
urandom = open("/dev/urandom", "rb")
with open(path, "wb") as f:
    off = 0
    while off < size:
        kind = rng.choices(["random", "hole", "text", "zeros"], weights=[50, 25, 20, 5])[0]
        n = min(size - off, rng.randrange(8 << 10, 8 << 20))
        if kind == "hole":
            off += n
            continue
        f.seek(off)
        left = n
        while left:
            k = min(left, 4 << 20)
            if kind == "random":
                f.write(urandom.read(k))
            elif kind == "text":
                s = rng.randrange(0, len(text) - k) if len(text) > k else 0
                f.write(text[s:s + k].ljust(k, b"."))
            else:
                f.write(bytes(k))
            left -= k
        off += n
    f.truncate(size)
EOF
}

# nonzero_bytes FILE [BS]: bytes in the BS-sized blocks (last one partial) of
# FILE that are not all zeros: what a full backup has to write
nonzero_bytes()
{
	"$PYTHON" - "$1" "${2:-$BK_BLOCK}" <<'EOF'
import sys
path, bs = sys.argv[1], int(sys.argv[2])
total = 0
with open(path, "rb") as f:
    while True:
        chunk = f.read(bs * 64)
        if not chunk:
            break
        for i in range(0, len(chunk), bs):
            b = chunk[i:i + bs]
            if b.count(0) != len(b):
                total += len(b)
print(total)
EOF
}

# change_blocks FILE COUNT SEED: overwrite COUNT distinct random whole BK_BLOCK
# blocks of FILE with fresh random data (dd conv=notrunc); prints the indices
change_blocks()
{
	local file=$1 count=$2 seed=$3 size nblocks idx
	size=$(stat -c %s "$file")
	nblocks=$((size / BK_BLOCK))
	for idx in $("$PYTHON" -c "
import random, sys
print(' '.join(map(str, sorted(random.Random($seed).sample(range($nblocks), $count)))))"); do
		dd if=/dev/urandom of="$file" bs=$BK_BLOCK seek="$idx" count=1 conv=notrunc \
			iflag=fullblock status=none
		echo "$idx"
	done
}

# digest FILE: content digest (b2sum) of a file or of stdin with '-'
digest() { b2sum "$1" | cut -d' ' -f1; }

# fiemap_bytes FILE: "SHARED UNSHARED" mapped bytes of FILE from filefrag -v
fiemap_bytes()
{
	filefrag -v "$1" | "$PYTHON" -c '
import re, sys
bs, shared, unshared = 4096, 0, 0
for line in sys.stdin:
    m = re.search(r"blocks of (\d+) bytes", line)
    if m:
        bs = int(m.group(1))
    m = re.match(r"\s*\d+:\s*\d+\.\.\s*\d+:\s*\d+\.\.\s*\d+:\s*(\d+):(.*)$", line)
    if not m:
        continue
    n = int(m.group(1)) * bs
    if "shared" in re.split(r"[,\s]+", m.group(2)):
        shared += n
    else:
        unshared += n
print(shared, unshared)
'
}

# extents FILE OFF LEN: how many extents of FILE overlap [OFF, OFF+LEN)
# (filefrag -v, in 4 KiB units)
extents()
{
	filefrag -v "$1" | "$PYTHON" -c '
import re, sys
lo, hi, n = int(sys.argv[1]) // 4096, (int(sys.argv[1]) + int(sys.argv[2])) // 4096, 0
for line in sys.stdin:
    m = re.match(r"\s*\d+:\s*(\d+)\.\.\s*(\d+):", line)
    if m and int(m.group(1)) < hi and int(m.group(2)) >= lo:
        n += 1
print(n)' "$2" "$3"
}

# repo_snapshot REPO: listing with types, modes, sizes, link targets and content
# digests of every repository file except backy.log and .lock
repo_snapshot()
{
	"$PYTHON" - "$1" <<'PYEOF'
import hashlib, os, stat, sys
root = sys.argv[1]
for dirpath, dirs, files in os.walk(root):
    dirs.sort()
    for name in sorted(dirs + files):
        path = os.path.join(dirpath, name)
        rel = os.path.relpath(path, root)
        if rel in ("backy.log", ".lock"):
            continue
        st = os.lstat(path)
        line = "%s %o %d" % (rel, st.st_mode, st.st_size)
        if stat.S_ISLNK(st.st_mode):
            line += " -> " + os.readlink(path)
        elif stat.S_ISREG(st.st_mode):
            with open(path, "rb") as f:
                line += " " + hashlib.blake2b(f.read()).hexdigest()[:32]
        print(line)
PYEOF
}

# check_repo_files REPO [killed]: every image and manifest belongs to a
# committed revision; only .new-*/.tmp-* leftovers of an interrupted run may
# exist.  With "killed", the files of one uncommitted revision may remain
# wherever its run died, even during its commit (store.h, design note 1):
# images and manifests without a .rev, all of a single revision id.  The
# names of everything uncommitted are left in $uncommitted.
check_repo_files()
{
	local repo=$1 killed=${2:-} f base id ids=""
	uncommitted=""
	for f in "$repo"/* "$repo"/.[!.]*; do
		[[ -e $f || -L $f ]] || continue
		base=${f##*/}
		case $base in
		.new-* | .tmp-*)
			uncommitted+=" $base"
			id=${base#.???-}
			id=${id%.sums}
			ids+=" ${id%.rev}"
			;;
		config | backy.log | .lock | latest | quarantine | *.rev) ;;
		*.sums)
			if [[ ! -e $repo/${base%.sums}.rev ]]; then
				[[ -n $killed ]] || fail "manifest $base has no .rev"
				uncommitted+=" $base"
				ids+=" ${base%.sums}"
				continue
			fi
			[[ -e $repo/${base%.sums} ]] || fail "manifest $base has no image"
			;;
		*)
			if [[ ! -e $repo/$base.rev ]]; then
				[[ -n $killed ]] || fail "file $base has no .rev (not a committed revision)"
				uncommitted+=" $base"
				ids+=" $base"
				continue
			fi
			[[ -e $repo/$base.sums ]] || fail "image $base has no .sums"
			;;
		esac
	done
	if (($(printf '%s\n' $ids | sort -u | grep -c .) > 1)); then
		fail "files of more than one uncommitted revision:$uncommitted"
	fi
	for f in "$repo"/*.rev; do
		[[ -e $f ]] || continue
		base=${f##*/}
		[[ -e $repo/${base%.rev} ]] || fail "revision ${base%.rev} has no image"
		[[ -e $repo/${base%.rev}.sums ]] || fail "revision ${base%.rev} has no manifest"
	done
}

# block_digests FILE: one "LENGTH DIGEST" line per BK_BLOCK block of FILE
block_digests()
{
	"$PYTHON" - "$1" "$BK_BLOCK" <<'PYEOF'
import hashlib, sys
path, bs = sys.argv[1], int(sys.argv[2])
out = sys.stdout
with open(path, "rb") as f:
    while True:
        chunk = f.read(bs * 64)
        if not chunk:
            break
        for i in range(0, len(chunk), bs):
            b = chunk[i:i + bs]
            out.write("%d %s\n" % (len(b), hashlib.blake2b(b, digest_size=16).hexdigest()))
PYEOF
}

# expected_written PREV FILE: the bytes an incremental backup of FILE must
# write given the parent's block_digests PREV: every block that is new or
# differs (content or length) and is not all zeros
expected_written()
{
	"$PYTHON" - "$1" "$2" "$BK_BLOCK" <<'PYEOF'
import hashlib, sys
prev = [l.split() for l in open(sys.argv[1])]
path, bs = sys.argv[2], int(sys.argv[3])
total, idx = 0, 0
with open(path, "rb") as f:
    while True:
        chunk = f.read(bs * 64)
        if not chunk:
            break
        for i in range(0, len(chunk), bs):
            b = chunk[i:i + bs]
            d = [str(len(b)), hashlib.blake2b(b, digest_size=16).hexdigest()]
            if (idx >= len(prev) or prev[idx] != d) and b.count(0) != len(b):
                total += len(b)
            idx += 1
print(total)
PYEOF
}
