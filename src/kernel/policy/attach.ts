// Puts a policy to work on a stack in one call: the compiled rules in a filter engine behind the
// stack's hooks, the DNS forwarder on loopback feeding the allowlist, and the nat rules that
// send every guest DNS query (any resolver, port 53) to that forwarder. What `moat run --policy`
// needs; the pieces stay usable on their own (compilePolicy, createPolicyEngine,
// createFilterHooks, DnsForwarder, installDnsRedirect).

import type { NetError } from '../../netstack/errors.js';
import type { Stack } from '../../netstack/stack.js';
import type { AuditSink } from '../../netstack/filter/audit.js';
import type { DnsAllowlist } from '../../netstack/filter/dns-allowlist.js';
import type { FilterEngine } from '../../netstack/filter/engine.js';
import { createFilterHooks, type EngineFilterHooks } from '../../netstack/filter/hooks.js';
import { DnsForwarder, installDnsRedirect } from '../../netstack/dns/forwarder.js';
import { IpAddr } from '../../netstack/wire/ip-address.js';
import { compilePolicy, createPolicyEngine, type CompiledPolicy, type Policy } from './policy.js';

export interface AttachPolicyOptions {
  /** Upstream DNS servers the forwarder asks (through the stack). Without them, no forwarder and no redirect. */
  upstream?: readonly IpAddr[];
  /** Where the forwarder listens. Default 127.0.0.1 and ::1 (where REDIRECT at OUTPUT sends). */
  listen?: readonly IpAddr[];
  /** Answer for names outside the allowlist. Default NXDOMAIN. */
  deny?: 'NXDOMAIN' | 'REFUSED';
  /** The host's own addresses (blocked unless the policy names them). */
  hostAddresses?: readonly IpAddr[];
  audit?: AuditSink;
  /** Wall-clock ms for audit records (the stack clock is monotonic). */
  auditTime?: () => number;
}

export interface AttachedPolicy {
  compiled: CompiledPolicy;
  engine: FilterEngine;
  allowlist: DnsAllowlist;
  hooks: EngineFilterHooks;
  forwarder: DnsForwarder | null;
}

export function attachPolicy(stack: Stack, policy: Policy, opts: AttachPolicyOptions = {}): AttachedPolicy | NetError {
  const upstream = opts.upstream ?? [];
  // The forwarder's own queries leave through OUTPUT like the guest's: its upstreams are allowed on port 53.
  const compiled = compilePolicy(policy, { dnsServers: upstream, hostAddresses: opts.hostAddresses });
  const { engine, allowlist } = createPolicyEngine(compiled, { clock: stack.clock, audit: opts.audit, auditTime: opts.auditTime });
  const hooks = createFilterHooks(engine, { stack });
  let forwarder: DnsForwarder | null = null;
  if (upstream.length > 0) {
    const listen = opts.listen ?? [IpAddr.LOOPBACK4, IpAddr.LOOPBACK6];
    forwarder = new DnsForwarder(stack, { listen, upstream, allowlist, deny: opts.deny, audit: opts.audit ?? null, auditTime: opts.auditTime });
    const r = forwarder.start();
    if (r) return r;
    installDnsRedirect(engine, { upstream, hooks: ['OUTPUT'] });
  }
  stack.filter = hooks;
  return { compiled, engine, allowlist, hooks, forwarder };
}
