#!/usr/bin/env bash
# End to end, one simulated week: a coordinator on accelerated time and two
# real workers (storage-a, storage-b, private base dirs, simulated-time: true)
# back up 6 file-source jobs with daily=1d:3,weekly=1w:2 and automatic
# placement.  Asserts:
#   - both hosts got jobs; the first run is at the ideal time the schedule
#     maths predicts (epoch 0001-01-01 plus the job's spread);
#   - after the week every repository holds exactly the revisions (one per
#     ideal daily time, tags daily[,weekly], the first run with all tags) and
#     the expiries (daily keeps 3, weekly 2) that an independent Python model
#     of the documented rules predicts, and automatic expiry removed revisions;
#   - a third-party consumer (amqp-consume, own queue bound to backy.results
#     with "#") received a result for every backup and expiry, one backup
#     result per revision made;
#   - backyctl run JOB --tags manual:x makes a revision with that tag and its
#     result reaches the consumer;
#   - scrub (verify jobs, scrub: {period: 2d, slice: 1d}): every repository
#     got one verify job a day, each ok, and at the stop no revision went
#     longer than the period without being found intact;
#   - a revision corrupted on disk: backyctl verify JOB reports it distrusted
#     in the result stream (verify.failed.<host>.<job>, BK_EVERIFY, its id in
#     verify.distrusted_revisions), in backyctl status and /metrics, and
#     backyctl check warns; the verify changed no byte of the image;
#   - backyctl check: 0 after the week, 2 when BACKY_NOW is 2 days later and
#     no backups ran.
# The spread of each job (XXH3 of its name) is not recomputed in Python: a
# probe coordinator with a weekly-only schedule (same maximum interval, so the
# same spread) reports each job's next weekly ideal time; everything else is
# computed here from the documented rules.
#
# Needs BACKY (CTest sets it), BACKY_RABBIT_ENV; runs ~4 minutes.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=fleet_lib.sh
. "$HERE/fleet_lib.sh"
at_exit '((rc == 0)) || fl_dump'

SCALE=${FLEET_TIME_SCALE:-3600} # one simulated hour per second
S=2030-01-07T00:00:00+00:00     # fixed start of the simulated week
S_EPOCH=$(fl_epoch "$S")
JOBS=(fleet-vm1 fleet-vm2 fleet-vm3 fleet-vm4 fleet-vm5 fleet-vm6)
fl_hosts storage-a storage-b

check "sources: 6 images of 4 MiB, a block of each changes every second"
mkdir -p "$T/src"
joblines=
for j in "${JOBS[@]}"; do
	fl_source "$T/src/$j" 4
	joblines+="  $j: {schedule: default, source: {type: file, filename: $T/src/$j}}"$'\n'
done
(
	while :; do
		for j in "${JOBS[@]}"; do
			dd if=/dev/urandom of="$T/src/$j" bs=64K count=1 seek=$((RANDOM % 64)) \
				conv=notrunc status=none 2>/dev/null || true
		done
		sleep 1
	done
) &
MUTATOR=$!
at_exit "kill $MUTATOR 2>/dev/null || true"

check "the spread of each job (probe coordinator, weekly-only schedule, frozen at $S)"
FL_SCHEDULE="{weekly: {interval: 1w, keep: 2}}" fl_coord_config "$T/coord.yaml" "$joblines"
fl_coord_start probe "$S" 0
fl_status | jq -c '[.jobs | to_entries[] | {(.key): .value.next_time}] | add' >"$T/weekly-next.json"
fl_coord_stop probe
rm -f "$T/coord.state" "$T/coord.state.journal" "$T/coord.state.lock"
info "next weekly ideal times: $(cat "$T/weekly-next.json")"

check "the fleet: workers storage-a and storage-b, the coordinator at $S x$SCALE"
SCRUB_PERIOD=$((2 * 86400))
fl_coord_config "$T/coord.yaml" "$joblines" "scrub: {period: 2d, slice: 1d}"
fl_worker_start wa storage-a
fl_worker_start wb storage-b
fl_listen
fl_coord_start c1 "$S" "$SCALE"
fl_status >"$T/status0.json"

# the model: ideal times, runs, expiry (documented rules, independent of the C code)
cat >"$T/model.py" <<'EOF'
import json, sys, datetime
EPOCH = -62135596800  # 0001-01-01T00:00:00Z
D, W = 86400, 7 * 86400
SCHED = {"daily": (D, 3), "weekly": (W, 2)}

def ts(s):
    return datetime.datetime.fromisoformat(s).timestamp()

def next_tag(t, iv, spread):
    """first ideal time strictly after t: EPOCH + n*iv + spread % iv"""
    off = spread % iv
    n = (int(t) - EPOCH - off) // iv
    return EPOCH + (n + 1) * iv + off

def runs(spread, start, end):
    """(time, tags) of every scheduled run in (start, end]"""
    out = []
    t = min(next_tag(start, iv, spread) for iv, _ in SCHED.values())
    first = True
    while t <= end:
        tags = sorted(n for n, (iv, _) in SCHED.items()
                      if first or (t - EPOCH - spread % iv) % iv == 0)
        out.append((t, tags))
        first = False
        t = min(next_tag(t, iv, spread) for iv, _ in SCHED.values())
    return out

def expire(revs, now):
    """revs: [(time, tags)] oldest first; returns the revisions left, tags expired"""
    tags = [set(r[1]) for r in revs]
    for name, (iv, keep) in SCHED.items():
        having = [i for i, r in enumerate(revs) if name in r[1]]
        if len(having) <= keep:
            continue
        newest = set(having[-keep:])
        for i in having:
            if i not in newest and not revs[i][0] > now - keep * iv:
                tags[i].discard(name)
    return [(r[0], sorted(tags[i])) for i, r in enumerate(revs) if tags[i]]
EOF

check "placement on both hosts, first runs at the predicted ideal times"
"$PYTHON" - "$T/weekly-next.json" "$T/status0.json" "$S" >"$T/spreads.txt" <<EOF || fail "first runs or placement differ from the model"
$(cat "$T/model.py")
wn = json.load(open(sys.argv[1])); st = json.load(open(sys.argv[2])); start = ts(sys.argv[3])
hosts = set()
for job, nt in sorted(wn.items()):
    spread = (int(ts(nt)) - EPOCH) % W          # spread % 1w: all the model needs
    first = runs(spread, start, start + W)[0]
    j = st["jobs"][job]
    hosts.add(j["host"])
    if int(ts(j["next_time"])) != first[0] or j["next_tags"] != ",".join(first[1]):
        print(f"{job}: coordinator plans {j['next_time']} {j['next_tags']}, model {first}", file=sys.stderr)
        sys.exit(1)
    print(job, spread, j["host"])
if hosts != {"storage-a", "storage-b"}:
    print(f"placement used {hosts}", file=sys.stderr); sys.exit(1)
EOF
while read -r j spread host; do info "$j: spread mod 1w $spread s, host $host"; done <"$T/spreads.txt"
ok "6 jobs on storage-a and storage-b, first runs as predicted"

# the stop time: on day 8, in the middle of the largest gap between the jobs' daily ideal times
STOP=$("$PYTHON" - "$T/spreads.txt" "$S_EPOCH" <<'EOF'
import sys
D = 86400; EPOCH = -62135596800
start = int(sys.argv[2])
offs = sorted((int(l.split()[1]) + EPOCH) % D for l in open(sys.argv[1]))
gaps = [((offs[(i + 1) % len(offs)] - offs[i]) % D or D, offs[i]) for i in range(len(offs))]
g, o = max(gaps)
mid = (o + g // 2) % D
day7 = start + 7 * D
print(day7 - day7 % D + mid if day7 - day7 % D + mid >= day7 else day7 - day7 % D + D + mid, g)
EOF
)
read -r STOP GAP <<<"$STOP"
E=$(fl_iso "$STOP")
info "simulated stop at $E (middle of a $((GAP / 3600)) h gap without ideal times)"
((GAP >= 4 * 3600)) || fail "model: largest gap $GAP s is too small"

check "one simulated week at x$SCALE (about $(((STOP - S_EPOCH) / SCALE)) s)"
deadline=$((SECONDS + (STOP - S_EPOCH) / SCALE + 90))
while :; do
	now=$(fl_status | jq -r .coordinator.now) || fail "status endpoint unreachable during the week"
	(($(fl_epoch "$now") >= STOP)) && break
	((SECONDS < deadline)) || fail "simulated time did not reach $E (now $now)"
	fl_status | jq -e '[.jobs[] | .status != "failed"] | all' >/dev/null ||
		fail "a job failed: $(fl_status | jq -c '.jobs | map_values({status, last_error})')"
	sleep 0.5
done
fl_coord_stop c1
info "stopped at simulated $now"
ok "week done"

check "the coordinator frozen at $E: nothing ran in the gap, all idle, SLA OK"
fl_coord_start c2 "$E" 0
fl_wait 60 "all runs and expiries done" fl_idle
fl_status >"$T/status1.json"
"$PYTHON" - "$T/status1.json" "$STOP" "$GAP" <<'EOF' || fail "a run happened too close to the stop time (machine too slow for x$SCALE?)"
import json, sys, datetime
st = json.load(open(sys.argv[1])); stop = int(sys.argv[2]); gap = int(sys.argv[3])
for job, j in st["jobs"].items():
    last = datetime.datetime.fromisoformat(j["last_time"]).timestamp()
    nxt = datetime.datetime.fromisoformat(j["next_time"]).timestamp()
    if not (last < stop - gap / 4 and nxt > stop + gap / 4):
        print(f"{job}: last {j['last_time']} next {j['next_time']}", file=sys.stderr); sys.exit(1)
EOF
set +e
out=$("$CTL" --status-url "$STATUS_URL" check)
rc=$?
set -e
((rc == 0)) || fail "backyctl check after the week: exit $rc: $out"
ok "backyctl check: $out"

check "the third-party consumer: one backup result per revision made, every expiry answered"
for j in "${JOBS[@]}"; do
	nb=$(fl_results ".job == \"$j\" and .action == \"backup\" and .outcome == \"ok\"" | jq -r .job_id | sort -u | wc -l)
	nbad=$(fl_results ".job == \"$j\" and .outcome != \"ok\"" | wc -l)
	ne=$(fl_results ".job == \"$j\" and .action == \"expire\" and .outcome == \"ok\"" | jq -r .job_id | sort -u | wc -l)
	((nbad == 0)) || fail "$j: $nbad results not ok: $(fl_results ".job == \"$j\" and .outcome != \"ok\"")"
	((ne == nb)) || fail "$j: $nb backups but $ne expiry results"
	echo "$j $nb" >>"$T/nbackups.txt"
done
ok "results: $(tr '\n' ' ' <"$T/nbackups.txt")"

check "scrub: one verify job a day per repository, and no revision unchecked for longer than 2d"
fl_results '.action == "verify"' >"$T/verifies.jsonl"
"$PYTHON" - "$T" "$STOP" "$SCRUB_PERIOD" "$T/status1.json" "$SCALE" "${JOBS[@]}" <<'EOF' || fail "the scrub did not keep its schedule"
import json, os, sys, datetime
T, stop, period, status = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.load(open(sys.argv[4]))
scale = float(sys.argv[5])  # results carry the worker's real time: gaps times the scale
ts = lambda s: datetime.datetime.fromisoformat(s).timestamp()
res = [json.loads(l) for l in open(os.path.join(T, "verifies.jsonl"))]
bad = 0
for job in sys.argv[6:]:
    mine = sorted(ts(r["started"]) for r in res if r["job"] == job)
    checked = sum(r.get("verify", {}).get("checked", 0) for r in res if r["job"] == job)
    gaps = [round((b - a) * scale) for a, b in zip(mine, mine[1:])]
    if len(mine) < 6 or any(abs(g - 86400) > 7200 for g in gaps) or checked == 0:
        print(f"{job}: {len(mine)} verify results, simulated gaps {gaps} s, {checked} revisions checked"); bad += 1
    # the repository: every revision found intact (verified, or made) within the period
    host = status["jobs"][job]["host"]
    repo = os.path.join(T, "wa" if host == "storage-a" else "wb", "base", job)
    for f in os.listdir(repo):
        if not f.endswith(".rev"):
            continue
        meta = dict(l.split(": ", 1) for l in open(os.path.join(repo, f)) if l[0] != " " and ": " in l)
        made = ts(meta["timestamp"].strip())
        last = max(made, ts(meta["verified_at"].strip())) if "verified_at" in meta else made
        if stop - last > period:
            print(f"{job}: revision {f} last found intact {stop - last:.0f} s before the stop"); bad += 1
    print(f"{job}: {len(mine)} verifies, {checked} revisions checked")
sys.exit(1 if bad else 0)
EOF
(($(jq '[.jobs[] | .scrub.failures_total] | add' "$T/status1.json") == 0)) || fail "scrub failures in /v1/status"
ok "scrubbed on schedule: $(jq -c '[.jobs[] | .scrub.checked_total]' "$T/status1.json") revisions checked per job"

check "automatic expiry removed revisions during the week"
made=$(awk '{s += $2} END {print s}' "$T/nbackups.txt")
left=0
for j in "${JOBS[@]}"; do
	host=$(jq -r ".jobs[\"$j\"].host" "$T/status1.json")
	base=$T/wa/base
	[[ $host == storage-b ]] && base=$T/wb/base
	n=$(fl_repo_status "$base" "$j" | jq length)
	left=$((left + n))
done
((left < made)) || fail "no revision was expired: $left left of $made"
ok "$left of $made revisions left"

check "manual job: backyctl run ${JOBS[0]} --tags manual:x"
"$CTL" --url "$CTL_URL" run "${JOBS[0]}" --tags manual:x >/dev/null || fail "backyctl run failed"
fl_wait 60 "the result of the manual backup" \
	bash -c "jq -e 'select(.kind == \"result\" and .job == \"${JOBS[0]}\" and .action == \"backup\" and (.tags // [] | index(\"manual:x\")))' '$T/results.jsonl' | grep -q ."
fl_wait 60 "the manual backup's expiry" fl_idle
ok "manual backup done and its result received"

check "a final expiry of every job at $E (frozen time, so the model is exact)"
for j in "${JOBS[@]}"; do
	n0=$(fl_results ".job == \"$j\" and .action == \"expire\"" | wc -l)
	"$CTL" --url "$CTL_URL" expire "$j" >/dev/null || fail "backyctl expire $j failed"
	fl_wait 60 "the expiry result of $j" \
		bash -c "(( \$(jq -c 'select(.kind == \"result\" and .job == \"$j\" and .action == \"expire\")' '$T/results.jsonl' | wc -l) > $n0 ))"
done
ok "expired"

check "every repository holds exactly the revisions and tags the model predicts"
for j in "${JOBS[@]}"; do
	host=$(jq -r ".jobs[\"$j\"].host" "$T/status1.json")
	base=$T/wa/base
	[[ $host == storage-b ]] && base=$T/wb/base
	fl_repo_status "$base" "$j" >"$T/repo-$j.json"
	"$BACKY" -b "$base/$j" verify -r all >>"$T/verify.log" 2>&1 || fail "backy verify of $j failed"
done
"$PYTHON" - "$T" "$S" "$E" "${JOBS[0]}" <<EOF || fail "repositories differ from the model"
$(cat "$T/model.py")
import os
T, start, end, manual_job = sys.argv[1], ts(sys.argv[2]), ts(sys.argv[3]), sys.argv[4]
bad = 0
made = dict(l.split() for l in open(os.path.join(T, "nbackups.txt")))
for line in open(os.path.join(T, "spreads.txt")):
    job, spread, host = line.split()
    plan = runs(int(spread), start, end)
    nmade = int(made[job])  # counted before the manual run
    if nmade != len(plan):
        print(f"{job}: {nmade} scheduled backups ran, the model plans {len(plan)}"); bad += 1
    revs = list(plan) + ([(int(end), ["manual:x"])] if job == manual_job else [])
    want = expire(revs, end)
    got = []
    for r in json.load(open(os.path.join(T, f"repo-{job}.json"))):
        t = ts(r["timestamp"])
        if r["tags"] == ["manual:x"]:
            got.append((int(t), r["tags"])); continue
        # the ideal time this revision belongs to: the latest daily ideal time not after it
        ideal = next_tag(t - D, D, int(spread))
        if t - ideal > 2 * 3600:
            print(f"{job}: revision {r['timestamp']} is {t - ideal:.0f} s after its ideal time"); bad += 1
        got.append((ideal, sorted(r["tags"])))
    fmt = lambda l: [(datetime.datetime.utcfromtimestamp(t).strftime("%a %m-%d %H:%M"), g) for t, g in l]
    if got != want:
        print(f"{job}: repository {fmt(got)}\n  model {fmt(want)}"); bad += 1
    else:
        print(f"{job}: {len(plan)} runs, kept {fmt(got)}")
sys.exit(1 if bad else 0)
EOF
ok "revisions and expiries exactly as predicted"

check "a corrupted revision: backyctl verify reports it distrusted, and changes no data"
J=${JOBS[1]}
host=$(jq -r ".jobs[\"$J\"].host" "$T/status1.json")
base=$T/wa/base
[[ $host == storage-b ]] && base=$T/wb/base
REV=$(fl_repo_status "$base" "$J" | jq -r '.[0].uuid')
chmod u+w "$base/$J/$REV"
head -c 512 /dev/urandom | dd of="$base/$J/$REV" bs=512 seek=2048 conv=notrunc status=none
sum0=$(sha256sum <"$base/$J/$REV")
nv=$(fl_results ".job == \"$J\" and .action == \"verify\"" | wc -l)
"$CTL" --url "$CTL_URL" verify "$J" >/dev/null || fail "backyctl verify failed"
fl_wait 60 "the verify result of $J" \
	bash -c "(( \$(jq -c 'select(.kind == \"result\" and .job == \"$J\" and .action == \"verify\")' '$T/results.jsonl' | wc -l) > $nv ))"
res=$(fl_results ".job == \"$J\" and .action == \"verify\"" | tail -1)
jq -e --arg rev "$REV" '.outcome == "failed" and .error.code == "BK_EVERIFY" and
	.verify.distrusted == 1 and (.verify.distrusted_revisions | index($rev))' <<<"$res" >/dev/null ||
	fail "the verify result does not report revision $REV distrusted: $res"
[[ $(sha256sum <"$base/$J/$REV") == "$sum0" ]] || fail "the verify changed the revision's data"
fl_wait 30 "the coordinator's account of it" fl_idle
out=$("$CTL" --status-url "$STATUS_URL" status)
grep -q "^$J: distrusted revisions .*$REV" <<<"$out" || fail "backyctl status does not show $REV: $out"
curl -fsS "$STATUS_URL/metrics" | grep -q "^backy_scrub_distrusted_revisions{job=\"$J\"} 1$" ||
	fail "/metrics does not count the distrusted revision"
set +e
out=$("$CTL" --status-url "$STATUS_URL" check)
rc=$?
set -e
((rc == 1)) && [[ $out == *"distrusted revisions: $J"* ]] || fail "backyctl check: exit $rc: $out"
ok "revision $REV distrusted: result $(jq -c '{outcome, verify}' <<<"$res"), backyctl check: $out"

check "SLA: 2 days later without backups, backyctl check says CRITICAL (2)"
fl_worker_stop wa
fl_worker_stop wb
fl_coord_stop c2
fl_coord_start c3 "$(fl_iso $((STOP + 2 * 86400)))" 0
set +e
out=$("$CTL" --status-url "$STATUS_URL" check)
rc=$?
set -e
((rc == 2)) || fail "backyctl check 2 days later: exit $rc (expected 2): $out"
[[ $out == CRITICAL:* ]] || fail "check line: $out"
ok "backyctl check: $out"
fl_coord_stop c3
