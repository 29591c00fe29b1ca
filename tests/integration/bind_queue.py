#!/usr/bin/env python3
"""bind_queue.py URL QUEUE EXCHANGE KEY: declare a durable queue and bind it.

The tests' own result listeners consume such a queue with amqp-consume, which
can only declare auto-delete queues: a durable one and its binding survive a
broker restart, so results published right after the restart wait for the
listener instead of being lost.  Exits 1 with the broker's reply on failure.
"""
import sys

import pika


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__.strip().splitlines()[0])
    url, queue, exchange, key = sys.argv[1:]
    try:
        conn = pika.BlockingConnection(pika.URLParameters(url))
        ch = conn.channel()
        ch.queue_declare(queue=queue, durable=True)
        ch.queue_bind(queue=queue, exchange=exchange, routing_key=key)
        conn.close()
    except pika.exceptions.AMQPError as e:
        sys.exit(f"bind_queue.py: {queue} -> {exchange} ({key}): {e!r}")


if __name__ == "__main__":
    main()
