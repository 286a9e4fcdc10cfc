#!/usr/bin/env python3
"""Runs the socket conformance table on real Linux sockets and prints raw results as JSON.

Usage (inside a network namespace the caller created and will delete):
    python3 linux_runner.py table.json > results.json

table.json is {"consts": {name: number}, "errnos": {name: number}, "cases": [...]}, written by
test/kernel/conformance/emit-table.ts (the op language is in README.md). Every call goes through
libc via ctypes so that lengths, families and flags reach the kernel exactly as written: Python's
socket module would validate or rewrite them first. The output carries RAW results only (hex bytes,
numbers, errno names); the TypeScript side normalizes and compares them, with the same code that
normalizes moat's results, so both runners are judged alike.
Stdlib only.
"""

import ctypes
import ctypes.util
import json
import os
import select
import signal
import socket
import struct
import sys
import time

libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)

c_int, c_uint, c_size_t, c_ssize_t, c_void_p = ctypes.c_int, ctypes.c_uint, ctypes.c_size_t, ctypes.c_ssize_t, ctypes.c_void_p
socklen_p = ctypes.POINTER(c_uint)


class IoVec(ctypes.Structure):
    _fields_ = [("iov_base", c_void_p), ("iov_len", c_size_t)]


class MsgHdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", c_void_p), ("msg_namelen", c_uint),
        ("msg_iov", ctypes.POINTER(IoVec)), ("msg_iovlen", c_size_t),
        ("msg_control", c_void_p), ("msg_controllen", c_size_t),
        ("msg_flags", c_int),
    ]


def proto(name, res, *args):
    f = getattr(libc, name)
    f.restype = res
    f.argtypes = list(args)
    return f


sys_socket = proto("socket", c_int, c_int, c_int, c_int)
sys_close = proto("close", c_int, c_int)
sys_bind = proto("bind", c_int, c_int, c_void_p, c_uint)
sys_connect = proto("connect", c_int, c_int, c_void_p, c_uint)
sys_listen = proto("listen", c_int, c_int, c_int)
sys_accept4 = proto("accept4", c_int, c_int, c_void_p, socklen_p, c_int)
sys_shutdown = proto("shutdown", c_int, c_int, c_int)
sys_getsockname = proto("getsockname", c_int, c_int, c_void_p, socklen_p)
sys_getpeername = proto("getpeername", c_int, c_int, c_void_p, socklen_p)
sys_setsockopt = proto("setsockopt", c_int, c_int, c_int, c_int, c_void_p, c_uint)
sys_getsockopt = proto("getsockopt", c_int, c_int, c_int, c_int, c_void_p, socklen_p)
sys_sendmsg = proto("sendmsg", c_ssize_t, c_int, ctypes.POINTER(MsgHdr), c_int)
sys_recvmsg = proto("recvmsg", c_ssize_t, c_int, ctypes.POINTER(MsgHdr), c_int)
sys_ioctl = proto("ioctl", c_int, c_int, ctypes.c_ulong, c_void_p)
sys_fcntl = proto("fcntl", c_int, c_int, c_int, c_int)

F_GETFL, F_SETFL, O_NONBLOCK = 3, 4, 0o4000
CASE_TIME_LIMIT_S = 15


class Ctx:
    def __init__(self, consts, errnames):
        self.consts = consts
        self.errnames = errnames
        self.fds = {}
        self.saved = {}

    def c(self, name):
        if isinstance(name, int):
            return name
        if name not in self.consts:
            raise KeyError("unknown constant %s" % name)
        return self.consts[name]

    def flags(self, names):
        v = 0
        for n in names or []:
            v |= self.c(n)
        return v

    def err(self):
        e = ctypes.get_errno()
        return {"err": self.errnames.get(e, "E#%d" % e)}

    def fd(self, ident):
        if ident not in self.fds:
            raise KeyError("no socket named %s" % ident)
        return self.fds[ident]

    # --- addresses -----------------------------------------------------------------------
    def sockname_bytes(self, ident):
        if ident in self.saved:
            return self.saved[ident]
        buf = ctypes.create_string_buffer(128)
        ln = c_uint(128)
        if sys_getsockname(self.fd(ident), buf, ctypes.byref(ln)) < 0:
            raise OSError("getsockname(%s) failed: %s" % (ident, self.err()))
        return buf.raw[: ln.value]

    def addr(self, spec):
        """AddrSpec -> sockaddr bytes (README: Addresses)."""
        if "hex" in spec:
            return bytes.fromhex(spec["hex"])
        if "of" in spec and "ip" not in spec:
            b = bytearray(self.sockname_bytes(spec["of"]))
        elif "ip" not in spec:
            b = bytearray(16)
        else:
            ip = spec["ip"]
            port = spec.get("port", 0)
            if "of" in spec:
                port = {"of": spec["of"]}
            if isinstance(port, dict):
                port = struct.unpack(">H", self.sockname_bytes(port["of"])[2:4])[0]
            if ":" in ip:
                b = bytearray(struct.pack("<H", self.c("AF_INET6")) + struct.pack(">HI", port, spec.get("flowinfo", 0))
                              + socket.inet_pton(socket.AF_INET6, ip) + struct.pack("<I", spec.get("scopeId", 0)))
            else:
                b = bytearray(struct.pack("<H", self.c("AF_INET")) + struct.pack(">H", port)
                              + socket.inet_pton(socket.AF_INET, ip) + bytes(8))
        if "family" in spec:
            b[0:2] = struct.pack("<H", self.c(spec["family"]))
        if "len" in spec:
            n = spec["len"]
            b = b[:n] if n <= len(b) else b + bytes(n - len(b))
        return bytes(b)

    # --- option values and control messages -----------------------------------------------
    def optval(self, op):
        if "int" in op:
            b = struct.pack("<i", op["int"])
        elif "linger" in op:
            b = struct.pack("<ii", *op["linger"])
        elif "timeval" in op:
            b = struct.pack("<qq", *op["timeval"])
        elif "str" in op:
            b = op["str"].encode()
        elif "hex" in op:
            b = bytes.fromhex(op["hex"])
        else:
            raise ValueError("setsockopt needs int, linger, timeval, str or hex")
        n = op.get("optlen", len(b))
        return b[:n] + bytes(max(0, n - len(b))), n

    def control(self, cmsgs):
        out = b""
        for m in cmsgs or []:
            if "pktinfo" in m:
                p = m["pktinfo"]
                if m["type"] == "IPV6_PKTINFO":
                    data = socket.inet_pton(socket.AF_INET6, p.get("addr", "::")) + struct.pack("<i", p.get("ifindex", 0))
                else:
                    data = struct.pack("<i", p.get("ifindex", 0)) + socket.inet_aton(p.get("spec_dst", "0.0.0.0")) + socket.inet_aton(p.get("addr", "0.0.0.0"))
            elif "int" in m:
                data = struct.pack("<i", m["int"])
            else:
                data = bytes.fromhex(m["hex"])
            clen = 16 + len(data)
            out += struct.pack("<Qii", clen, self.c(m["level"]), self.c(m["type"])) + data + bytes((8 - clen % 8) % 8)
        return out


def parse_control(raw):
    out, off = [], 0
    while off + 16 <= len(raw):
        clen, level, typ = struct.unpack_from("<Qii", raw, off)
        if clen < 16 or off + clen > len(raw):
            break
        out.append({"level": level, "type": typ, "hex": raw[off + 16: off + clen].hex()})
        off += (clen + 7) & ~7
    return out


def do_sendmsg(ctx, fd, data, flags, name, control):
    buf = ctypes.create_string_buffer(data, len(data)) if data else ctypes.create_string_buffer(1)
    iov = IoVec(ctypes.cast(buf, c_void_p), len(data))
    msg = MsgHdr()
    msg.msg_iov = ctypes.pointer(iov)
    msg.msg_iovlen = 1
    if name is not None:
        nb = ctypes.create_string_buffer(name, max(1, len(name)))
        msg.msg_name, msg.msg_namelen = ctypes.cast(nb, c_void_p), len(name)
    if control:
        cb = ctypes.create_string_buffer(control, len(control))
        msg.msg_control, msg.msg_controllen = ctypes.cast(cb, c_void_p), len(control)
    r = sys_sendmsg(fd, ctypes.byref(msg), flags)
    return ctx.err() if r < 0 else {"ret": r}


def do_recvmsg(ctx, fd, n, flags, namelen, controllen, raw_control=False):
    buf = ctypes.create_string_buffer(max(1, n))
    iov = IoVec(ctypes.cast(buf, c_void_p), n)
    msg = MsgHdr()
    msg.msg_iov = ctypes.pointer(iov)
    msg.msg_iovlen = 1
    nb = ctypes.create_string_buffer(max(1, namelen))
    if namelen:
        msg.msg_name, msg.msg_namelen = ctypes.cast(nb, c_void_p), namelen
    cb = ctypes.create_string_buffer(max(1, controllen))
    if controllen:
        msg.msg_control, msg.msg_controllen = ctypes.cast(cb, c_void_p), controllen
    r = sys_recvmsg(fd, ctypes.byref(msg), flags)
    if r < 0:
        return ctx.err()
    res = {"ret": r, "data": buf.raw[: min(r, n)].hex(), "msgFlags": msg.msg_flags}
    if namelen:
        res["addr"] = nb.raw[: min(namelen, msg.msg_namelen)].hex()
        res["addrlen"] = msg.msg_namelen
    if controllen:
        if raw_control:
            res["control"] = cb.raw[: msg.msg_controllen].hex()
        else:
            res["cmsgs"] = parse_control(cb.raw[: msg.msg_controllen])
    return res


def poll_once(fd, events, timeout_ms):
    p = select.poll()
    p.register(fd, events)
    got = p.poll(timeout_ms)
    return got[0][1] if got else 0


def run_op(ctx, op):
    r = run_op_raw(ctx, op)
    # A saved sockaddr (getsockname, getpeername, accept) outlives its socket: {"of": name}.
    if op.get("save") and "addr" in r:
        ctx.saved[op["save"]] = bytes.fromhex(r["addr"])
    return r


def run_op_raw(ctx, op):
    kind = op["op"]
    if kind == "socket":
        typ = ctx.c(op["type"]) | ctx.flags(op.get("flags"))
        fd = sys_socket(ctx.c(op["domain"]), typ, ctx.c(op.get("proto", 0)))
        if fd < 0:
            return ctx.err()
        ctx.fds[op["id"]] = fd
        return {"ret": 0}
    if kind == "close":
        fd = ctx.fds.pop(op["fd"])
        return ctx.err() if sys_close(fd) < 0 else {"ret": 0}
    fd = ctx.fd(op["fd"]) if "fd" in op else -1
    if kind == "setsockopt":
        val, n = ctx.optval(op)
        buf = ctypes.create_string_buffer(val, max(1, len(val)))
        r = sys_setsockopt(fd, ctx.c(op["level"]), ctx.c(op["name"]), buf, n)
        return ctx.err() if r < 0 else {"ret": 0}
    if kind == "getsockopt":
        n = op.get("optlen", 256)
        buf = ctypes.create_string_buffer(max(1, n, 256))
        ln = c_uint(n & 0xFFFFFFFF)
        r = sys_getsockopt(fd, ctx.c(op["level"]), ctx.c(op["name"]), buf, ctypes.byref(ln))
        if r < 0:
            return ctx.err()
        return {"ret": 0, "optlen": ln.value, "opt": buf.raw[: min(ln.value, len(buf.raw))].hex()}
    if kind in ("bind", "connect"):
        a = ctx.addr(op["addr"])
        b = ctypes.create_string_buffer(a, max(1, len(a)))
        r = (sys_bind if kind == "bind" else sys_connect)(fd, b, len(a))
        return ctx.err() if r < 0 else {"ret": 0}
    if kind == "listen":
        return ctx.err() if sys_listen(fd, op.get("backlog", 16)) < 0 else {"ret": 0}
    if kind == "accept":
        n = op.get("addrlen", 128)
        buf = ctypes.create_string_buffer(128)
        ln = c_uint(n)
        r = sys_accept4(fd, buf, ctypes.byref(ln), ctx.flags(op.get("flags")))
        if r < 0:
            return ctx.err()
        ctx.fds[op["id"]] = r
        return {"ret": 0, "addr": buf.raw[: min(n, ln.value)].hex(), "addrlen": ln.value}
    if kind in ("getsockname", "getpeername"):
        n = op.get("addrlen", 128)
        buf = ctypes.create_string_buffer(128)
        ln = c_uint(n)
        r = (sys_getsockname if kind == "getsockname" else sys_getpeername)(fd, buf, ctypes.byref(ln))
        if r < 0:
            return ctx.err()
        return {"ret": 0, "addr": buf.raw[: min(n, ln.value)].hex(), "addrlen": ln.value}
    if kind == "send":
        data = op["data"].encode("latin-1") if "data" in op else bytes(op.get("size", 0))
        name = ctx.addr(op["addr"]) if "addr" in op else None
        return do_sendmsg(ctx, fd, data, ctx.flags(op.get("flags")), name, ctx.control(op.get("cmsg")))
    if kind == "recv":
        return do_recvmsg(ctx, fd, op.get("n", 4096), ctx.flags(op.get("flags")), op.get("namelen", 0), op.get("controllen", 0))
    if kind == "shutdown":
        return ctx.err() if sys_shutdown(fd, ctx.c(op["how"])) < 0 else {"ret": 0}
    if kind == "poll":
        return {"ret": 0, "revents": poll_once(fd, ctx.flags(op["events"]), op.get("timeoutMs", 0))}
    if kind == "wait":
        want = ctx.flags(op["events"])
        deadline = time.monotonic() + min(op.get("timeoutMs", 2000), 10000) / 1000
        while True:
            left = int(max(0, deadline - time.monotonic()) * 1000)
            rev = poll_once(fd, want, min(left, 50))
            if (rev & want) == want or left == 0:
                return {"ret": 0, "revents": rev}
            if rev & ~want:
                time.sleep(0.005)  # an unrequested condition (POLLHUP) makes poll return at once
    if kind == "ioctl":
        v = c_int(0)
        r = sys_ioctl(fd, ctx.c(op["req"]), ctypes.byref(v))
        return ctx.err() if r < 0 else {"ret": 0, "value": v.value}
    if kind == "nonblock":
        fl = sys_fcntl(fd, F_GETFL, 0)
        fl = (fl | O_NONBLOCK) if op.get("on", True) else (fl & ~O_NONBLOCK)
        return ctx.err() if sys_fcntl(fd, F_SETFL, fl) < 0 else {"ret": 0}
    if kind == "fill":
        # Writes until EAGAIN (the socket must be non-blocking or the flag is given), bounded.
        chunk, limit, total = op.get("chunk", 65536), op.get("max", 64 << 20), 0
        data = bytes(chunk)
        while total < limit:
            r = do_sendmsg(ctx, fd, data, ctx.c("MSG_DONTWAIT") | ctx.c("MSG_NOSIGNAL"), None, b"")
            if "err" in r:
                if r["err"] != "EAGAIN":
                    return r
                break
            total += r["ret"]
        return {"ret": total}
    if kind == "drain":
        limit, total = op.get("max", 64 << 20), 0
        while total < limit:
            r = do_recvmsg(ctx, fd, 65536, ctx.c("MSG_DONTWAIT"), 0, 0)
            if "err" in r:
                if r["err"] != "EAGAIN":
                    return r
                break
            if r["ret"] == 0:
                break
            total += r["ret"]
        return {"ret": total}
    if kind == "sleep":
        time.sleep(min(op["ms"], 5000) / 1000)
        return {"ret": 0}
    raise ValueError("unknown op %s" % kind)


def run_case(ctx, case):
    results = []
    ctx.fds = {}
    ctx.saved = {}
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, CASE_TIME_LIMIT_S)
    try:
        for op in case["ops"]:
            results.append(run_op(ctx, op))
        return {"name": case["name"], "results": results, "ms": int((time.monotonic() - started) * 1000)}
    except Exception as e:  # a broken case (bad name, missing socket): report it, run the next
        return {"name": case["name"], "results": results, "error": "%s: %s" % (type(e).__name__, e)}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for fd in ctx.fds.values():
            sys_close(fd)


def check_consts(consts):
    """Cross-checks the TypeScript constants against the ones Python's socket module knows."""
    bad = {}
    for name, v in consts.items():
        py = getattr(socket, name, None)
        if isinstance(py, int) and int(py) != v:
            bad[name] = {"ts": v, "python": int(py)}
    return bad


def serve():
    """One system call per stdin line, one JSON answer per stdout line: Linux as a
    ConformanceTarget (test/kernel/conformance/linux-target.ts), so that the TypeScript
    interpreter of the table can itself be checked against the kernel. The first line
    carries the errno names. Arguments and results are numbers and hex strings."""
    first = json.loads(sys.stdin.readline())
    ctx = Ctx({}, {v: k for k, v in first["errnos"].items()})
    H = bytes.fromhex

    def buf(b):
        return ctypes.create_string_buffer(b, max(1, len(b)))

    def ok(r):
        return ctx.err() if r < 0 else {}

    def getopt(fd, level, name, optlen):
        b = ctypes.create_string_buffer(max(1, optlen, 256))
        ln = c_uint(optlen & 0xFFFFFFFF)
        if sys_getsockopt(fd, level, name, b, ctypes.byref(ln)) < 0:
            return ctx.err()
        return {"optval": b.raw[: min(ln.value, len(b.raw))].hex(), "optlen": ln.value}

    def getname(f, fd, addrlen):
        b = ctypes.create_string_buffer(128)
        ln = c_uint(addrlen)
        if f(fd, b, ctypes.byref(ln)) < 0:
            return ctx.err()
        return {"addr": b.raw[: min(addrlen, ln.value)].hex(), "addrlen": ln.value}

    def accept4(fd, addrlen, flags):
        b = ctypes.create_string_buffer(128)
        ln = c_uint(addrlen)
        r = sys_accept4(fd, b, ctypes.byref(ln), flags)
        if r < 0:
            return ctx.err()
        return {"fd": r, "addr": b.raw[: min(addrlen, ln.value)].hex(), "addrlen": ln.value}

    def setnb(fd, on):
        fl = sys_fcntl(fd, F_GETFL, 0)
        return ok(sys_fcntl(fd, F_SETFL, (fl | O_NONBLOCK) if on else (fl & ~O_NONBLOCK)))

    def ioctl_int(fd, req):
        v = c_int(0)
        return ctx.err() if sys_ioctl(fd, req, ctypes.byref(v)) < 0 else {"value": v.value}

    def socket_(d, t, p):
        r = sys_socket(d, t, p)
        return ctx.err() if r < 0 else {"fd": r}

    calls = {
        "socket": socket_,
        "close": lambda fd: ok(sys_close(fd)),
        "setsockopt": lambda fd, level, name, h: ok(sys_setsockopt(fd, level, name, buf(H(h)), len(H(h)))),
        "getsockopt": getopt,
        "bind": lambda fd, h: ok(sys_bind(fd, buf(H(h)), len(H(h)))),
        "connect": lambda fd, h: ok(sys_connect(fd, buf(H(h)), len(H(h)))),
        "listen": lambda fd, backlog: ok(sys_listen(fd, backlog)),
        "accept4": accept4,
        "getsockname": lambda fd, n: getname(sys_getsockname, fd, n),
        "getpeername": lambda fd, n: getname(sys_getpeername, fd, n),
        "sendmsg": lambda fd, data, flags, name, control: do_sendmsg(ctx, fd, H(data), flags, None if name is None else H(name), H(control or "")),
        "recvmsg": lambda fd, n, flags, namelen, controllen: do_recvmsg(ctx, fd, n, flags, namelen, controllen, raw_control=True),
        "shutdown": lambda fd, how: ok(sys_shutdown(fd, how)),
        "poll": lambda fd, events, timeout: {"revents": poll_once(fd, events, timeout)},
        "ioctlInt": ioctl_int,
        "setNonblocking": setnb,
        "sleep": lambda ms: (time.sleep(min(ms, 5000) / 1000), {})[1],
    }
    signal.signal(signal.SIGALRM, lambda *_: None)
    signal.siginterrupt(signal.SIGALRM, True)
    for line in sys.stdin:
        req = json.loads(line)
        signal.setitimer(signal.ITIMER_REAL, CASE_TIME_LIMIT_S)
        try:
            res = calls[req["fn"]](*req["args"])
        except Exception as e:  # a malformed request: answer it, keep serving
            res = {"fatal": "%s: %s" % (type(e).__name__, e)}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()


def main():
    if sys.argv[1] == "--serve":
        serve()
        return
    table = json.load(open(sys.argv[1]))
    ctx = Ctx(table["consts"], {v: k for k, v in table["errnos"].items()})
    # SIGALRM bounds a case that would block for ever: the blocked call fails with EINTR.
    signal.signal(signal.SIGALRM, lambda *_: None)
    signal.siginterrupt(signal.SIGALRM, True)
    only = set(sys.argv[2:])
    out = {
        "kernel": os.uname().release,
        "constMismatches": check_consts(table["consts"]),
        "cases": [run_case(ctx, c) for c in table["cases"] if not only or c["name"] in only],
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
