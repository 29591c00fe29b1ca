#!/usr/bin/python3
"""A dashboard's consumer of backy's result stream (docs/messages.md).

    consumer.py AMQP-URL [QUEUE [BINDING...]]

Declares QUEUE (default dashboard.results: a durable quorum queue of its
own, so results wait while it restarts), binds it to backy.results with
each BINDING (default: everything needing a human, *.failed.# and
*.rejected.#, and every good backup, backup.ok.#) and prints one line per
result.  Runs until interrupted; with COUNT=N in the environment it stops
after N results.  The broker user must be a dashboard's (queues named
dashboard.*, docs/operations.md "Broker users and permissions").
"""
import json
import os
import sys

import pika


def main(url, queue="dashboard.results", *bindings):
    bindings = bindings or ("*.failed.#", "*.rejected.#", "backup.ok.#")
    limit = int(os.environ.get("COUNT", "0"))
    seen = 0
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.queue_declare(queue=queue, durable=True, arguments={"x-queue-type": "quorum"})
    for key in bindings:
        ch.queue_bind(queue=queue, exchange="backy.results", routing_key=key)
    ch.basic_qos(prefetch_count=50)
    print(f"listening on {queue} ({', '.join(bindings)})", file=sys.stderr, flush=True)

    def on_result(ch, method, properties, body):
        nonlocal seen
        try:
            msg = json.loads(body)
        except ValueError:
            msg = {}
        schema, _, version = str(msg.get("schema", "")).partition("/")
        if schema != "backy" or version.split(".")[0] != "1" or msg.get("kind") != "result":
            ch.basic_ack(method.delivery_tag)  # not ours to understand: skip it
            return
        who = f"{msg.get('action', '-')} of {msg.get('job', '?')} on {msg['host']}"
        if msg["outcome"] == "ok":
            print(f"{who}: ok, revision {msg.get('revision', '-')} (job id {msg['job_id']})", flush=True)
        else:
            err = msg["error"]
            print(f"{who}: {msg['outcome']} {err['code']}: {err['message']}", flush=True)
        ch.basic_ack(method.delivery_tag)
        seen += 1
        if limit and seen >= limit:
            ch.stop_consuming()

    ch.basic_consume(queue=queue, on_message_callback=on_result)
    try:
        ch.start_consuming()
    except KeyboardInterrupt:
        pass
    conn.close()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(*sys.argv[1:])
