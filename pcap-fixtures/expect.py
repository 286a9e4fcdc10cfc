#!/usr/bin/env python3
"""Writes <capture>.expect.json beside each capture named on the command line: what tshark says
the file holds (frame count, per-frame timestamps and lengths, protocol counts, and facts that
depend on the capture: HTTP requests, DNS answers, ping fragments, TCP loss recovery).
moat's own readers and decoders are tested against these files.

Run by make-fixtures.sh; needs tshark.
"""
import json
import os
import struct
import subprocess
import sys


def tshark(path, fields, display_filter=None, extra=()):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=a", "-E", "aggregator=,"]
    if display_filter:
        cmd += ["-Y", display_filter]
    cmd += list(extra)
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def count(path, display_filter, extra=()):
    return len(tshark(path, ["frame.number"], display_filter, extra))


CHECK_SUMS = ("-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE")


def file_info(path):
    """Format, byte order, precision and link types, read straight from the headers."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        le = magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
        e = "<" if le else ">"
        network = struct.unpack(e + "I", data[20:24])[0]
        return {
            "format": "pcap",
            "byteOrder": "little" if le else "big",
            "precision": "ns" if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else "us",
            "snapLength": struct.unpack(e + "I", data[16:20])[0],
            "interfaces": [{"linkType": network & 0x03FFFFFF}],
        }
    # pcapng: walk the blocks, collect the IDBs of every section
    off, e, ifaces, sections, blocks = 0, "<", [], 0, {}
    while off + 12 <= len(data):
        if data[off:off + 4] == b"\x0a\x0d\x0d\x0a":
            e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            sections += 1
        btype, blen = struct.unpack(e + "II", data[off:off + 8])
        blocks[btype] = blocks.get(btype, 0) + 1
        if btype == 1:
            link, _, snap = struct.unpack(e + "HHI", data[off + 8:off + 16])
            iface = {"section": sections - 1, "linkType": link, "snapLength": snap}
            o = off + 16
            while o + 4 <= off + blen - 4:
                code, n = struct.unpack(e + "HH", data[o:o + 4])
                if code == 0:
                    break
                val = data[o + 4:o + 4 + n]
                if code == 2:
                    iface["name"] = val.decode()
                if code == 9:
                    iface["tsresol"] = val[0]
                o += 4 + ((n + 3) & ~3)
            ifaces.append(iface)
        off += blen
    return {"format": "pcapng", "byteOrder": "little" if e == "<" else "big", "sections": sections,
            "blockTypes": {hex(k): v for k, v in sorted(blocks.items())}, "interfaces": ifaces}


PROTOS = ["arp", "ip", "ipv6", "icmp", "icmpv6", "tcp", "udp", "dns", "http", "data"]


def common(path):
    rows = tshark(path, ["frame.time_epoch", "frame.cap_len", "frame.len", "frame.interface_id",
                         "frame.protocols"])
    counts = {p: 0 for p in PROTOS}
    for r in rows:
        layers = r[4].split(":")
        for p in PROTOS:
            if p in layers:
                counts[p] += 1
    out = {"file": os.path.basename(path)}
    out.update(file_info(path))
    out.update({
        "frames": len(rows),
        # tshark's text, seconds.fraction as tshark prints it; the test turns it into ns
        "timeEpoch": [r[0] for r in rows],
        "capturedLengths": [int(r[1]) for r in rows],
        "originalLengths": [int(r[2]) for r in rows],
        "interfaceIds": [int(r[3] or 0) for r in rows],
        "protocolFrames": counts,
        # offloads were off, so every checksum on the wire must be right
        "badChecksums": count(path, "ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0"
                                    " || icmp.checksum.status == 0 || icmpv6.checksum.status == 0", CHECK_SUMS),
    })
    return out


def tcp_facts(path):
    return {
        "syn": count(path, "tcp.flags.syn == 1 && tcp.flags.ack == 0"),
        "synAck": count(path, "tcp.flags.syn == 1 && tcp.flags.ack == 1"),
        "fin": count(path, "tcp.flags.fin == 1"),
        "rst": count(path, "tcp.flags.reset == 1"),
        "streams": len({r[0] for r in tshark(path, ["tcp.stream"], "tcp")}),
    }


def facts(path):
    name = os.path.basename(path)
    f = {}
    if name.startswith("http"):
        f["tcp"] = tcp_facts(path)
        f["requests"] = [{"method": m, "uri": u} for m, u in
                         tshark(path, ["http.request.method", "http.request.uri"], "http.request")]
        f["responses"] = [{"code": int(c), "contentLength": int(n)} for c, n in
                          tshark(path, ["http.response.code", "http.content_length"], "http.response")]
    if name.startswith("dns"):
        msgs = []
        for r in tshark(path, ["frame.number", "dns.id", "dns.flags.response", "dns.qry.name", "dns.qry.type",
                               "dns.flags.rcode", "dns.count.answers", "dns.a", "dns.aaaa", "dns.cname",
                               "dns.txt", "tcp.stream"], "dns"):
            msgs.append({
                "frame": int(r[0]), "id": int(r[1], 16) if r[1].startswith("0x") else int(r[1]),
                "response": r[2] in ("1", "True"), "name": r[3], "type": int(r[4]), "rcode": int(r[5]) if r[5] else None,
                "answers": int(r[6] or 0), "a": [x for x in r[7].split(",") if x],
                "aaaa": [x for x in r[8].split(",") if x], "cname": [x for x in r[9].split(",") if x],
                "txt": [x for x in r[10].split(",") if x], "transport": "tcp" if r[11] else "udp",
            })
        f["messages"] = msgs
        f["queries"] = sum(1 for m in msgs if not m["response"])
        f["responses"] = sum(1 for m in msgs if m["response"])
        f["answers"] = sum(m["answers"] for m in msgs if m["response"])
        f["nxdomain"] = sum(1 for m in msgs if m["response"] and m["rcode"] == 3)
        f["overTcp"] = sum(1 for m in msgs if m["transport"] == "tcp")
    if name.startswith("ping") or name.startswith("routed"):
        f["icmpEchoRequests"] = count(path, "icmp.type == 8")
        f["icmpEchoReplies"] = count(path, "icmp.type == 0")
        f["icmpv6EchoRequests"] = count(path, "icmpv6.type == 128")
        f["icmpv6EchoReplies"] = count(path, "icmpv6.type == 129")
        f["ipv4Fragments"] = count(path, "ip.flags.mf == 1 || ip.frag_offset > 0")
        f["ipv6Fragments"] = count(path, "ipv6.fraghdr")
        f["neighborSolicitations"] = count(path, "icmpv6.type == 135")
        f["arpRequests"] = count(path, "arp.opcode == 1")
    if name.startswith("tcp-loss") or name.startswith("routed"):
        f["tcp"] = tcp_facts(path)
        f["retransmissions"] = count(path, "tcp.analysis.retransmission")
        f["fastRetransmissions"] = count(path, "tcp.analysis.fast_retransmission")
        f["duplicateAcks"] = count(path, "tcp.analysis.duplicate_ack")
        f["sackFrames"] = count(path, "tcp.options.sack_le")
        f["windowScale"] = count(path, "tcp.options.wscale.shift")
        f["payloadBytes"] = sum(int(r[0] or 0) for r in tshark(path, ["tcp.len"], "tcp"))
    return f


def dump(obj):
    # one key per line; per-frame arrays stay on one line so the files stay small and diffable
    lines = [f"  {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in obj.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main():
    for path in sys.argv[1:]:
        e = common(path)
        e["facts"] = facts(path)
        base = path[: path.rfind(".")]
        with open(base + ".expect.json", "w") as out:
            out.write(dump(e))
        print(f"{os.path.basename(path)}: {e['frames']} frames", file=sys.stderr)


if __name__ == "__main__":
    main()
