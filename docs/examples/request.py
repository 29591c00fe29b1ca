#!/usr/bin/python3
"""Ask the backy coordinator for something and wait for its reply.

    request.py AMQP-URL ACTION [JOB [TAG...]]      (ACTION: run, expire, status)

A third-party client of docs/messages.md ("request", "reply"), with pika and
RabbitMQ's direct reply-to: no queue of its own is needed, so backyctl's
broker user (write on backy.control only) is enough.  Prints the reply as
one JSON line; exit 0 when the request was accepted, 1 when refused, 2 when
no reply came within $REQUEST_TIMEOUT (default 30) seconds (no active
coordinator?).
"""
import datetime
import json
import os
import sys
import time
import uuid

import pika

REPLY_TO = "amq.rabbitmq.reply-to"


def short_id():
    return uuid.uuid4().hex[:22]


def main(url, action, job=None, *tags):
    request = {
        "schema": "backy/1.1",
        "kind": "request",
        "id": short_id(),
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds"),
        "action": action,
    }
    if job:
        request["job"] = job
    if tags:
        request["tags"] = list(tags)
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    replies = []
    # direct reply-to: consume (auto-ack) on the same channel before publishing
    ch.basic_consume(REPLY_TO, lambda c, m, props, body: replies.append((props, body)), auto_ack=True)
    correlation = str(uuid.uuid4())
    ch.basic_publish("backy.control", "request", json.dumps(request).encode(),
                     pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                          message_id=request["id"], reply_to=REPLY_TO,
                                          correlation_id=correlation))
    wait = float(os.environ.get("REQUEST_TIMEOUT", "30"))
    deadline = time.monotonic() + wait
    while not replies and time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.5)
    conn.close()
    if not replies:
        print(json.dumps({"request_id": request["id"], "error": "no reply within %g s" % wait}))
        return 2
    props, body = replies[0]
    reply = json.loads(body)
    if props.correlation_id != correlation or reply.get("request_id") != request["id"]:
        print(json.dumps({"error": "a reply to another request", "reply": reply}))
        return 2
    print(json.dumps(reply))
    return 0 if reply["accepted"] else 1


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
