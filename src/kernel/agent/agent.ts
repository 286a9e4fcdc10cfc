// `moat agent`: a long-running service that OCI runtimes (runc, crun; containerd and CRI-O through
// them) hand each container's seccomp listener to, over `linux.seccomp.listenerPath`. Read first:
// the OCI runtime spec, config-linux.md "Seccomp" and "The Container Process State";
// seccomp_unotify(2); DESIGN.md "Where it is going". kinvolk/seccompagent is the model for the
// shape of such an agent (not the code: it CONTINUEs calls into host sockets, moat emulates them).
//
// One moat stack per network namespace, not per listener: `runc exec` processes bring their own
// listener for the same container, and the containers of a Kubernetes pod share the pod's
// namespace; both must see one interface and one address, so they share one stack. The stack
// takes over the namespace's interface (src/net-plumbing/takeover.ts) when the first listener for
// that namespace arrives and gives it back when the last one ends.
//
// Everything a client sends is untrusted: a malformed record is rejected with one log line and
// its fds closed; nothing a client does can throw out of the agent.

import { EventEmitter } from 'node:events';
import { chmodSync, closeSync, fstatSync, lstatSync, openSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { native } from '../../net-plumbing/native.js';
import type { AgentConnectionRecord } from '../../net-plumbing/native.js';
import { PacketLink } from '../../net-plumbing/links/packet-link.js';
import { restoreInterface, takeOverInterface, type TakenInterface } from '../../net-plumbing/takeover.js';
import { createStack, createWirePair, type MoatStack } from '../node/stack.js';
import type { Stack } from '../../netstack/stack.js';
import { IpAddr } from '../../netstack/wire/ip-address.js';
import { isNetError } from '../../netstack/errors.js';
import { auditToJsonLine, type AuditRecord, type AuditSink } from '../../netstack/filter/audit.js';
import { attachPolicy, type AttachedPolicy } from '../policy/attach.js';
import { PolicyDirectory, type PolicyChoice } from './policy-dir.js';
import { isSeccompListener, parseContainerState, type ContainerInfo } from './state.js';

/** What serving one listener gives back (the shape of the sandbox core's serveGuest session). */
export interface SandboxSession {
  /** Settles when the listener is done: every process using that filter exited, or stop(). */
  done: Promise<unknown>;
  stop(): Promise<void>;
}

/** The network a container's socket calls are served on: one per network namespace. */
export interface PodNetwork {
  /** "dev:inode" of the network namespace. */
  readonly key: string;
  /** A path that names the namespace while the agent holds it (/proc/AGENTPID/fd/N). */
  readonly netnsPath: string;
  readonly moat: MoatStack;
  readonly stack: Stack;
  /** The interface taken over (undefined: takeover off, or the namespace had no configured interface). */
  readonly taken: TakenInterface | undefined;
  readonly policy: PolicyChoice;
  readonly attached: AttachedPolicy | undefined;
  /** Containers served on it, by id, with how many listeners each has open. */
  readonly containers: Map<string, { info: ContainerInfo; listeners: number }>;
}

/**
 * Serves one listener: the agent hands over the fd (the function owns it from then on) and the
 * network of the container's namespace. The sandbox core's serveGuest is the production one.
 */
export type ServeFunction = (container: ContainerInfo, listenerFd: number, net: PodNetwork) => SandboxSession;

export interface AgentOptions {
  /** The unix socket runtimes connect to (`linux.seccomp.listenerPath`). */
  socketPath: string;
  serve: ServeFunction;
  /** Policy files, one per name (see policy-dir.ts); watched for changes. */
  policyDir?: string;
  /** Take over the namespace's interface (default true). false: the stack gets no link (tests). */
  takeover?: boolean;
  /** One line per event (default: stderr). */
  log?: (line: string) => void;
  /** One JSON line per audit record, naming container and pod (default: none). */
  audit?: (line: string) => void;
  /** Peer uids allowed to hand over listeners (default: the agent's own uid). */
  allowUids?: readonly number[];
  /** Receive ring slots of each container's AF_PACKET link (default 32; memory per container). */
  linkSlots?: number;
  /** A connection not closed by the runtime within this many ms is dropped (default 5000). */
  connectionTimeoutMs?: number;
}

export interface AgentStats {
  connections: number;
  admitted: number;
  /** Rejections by reason. */
  rejected: Record<string, number>;
  sessionsEnded: number;
  networksCreated: number;
  networksReleased: number;
}

interface NetworkSlot {
  ready: Promise<PodNetwork>;
  nsfd: number;
  sessions: number;
  net?: PodNetwork;
}

function closeQuietly(fd: number): void {
  try {
    native().closeFd(fd);
  } catch {
    /* already closed */
  }
}

/** The nameservers of the container's /etc/resolv.conf (read through /proc/PID/root). */
export function containerNameservers(pid: number): IpAddr[] {
  try {
    const text = readFileSync(`/proc/${pid}/root/etc/resolv.conf`, 'utf8');
    const out: IpAddr[] = [];
    for (const m of text.matchAll(/^\s*nameserver\s+(\S+)/gm)) {
      const a = IpAddr.tryParse(m[1]!.replace(/%.*$/, ''));
      if (a && !a.isLoopback()) out.push(a);
    }
    return out.slice(0, 3);
  } catch {
    return [];
  }
}

/** "dev:inode" of the agent's own network namespace and of pid 1's (the host's, with hostPID). */
function hostNetnsKeys(): string[] {
  const keys: string[] = [];
  for (const p of ['/proc/self/ns/net', '/proc/1/ns/net']) {
    try {
      const st = statSync(p, { bigint: true });
      keys.push(`${st.dev}:${st.ino}`);
    } catch {
      /* not visible */
    }
  }
  return keys;
}

function quote(s: string): string {
  return /^[\w.:/@+-]*$/.test(s) ? s : JSON.stringify(s);
}

export class Agent extends EventEmitter {
  readonly stats: AgentStats = { connections: 0, admitted: 0, rejected: {}, sessionsEnded: 0, networksCreated: 0, networksReleased: 0 };
  readonly policies: PolicyDirectory;
  private listenId = -1;
  private readonly networks = new Map<string, NetworkSlot>();
  private readonly sessions = new Set<SandboxSession>();
  private readonly log: (line: string) => void;
  private readonly allowUids: readonly number[];
  private stopping = false;

  constructor(private readonly opts: AgentOptions) {
    super();
    this.log = opts.log ?? ((line) => process.stderr.write(`moat agent: ${line}\n`));
    this.allowUids = opts.allowUids ?? [process.getuid?.() ?? 0];
    this.policies = new PolicyDirectory(opts.policyDir, this.log);
  }

  /** Listens on the socket (a stale socket left by an earlier agent is replaced). */
  start(): this {
    if (this.listenId >= 0) throw new Error('Agent.start: already started');
    const path = this.opts.socketPath;
    try {
      if (lstatSync(path).isSocket()) unlinkSync(path);
    } catch {
      /* does not exist */
    }
    this.listenId = native().agentListen(path, { timeoutMs: this.opts.connectionTimeoutMs ?? 5000, maxFds: 16 }, (r) => this.onConnection(r));
    // Only root (the runtime) may hand listeners over; the socket is the agent's door.
    chmodSync(path, 0o600);
    this.policies.watch();
    this.log(`listening on ${path}${this.opts.policyDir ? ` policies=${this.opts.policyDir} (${this.policies.names().length})` : ''}`);
    return this;
  }

  /** Stops listening, ends every session and gives every interface back. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.listenId >= 0) native().agentUnlisten(this.listenId);
    this.listenId = -1;
    try {
      unlinkSync(this.opts.socketPath);
    } catch {
      /* gone already */
    }
    this.policies.close();
    await Promise.allSettled([...this.sessions].map((s) => s.stop()));
    await Promise.allSettled([...this.sessions].map((s) => s.done));
    // Sessions that ended released their networks; any left (a serve that never settles) go now.
    for (const [key, slot] of [...this.networks]) {
      slot.sessions = 0;
      await this.teardown(key, slot);
    }
  }

  /** Networks currently up (one per container network namespace). */
  networkList(): PodNetwork[] {
    return [...this.networks.values()].flatMap((s) => (s.net ? [s.net] : []));
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  private reject(reason: string, r: { pid: number; uid: number }, detail: string, fds: readonly number[]): void {
    for (const fd of fds) closeQuietly(fd);
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
    this.log(`rejected reason=${reason} peer=pid:${r.pid},uid:${r.uid} detail=${quote(detail)}`);
    this.emit('rejected', reason);
  }

  private onConnection(r: AgentConnectionRecord): void {
    this.stats.connections++;
    try {
      if (this.stopping) return this.reject('stopping', r, 'agent is stopping', r.fds);
      if (r.error) return this.reject(`transport:${r.error}`, r, `${r.data.length} bytes, ${r.fds.length} fds`, r.fds);
      if (!this.allowUids.includes(r.uid)) return this.reject('peer-uid', r, `uid ${r.uid} may not hand over listeners`, r.fds);
      const p = parseContainerState(r.data, r.fds.length);
      if (!p.ok) return this.reject(p.reason, r, p.detail, r.fds);
      const fd = r.fds[p.seccompIndex]!;
      for (const other of r.fds) if (other !== fd) closeQuietly(other);
      if (!isSeccompListener(fd)) return this.reject('not-a-seccomp-listener', r, native().fdLinkText(fd), [fd]);
      void this.admit(p.container, fd, r);
    } catch (e) {
      // A bug here must not take every other container's network down with the process.
      this.reject('internal', r, String(e), r.fds);
    }
  }

  private async admit(c: ContainerInfo, fd: number, r: { pid: number; uid: number }): Promise<void> {
    let nsfd = -1;
    let key = '';
    // The process's own namespace; else the container init's: runc 1.1 reports for `runc exec`
    // the pid of an intermediate process that has exited by the time the state arrives, and an
    // exec'd process always joins the container's network namespace.
    const errors: string[] = [];
    for (const pid of c.pid === c.initPid ? [c.pid] : [c.pid, c.initPid]) {
      try {
        nsfd = openSync(`/proc/${pid}/ns/net`, 'r');
        const st = fstatSync(nsfd, { bigint: true });
        key = `${st.dev}:${st.ino}`;
        break;
      } catch (e) {
        if (nsfd >= 0) closeSync(nsfd);
        nsfd = -1;
        errors.push(`pid ${pid}: ${(e as Error).message}`);
      }
    }
    if (nsfd < 0) return this.reject('process-gone', r, `container ${c.label} ${errors.join('; ')}`, [fd]);
    // A container in the host's (or the agent's) network namespace (hostNetwork pods): taking its
    // interface over would take the node's addresses away. Refused; its calls then fail (ENOSYS).
    if ((this.opts.takeover ?? true) && hostNetnsKeys().includes(key)) {
      closeSync(nsfd);
      return this.reject('host-network', r, `container ${c.label} shares the host's network namespace`, [fd]);
    }
    let slot = this.networks.get(key);
    if (slot) {
      closeSync(nsfd);
    } else {
      const s: NetworkSlot = { nsfd, sessions: 0, ready: undefined as unknown as Promise<PodNetwork> };
      s.ready = this.createNetwork(key, nsfd, c).then((net) => (s.net = net));
      this.networks.set(key, s);
      slot = s;
    }
    slot.sessions++;
    let net: PodNetwork;
    try {
      net = await slot.ready;
    } catch (e) {
      slot.sessions--;
      if (this.networks.get(key) === slot && slot.sessions === 0) {
        this.networks.delete(key);
        closeQuietly(slot.nsfd);
      }
      return this.reject('network-setup', r, `container ${c.label}: ${(e as Error).message}`, [fd]);
    }
    const entry = net.containers.get(c.id) ?? { info: c, listeners: 0 };
    entry.listeners++;
    net.containers.set(c.id, entry);
    const choice = this.policies.select(c);
    if (choice.name !== net.policy.name) {
      this.log(`policy-conflict container=${quote(c.label)} wants=${choice.name} network=${key} has=${net.policy.name} (one stack per network namespace: the first container's policy applies)`);
    }
    let session: SandboxSession;
    try {
      session = this.opts.serve(c, fd, net);
    } catch (e) {
      closeQuietly(fd);
      this.log(`serve-failed container=${quote(c.label)} error=${quote(String(e))}`);
      this.releaseContainer(net, c);
      await this.release(key);
      return;
    }
    this.stats.admitted++;
    this.sessions.add(session);
    this.log(
      `admitted container=${quote(c.label)} id=${quote(c.id)} pid=${c.pid} status=${c.status}${c.pod ? ` pod=${quote(`${c.pod.namespace}/${c.pod.name}`)}` : ''} network=${key} policy=${net.policy.name} listeners=${entry.listeners}`,
    );
    this.emit('admitted', c, net);
    const end = (how: string) => {
      this.sessions.delete(session);
      this.stats.sessionsEnded++;
      this.releaseContainer(net, c);
      this.log(`ended container=${quote(c.label)} pid=${c.pid} how=${quote(how)}`);
      this.emit('ended', c);
      void this.release(key);
    };
    session.done.then(
      (v) => end(typeof v === 'string' ? v : 'done'),
      (e) => end(`error: ${String(e)}`),
    );
  }

  private releaseContainer(net: PodNetwork, c: ContainerInfo): void {
    const e = net.containers.get(c.id);
    if (e && --e.listeners <= 0) net.containers.delete(c.id);
  }

  private async release(key: string): Promise<void> {
    const slot = this.networks.get(key);
    if (!slot) return;
    if (--slot.sessions > 0) return;
    await this.teardown(key, slot);
  }

  private async teardown(key: string, slot: NetworkSlot): Promise<void> {
    if (this.networks.get(key) !== slot) return;
    this.networks.delete(key);
    const net = await slot.ready.catch(() => undefined);
    if (net) {
      net.attached?.forwarder?.close();
      net.moat.close();
      const how = net.taken ? await restoreInterface(net.taken).catch((e: unknown) => `restore failed: ${String(e)}`) : 'no-takeover';
      this.stats.networksReleased++;
      this.log(`network-down network=${key} interface=${net.taken?.ifname ?? '-'} ${how}`);
      this.emit('network-down', key, how);
    }
    closeQuietly(slot.nsfd);
  }

  private auditSink(net: () => PodNetwork | undefined): AuditSink | undefined {
    const write = this.opts.audit;
    if (!write) return undefined;
    return {
      record: (rec: AuditRecord) => {
        const n = net();
        const cs = n ? [...n.containers.values()].map((e) => e.info) : [];
        const pod = cs.find((c) => c.pod)?.pod;
        const head = JSON.stringify({
          container: cs.map((c) => c.containerName ?? c.id).join(',') || '-',
          ...(pod ? { pod: `${pod.namespace}/${pod.name}` } : {}),
        });
        // The record's own fields follow the container and pod (one flat object per line).
        write(`${head.slice(0, -1)},${auditToJsonLine(rec).slice(1)}`);
      },
    };
  }

  private async createNetwork(key: string, nsfd: number, c: ContainerInfo): Promise<PodNetwork> {
    const netnsPath = `/proc/${process.pid}/fd/${nsfd}`;
    const choice = this.policies.select(c);
    let taken: TakenInterface | undefined;
    let link;
    if (this.opts.takeover ?? true) {
      taken = await takeOverInterface({ netnsPath }).catch((e: unknown) => {
        if (String(e).includes('no configured interface')) return undefined;
        throw e;
      });
      if (taken) {
        try {
          link = new PacketLink({ ifname: taken.ifname, netns: netnsPath, slots: this.opts.linkSlots ?? 32 });
        } catch (e) {
          await restoreInterface(taken).catch(() => undefined);
          throw e;
        }
      }
    }
    let moat: MoatStack;
    try {
      // No interface (takeover off, or a namespace with only lo): a stack whose one link leads
      // nowhere, so the container still gets loopback and errors like ENETUNREACH, not ENOSYS.
      moat = createStack({ link: link ?? createWirePair()[0], ip: taken?.addresses ?? [], name: taken?.ifname ?? 'eth0' });
    } catch (e) {
      link?.close();
      if (taken) await restoreInterface(taken).catch(() => undefined);
      throw e;
    }
    for (const r of taken?.routes ?? []) {
      try {
        moat.stack.addRoute(r.dst, moat.nic, r.gateway ?? null, r.metric ?? 0);
      } catch (e) {
        this.log(`route-skipped network=${key} route=${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}: ${(e as Error).message}`);
      }
    }
    // IPv6 addresses are tentative until duplicate address detection ends (RFC 4862 §5.4): the
    // container's first calls wait in the kernel meanwhile rather than fail with EADDRNOTAVAIL.
    if (taken?.addresses.some((a) => a.includes(':'))) await moat.ready().catch(() => undefined);
    let net: PodNetwork | undefined;
    const audit = this.auditSink(() => net);
    const upstream = containerNameservers(c.pid);
    let attached = attachPolicy(moat.stack, choice.policy, { upstream, audit, auditTime: () => Date.now() });
    if (isNetError(attached)) {
      // The DNS forwarder could not start: keep the policy, without name-based rules' learning.
      this.log(`dns-forwarder-failed network=${key} error=${attached}`);
      attached = attachPolicy(moat.stack, choice.policy, { audit, auditTime: () => Date.now() });
    }
    if (isNetError(attached)) {
      moat.close();
      if (taken) await restoreInterface(taken).catch(() => undefined);
      throw new Error(`policy could not be attached: ${attached}`);
    }
    net = {
      key,
      netnsPath,
      moat,
      stack: moat.stack,
      taken,
      policy: choice,
      attached,
      containers: new Map(),
    };
    this.stats.networksCreated++;
    this.log(
      `network-up network=${key} container=${quote(c.label)} interface=${taken?.ifname ?? '-'} mac=${taken?.mac ?? '-'} mtu=${taken?.mtu ?? '-'} addresses=${taken?.addresses.join(',') || '-'} routes=${taken?.routes.map((r) => `${r.dst}${r.gateway ? `>${r.gateway}` : ''}`).join(',') || '-'} policy=${choice.name} (${quote(choice.why)})`,
    );
    this.emit('network-up', net);
    return net;
  }
}
