// `moat host`: flags, start-up, and the wait for SIGINT/SIGTERM. See host.ts for what it
// does to the interface and why.

import { InvalidArgumentError, type Command } from 'commander';
import { IpAddr, IpCidr } from '../../netstack/wire/ip-address.js';
import { DEFAULT_PORTS, SERVICE_NAMES, type ServiceName, type ServiceSpec } from './services.js';
import { startHost, HostSetupError, type LinkSpec } from './host.js';

const IFNAME = /^[^\s/:@]{1,15}$/;
const NETNS = /^[^\s/]{1,255}$/;

/** packet:IF[@NETNS] | tap:NAME[@NETNS] | pcap:IF */
export function parseLinkSpec(text: string): LinkSpec {
  const m = /^(packet|tap|pcap):([^@]*)(?:@(.*))?$/.exec(text);
  if (!m) throw new InvalidArgumentError(`expected packet:IF[@NETNS], tap:NAME[@NETNS] or pcap:IF, got "${text}"`);
  const [, kind, ifname, netns] = m;
  if (!IFNAME.test(ifname)) throw new InvalidArgumentError(`"${ifname}" is not an interface name (1..15 characters, no whitespace, '/', ':' or '@')`);
  if (netns !== undefined) {
    if (kind === 'pcap') throw new InvalidArgumentError('pcap: links take no @NETNS (libpcap opens the device in the current namespace)');
    if (!NETNS.test(netns) || netns === '.' || netns === '..') throw new InvalidArgumentError(`"${netns}" is not a network namespace name`);
  }
  return { kind: kind as LinkSpec['kind'], ifname, netns };
}

export function parseCidrList(text: string, prev: string[] = []): string[] {
  const out = [...prev];
  for (const part of text.split(',').filter((s) => s)) {
    const c = IpCidr.tryParse(part);
    if (!c || !part.includes('/')) throw new InvalidArgumentError(`"${part}" is not an address with a prefix length (e.g. 10.0.0.2/24 or fd00::2/64)`);
    if (c.addr.isUnspecified() || c.addr.isMulticast()) throw new InvalidArgumentError(`"${part}" cannot be a host address`);
    out.push(part);
  }
  return out;
}

export function parseGateway(text: string, prev: string[] = []): string[] {
  const a = IpAddr.tryParse(text);
  if (!a || a.isUnspecified() || a.isMulticast()) throw new InvalidArgumentError(`"${text}" is not a unicast IP address`);
  if (prev.some((p) => IpAddr.parse(p).family === a.family)) throw new InvalidArgumentError(`one gateway per address family (already have ${prev.join(', ')})`);
  return [...prev, text];
}

/** echo[:PORT],discard[:PORT],... or "none". */
export function parseServices(text: string): ServiceSpec[] {
  if (text === 'none') return [];
  const out: ServiceSpec[] = [];
  const ports = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^([a-z]+)(?::(\d{1,5}))?$/.exec(part.trim());
    if (!m || !(SERVICE_NAMES as readonly string[]).includes(m[1])) {
      throw new InvalidArgumentError(`"${part}" is not a service: expected NAME[:PORT] with NAME one of ${SERVICE_NAMES.join(', ')}`);
    }
    const name = m[1] as ServiceName;
    const port = m[2] === undefined ? DEFAULT_PORTS[name] : Number(m[2]);
    if (port < 1 || port > 65535) throw new InvalidArgumentError(`port ${m[2]} of ${name} is out of range (1..65535)`);
    if (ports.has(port)) throw new InvalidArgumentError(`port ${port} is used twice`);
    ports.add(port);
    out.push({ name, port });
  }
  return out;
}

function parseSnaplen(text: string): number {
  if (!/^\d{1,7}$/.test(text)) throw new InvalidArgumentError(`"${text}" is not a byte count`);
  const n = Number(text);
  if (n !== 0 && n < 64) throw new InvalidArgumentError('a snaplen below 64 bytes would cut headers (0 means whole frames)');
  return n;
}

interface HostFlags {
  link: LinkSpec;
  ip: string[];
  gateway: string[];
  serve: ServiceSpec[];
  pcap?: string;
  snaplen?: number;
  offload: boolean;
  force: boolean;
}

export function registerHost(program: Command): void {
  program
    .command('host')
    .description(
      "run moat's stack as a standalone host on a link, with built-in services to probe it from outside; " +
        'stops on SIGINT/SIGTERM and prints its counters',
    )
    .requiredOption('--link <spec>', 'packet:IF[@NETNS] (AF_PACKET), tap:NAME[@NETNS] (a new tap device) or pcap:IF (libpcap)', parseLinkSpec)
    .requiredOption('--ip <cidr...>', 'address(es) with prefix length, repeatable or comma-separated', (v: string, p: string[]) => parseCidrList(v, p), [] as string[])
    .option('--gateway <ip>', 'default gateway (one per family; repeatable)', (v: string, p: string[]) => parseGateway(v, p), [] as string[])
    .option('--serve <list>', 'services: echo[:7],discard[:9],chargen[:19],http[:80], or none', parseServices, parseServices('echo,discard,chargen,http'))
    .option('--pcap <file>', 'write every frame, both directions, to this pcapng file')
    .option('--snaplen <bytes>', 'bytes kept per frame in the pcap (0: whole frames)', parseSnaplen)
    .option('--no-offload', 'no vnet_hdr GSO/checksum offloads (packet: and tap:)')
    .option('--force', 'use an interface even though the kernel still has addresses on it')
    .addHelpText(
      'after',
      '\nThe interface must have no IP addresses (the kernel would answer for them): use a veth end in a\n' +
        'namespace of its own, e.g. `moat host --link packet:md-x@moat-x-dut --ip 10.213.99.2/24`\n' +
        'after `tools/netns-pair.sh up x`. With tap:, configure the kernel end yourself (ip addr add ... dev NAME).',
    )
    .action(async (flags: HostFlags) => {
      if (flags.ip.length === 0) throw new InvalidArgumentError('--ip needs at least one address');
      let host;
      try {
        host = await startHost({
          link: flags.link,
          addresses: flags.ip,
          gateways: flags.gateway,
          services: flags.serve,
          pcap: flags.pcap,
          snaplen: flags.snaplen,
          offload: flags.offload,
          force: flags.force,
        });
      } catch (e) {
        if (e instanceof HostSetupError) {
          process.stderr.write(`moat host: ${e.message}\n`);
          process.exitCode = 2;
          return;
        }
        throw e;
      }
      const served = flags.serve.map((s) => `${s.name}:${s.port}`).join(',') || 'nothing';
      process.stdout.write(
        `moat host: up on ${host.linkName} mac ${host.mac} addresses ${flags.ip.join(' ')}` +
          `${flags.gateway.length ? ` gateway ${flags.gateway.join(' ')}` : ''} serving ${served}` +
          `${flags.pcap ? ` pcap ${flags.pcap}` : ''} (SIGINT/SIGTERM to stop)\n`,
      );
      // The stack's clock is unref'd (see host.ts): hold the event loop until a signal.
      const hold = setInterval(() => {}, 1 << 30);
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        const on = (s: NodeJS.Signals) => {
          process.off('SIGINT', on);
          process.off('SIGTERM', on);
          resolve(s);
        };
        process.on('SIGINT', on);
        process.on('SIGTERM', on);
      });
      clearInterval(hold);
      const counters = host.counters();
      await host.close();
      const lines = Object.entries(counters).map(([k, v]) => `  ${k} ${v}`);
      process.stdout.write(`moat host: stopped (${signal}); counters:\n${lines.join('\n')}\n`);
    });
}
