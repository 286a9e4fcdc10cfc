#!/usr/bin/env python3
"""Runs a fixed sequence of socket calls on real NETLINK_ROUTE sockets and prints each result as
one JSON list: [name, result], result being a value, "E<NAME>" for an errno, or a list. The test
runs the same sequence on NetlinkRouteSocket (socket-kernel.test.ts) and compares."""
import errno, json, os, socket, struct

SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP, NETLINK_DROP_MEMBERSHIP, NETLINK_PKTINFO = 1, 2, 3
NETLINK_LIST_MEMBERSHIPS, NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK = 9, 10, 11, 12
SO_RCVBUFFORCE = 33
SO_PROTOCOL, SO_DOMAIN = 38, 39
out = []

def rec(name, fn):
    try:
        r = fn()
    except OSError as e:
        r = "EOPNOTSUPP" if e.errno == errno.EOPNOTSUPP else errno.errorcode.get(e.errno, str(e.errno))
    out.append([name, r])

def nl():
    return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)

def getlink(seq, idx, flags=1):
    return struct.pack("<IHHIIBBHiII", 32, 18, flags, seq, 0, 0, 0, 0, idx, 0, 0)

a = nl()
rec("unbound getsockname", lambda: list(a.getsockname()))
rec("bind 0", lambda: a.bind((0, 0)))
rec("first port is the pid", lambda: a.getsockname()[0] == os.getpid())
b = nl()
rec("bind 0 again", lambda: b.bind((0, 0)))
rec("second port is negative", lambda: b.getsockname()[0] >= 0x80000000)
c = nl()
rec("bind 12345", lambda: c.bind((12345, 0b101)))
rec("getsockname 12345", lambda: list(c.getsockname()))
rec("rebind 12345 groups 1", lambda: c.bind((12345, 1)))
rec("getsockname after rebind", lambda: list(c.getsockname()))
rec("rebind elsewhere", lambda: c.bind((12346, 0)))
d = nl()
rec("bind taken id", lambda: d.bind((12345, 0)))
rec("SO_RCVBUF 32768", lambda: (d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768), d.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))[1])
rec("SO_SNDBUF 1<<30", lambda: (d.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 30), d.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))[1])
rec("SO_RCVBUF 1", lambda: (d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1), d.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))[1])
rec("SO_RCVBUFFORCE", lambda: d.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 20))
rec("SO_TYPE", lambda: d.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE))
rec("SO_PROTOCOL", lambda: d.getsockopt(socket.SOL_SOCKET, SO_PROTOCOL))
rec("SO_DOMAIN", lambda: d.getsockopt(socket.SOL_SOCKET, SO_DOMAIN))
rec("SO_PASSCRED default", lambda: d.getsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED))
rec("EXT_ACK default", lambda: d.getsockopt(SOL_NETLINK, NETLINK_EXT_ACK))
rec("EXT_ACK set 5", lambda: (d.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 5), d.getsockopt(SOL_NETLINK, NETLINK_EXT_ACK))[1])
rec("STRICT short optlen", lambda: (d.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, b"\x01"), d.getsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK))[1])
rec("EXT_ACK optlen 2", lambda: d.getsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 2))
rec("unknown SOL_NETLINK", lambda: d.setsockopt(SOL_NETLINK, 99, 1))
rec("ADD_MEMBERSHIP 0", lambda: d.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, 0))
rec("ADD_MEMBERSHIP 1000", lambda: d.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, 1000))
rec("ADD_MEMBERSHIP 33", lambda: d.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, 33))
rec("ADD_MEMBERSHIP 2", lambda: d.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, 2))
rec("getsockname with groups", lambda: [d.getsockname()[1]])
rec("LIST_MEMBERSHIPS", lambda: list(struct.unpack("<II", d.getsockopt(SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, 8))))
rec("DROP_MEMBERSHIP 2", lambda: (d.setsockopt(SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, 2), list(struct.unpack("<II", d.getsockopt(SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, 8))))[1])
e = nl()
rec("sendto another port", lambda: e.sendto(getlink(1, 1), (5, 0)))
rec("sendto a group", lambda: e.sendto(getlink(1, 1), (0, 1)))
rec("sendto the kernel", lambda: e.sendto(getlink(2, 1), (0, 0)))
rec("autobound by send", lambda: e.getsockname()[0] != 0)
e.setblocking(False)
rec("recvmsg peek|trunc 0", lambda: (lambda r: [len(r[0]), r[2] & socket.MSG_TRUNC != 0])(e.recvmsg(0, 0, socket.MSG_PEEK | socket.MSG_TRUNC)))
rec("recv_into trunc flag", lambda: e.recv_into(bytearray(16), 16, socket.MSG_TRUNC | socket.MSG_PEEK) > 16)
rec("recvmsg 20", lambda: (lambda r: [len(r[0]), r[2] & socket.MSG_TRUNC != 0, list(r[3])])(e.recvmsg(20)))
rec("recv empty", lambda: e.recv(100))
rec("getpeername", lambda: list(e.getpeername()))
rec("connect to another port", lambda: e.connect((5, 0)))
rec("connect to the kernel", lambda: e.connect((0, 0)))
rec("send after connect", lambda: e.send(getlink(3, 1)))
rec("recvmsg after connect", lambda: (lambda r: [len(r[0]) > 100, list(r[3])])(e.recvmsg(65536)))
rec("shutdown", lambda: e.shutdown(socket.SHUT_RDWR))
print(json.dumps(out))
