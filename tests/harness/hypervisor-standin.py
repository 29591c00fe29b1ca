#!/usr/bin/env python3
"""A stand-in for the fc.qemu hypervisor agent, for tests only.

Usage: hypervisor-standin.py --consul URL [--token T] --vm VM --pool POOL
           --image IMAGE [--mode react|silent|late|garbage] [--delay S]
           [--late S] [--ceph-id admin] [--log FILE] [--once]

Polls Consul (the stand-in) every 0.2 s for snapshot/ keys.  For a request
whose JSON value names our VM ({"vm": VM, "snapshot": NAME}) it acts once per
key, like fc.qemu: it "freezes" the guest and creates the RBD snapshot
POOL/IMAGE@NAME with `rbd --id CEPH_ID snap create` (CEPH_CONF from the
environment).  It never writes back to Consul about the request.

Modes:
  react    create the snapshot after --delay seconds (default 0)
  silent   log what it sees, never snapshot (VM stopped or migrated)
  late     create the snapshot --late seconds after seeing the request
           (after backy's timeout, i.e. after its fallback started)
  garbage  first write junk under snapshot/: non-JSON values, an empty
           value, JSON that is not a request, stale backy-* requests for
           VM, plus a request of another VM and a non-backy request of VM
           (those two must survive backy's sweep), then react like `react`

Every action is logged as a JSON line to --log ("seen", "snapshot",
"snapshot-failed", "garbage").
"""
import argparse
import base64
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request


def log(path, **rec):
    rec["t"] = round(time.time(), 3)
    line = json.dumps(rec)
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")
    else:
        print(line, flush=True)


def http(a, method, key, body=None, query=""):
    url = "%s/v1/kv/%s%s" % (a.consul.rstrip("/"), key, ("?" + query) if query else "")
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("User-Agent", "hypervisor-standin")
    if a.token:
        req.add_header("X-Consul-Token", a.token)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


GARBAGE = None


def write_garbage(a):
    items = {
        "snapshot/garbage-nonjson": b"this is { not json",
        "snapshot/garbage-empty": b"",
        "snapshot/garbage-list": b"[1, 2, 3]",
        "snapshot/garbage-binary": bytes(range(256)),
        "snapshot/stale-1": json.dumps({"vm": a.vm, "snapshot": "backy-stale1"}).encode(),
        "snapshot/stale-2": json.dumps({"vm": a.vm, "snapshot": "backy-stale2"}).encode(),
        "snapshot/keep-other-vm": json.dumps({"vm": a.vm + "-other", "snapshot": "backy-x"}).encode(),
        "snapshot/keep-nonbacky": json.dumps({"vm": a.vm, "snapshot": "manual-x"}).encode(),
    }
    for k, v in items.items():
        st, _ = http(a, "PUT", k, v)
        log(a.log, event="garbage", key=k, status=st)


def snapshot(a, key, name, delay):
    if delay:
        time.sleep(delay)
    cmd = ["rbd", "--id", a.ceph_id, "snap", "create", "%s/%s@%s" % (a.pool, a.image, name)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode == 0:
        log(a.log, event="snapshot", key=key, snapshot=name)
    else:
        log(a.log, event="snapshot-failed", key=key, snapshot=name, rc=p.returncode,
            stderr=p.stderr.strip()[-300:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--consul", required=True)
    ap.add_argument("--token")
    ap.add_argument("--vm", required=True)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--mode", default="react", choices=["react", "silent", "late", "garbage"])
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--late", type=float, default=10)
    ap.add_argument("--ceph-id", default="admin")
    ap.add_argument("--log")
    a = ap.parse_args()

    if a.mode == "garbage":
        write_garbage(a)
    seen = set()
    log(a.log, event="started", mode=a.mode)
    while True:
        try:
            st, data = http(a, "GET", "snapshot/", query="recurse")
        except OSError as e:
            log(a.log, event="consul-error", error=str(e))
            time.sleep(0.5)
            continue
        if st == 200:
            for item in json.loads(data):
                key = item.get("Key")
                if key in seen:
                    continue
                raw = base64.b64decode(item["Value"]) if item.get("Value") else b""
                try:
                    v = json.loads(raw)
                    vm, name = v["vm"], v["snapshot"]
                except Exception:
                    continue  # not a request: fc.qemu ignores it
                if vm != a.vm:
                    continue
                seen.add(key)
                if name in ("backy-stale1", "backy-stale2", "manual-x"):
                    continue  # our own junk
                log(a.log, event="seen", key=key, snapshot=name)
                if a.mode == "silent":
                    continue
                delay = a.late if a.mode == "late" else a.delay
                threading.Thread(target=snapshot, args=(a, key, name, delay), daemon=True).start()
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
