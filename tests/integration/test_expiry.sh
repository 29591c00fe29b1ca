#!/bin/bash
# test_expiry.sh: retention through the CLI with a simulated clock (BACKY_NOW).
#
# Schedule daily=1d:5, weekly=1w:2, quarter=6h:3; `backup` (scheduled, no tags)
# runs at hourly steps over 10 simulated days on a tiny source that changes
# every step.  A model written here from the rule in REFERENCE-BEHAVIOUR.md
# (Expiry) predicts the revisions and their tags after every step; status
# --json must match it exactly.  The model includes the floors of the scheduled
# backup (min-keep 3, min-age 1d, the newest trusted revision: schedule.h).
# Plus: manual: tags survive, unknown tags are dropped, tagless revisions go,
# `expire --dry-run` changes nothing, and the upstream vector "keep 5 daily: a
# 6th inside the 5-day window stays".  And the attack of issue 10: a schedule
# replaced by {x: 1d:1} (as a job from the broker would) deletes nothing the
# old schedule still kept, while `expire --force` applies the plain rule.
. "$(dirname "$0")/lib.sh"

SRC=$T/src.img
REPO=$T/repo
head -c 65536 /dev/urandom >"$SRC"

check "simulate 10 days of hourly scheduled backups and compare with the expiry model"
"$PYTHON" - "$BACKY" "$REPO" "$SRC" <<'EOF' || fail "expiry scenario failed (see above)"
import datetime as dt, json, os, subprocess, sys

BACKY, REPO, SRC = sys.argv[1:4]
SCHEDULE = {"daily": (86400, 5), "weekly": (7 * 86400, 2), "quarter": (6 * 3600, 3)}
SPEC = ",".join("%s=%ds:%d" % (t, i, k) for t, (i, k) in SCHEDULE.items())
START = dt.datetime(2025, 3, 3, 0, 0, tzinfo=dt.timezone.utc)  # a Monday
HOUR = dt.timedelta(hours=1)
failures = 0


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def backy(now, *args, ok=True):
    env = dict(os.environ, BACKY_NOW=iso(now))
    p = subprocess.run([BACKY, "-b", REPO] + list(args), env=env, capture_output=True, text=True)
    if ok and p.returncode != 0:
        sys.exit("FAIL: backy %s at %s exited %d: %s" % (" ".join(args), iso(now), p.returncode, p.stderr))
    return p


def status(now):
    return json.loads(backy(now, "status", "--json").stdout)


def ts(rev):
    return dt.datetime.fromisoformat(rev["timestamp"])


# --- the model: REFERENCE-BEHAVIOUR.md, Expiry, plus the floors of issue 10 ----
model = {}  # uuid -> {"t": datetime, "tags": set}; every revision complete and trusted
MIN_KEEP, MIN_AGE = 3, dt.timedelta(days=1)  # backy's defaults


def expire(model, now, schedule=SCHEDULE, record={}, floors=True):
    """RECORD: tag -> longest retention in seconds (the config's tag-retention)."""
    newtags = {u: set(r["tags"]) for u, r in model.items()}
    oldest_first = sorted(model, key=lambda u: model[u]["t"])
    for tag, (interval, keep) in schedule.items():
        carriers = [u for u in oldest_first if tag in model[u]["tags"]]
        if len(carriers) <= keep:
            continue
        threshold = now - dt.timedelta(seconds=keep * interval)
        for u in carriers[: len(carriers) - keep]:  # all but the newest KEEP
            if model[u]["t"] < threshold:
                newtags[u].discard(tag)
    for u in model:
        # tags of no schedule go, except manual ones and, under the floors, a
        # retired tag on revisions younger than its recorded retention
        newtags[u] = {t for t in newtags[u] if t in schedule or t.startswith("manual:") or
                      (floors and t in record and model[u]["t"] >= now - dt.timedelta(seconds=record[t]))}
    may_go = len(model) - MIN_KEEP
    for u in oldest_first:  # the oldest go first when min-keep limits
        if newtags[u]:
            model[u]["tags"] = newtags[u]
        elif floors and (u == oldest_first[-1] or model[u]["t"] >= now - MIN_AGE or may_go <= 0):
            pass  # kept by a floor, with its old tags
        else:
            may_go -= 1
            del model[u]


def compare(now, what):
    global failures
    actual = {r["uuid"]: set(r["tags"]) for r in status(now)}
    expected = {u: r["tags"] for u, r in model.items()}
    if actual != expected:
        failures += 1
        print("FAIL: %s at %s: status differs from the model" % (what, iso(now)))
        for u in sorted(set(actual) | set(expected)):
            a, e = actual.get(u), expected.get(u)
            if a != e:
                print("   %s: expected %s, actual %s" % (u, sorted(e) if e else "(absent)", sorted(a) if a else "(absent)"))
        sys.exit(1)


backy(START - HOUR, "init", "file", SRC, "--schedule", SPEC)
created = []  # (time, tags) of every revision the scheduler made
now = START
manual_rev = unknown_rev = None
six_checked = 0
for step in range(10 * 24 + 1):
    now = START + step * HOUR
    with open(SRC, "r+b") as f:  # change a byte every step
        f.seek(step % 65536)
        f.write(bytes([step % 251 + 1]))
    before = set(model)
    p = backy(now, "backup")
    revs = status(now)
    new = [r for r in revs if r["uuid"] not in before and r["uuid"] not in {c[2] for c in created}]
    if len(new) > 1:
        sys.exit("FAIL: %d revisions appeared in one step at %s" % (len(new), iso(now)))
    if new:
        r = new[0]
        if ts(r) != now:
            sys.exit("FAIL: revision %s has timestamp %s, BACKY_NOW was %s" % (r["uuid"], r["timestamp"], iso(now)))
        if not r["complete"] or not set(r["tags"]) <= set(SCHEDULE) or not r["tags"]:
            sys.exit("FAIL: scheduled revision %s: complete=%s tags=%s" % (r["uuid"], r["complete"], r["tags"]))
        created.append((now, set(r["tags"]), r["uuid"]))
        model[r["uuid"]] = {"t": now, "tags": set(r["tags"])}
        expire(model, now)
    elif p.stdout.strip():
        print("note: output without a new revision: %s" % p.stdout.strip())
    compare(now, "after the scheduled backup")
    if new and "daily" in new[0]["tags"] and sum("daily" in c[1] for c in created) >= 7:
        # upstream vector, right after a daily run: keep 5 daily, and a 6th
        # one exactly 5 days old (inside the window) stays
        kept = sorted(ts(r) for r in status(now) if "daily" in r["tags"])
        if len(kept) != 6 or kept[0] != now - dt.timedelta(days=5):
            sys.exit("FAIL: after the daily run at %s expected 6 daily revisions, the oldest 5 days old: %s"
                     % (iso(now), [iso(t) for t in kept]))
        six_checked = six_checked + 1

    if step == 6 * 24:
        # the oldest daily revision will lose 'daily' before the end
        dailies = sorted((model[u]["t"], u) for u in model
                         if "daily" in model[u]["tags"] and "weekly" not in model[u]["tags"])
        manual_rev = dailies[0][1]
        others = [u for t, u in sorted((model[u]["t"], u) for u in model) if u != manual_rev]
        unknown_rev = others[0]
        backy(now, "tags", "add", "-r", manual_rev, "manual:test")
        backy(now, "tags", "add", "-f", "-r", manual_rev, "unknown")
        backy(now, "tags", "add", "-f", "-r", unknown_rev, "unknown")
        p = backy(now, "tags", "add", "-r", unknown_rev, "unknown", ok=False)
        if p.returncode != 1:
            sys.exit("FAIL: tags add of an unknown tag without -f exited %d" % p.returncode)
        model[manual_rev]["tags"] |= {"manual:test", "unknown"}
        model[unknown_rev]["tags"] |= {"unknown"}
        print("  .. at %s: %s tagged %s, %s tagged %s" % (
            iso(now), manual_rev, sorted(model[manual_rev]["tags"]), unknown_rev, sorted(model[unknown_rev]["tags"])))
        compare(now, "after tags add")

print("  ok: status matched the model after each of %d steps" % (step + 1))
days = [c for c in created if "daily" in c[1]]
print("  ok: %d scheduled revisions created, %d of them daily, %d weekly, %d quarter" % (
    len(created), len(days), sum("weekly" in c[1] for c in created), sum("quarter" in c[1] for c in created)))
if not 10 <= len(days) <= 11:
    sys.exit("FAIL: %d daily backups in 10 days" % len(days))
# the first revision takes every tag at the first ideal time of any tag; from
# then on daily runs come at the daily ideal time, 24 h apart
gaps = {(b[0] - a[0]) for a, b in zip(days[1:], days[2:])}
print("  .. first revision at %s with %s; daily at %s" % (iso(created[0][0]), sorted(created[0][1]),
                                                       ", ".join(iso(d[0])[5:16] for d in days)))
if gaps != {dt.timedelta(days=1)} or days[1][0] - days[0][0] > dt.timedelta(days=1):
    sys.exit("FAIL: daily backups are not 24 h apart: %s" % sorted(gaps))
if not 39 <= sum("quarter" in c[1] for c in created) <= 41:
    sys.exit("FAIL: %d quarter backups in 10 days" % sum("quarter" in c[1] for c in created))

# explicit expectations, independent of the model code
final = {r["uuid"]: r for r in status(now)}
daily_now = sorted(ts(r) for r in final.values() if "daily" in r["tags"])
last_daily = days[-1][0]
# keep 5 daily + everything younger than 5 days: the one exactly 5 days old stays
expect_daily = [d[0] for d in days if d[0] >= now - dt.timedelta(days=5)]
expect_daily = sorted(set(expect_daily) | set(d[0] for d in days[-5:]))
print("  .. daily revisions kept: %s" % [iso(t) for t in daily_now])
if daily_now != expect_daily:
    sys.exit("FAIL: daily revisions %s, expected %s" % ([iso(t) for t in daily_now], [iso(t) for t in expect_daily]))
if six_checked < 3:
    sys.exit("FAIL: the keep-5 vector was checked after only %d daily runs" % six_checked)
print("  ok: keep 5 daily: after each of %d daily runs a 6th daily exactly 5 days old stayed" % six_checked)
quarter_now = sorted(ts(r) for r in final.values() if "quarter" in r["tags"])
quarters = sorted(c[0] for c in created if "quarter" in c[1])
# keep 3 + younger than 18 h; and a revision with no other tag stays a day (min-age), keeping it
expect_quarter = sorted(set(t for t in quarters if t >= now - dt.timedelta(hours=18)) | set(quarters[-3:]) |
                        set(c[0] for c in created if c[1] == {"quarter"} and c[0] >= now - dt.timedelta(days=1)))
if quarter_now != expect_quarter:
    sys.exit("FAIL: quarter revisions %s, expected %s" % ([iso(t) for t in quarter_now], [iso(t) for t in expect_quarter]))
print("  ok: quarter (6h, keep 3) revisions: %d (%d kept a day by min-age)" % (
    len(quarter_now), len(set(quarter_now) - set(t for t in quarters if t >= now - dt.timedelta(hours=18)) - set(quarters[-3:]))))
if manual_rev not in final or final[manual_rev]["tags"] != ["manual:test"]:
    sys.exit("FAIL: revision %s with {daily, manual:test, unknown} should be kept as {manual:test}: %s" % (
        manual_rev, final.get(manual_rev, {}).get("tags", "(deleted)")))
print("  ok: {daily, manual:test, unknown} -> {manual:test}, revision kept")
if unknown_rev in final and "unknown" in final[unknown_rev]["tags"]:
    sys.exit("FAIL: the tag 'unknown' survived expiry on %s" % unknown_rev)
print("  ok: the unknown tag was dropped (revision %s %s)" % (
    unknown_rev, "kept as %s" % final[unknown_rev]["tags"] if unknown_rev in final else "deleted"))
untagged = [u for u, r in final.items() if not r["tags"]]
if untagged:
    sys.exit("FAIL: revisions without tags survive: %s" % untagged)


# --- the attack of issue 10: a schedule replaced by {x: 1d:1} ------------------
def hostile_copy(name, keep_record=True):
    """A copy of the repository whose schedule a job replaced by {x: 1d:1}."""
    path = os.path.join(os.path.dirname(REPO), name)
    subprocess.run(["cp", "-a", REPO, path], check=True)
    lines = open(os.path.join(path, "config")).read().split("\n")
    out, skip = [], False
    for line in lines:
        if line.startswith("schedule:"):
            out += ["schedule:", "  x:", "    interval: 1d", "    keep: 1"]
            skip = True
            continue
        if skip and line.startswith(" "):
            continue
        skip = False
        if keep_record or not line.startswith("tag-retention:"):
            out.append(line)
    open(os.path.join(path, "config"), "w").write("\n".join(out))
    return path


def status_of(path, when):
    p = subprocess.run([BACKY, "-b", path, "status", "--json"], env=dict(os.environ, BACKY_NOW=iso(when)),
                       capture_output=True, text=True, check=True)
    return {r["uuid"]: set(r["tags"]) for r in json.loads(p.stdout)}


def run_expire(path, when, *args):
    p = subprocess.run([BACKY, "-b", path, "expire"] + list(args), env=dict(os.environ, BACKY_NOW=iso(when)),
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("FAIL: expire %s at %s exited %d: %s" % (" ".join(args), iso(when), p.returncode, p.stderr))
    return p


config_text = open(os.path.join(REPO, "config")).read()
if "\ntag-retention: {daily: 5d, quarter: 18h, weekly: 2w}\n" not in config_text:
    sys.exit("FAIL: config lacks the retention record of its schedule:\n" + config_text)
print("  ok: config records tag-retention: {daily: 5d, quarter: 18h, weekly: 2w}")
RECORD = {t: i * k for t, (i, k) in SCHEDULE.items()}
X = {"x": (86400, 1)}
before_attack = {u: set(r["tags"]) for u, r in model.items()}
hostile = hostile_copy("hostile")
run_expire(hostile, now)
if status_of(hostile, now) != before_attack:
    sys.exit("FAIL: expire under {x: 1d:1} changed what the old schedule kept: %s, before %s" % (
        status_of(hostile, now), before_attack))
print("  ok: schedule {x: 1d:1}: expire keeps all %d revisions (their tags are within tag-retention)" % len(before_attack))
expected = {u: {"t": r["t"], "tags": set(r["tags"])} for u, r in model.items()}
for days in (2, 6, 15):
    when = now + dt.timedelta(days=days)
    expire(expected, when, schedule=X, record=RECORD)
    p = run_expire(hostile, when)
    actual = status_of(hostile, when)
    if actual != {u: r["tags"] for u, r in expected.items()}:
        sys.exit("FAIL: expire under {x: 1d:1} at +%dd: %s, the model says %s\n%s" % (
            days, actual, {u: r["tags"] for u, r in expected.items()}, p.stderr))
    print("  ok: +%dd under {x: 1d:1}: %d revisions left as the model says, tags %s" % (
        days, len(actual), sorted(set().union(*actual.values()))))
if len(actual) != MIN_KEEP or "keeping revision" not in open(os.path.join(hostile, "backy.log")).read():
    sys.exit("FAIL: after 15 days under {x: 1d:1} expected min-keep %d revisions, and the floor logged: %d" % (
        MIN_KEEP, len(actual)))
print("  ok: min-keep kept %d revisions after 15 days, logged 'keeping revision'" % MIN_KEEP)

# an old repository without the record: only the floors are left
norecord = hostile_copy("norecord", keep_record=False)
expected = {u: {"t": r["t"], "tags": set(r["tags"])} for u, r in model.items()}
expire(expected, now + dt.timedelta(days=2), schedule=X)
run_expire(norecord, now + dt.timedelta(days=2))
if status_of(norecord, now) != {u: r["tags"] for u, r in expected.items()} or len(expected) != MIN_KEEP:
    sys.exit("FAIL: without a record, expected the %d newest revisions: %s" % (MIN_KEEP, status_of(norecord, now)))
print("  ok: without a record the floors keep the %d newest revisions" % MIN_KEEP)

# --force: the plain rule, as before the floors
forced = hostile_copy("forced")
expected = {u: {"t": r["t"], "tags": set(r["tags"])} for u, r in model.items()}
expire(expected, now, schedule=X, floors=False)
run_expire(forced, now, "--force")
if status_of(forced, now) != {u: r["tags"] for u, r in expected.items()} or len(expected) != 1:
    sys.exit("FAIL: expire --force under {x: 1d:1}: %s, expected only the manual:test revision" % status_of(forced, now))
print("  ok: expire --force under {x: 1d:1} deletes all but the manual:test revision")
for path in (hostile, norecord, forced):
    subprocess.run(["rm", "-rf", path], check=True)


# --- expire --dry-run and expire far in the future ---------------------------
def snapshot():
    out = []
    for name in sorted(os.listdir(REPO)):
        if name in ("backy.log", ".lock"):
            continue
        path = os.path.join(REPO, name)
        st = os.lstat(path)
        data = open(path, "rb").read() if os.path.isfile(path) and not os.path.islink(path) else os.readlink(path) if os.path.islink(path) else b""
        out.append((name, st.st_mode, st.st_size, st.st_mtime_ns, hash(data)))
    return out


later = now + dt.timedelta(days=30)
expected_after = {u: {"t": r["t"], "tags": set(r["tags"])} for u, r in model.items()}
expire(expected_after, later)
before = snapshot()
p = backy(later, "expire", "--dry-run")
if snapshot() != before:
    sys.exit("FAIL: expire --dry-run changed the repository")
removals = [l for l in p.stdout.splitlines() if l.startswith("would remove")]
gone = set(model) - set(expected_after)
if len(removals) != len(gone) or not all(any(u in l for l in removals) for u in gone):
    sys.exit("FAIL: expire --dry-run announced %d removals, the model predicts %d:\n%s" % (len(removals), len(gone), p.stdout))
print("  ok: expire --dry-run (+30 days) announces %d removals and changes nothing" % len(removals))
backy(later, "expire")
model = expected_after
compare(later, "after expire +30 days")
final = {r["uuid"]: r for r in status(later)}
count = {t: sum(t in r["tags"] for r in final.values()) for t in SCHEDULE}
if count != {t: k for t, (i, k) in SCHEDULE.items()}:
    sys.exit("FAIL: after 30 idle days expected exactly KEEP carriers per tag, got %s" % count)
if final.get(manual_rev, {}).get("tags") != ["manual:test"]:
    sys.exit("FAIL: the manual:test revision did not survive the final expiry")
print("  ok: after 30 idle days: %s carriers, manual:test kept, %d revisions" % (count, len(final)))
latest = os.readlink(os.path.join(REPO, "latest"))
newest = max(final.values(), key=ts)["uuid"]
if latest != newest:
    sys.exit("FAIL: latest -> %s, newest is %s" % (latest, newest))
for name in os.listdir(REPO):
    base = name[:-5] if name.endswith(".sums") else name
    if name in ("config", "backy.log", ".lock", "latest") or name.endswith(".rev"):
        continue
    if base not in final:
        sys.exit("FAIL: file %s of a deleted revision is still there" % name)
print("  ok: no files of deleted revisions remain; latest -> newest")
EOF
check "every remaining revision verifies"
bk -b "$REPO" verify -r all
ok "verify -r all"
