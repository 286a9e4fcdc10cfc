#!/usr/bin/env python3
"""Asks the real kernel's rtnetlink the requests given as JSON on stdin and prints what it answers.

Input: [{"hex": "<request bytes>", "strict": bool, "extAck": bool, "capAck": bool, "recvLen": int}]
Output: [{"pid": <our port id>, "datagrams": ["<hex>", ...], "error": "<errno name>"?}]
Each request gets its own NETLINK_ROUTE socket; datagrams are read until none arrives for 0.1 s (the kernel answers within sendto and recv)
(or 200 of them), so a test sees exactly how the kernel splits a dump into datagrams."""
import errno, json, os, select, socket, struct, sys

SOL_NETLINK = 270
NETLINK_EXT_ACK = 11
NETLINK_CAP_ACK = 10
NETLINK_GET_STRICT_CHK = 12

def ask(req):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        if req.get("strict"):
            s.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
        if req.get("extAck"):
            s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        if req.get("capAck"):
            s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        s.bind((0, 0))
        pid = s.getsockname()[0]
        out = {"pid": pid, "datagrams": []}
        try:
            s.sendto(bytes.fromhex(req["hex"]), (0, 0))
        except OSError as e:
            out["error"] = errno.errorcode.get(e.errno, str(e.errno))
            return out
        n = req.get("recvLen", 32768)
        for _ in range(200):
            r, _, _ = select.select([s], [], [], 0.1)
            if not r:
                break
            out["datagrams"].append(s.recv(n).hex())
        return out
    finally:
        s.close()

print(json.dumps([ask(r) for r in json.load(sys.stdin)]))
