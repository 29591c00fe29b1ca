#!/usr/bin/python3
"""broker_perms.py: what the broker lets each of backy's users do (test_broker_perms.sh).

A third-party client (pika) logs in with the users of tests/harness/rabbit-perms.sh
and tries what a compromised worker or dashboard would try.  Every attack must
be refused by the broker with 403 ACCESS_REFUSED (any other error, or success,
fails the test), and the positive controls must work, so that the test also
fails when permissions are simply broken.

Usage: broker_perms.py  (environment: URL_COORD, URL_CTL, URL_DASH, URL_A, URL_B,
                         HOST_A, HOST_B; the topology and both hosts' job queues
                         are declared, e.g. by mq_publish --declare)
Prints one line per check; exit 0 when all passed, 1 otherwise.
"""
import json
import os
import sys
import time
import uuid

import pika

ENV = os.environ
HOST_A, HOST_B = ENV["HOST_A"], ENV["HOST_B"]
KEY_A, KEY_B = HOST_A.replace(".", ":"), HOST_B.replace(".", ":")
RUN = uuid.uuid4().hex[:12]
failures = []


def connect(url):
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = 10
    params.blocked_connection_timeout = 10
    return pika.BlockingConnection(params)


def props(kind):
    return pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                message_id=f"perms-{RUN}-{kind}-{uuid.uuid4().hex[:8]}")


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime())


def job(host, action):
    m = {"schema": "backy/1.0", "kind": "job", "id": uuid.uuid4().hex[:22], "time": now(),
         "job_id": uuid.uuid4().hex[:22], "job": "vm-perms", "host": host, "action": action,
         "deadline": now(), "attempt": 1}
    if action == "backup":
        m["tags"] = ["daily"]
        m["source"] = {"type": "file", "filename": "/etc/shadow"}
    return json.dumps(m).encode()


def result(host):
    return json.dumps({"schema": "backy/1.0", "kind": "result", "id": uuid.uuid4().hex[:22],
                       "time": now(), "job_id": uuid.uuid4().hex[:22], "job": "vm-perms",
                       "host": host, "action": "backup", "outcome": "ok", "tags": ["daily"],
                       "started": now(), "finished": now()}).encode()


def heartbeat(host):
    return json.dumps({"schema": "backy/1.0", "kind": "heartbeat", "id": uuid.uuid4().hex[:22],
                       "time": now(), "host": host}).encode()


def publish(ch, exchange, key, body, kind="msg"):
    """Publish with publisher confirms, so that a refusal surfaces here."""
    ch.confirm_delivery()  # again on the same channel is fine (confirm.select is idempotent)
    ch.basic_publish(exchange, key, body, props(kind), mandatory=True)


def refused(conn, who, what, action):
    """ACTION(channel) must make the broker close the channel with 403 ACCESS_REFUSED."""
    ch = conn.channel()
    try:
        action(ch)
    except pika.exceptions.ChannelClosedByBroker as e:
        if e.reply_code == 403 and e.reply_text.startswith("ACCESS_REFUSED"):
            print(f"  ok: {who} may not {what}: {e.reply_code} {e.reply_text[:110]}")
            return
        failures.append(f"{who} {what}: refused, but with {e.reply_code} {e.reply_text}")
        print(f"  FAIL: {failures[-1]}")
        return
    except Exception as e:  # connection trouble and the like are not a refusal
        failures.append(f"{who} {what}: {type(e).__name__}: {e}")
        print(f"  FAIL: {failures[-1]}")
        return
    failures.append(f"{who} {what}: the broker allowed it")
    print(f"  FAIL: {failures[-1]}")
    if ch.is_open:
        ch.close()


def allowed(what, action):
    try:
        out = action()
    except Exception as e:
        failures.append(f"positive control '{what}' failed: {type(e).__name__}: {e}")
        print(f"  FAIL: {failures[-1]}")
        return None
    print(f"  ok: {what}")
    return out


def attacks(conn, who, own_key):
    """What neither a dashboard nor a storage host may do."""
    qb = f"backy.jobs.{HOST_B}"
    quorum = {"x-queue-type": "quorum", "x-dead-letter-exchange": "backy.dlx"}
    refused(conn, who, f"publish a backup job for {HOST_B}",
            lambda ch: publish(ch, "backy.jobs", HOST_B, job(HOST_B, "backup")))
    refused(conn, who, f"publish a backup job for its own host",
            lambda ch: publish(ch, "backy.jobs", own_key or HOST_A, job(HOST_A, "backup")))
    refused(conn, who, f"publish an expiry for {HOST_B}",
            lambda ch: publish(ch, "backy.jobs", HOST_B, job(HOST_B, "expire")))
    refused(conn, who, f"publish a job straight into {qb} (default exchange)",
            lambda ch: publish(ch, "", qb, job(HOST_B, "expire")))
    refused(conn, who, "publish a request to backy.control",
            lambda ch: publish(ch, "backy.control", "request", json.dumps(
                {"schema": "backy/1.0", "kind": "request", "id": uuid.uuid4().hex[:22],
                 "time": now(), "action": "expire", "job": "vm-perms"}).encode()))
    refused(conn, who, f"publish a result under {HOST_B}'s routing key",
            lambda ch: publish(ch, "backy.results", f"backup.ok.{KEY_B}.vm-perms", result(HOST_B)))
    refused(conn, who, f"publish a heartbeat under {HOST_B}'s name",
            lambda ch: publish(ch, "backy.workers", HOST_B, heartbeat(HOST_B)))
    refused(conn, who, f"consume {qb}",
            lambda ch: ch.basic_consume(qb, lambda *a: None))
    refused(conn, who, f"basic.get from {qb}", lambda ch: ch.basic_get(qb))
    refused(conn, who, f"purge {qb}", lambda ch: ch.queue_purge(qb))
    refused(conn, who, f"declare {qb}",
            lambda ch: ch.queue_declare(qb, durable=True, arguments=quorum))
    refused(conn, who, "declare backy.coordinator.results",
            lambda ch: ch.queue_declare("backy.coordinator.results", durable=True,
                                        arguments={"x-queue-type": "quorum",
                                                   "x-dead-letter-exchange": "backy.dlx"}))
    refused(conn, who, "declare the exchange backy.jobs",
            lambda ch: ch.exchange_declare("backy.jobs", "direct", durable=True))
    refused(conn, who, f"delete {qb}", lambda ch: ch.queue_delete(qb))
    refused(conn, who, "delete backy.coordinator.results",
            lambda ch: ch.queue_delete("backy.coordinator.results"))
    refused(conn, who, "delete the exchange backy.results",
            lambda ch: ch.exchange_delete("backy.results"))


def main():
    coord = connect(ENV["URL_COORD"])
    dash = connect(ENV["URL_DASH"])
    wa = connect(ENV["URL_A"])
    wb = connect(ENV["URL_B"])
    ctl = connect(ENV["URL_CTL"])

    print(f"dashboard (backy-dashboard), storage hosts {HOST_A} and {HOST_B}, run {RUN}")

    # ---- positive controls, part 1: the dashboard's own queue, bound to A's results
    dq = f"dashboard.t.perms.{RUN}"
    dch = dash.channel()
    allowed(f"dashboard declares {dq} and binds it to backy.results with *.*.{KEY_A}.*",
            lambda: (dch.queue_declare(dq, exclusive=True),
                     dch.queue_bind(dq, "backy.results", f"*.*.{KEY_A}.*")))
    # the coordinator's copy of every dead letter, to see the broker dead-letter a rejected job
    deadq = f"backy.t.perms.{RUN}.dead"
    cch = coord.channel()
    allowed(f"coordinator declares {deadq} bound to backy.dlx",
            lambda: (cch.queue_declare(deadq, exclusive=True),
                     cch.queue_bind(deadq, "backy.dlx", "")))

    print("-- a dashboard")
    attacks(dash, "dashboard", None)
    refused(dash, "dashboard", f"bind its queue to backy.jobs with key {HOST_B}",
            lambda ch: ch.queue_bind(dq, "backy.jobs", HOST_B))
    allowed("dashboard binds its queue to backy.workers (heartbeats, progress)",
            lambda: dch.queue_bind(dq, "backy.workers", "#"))
    refused(dash, "dashboard", "bind its queue to backy.control (requests)",
            lambda ch: ch.queue_bind(dq, "backy.control", "request"))
    refused(dash, "dashboard", "declare a queue outside dashboard.*",
            lambda ch: ch.queue_declare(f"t.perms.{RUN}", exclusive=True))
    refused(dash, "dashboard", "declare a server-named queue (amq.gen-*)",
            lambda ch: ch.queue_declare("", exclusive=True))
    refused(dash, "dashboard", "declare a queue that dead-letters into backy.jobs",
            lambda ch: ch.queue_declare(f"dashboard.t.dlx.{RUN}", exclusive=True, arguments={
                "x-dead-letter-exchange": "backy.jobs", "x-dead-letter-routing-key": HOST_B}))
    refused(dash, "dashboard", "declare an exchange whose alternate exchange is backy.jobs",
            lambda ch: ch.exchange_declare(f"dashboard.t.ae.{RUN}", "fanout", auto_delete=True,
                                           arguments={"alternate-exchange": "backy.jobs"}))

    print(f"-- storage host {HOST_A}")
    attacks(wa, f"worker {HOST_A}", HOST_A)
    refused(wa, f"worker {HOST_A}", f"bind its own job queue to backy.jobs with key {HOST_B}",
            lambda ch: ch.queue_bind(f"backy.jobs.{HOST_A}", "backy.jobs", HOST_B))
    refused(wa, f"worker {HOST_A}", "bind its own job queue to backy.results",
            lambda ch: ch.queue_bind(f"backy.jobs.{HOST_A}", "backy.results", "#"))
    refused(wa, f"worker {HOST_A}", "consume backy.coordinator.results",
            lambda ch: ch.basic_consume("backy.coordinator.results", lambda *a: None))
    refused(wa, f"worker {HOST_A}", "publish a result under a routing key of another shape",
            lambda ch: publish(ch, "backy.results", f"backup.ok.{KEY_A}", result(HOST_A)))
    refused(wa, f"worker {HOST_A}", f"publish a heartbeat under {HOST_A}.x",
            lambda ch: publish(ch, "backy.workers", f"{HOST_A}.x", heartbeat(HOST_A)))

    print("-- backyctl")
    refused(ctl, "backyctl", f"publish a job for {HOST_A}",
            lambda ch: publish(ch, "backy.jobs", HOST_A, job(HOST_A, "backup")))
    refused(ctl, "backyctl", f"publish a result under {HOST_A}'s routing key",
            lambda ch: publish(ch, "backy.results", f"backup.ok.{KEY_A}.vm-perms", result(HOST_A)))
    refused(ctl, "backyctl", "consume backy.coordinator.requests",
            lambda ch: ch.basic_consume("backy.coordinator.requests", lambda *a: None))
    refused(ctl, "backyctl", "declare a queue", lambda ch: ch.queue_declare(f"backy.t.{RUN}"))

    print("-- positive controls")
    wch = wa.channel()
    # RabbitMQ does not check the CC and BCC headers against topic permissions
    # (docs/operations.md): A can reach a queue bound for B's key, but the
    # message arrives with A's own routing key, which is what consumers must check
    bq = f"dashboard.t.perms.{RUN}.b"
    allowed(f"dashboard declares {bq} bound with *.*.{KEY_B}.*",
            lambda: (dch.queue_declare(bq, exclusive=True),
                     dch.queue_bind(bq, "backy.results", f"*.*.{KEY_B}.*")))
    wch.confirm_delivery()

    def publish_cc(hdr):
        wch.basic_publish("backy.results", f"backup.ok.{KEY_A}.vm-cc", result(HOST_A),
                          pika.BasicProperties(headers={hdr: [f"backup.ok.{KEY_B}.vm-cc"]}),
                          mandatory=True)

    for hdr in ("CC", "BCC"):
        allowed(f"worker {HOST_A} publishes its own result with {hdr}: [{HOST_B}'s key]",
                lambda: publish_cc(hdr))
    keys = []
    for _ in range(50):
        m = dch.basic_get(bq, auto_ack=True)
        if m[0] is not None:
            keys.append(m[0].routing_key)
            if len(keys) == 2:
                break
        else:
            time.sleep(0.1)
    if keys == [f"backup.ok.{KEY_A}.vm-cc"] * 2:
        print(f"  ok: CC/BCC are not checked (as documented), the message keeps {HOST_A}'s routing key")
    else:
        failures.append(f"CC/BCC behave otherwise than docs/operations.md says: received keys {keys}")
        print(f"  FAIL: {failures[-1]}")
    while dch.basic_get(dq, auto_ack=True)[0] is not None:
        pass  # the CC/BCC results also matched A's binding
    allowed(f"worker {HOST_A} publishes its own result (confirmed, routed)",
            lambda: publish(wch, "backy.results", f"backup.ok.{KEY_A}.vm-perms", result(HOST_A)))
    allowed(f"worker {HOST_A} publishes its own heartbeat (confirmed, routed)",
            lambda: publish(wch, "backy.workers", HOST_A, heartbeat(HOST_A)))
    got = None
    for _ in range(50):
        got = dch.basic_get(dq, auto_ack=True)
        if got[0] is not None:
            break
        time.sleep(0.1)
    if got and got[0] is not None and json.loads(got[2]).get("host") == HOST_A:
        print(f"  ok: the dashboard received {HOST_A}'s result ({got[0].routing_key})")
    else:
        failures.append(f"the dashboard did not receive {HOST_A}'s result")
        print(f"  FAIL: {failures[-1]}")
    allowed("backyctl publishes a request to backy.control (confirmed, routed)",
            lambda: publish(ctl.channel(), "backy.control", "request", json.dumps(
                {"schema": "backy/1.0", "kind": "request", "id": uuid.uuid4().hex[:22],
                 "time": now(), "action": "status"}).encode(), "request"))

    # no coordinator runs here: drain the request, it must not reach a later test's coordinator
    while cch.basic_get("backy.coordinator.requests", auto_ack=True)[0] is not None:
        pass

    # a job for A: A takes it from its own queue and rejects it; the broker dead-letters it
    allowed(f"coordinator publishes a job for {HOST_A}",
            lambda: publish(cch, "backy.jobs", HOST_A, job(HOST_A, "expire"), "deadjob"))
    taken = None
    for _ in range(50):
        taken = wch.basic_get(f"backy.jobs.{HOST_A}")
        if taken[0] is not None:
            break
        time.sleep(0.1)
    if not taken or taken[0] is None:
        failures.append(f"worker {HOST_A} could not take a job from its own queue")
        print(f"  FAIL: {failures[-1]}")
    else:
        mid = taken[1].message_id
        print(f"  ok: worker {HOST_A} took a job from its own queue ({mid})")
        wch.basic_reject(taken[0].delivery_tag, requeue=False)
        dead = None
        for _ in range(50):
            dead = cch.basic_get(deadq, auto_ack=True)
            if dead[0] is not None and dead[1].message_id == mid:
                break
            time.sleep(0.1)
        if dead and dead[0] is not None and dead[1].message_id == mid:
            print(f"  ok: the broker dead-lettered the job {HOST_A} rejected (backy.dlx)")
        else:
            failures.append(f"the job rejected by {HOST_A} was not dead-lettered")
            print(f"  FAIL: {failures[-1]}")

    # nothing of the attacks got through: B's queue is still there and empty, the
    # coordinator's queue still exists (passive declares, as the coordinator)
    qb = cch.queue_declare(f"backy.jobs.{HOST_B}", passive=True)
    if qb.method.message_count == 0:
        print(f"  ok: backy.jobs.{HOST_B} exists and holds no message")
    else:
        failures.append(f"backy.jobs.{HOST_B} holds {qb.method.message_count} message(s)")
        print(f"  FAIL: {failures[-1]}")
    cch.queue_declare("backy.coordinator.results", passive=True)
    print("  ok: backy.coordinator.results still exists")

    for c in (coord, dash, wa, wb, ctl):
        if c.is_open:
            c.close()
    if failures:
        print(f"{len(failures)} check(s) failed:")
        for f in failures:
            print(f"  - {f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
