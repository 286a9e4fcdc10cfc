// `moat host`: moat's stack as a standalone host on a link (AF_PACKET on an interface, a tap
// device, or libpcap), with the built-in services. Also the composition used by the interop
// tests, the demo and the benchmark.
//
// Taking over an interface (as runsc does): the stack answers ARP/NDP for its addresses from
// the interface's MAC, so the kernel must not hold addresses on that interface, or both would
// answer and the kernel would reset TCP connections it knows nothing about. moat REFUSES an
// interface (packet: and pcap:) that still has IPv4 or IPv6 addresses (link-local included:
// the kernel would run NDP from it), naming them and saying how to fix it, unless --force.
// It does not take addresses off by itself: that would silently break whatever used them.
// The usual set-up is an address-less veth end in a namespace of its own with IPv6 disabled
// (../shared/tools/netns-pair.sh). A tap is different: its kernel end is the peer, with its
// own MAC, so its addresses are expected.

import { execFile } from 'node:child_process';
import { Stack } from '../../netstack/stack.js';
import type { Nic } from '../../netstack/nic.js';
import type { LinkEndpoint } from '../../netstack/link.js';
import { SnifferLink } from '../../netstack/links/sniffer.js';
import { IpAddr, IpCidr } from '../../netstack/wire/ip-address.js';
import { TcpProtocol } from '../../netstack/tcp/index.js';
import { RealClock } from '../../net-plumbing/clock.js';
import { CryptoRng } from '../../net-plumbing/rng.js';
import { PacketLink } from '../../net-plumbing/links/packet-link.js';
import { TapLink } from '../../net-plumbing/links/tap-link.js';
import { PcapLiveLink } from '../../net-plumbing/links/pcap-live-link.js';
import { PcapngWriter } from '../../net-plumbing/pcap/writer.js';
import { macToString } from '../../net-plumbing/netns.js';
import { Services, type ServiceSpec } from './services.js';

export interface LinkSpec {
  kind: 'packet' | 'tap' | 'pcap';
  ifname: string;
  /** packet: and tap: only: the named network namespace of the interface. */
  netns?: string;
}

export interface HostOptions {
  link: LinkSpec;
  /** CIDRs, e.g. 10.0.0.2/24 and fd00::2/64. */
  addresses: readonly string[];
  /** Default gateways (one per family at most). */
  gateways?: readonly string[];
  services?: readonly ServiceSpec[];
  /** pcapng of every frame, both directions. */
  pcap?: string;
  /** Bytes kept per frame in the pcap (0: all; default 262144). */
  snaplen?: number;
  /** vnet_hdr GSO/checksum offloads on packet: and tap: links (default true). */
  offload?: boolean;
  /** Use an interface even though it has addresses. */
  force?: boolean;
}

export interface Host {
  readonly stack: Stack;
  readonly tcp: TcpProtocol;
  readonly nic: Nic;
  readonly services: Services;
  readonly link: LinkEndpoint;
  /** "packet:IF@NS" etc. */
  readonly linkName: string;
  readonly mac: string;
  /** Stops services, closes the link and the pcap; idempotent. */
  close(): Promise<void>;
  /** Non-zero counters: stack, interface, TCP, services. */
  counters(): Record<string, number>;
}

/** Why a host could not start, in words meant for the user. */
export class HostSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostSetupError';
  }
}

export function linkSpecText(l: LinkSpec): string {
  return `${l.kind}:${l.ifname}${l.netns ? `@${l.netns}` : ''}`;
}

interface AddrInfo {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

function ipJson(args: string[]): Promise<AddrInfo[]> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['-j', ...args], { encoding: 'utf8' }, (err, out, stderr) => {
      if (err) reject(new HostSetupError(`\`ip ${args.join(' ')}\`: ${(stderr || err.message).trim()}`));
      else resolve(out.trim() ? (JSON.parse(out) as AddrInfo[]) : []);
    });
  });
}

/** The interface's IP addresses (CIDR text); throws a HostSetupError when it does not exist. */
export async function interfaceAddresses(ifname: string, netns?: string): Promise<string[]> {
  const args = netns ? ['-n', netns, 'address', 'show', 'dev', ifname] : ['address', 'show', 'dev', ifname];
  let info: AddrInfo | undefined;
  try {
    [info] = await ipJson(args);
  } catch (e) {
    throw new HostSetupError(`no interface ${ifname}${netns ? ` in namespace ${netns}` : ''} (${(e as Error).message})`);
  }
  if (!info) throw new HostSetupError(`no interface ${ifname}${netns ? ` in namespace ${netns}` : ''}`);
  return (info.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
}

function openLink(l: LinkSpec, offload: boolean): LinkEndpoint {
  switch (l.kind) {
    case 'packet':
      return new PacketLink({ ifname: l.ifname, netns: l.netns, vnetHdr: offload });
    case 'tap':
      return new TapLink({ name: l.ifname, netns: l.netns, offload });
    case 'pcap':
      return new PcapLiveLink({ device: l.ifname });
  }
}

export async function startHost(opts: HostOptions): Promise<Host> {
  const cidrs = opts.addresses.map((a) => IpCidr.parse(a));
  if (cidrs.length === 0) throw new HostSetupError('at least one --ip CIDR is needed');
  if (opts.link.kind !== 'tap') {
    const held = await interfaceAddresses(opts.link.ifname, opts.link.netns);
    if (held.length > 0 && !opts.force) {
      const ns = opts.link.netns ? `ip -n ${opts.link.netns} ` : 'ip ';
      throw new HostSetupError(
        `interface ${opts.link.ifname} still has addresses (${held.join(', ')}): the kernel would answer ARP/NDP ` +
          `for them and reset TCP connections meant for moat. Give moat an address-less interface ` +
          `(e.g. a veth end in a namespace of its own with IPv6 disabled; see tools/netns-pair.sh), ` +
          `or remove them (\`${ns}address flush dev ${opts.link.ifname}\` and ` +
          `\`sysctl net.ipv6.conf.${opts.link.ifname}.disable_ipv6=1\`), or pass --force to share it anyway.`,
      );
    }
  }
  // unref: the stack's timers must never keep a process alive on their own (an embedding test or
  // the demo exits once it closed the host); the open link holds the event loop while it runs.
  const clock = new RealClock({ unref: true });
  let tcp!: TcpProtocol;
  const stack = new Stack({ clock, rng: new CryptoRng(), transports: (net) => [(tcp = new TcpProtocol(net))] });
  let raw: LinkEndpoint;
  try {
    raw = openLink(opts.link, opts.offload ?? true);
  } catch (e) {
    stack.close();
    throw new HostSetupError(`cannot open ${linkSpecText(opts.link)}: ${(e as Error).message}`);
  }
  let writer: PcapngWriter | null = null;
  let link: LinkEndpoint = raw;
  if (opts.pcap) {
    writer = new PcapngWriter(opts.pcap, {
      interfaces: [{ name: opts.link.ifname, description: `moat host ${linkSpecText(opts.link)}`, snapLength: opts.snaplen }],
    });
    // Wall-clock timestamps: the stack's clock is monotonic milliseconds since process start.
    link = new SnifferLink(raw, clock, writer, { epochOffsetMs: Date.now() - performance.now() });
  }
  let nic: Nic;
  const services = new Services(stack, tcp);
  try {
    nic = stack.addNic(link, { name: opts.link.ifname, addresses: cidrs });
    for (const g of opts.gateways ?? []) {
      const gw = IpAddr.parse(g);
      stack.addRoute(gw.family === 4 ? '0.0.0.0/0' : '::/0', nic, gw);
    }
    services.start(opts.services ?? []);
  } catch (e) {
    services.close();
    stack.close();
    raw.close();
    await writer?.close();
    throw e instanceof HostSetupError ? e : new HostSetupError((e as Error).message);
  }
  // RFC 4862 §5.4: a new IPv6 address is tentative until duplicate address detection ends; the
  // host is not ready (it could neither use nor answer for the address) before that.
  const v6 = cidrs.filter((c) => c.family === 6).map((c) => c.addr);
  const deadline = performance.now() + 10_000;
  for (;;) {
    const states = nic.ipv6Addresses();
    const pending = v6.filter((a) => states.find((s) => s.cidr.addr.equals(a))?.tentative !== false);
    if (pending.length === 0) break;
    if (performance.now() > deadline) {
      services.close();
      stack.close();
      raw.close();
      await writer?.close();
      throw new HostSetupError(`duplicate address detection did not complete for ${pending.join(', ')} (is the address in use on the link?)`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  let closing: Promise<void> | null = null;
  const host: Host = {
    stack,
    tcp,
    nic,
    services,
    link: raw,
    linkName: linkSpecText(opts.link),
    mac: macToString(raw.mac),
    close() {
      closing ??= (async () => {
        services.close();
        stack.close();
        raw.close();
        await writer?.close();
      })();
      return closing;
    },
    counters() {
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries(stack.stats.snapshot())) if (v) out[k] = v;
      for (const [k, v] of Object.entries(nic.counters)) out[`nic.${k}`] = v;
      for (const [k, v] of Object.entries(tcp.stats)) if (typeof v === 'number' && v) out[`tcp.${k}`] = v;
      for (const [k, v] of Object.entries(services.stats.tcpConnections)) if (v) out[`service.${k}.tcp-connections`] = v;
      for (const [k, v] of Object.entries(services.stats.udpDatagrams)) if (v) out[`service.${k}.udp-datagrams`] = v;
      const h = services.stats.http;
      if (h.requests) {
        out['http.requests'] = h.requests;
        for (const [code, n] of Object.entries(h.status)) out[`http.status.${code}`] = n;
        out['http.body-bytes-in'] = h.bodyBytesIn;
        out['http.body-bytes-out'] = h.bodyBytesOut;
      }
      return out;
    },
  };
  return host;
}
