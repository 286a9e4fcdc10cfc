#!/usr/bin/env python3
"""Listens to rtnetlink notifications while running commands, like `ip monitor`.

argv[1]: the nl_groups bitmask to bind; stdin: JSON list of steps, each a list of argv lists run
one after the other. Waits until no notification arrives for 0.5 s (IPv6 finishes an address from
a workqueue). Prints JSON: per step, the datagrams received after it as
{"hex": ..., "groups": nl_groups of the sender address}."""
import json, select, socket, subprocess, sys

groups = int(sys.argv[1], 0)
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.bind((0, groups))
out = []
for step in json.load(sys.stdin):
    for cmd in step:
        subprocess.run(cmd, check=True)
    got = []
    for _ in range(500):
        r, _, _ = select.select([s], [], [], 0.5)
        if not r:
            break
        data, addr = s.recvfrom(65536)
        got.append({"hex": data.hex(), "groups": addr[1]})
    out.append(got)
print(json.dumps(out))
