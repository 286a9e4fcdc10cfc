// `moat run [options] -- CMD ARGS`: a guest whose every inet socket call is served by moat's
// stack (src/kernel/sandbox), on a link of its own (`--link auto`: a veth into a namespace for
// the stack, routed and masqueraded by the host like a container), with the policy of
// --allow/--deny/--policy (src/kernel/policy), DNS through moat's forwarder, an audit log and a
// pcap whose flows name the guest process that made them.

import { Command, InvalidArgumentError } from 'commander';
import { createWriteStream } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { createStack, type MoatStack } from '../kernel/node/stack.js';
import { SocketLayer } from '../kernel/socket/layer.js';
import { serveGuest, type FlowOwner } from '../kernel/sandbox/index.js';
import { GuestSpawnError, spawnGuest } from '../kernel/supervisor/spawn.js';
import { attachPolicy } from '../kernel/policy/attach.js';
import { applyPolicyFlags, emptyPolicy, readPolicyFile } from '../kernel/policy/policy.js';
import { IpAddr } from '../netstack/wire/ip-address.js';
import { SnifferLink } from '../netstack/links/sniffer.js';
import type { LinkEndpoint } from '../netstack/link.js';
import { PacketLink } from '../net-plumbing/links/packet-link.js';
import { TapLink } from '../net-plumbing/links/tap-link.js';
import { createAutoLink, hostDnsServers, type AutoLink } from '../net-plumbing/auto-link.js';
import { PcapngWriter } from '../net-plumbing/pcap/writer.js';
import { RealClock } from '../net-plumbing/clock.js';
import { FlowComments } from './flow-comments.js';
import { parsePublish, publishPorts, type PublishSpec } from './publish.js';
import { worldFromStack } from '../kernel/netlink/index.js';
import { auditToJsonLine } from '../netstack/filter/audit.js';
import { applyRuleFlags, parseRuleFlag, RuleFlagError } from './policy.js';

type LinkSpec = { kind: 'auto' } | { kind: 'packet'; ifname: string; netns?: string } | { kind: 'tap'; name: string };

function parseLink(text: string): LinkSpec {
  if (text === 'auto') return { kind: 'auto' };
  const m = /^(packet|tap):([^@]+)(?:@(.+))?$/.exec(text);
  if (!m) throw new InvalidArgumentError(`expected auto, packet:IF[@NETNS] or tap:NAME, got "${text}"`);
  if (m[1] === 'tap') {
    if (m[3]) throw new InvalidArgumentError('tap:NAME takes no @NETNS here');
    return { kind: 'tap', name: m[2]! };
  }
  return { kind: 'packet', ifname: m[2]!, netns: m[3] };
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function parseIpFlag(v: string, prev: string[] = []): string[] {
  if (!/^[0-9a-fA-F:.]+\/\d+$/.test(v)) throw new InvalidArgumentError(`--ip wants ADDRESS/PREFIX, got "${v}"`);
  return [...prev, v];
}

function parseAddr(v: string): string {
  try {
    IpAddr.parse(v);
  } catch {
    throw new InvalidArgumentError(`not an IP address: "${v}"`);
  }
  return v;
}

export interface RunFlags {
  link: LinkSpec;
  ip?: string[];
  gateway?: string[];
  dns?: string[];
  pcap?: string;
  audit?: string;
  allow?: string[];
  deny?: string[];
  policy?: string;
  inbound?: 'allow' | 'deny';
  publish?: PublishSpec[];
  /** iptables rules (`-A OUTPUT ... -j DROP`, `-t nat -I OUTPUT 2 ...`) added to the policy's tables. */
  rule?: string[];
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description("run a program whose every inet socket call is served by moat's stack")
    .option('--link <spec>', 'auto (a veth + namespace, routed and masqueraded), packet:IF[@NETNS] or tap:NAME', parseLink, { kind: 'auto' } as LinkSpec)
    .option('--ip <cidr>', "the stack's address (repeatable; auto picks one)", parseIpFlag)
    .option('--gateway <ip>', 'default gateway (repeatable, one per family)', (v: string, p: string[] = []) => [...p, parseAddr(v)])
    .option('--dns <ip>', 'upstream DNS server the forwarder asks (default: the host resolv.conf)', (v: string, p: string[] = []) => [...p, parseAddr(v)])
    .option('--allow <host[:port]>', 'allow this host (any --allow makes the default deny)', collect)
    .option('--deny <host[:port]>', 'deny this host', collect)
    .option('--policy <file>', 'policy file (YAML or JSON)')
    .option('--inbound <allow|deny>', 'new inbound connections to the guest (default: the policy\'s, deny)', (v: string) => {
      if (v !== 'allow' && v !== 'deny') throw new InvalidArgumentError(`--inbound wants allow or deny, got "${v}"`);
      return v;
    })
    .option('--rule <rule>', "an iptables rule added after the policy's, e.g. '-I OUTPUT -p tcp --dport 22 -j REJECT --reject-with tcp-reset' (repeatable; `moat policy show` prints where it lands)", collect)
    .option('--publish <host:guest>', 'forward a host port to a guest port: HOSTPORT:GUESTPORT[/udp] (repeatable; opens that guest port to inbound connections)', parsePublish)
    .option('--audit <file>', 'write a JSON line per flow decision to this file')
    .option('--pcap <file>', 'write every frame to this pcapng file, with a comment per flow naming the guest process')
    .argument('<command...>', 'the program and its arguments (after --)')
    .action(async (command: string[], flags: RunFlags) => {
      process.exitCode = await run(command, flags);
    });
}

/** Runs the guest; resolves with its exit status (128 + signal for a signal, as a shell reports). */
export async function run(command: string[], flags: RunFlags, log: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  if (process.getuid?.() !== 0) {
    log('moat run: needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) for the guest namespace and the link\n');
    return 1;
  }
  let auto: AutoLink | null = null;
  let stack: MoatStack | null = null;
  let writer: PcapngWriter | null = null;
  let publishedPorts: { close(): Promise<void> } | null = null;
  try {
    // Parsed before anything is created: a bad --rule stops here, naming its column.
    // A published guest port takes inbound connections whatever the policy's default.
    const published = (flags.publish ?? []).map((p) => `-I INPUT -p ${p.proto} --dport ${p.guestPort} -j ACCEPT`);
    const rules = [...(flags.rule ?? []), ...published].map((r, i) => parseRuleFlag(r, i + 1));
    let raw: LinkEndpoint;
    let ip = flags.ip ?? [];
    let gateway = flags.gateway ?? [];
    if (flags.link.kind === 'auto') {
      auto = await createAutoLink();
      for (const w of auto.warnings) log(`moat run: ${w}\n`);
      raw = new PacketLink({ ifname: auto.ifname, netns: auto.netns });
      if (ip.length === 0) ip = [...auto.ip];
      if (gateway.length === 0) gateway = [...auto.gateway];
    } else if (flags.link.kind === 'packet') {
      raw = new PacketLink({ ifname: flags.link.ifname, netns: flags.link.netns });
    } else {
      raw = new TapLink({ name: flags.link.name });
    }
    if (ip.length === 0) throw new InvalidArgumentError('--ip is needed with this --link');
    const clock = new RealClock();
    let link = raw;
    const comments = new FlowComments();
    if (flags.pcap) {
      writer = new PcapngWriter(flags.pcap, { interfaces: [{ name: 'moat0', description: `moat run ${command.join(' ')}` }] });
      link = new SnifferLink(raw, clock, comments.wrap(writer), { epochOffsetMs: Date.now() - performance.now() });
    }
    stack = createStack({ link, ip, gateway, clock, name: 'moat0' });
    await stack.ready().catch(() => undefined);

    const dns = flags.dns?.map((d) => IpAddr.parse(d)) ?? (await hostDnsServers());
    const base = flags.policy ? readPolicyFile(flags.policy) : emptyPolicy();
    const policy = applyPolicyFlags(base, { allow: flags.allow, deny: flags.deny });
    if (flags.inbound) policy.inbound = flags.inbound;
    const auditStream = flags.audit ? createWriteStream(flags.audit, { flags: 'a' }) : null;
    const attached = attachPolicy(stack.stack, policy, {
      upstream: dns,
      audit: auditStream ? { record: (rec) => void auditStream.write(`${auditToJsonLine(rec)}\n`) } : undefined,
      auditTime: () => Date.now(),
    });
    if (typeof attached === 'string') throw new Error(`cannot start the policy and DNS forwarder: ${attached}`);
    applyRuleFlags(attached.engine, rules);
    // The guest asks whatever its resolv.conf names; with no route there (no gateway), the query
    // would fail before the OUTPUT redirect could send it to the forwarder: route such servers
    // to moat's loopback, where the redirect answers for them.
    const lo = stack.stack.loopbackNic;
    for (const ns of await hostDnsServers().catch(() => [] as IpAddr[])) {
      if (lo && typeof stack.stack.route(ns) === 'string') stack.stack.addRoute(`${ns.key}/${ns.family === 4 ? 32 : 128}`, lo);
    }

    const layer = new SocketLayer(stack.stack);
    const target = ip.find((c) => !c.includes(':'))?.split('/')[0] ?? ip[0]!.split('/')[0]!;
    publishedPorts = flags.publish?.length ? await publishPorts(stack, target, flags.publish, log) : null;
    // AF_NETLINK is trapped too: rtnetlink (getifaddrs, ip addr, AI_ADDRCONFIG) shows moat's interfaces.
    const guest = await spawnGuest({ file: command[0]!, args: command.slice(1), stdio: ['inherit', 'inherit', 'inherit'], trapFamilies: [2, 10, 16] });
    const session = serveGuest({
      listenerFd: guest.listenerFd,
      layer,
      netlinkWorld: () => worldFromStack(stack!.stack),
      onFlow: ({ owner, socket }) => comments.remember(socket.localName().port, socket.stream ? 6 : 17, owner),
      onError: (e) => log(`moat run: internal error: ${String(e)}\n`),
    });
    const forward = (sig: NodeJS.Signals): void => {
      try {
        process.kill(guest.pid, sig);
      } catch {
        /* already gone */
      }
    };
    const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const s of sigs) process.on(s, forward);
    const exit = await guest.exited;
    for (const s of sigs) process.off(s, forward);
    // The run ends with its first process (as a container's does). Its descendants get a moment
    // to finish; then the last bytes and FINs the guest left must still go out.
    await Promise.race([session.done, new Promise((r) => setTimeout(r, 2000))]);
    await session.drain(3000);
    await session.stop();
    auditStream?.end();
    return exit.code ?? 128 + (exit.signal ? signalNumber(exit.signal) : 0);
  } catch (e) {
    log(`moat run: ${e instanceof RuleFlagError ? e.render() : (e as Error).message}\n`);
    // As a shell (and docker run) report it: 127 the command was not found, 126 not runnable.
    if (e instanceof GuestSpawnError && e.stage === 'exec') return e.code === 'ENOENT' ? 127 : 126;
    return 125;
  } finally {
    await publishedPorts?.close();
    stack?.close();
    await writer?.close();
    await auto?.destroy();
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  return (osConstants.signals as Record<string, number>)[sig] ?? 0;
}

export type { FlowOwner };
