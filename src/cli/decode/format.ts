// One line per frame, in the spirit of `tcpdump -nn -v`: addresses and ports as numbers, TCP
// flags/seq/ack/win/options, ICMP types, DNS questions and answers, fragments, and malformed
// layers printed as such.

import { DnsType, TcpFlags } from '../../netstack/wire/index.js';
import type { DnsMessage, DnsRecord } from '../../netstack/wire/index.js';
import type { DecodedFrame } from './dissect.js';

export interface FormatOptions {
  /** Print link-level addresses (tcpdump -e). */
  macs?: boolean;
  /** 'time' (UTC time of day, default), 'epoch' (seconds.micro), 'relative' (since the first frame). */
  timeFormat?: 'time' | 'epoch' | 'relative';
  /** Timestamp of the first frame, for 'relative'. */
  firstNs?: bigint;
}

const PROTO_NAMES: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 0: 'HBH', 43: 'Routing', 44: 'Frag', 60: 'DstOpts' };
const ETHERTYPES: Record<number, string> = { 0x0800: 'IPv4', 0x86dd: 'IPv6', 0x0806: 'ARP', 0x8100: '802.1Q', 0x88a8: '802.1ad' };

export function formatTime(ns: bigint, opts: FormatOptions = {}): string {
  const mode = opts.timeFormat ?? 'time';
  const rel = mode === 'relative' ? ns - (opts.firstNs ?? ns) : ns;
  const secs = rel / 1_000_000_000n;
  const micros = ((rel % 1_000_000_000n) / 1000n).toString().padStart(6, '0');
  if (mode !== 'time') return `${secs}.${micros}`;
  const day = Number(secs % 86400n);
  const hh = String(Math.floor(day / 3600)).padStart(2, '0');
  const mm = String(Math.floor((day % 3600) / 60)).padStart(2, '0');
  const ss = String(day % 60).padStart(2, '0');
  return `${hh}:${mm}:${ss}.${micros}`;
}

export function tcpFlagString(f: number): string {
  let s = '';
  if (f & TcpFlags.SYN) s += 'S';
  if (f & TcpFlags.FIN) s += 'F';
  if (f & TcpFlags.RST) s += 'R';
  if (f & TcpFlags.PSH) s += 'P';
  if (f & TcpFlags.URG) s += 'U';
  if (f & TcpFlags.ECE) s += 'E';
  if (f & TcpFlags.CWR) s += 'W';
  if (f & TcpFlags.ACK) s += '.';
  return s || 'none';
}

function hostPort(addr: string, port: number, v6: boolean): string {
  return v6 ? `${addr}.${port}` : `${addr}.${port}`;
}

function dnsTypeName(t: number): string {
  for (const [k, v] of Object.entries(DnsType)) if (v === t) return k;
  return `TYPE${t}`;
}

function rrString(r: DnsRecord): string {
  const d = r.data;
  let v: string;
  switch (d.kind) {
    case 'a':
    case 'aaaa':
      v = d.address.key;
      break;
    case 'cname':
    case 'ns':
    case 'ptr':
      v = `${d.name}.`;
      break;
    case 'mx':
      v = `${d.exchange}. ${d.preference}`;
      break;
    case 'srv':
      v = `${d.target}.:${d.port} ${d.priority} ${d.weight}`;
      break;
    case 'soa':
      v = `${d.mname}. ${d.rname}. ${d.serial}`;
      break;
    case 'txt':
      v = d.strings.map((s) => JSON.stringify(Buffer.from(s).toString('latin1'))).join(' ');
      break;
    default:
      v = `[${d.bytes.length} bytes]`;
  }
  return `${r.name}. ${dnsTypeName(r.type)} ${v}`;
}

const RCODES = ['NoError', 'FormErr', 'ServFail', 'NXDomain', 'NotImp', 'Refused'];

export function formatDns(m: DnsMessage): string {
  const q = m.questions.map((x) => `${dnsTypeName(x.type)}? ${x.name}.`).join(' ');
  if (!m.qr) return `${m.id}${m.rd ? '+' : ''} ${q}`;
  const rc = m.rcode ? ` ${RCODES[m.rcode] ?? `rcode${m.rcode}`}` : '';
  const an = m.answers.map(rrString).join(', ');
  return `${m.id}${m.aa ? '*' : ''}${rc} q: ${q} ${m.answers.length}/${m.authorities.length}/${m.additionals.length}${an ? ` ${an}` : ''}`;
}

/** The text after the time stamp for one decoded frame. */
export function formatFrame(d: DecodedFrame, opts: FormatOptions = {}): string {
  const parts: string[] = [];
  if (opts.macs && d.eth) {
    const et = ETHERTYPES[d.eth.ethertype] ?? 'unknown';
    const vl = d.eth.vlans.length ? ` vlan ${d.eth.vlans.join(',')},` : '';
    parts.push(`${d.eth.src} > ${d.eth.dst},${vl} ethertype ${et} (0x${d.eth.ethertype.toString(16).padStart(4, '0')}), length ${d.length}:`);
  }
  if (d.arp) {
    const a = d.arp;
    parts.push(
      a.op === 'request'
        ? `ARP, Request who-has ${a.targetIp} tell ${a.senderIp}, length 28`
        : a.op === 'reply'
          ? `ARP, Reply ${a.senderIp} is-at ${a.senderMac}, length 28`
          : `ARP, op ${a.op} ${a.senderIp} > ${a.targetIp}`,
    );
  } else if (d.ip) {
    const ip = d.ip;
    const v6 = ip.version === 6;
    const pname = PROTO_NAMES[ip.protocol] ?? 'unknown';
    const head = v6
      ? `IP6 (${ip.flowLabel ? `flowlabel 0x${ip.flowLabel.toString(16).padStart(5, '0')}, ` : ''}hlim ${ip.ttl}, next-header ${pname} (${ip.protocol}) payload length: ${ip.length - 40}${ip.extensionHeaders ? `, ext [${ip.extensionHeaders.join(',')}]` : ''})`
      : `IP (tos 0x${ip.tos.toString(16)}, ttl ${ip.ttl}, id ${ip.id}, offset ${(ip.fragment?.offset ?? 0)}, flags [${ip.dontFragment ? 'DF' : ip.fragment?.more ? '+' : 'none'}], proto ${pname} (${ip.protocol}), length ${ip.length}${ip.checksum === 'bad' ? ', bad cksum' : ''})`;
    parts.push(head);
    const frag = ip.fragment ? ` (frag ${ip.fragment.ident}:${ip.length - (v6 ? 40 : 20)}@${ip.fragment.offset}${ip.fragment.more ? '+' : ''})` : '';
    if (d.tcp) {
      const t = d.tcp;
      const o = t.options;
      const optList: string[] = [];
      if (o.mss !== null) optList.push(`mss ${o.mss}`);
      if (o.sackPermitted) optList.push('sackOK');
      if (o.timestamp) optList.push(`TS val ${o.timestamp.tsVal} ecr ${o.timestamp.tsEcr}`);
      if (o.windowScale !== null) optList.push(`wscale ${o.windowScale}`);
      if (o.sackBlocks.length) optList.push(`sack ${o.sackBlocks.length} ${o.sackBlocks.map((b) => `{${b.left}:${b.right}}`).join('')}`);
      for (const k of o.unknownKinds) optList.push(`opt-${k}`);
      const ackPart = t.flags & TcpFlags.ACK ? `, ack ${t.ack}` : '';
      const seqPart = t.payloadLen || t.flags & (TcpFlags.SYN | TcpFlags.FIN) ? `seq ${t.seq}${t.payloadLen ? `:${(t.seq + t.payloadLen) >>> 0}` : ''}` : `seq ${t.seq}`;
      parts.push(
        `${hostPort(ip.src, t.srcPort, v6)} > ${hostPort(ip.dst, t.dstPort, v6)}: Flags [${tcpFlagString(t.flags)}], cksum ${t.checksum === 'ok' ? '(correct)' : t.checksum === 'bad' ? '(incorrect)' : '(unverified)'}, ${seqPart}${ackPart}, win ${t.window}${optList.length ? `, options [${optList.join(',')}]` : ''}, length ${t.payloadLen}${frag}`,
      );
      if (d.dns) parts.push(formatDns(d.dns));
    } else if (d.udp) {
      const u = d.udp;
      parts.push(`${hostPort(ip.src, u.srcPort, v6)} > ${hostPort(ip.dst, u.dstPort, v6)}:${d.dns ? ` ${formatDns(d.dns)}` : ''} UDP, length ${u.payloadLen}${u.checksum === 'bad' ? ', bad udp cksum' : ''}${frag}`);
    } else if (d.icmp) {
      const c = d.icmp;
      const name = c.kind.replace(/-/g, ' ');
      const echo = c.ident !== undefined ? `, id ${c.ident}, seq ${c.seq}, length ${(c.dataLen ?? 0) + 8}` : '';
      const extra = c.mtu !== undefined ? `, mtu ${c.mtu}` : c.target ? `, who has ${c.target}` : '';
      parts.push(`${ip.src} > ${ip.dst}: ${v6 ? 'ICMP6' : 'ICMP'} ${name === 'other' ? `type ${c.type} code ${c.code}` : name}${echo}${extra}${c.checksum === 'bad' ? ', bad cksum' : ''}${frag}`);
    } else {
      parts.push(`${ip.src} > ${ip.dst}: ${ip.fragment ? `${pname}${frag}` : `proto ${pname} (${ip.protocol})`}`);
    }
  } else if (d.eth && !d.error) {
    parts.push(`ethertype 0x${d.eth.ethertype.toString(16).padStart(4, '0')}, length ${d.length}`);
  }
  if (d.error) parts.push(`[malformed ${d.error.layer}: ${d.error.reason}]`);
  return parts.join(' ');
}
