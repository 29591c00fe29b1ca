#!/usr/bin/env python3
"""fleet_check.py: the properties bench/fleet.sh checks after its simulated period.

Every job has one schedule tag of INTERVAL seconds, so its due times are its
first planned time (the probe coordinator's next_time) plus whole intervals,
up to END.  Checked, from the result stream (a dashboard's queue bound to
backy.results with "#") and from the repositories (`backy status --json`):

  - per job, one good backup result (distinct job id) per due time, none
    failed, each from the host the job was placed on, and one good expiry
    per backup (expire: true); results seen twice with the same job id (a
    redelivery answered from the worker's journal) are counted, not failures;
  - per job, one revision per due time, the k-th between the k-th due time and
    the next one, and every revision named by a good backup result;
  - placement: every host's job count within SPREAD % of the mean.

Prints the figures (the line "backups N" is read by fleet.sh) and exits 1
when a property does not hold.
"""
import argparse
import collections
import datetime
import json
import os
import statistics
import subprocess
import sys


def epoch(iso):
    return int(datetime.datetime.fromisoformat(iso).timestamp())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plan", required=True, help="the probe coordinator's /v1/status")
    ap.add_argument("--results", required=True, help="results, one JSON document a line")
    ap.add_argument("--base", required=True, help="parent of the hosts' directories")
    ap.add_argument("--backy", required=True)
    ap.add_argument("--start", type=int, required=True)
    ap.add_argument("--end", type=int, required=True)
    ap.add_argument("--interval", type=int, required=True)
    ap.add_argument("--spread", type=float, required=True)
    ap.add_argument("--hosts", required=True, help="the configured hosts, space-separated")
    a = ap.parse_args()
    bad = []

    plan = json.load(open(a.plan))["jobs"]
    hosts = a.hosts.split()

    # placement
    per_host = collections.Counter({h: 0 for h in hosts})
    per_host.update(j["host"] for j in plan.values())
    mean = len(plan) / len(hosts)
    lo, hi = min(per_host.values()), max(per_host.values())
    dev = max(hi - mean, mean - lo) / mean * 100
    outside = sorted(h for h, n in per_host.items() if abs(n - mean) > mean * a.spread / 100)
    print(f"placement       {len(plan)} jobs on {len(hosts)} hosts: mean {mean:.1f}, min {lo}, "
          f"max {hi}, stdev {statistics.pstdev(per_host.values()):.1f}; largest deviation "
          f"{dev:.0f} % (allowed {a.spread:g} %), {len(outside)} hosts outside")
    if outside:
        bad.append(f"placement: {len(outside)} of {len(hosts)} hosts hold more or fewer than "
                   f"{mean:.1f} +- {a.spread:g} % jobs (min {lo}, max {hi})")

    # due times
    due = {}
    for name, j in plan.items():
        t = epoch(j["next_time"])
        due[name] = []
        while t <= a.end:
            due[name].append(t)
            t += a.interval
    expected = sum(len(d) for d in due.values())

    # the result stream
    backups = collections.defaultdict(set)
    expiries = collections.defaultdict(set)
    revisions_named = collections.defaultdict(set)
    seen = collections.Counter()
    failed = []
    for line in open(a.results):
        r = json.loads(line)
        if r.get("kind") != "result":
            continue
        seen[r["job_id"]] += 1
        if seen[r["job_id"]] > 1:
            continue
        job = r["job"]
        if r["outcome"] != "ok":
            failed.append(f"{r['action']} of {job} ({r['job_id']}) on {r['host']}: "
                          f"{r['outcome']} {r.get('error', {}).get('code', '')} "
                          f"{r.get('error', {}).get('message', '')}")
            continue
        if job not in plan or r["host"] != plan[job]["host"]:
            bad.append(f"{job}: result from host {r['host']}, placed on "
                       f"{plan.get(job, {}).get('host')}")
        if r["action"] == "backup":
            backups[job].add(r["job_id"])
            revisions_named[job].add(r.get("revision"))
        elif r["action"] == "expire":
            expiries[job].add(r["job_id"])
    nb = sum(len(v) for v in backups.values())
    ne = sum(len(v) for v in expiries.values())
    twice = sum(1 for n in seen.values() if n > 1)
    print(f"backups {nb} of {expected} due ({len(plan)} jobs, due times up to "
          f"{datetime.datetime.utcfromtimestamp(a.end):%Y-%m-%d %H:%M:%S}), {ne} expiries, "
          f"{len(failed)} failed, {twice} results seen twice (same job id)")
    for f in failed[:10]:
        bad.append(f"failed: {f}")
    wrong = [j for j in plan if len(backups[j]) != len(due[j])]
    for j in wrong[:10]:
        bad.append(f"{j}: {len(backups[j])} good backups (distinct job ids), {len(due[j])} due")
    if len(wrong) > 10:
        bad.append(f"... and {len(wrong) - 10} more jobs with a wrong number of backups")
    unexp = [j for j in plan if len(expiries[j]) != len(backups[j])]
    for j in unexp[:10]:
        bad.append(f"{j}: {len(expiries[j])} expiries for {len(backups[j])} backups")

    # the repositories
    lags, nrev, mism = [], 0, []
    for name, j in sorted(plan.items()):
        repo = os.path.join(a.base, j["host"], "base", name)
        if not due[name] and not os.path.isdir(repo):
            continue
        p = subprocess.run([a.backy, "-b", repo, "status", "--json"], capture_output=True, text=True)
        if p.returncode != 0:
            mism.append(f"{name}: backy status failed: {p.stderr.strip()[:200]}")
            continue
        revs = sorted(json.loads(p.stdout), key=lambda r: r["timestamp"])
        nrev += len(revs)
        times = [epoch(r["timestamp"]) for r in revs]
        d = due[name]
        if len(times) != len(d):
            mism.append(f"{name}: {len(times)} revisions, {len(d)} due times")
            continue
        for k, t in enumerate(times):
            nxt = d[k + 1] if k + 1 < len(d) else a.end + 1
            if not d[k] <= t < nxt:
                mism.append(f"{name}: revision {k + 1} at {revs[k]['timestamp']} is not between "
                            f"its due time {d[k]} and the next {nxt}")
            lags.append(t - d[k])
        stray = {r["uuid"] for r in revs} - revisions_named[name]
        if stray:
            mism.append(f"{name}: revisions no good backup result names: {sorted(stray)}")
    bad += mism[:10]
    if len(mism) > 10:
        bad.append(f"... and {len(mism) - 10} more repositories that differ")
    if lags:
        lags.sort()
        print(f"revisions       {nrev}; simulated lag behind the due time: median "
              f"{statistics.median(lags):.0f} s, p99 {lags[int(0.99 * (len(lags) - 1))]} s, "
              f"max {lags[-1]} s")
    else:
        print(f"revisions       {nrev}")

    for b in bad:
        print(f"FAIL: {b}")
    print("PASS" if not bad else f"{len(bad)} failures")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
