#!/usr/bin/env python3
"""notify_listen.py LOG SOCKET...: stand in for systemd's notification socket.

Binds a datagram socket at each SOCKET path (what NOTIFY_SOCKET names for a
Type=notify service) and appends every field of every datagram to LOG, one
line each, in the order they arrive: "<socket file name> <FIELD=value>",
e.g. "worker.sock READY=1".  Runs until killed.
"""
import os
import select
import socket
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip().splitlines()[0])
    socks = {}
    for path in sys.argv[2:]:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        socks[s] = os.path.basename(path)
    with open(sys.argv[1], "a", buffering=1) as log:
        log.write("listening\n")
        while True:
            ready, _, _ = select.select(list(socks), [], [])
            for s in ready:
                for field in s.recv(65536).decode(errors="replace").split("\n"):
                    if field:
                        log.write(f"{socks[s]} {field}\n")


if __name__ == "__main__":
    main()
