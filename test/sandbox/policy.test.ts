// The egress policy under `moat run` (root), end to end: real guests (curl, python3) on a
// topology of the test's (policy-topology.ts). What is checked is what the guest itself saw
// (its output and exit status), what reached the wire (moat's pcap) and what the audit file says.
// Behaviour moat does not have yet is written as Linux has it and registered as a known failure
// (privilegedKnownBug): ava says so while it fails, and asks for promotion once it passes.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import test from 'ava';
import { isRoot, privilegedTest } from '../helpers/privileged.js';
import { CONNECT_PY, NAMES, NET, moatRun, pcapFlows, policyTopology, readAudit, type PolicyTopology } from './policy-topology.js';

test.serial.before(async (t) => {
  if (!isRoot) return;
  const topo = await policyTopology();
  writeFileSync(join(topo.dir, 'connect.py'), CONNECT_PY);
  (t.context as { topo?: PolicyTopology }).topo = topo;
});
test.serial.after.always(async (t) => {
  await (t.context as { topo?: PolicyTopology }).topo?.stop();
});

const topo = (t: ExecutionContext): PolicyTopology => {
  const x = (t.context as { topo?: PolicyTopology }).topo;
  if (!x) throw new Error('no topology');
  return x;
};

let files = 0;
/** A fresh path in the topology's scratch directory. */
const scratch = (t: ExecutionContext, ext: string): string => join(topo(t).dir, `f${files++}.${ext}`);

const curl = (url: string): string[] => ['curl', '-sS', '-m', '10', url];

privilegedTest('allowlist by name: the allowed name is fetched; another name fails with a DNS error; an address never learned through DNS is refused; once learned it is reachable', async (t) => {
  const x = topo(t);
  const allow = [...x.runArgs, '--allow', `${NAMES.web}:80`];

  const a1 = scratch(t, 'jsonl');
  const ok = await moatRun([...allow, '--audit', a1], curl(`http://${NAMES.web}/`));
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stdout, x.page);
  t.deepEqual(readAudit(a1), [], 'log: denied (the default) writes nothing for an allowed flow');

  const a2 = scratch(t, 'jsonl');
  const name = await moatRun([...allow, '--audit', a2], curl(`http://${NAMES.other}/`));
  t.is(name.code, 6, 'curl: could not resolve host');
  t.regex(name.stderr, new RegExp(`Could not resolve host: ${NAMES.other.replace(/\./g, '\\.')}`));
  t.is(name.stdout, '');
  const dns = readAudit(a2).map((r) => r.rec);
  t.true(dns.length >= 1, 'one line per refused query');
  for (const r of dns) {
    t.like(r, { hook: 'DNS', hostname: NAMES.other, verdict: 'reject', rule: 'dns/allowlist:nxdomain', dport: 53 });
  }

  const a3 = scratch(t, 'jsonl');
  const p3 = scratch(t, 'pcapng');
  const lit = await moatRun([...allow, '--audit', a3, '--pcap', p3], curl(`http://${NET.other}/`));
  t.not(lit.code, 0, 'the connection to an unlearned address fails');
  t.is(lit.stdout, '');
  t.true(
    readAudit(a3).some(({ rec }) => rec.hook === 'OUTPUT' && rec.verdict === 'reject' && rec.dst === NET.other && rec.dport === 80 && rec.prefix === 'default deny'),
    JSON.stringify(readAudit(a3)),
  );
  t.false((await pcapFlows(p3)).some((f) => f.dst === NET.other), 'nothing to the refused address reached the wire');

  // The allowed name's own address, as a literal: refused before DNS taught it, reachable after.
  const before = await moatRun(allow, curl(`http://${NET.web}/`));
  t.not(before.code, 0, 'not learned yet');
  t.is(before.stdout, '');
  const after = await moatRun(allow, ['sh', '-c', `curl -sS -m 10 -o /dev/null http://${NAMES.web}/ && curl -sS -m 10 http://${NET.web}/`]);
  t.is(after.code, 0, after.stderr);
  t.is(after.stdout, x.page);
  // ... but only on the allowed port: the rule is web.pt.test:80.
  const port = await moatRun(allow, ['sh', '-c', `curl -sS -m 10 -o /dev/null http://${NAMES.web}/ && curl -sS -m 10 http://${NET.web}:8080/`]);
  t.not(port.code, 0);
  t.is(port.stdout, '');
});

privilegedTest('--rule REJECT and DROP stop the flow before the wire, the audit names the rule, other destinations still work', async (t) => {
  const x = topo(t);
  const py = join(x.dir, 'connect.py');
  for (const [rule, verdict] of [
    [`-I OUTPUT -d ${NET.other} -p tcp -j REJECT --reject-with tcp-reset`, 'reject'],
    [`-I OUTPUT -d ${NET.other} -j REJECT`, 'reject'],
    [`-I OUTPUT -d ${NET.other} -j DROP`, 'drop'],
  ] as const) {
    const audit = scratch(t, 'jsonl');
    const pcap = scratch(t, 'pcapng');
    // DROP leaves a blocking connect waiting for SYN retransmissions: the guest tries a
    // non-blocking connect and moves on after a second.
    const tryIt =
      verdict === 'drop'
        ? `python3 -c "import socket, time; s = socket.socket(); s.setblocking(False); s.connect_ex(('${NET.other}', 80)); time.sleep(1)"`
        : `python3 ${py} ${NET.other} 80`;
    const r = await moatRun([...x.runArgs, '--rule', rule, '--audit', audit, '--pcap', pcap], ['sh', '-c', `${tryIt}; curl -sS -m 10 http://${NET.web}/`]);
    t.is(r.code, 0, `${rule}: ${r.stderr}`);
    if (verdict === 'reject') t.regex(r.stdout, /^E[A-Z]+\n/, `${rule}: the blocking connect fails (${JSON.stringify(r.stdout)})`);
    t.true(r.stdout.endsWith(x.page), `${rule}: the page from another address still arrives`);
    const recs = readAudit(audit).map((a) => a.rec);
    t.true(recs.some((a) => a.hook === 'OUTPUT' && a.verdict === verdict && a.dst === NET.other && a.rule === 'filter/OUTPUT#1'), `${rule}: ${JSON.stringify(recs)}`);
    const flows = await pcapFlows(pcap);
    t.false(flows.some((f) => f.dst === NET.other), `${rule}: nothing to ${NET.other} on the wire`);
    t.true(flows.some((f) => f.dst === NET.web && f.proto === 6 && f.dport === 80), `${rule}: the allowed fetch is on the wire`);
  }
});

privilegedTest('REJECT looks to the guest as on Linux: ECONNREFUSED for tcp-reset and icmp-port-unreachable, EHOSTUNREACH for icmp-host-unreachable, blocking and with a timeout', async (t) => {
  // Linux: the RST or ICMP error that REJECT sends back is RELATED to the refused flow, so the
  // connect in SYN_SENT ends with its error (tcp_reset; tcp_v4_err with icmp_err_convert). The
  // second try sets a timeout: non-blocking underneath, the error comes through SO_ERROR.
  const x = topo(t);
  const py = join(x.dir, 'connect.py');
  for (const [rule, errno] of [
    [`-I OUTPUT -d ${NET.other} -p tcp -j REJECT --reject-with tcp-reset`, 'ECONNREFUSED'],
    [`-I OUTPUT -d ${NET.other} -j REJECT`, 'ECONNREFUSED'],
    [`-I OUTPUT -d ${NET.other} -j REJECT --reject-with icmp-host-unreachable`, 'EHOSTUNREACH'],
  ] as const) {
    const r = await moatRun([...x.runArgs, '--rule', rule], ['sh', '-c', `python3 ${py} ${NET.other} 80; python3 ${py} ${NET.other} 80 5`], { timeoutMs: 30_000 });
    t.is(r.stdout, `${errno}\n${errno}\n`, rule);
  }
});

privilegedTest('DROP looks to the guest as on Linux: a connect with a 2 s timeout times out', async (t) => {
  // Today the guest's poll sees its socketpair writable at once and its SO_ERROR read waits for
  // the handshake to end (about two minutes of SYN retransmissions): the timeout never fires.
  const x = topo(t);
  const r = await moatRun([...x.runArgs, '--rule', `-I OUTPUT -d ${NET.other} -j DROP`], ['python3', join(x.dir, 'connect.py'), NET.other, '80', '2'], { timeoutMs: 20_000 });
  t.false(r.timedOut, 'the guest ended on its own');
  t.is(r.stdout, 'timeout\n');
});

privilegedTest('the cloud metadata address 169.254.169.254 is blocked by default, also behind an allowed name (DNS rebinding); allowing the address itself opens it', async (t) => {
  const x = topo(t);
  const meta = `http://${NET.metadata}/`;
  const a1 = scratch(t, 'jsonl');
  const p1 = scratch(t, 'pcapng');
  const def = await moatRun([...x.runArgs, '--audit', a1, '--pcap', p1], curl(meta));
  t.not(def.code, 0, 'no policy flags at all: the default policy allows everything but this');
  t.is(def.stdout, '');
  t.true(
    readAudit(a1).some(({ rec }) => rec.verdict === 'reject' && rec.dst === NET.metadata && rec.prefix === 'blocked: cloud metadata'),
    JSON.stringify(readAudit(a1)),
  );
  t.false((await pcapFlows(p1)).some((f) => f.dst === NET.metadata), 'nothing to the metadata address on the wire');

  const a2 = scratch(t, 'jsonl');
  const rebind = await moatRun([...x.runArgs, '--allow', NAMES.rebind, '--audit', a2], curl(`http://${NAMES.rebind}/`));
  t.not(rebind.code, 0, 'an allowed name resolving to the metadata address does not open it');
  t.not(rebind.code, 6, 'the name itself resolves (it is allowed)');
  t.true(
    readAudit(a2).some(({ rec }) => rec.verdict === 'reject' && rec.dst === NET.metadata && rec.hostname === NAMES.rebind && rec.prefix === 'blocked: cloud metadata'),
    JSON.stringify(readAudit(a2)),
  );

  // The control: the path to the stand-in metadata server works once the address is allowed.
  const open = await moatRun([...x.runArgs, '--allow', NET.metadata], curl(meta));
  t.is(open.code, 0, open.stderr);
  t.is(open.stdout, x.page);
});

/** A policy file that allows the web name on port 80 and logs every decision. */
function logAllPolicy(t: ExecutionContext): string {
  const file = scratch(t, 'yaml');
  writeFileSync(file, `default: deny\nlog: all\nallow:\n  - host: ${NAMES.web}\n    ports: [80]\n    protocol: tcp\n`);
  return file;
}

privilegedTest('the audit file (log: all): one JSON line per decision in a fixed field order, allowed and denied, naming the host and the deciding rule', async (t) => {
  const x = topo(t);
  const policy = logAllPolicy(t);
  const audit = scratch(t, 'jsonl');
  const r = await moatRun([...x.runArgs, '--policy', policy, '--audit', audit], [
    'sh',
    '-c',
    `curl -sS -m 10 http://${NAMES.web}/; curl -sS -m 10 http://${NAMES.other}/; curl -sS -m 10 http://${NET.other}/; true`,
  ]);
  t.is(r.code, 0, r.stderr);
  t.true(r.stdout.startsWith(x.page));
  const lines = readAudit(audit);
  t.true(lines.length >= 4, JSON.stringify(lines));
  const order = ['time', 'hook', 'pid', 'uid', 'command', 'protocol', 'src', 'dst', 'sport', 'dport', 'hostname', 'verdict', 'rule', 'prefix'];
  for (const { rec, line } of lines) {
    t.is(JSON.stringify(rec), line, 'a line is exactly one JSON object');
    const keys = Object.keys(rec);
    t.deepEqual(keys, order.filter((k) => keys.includes(k)), `field order of ${line}`);
    for (const k of ['time', 'hook', 'protocol', 'src', 'dst', 'verdict', 'rule'] as const) t.not(rec[k], undefined, `${k} in ${line}`);
    t.true(['accept', 'drop', 'reject', 'log'].includes(rec.verdict), line);
  }
  const recs = lines.map((l) => l.rec);
  // One decision per new flow: the page's connection is one accept line, named by the policy line that allowed it.
  const web = recs.filter((a) => a.hook === 'OUTPUT' && a.protocol === 'tcp' && a.dst === NET.web && a.dport === 80);
  t.is(web.length, 1, JSON.stringify(web));
  t.like(web[0], { verdict: 'accept', hostname: NAMES.web, src: NET.stack, prefix: `allow ${policy}:4` });
  t.regex(web[0]!.rule, /^filter\/OUTPUT#\d+$/);
  t.true(recs.some((a) => a.hook === 'DNS' && a.verdict === 'reject' && a.hostname === NAMES.other));
  const refused = recs.filter((a) => a.hook === 'OUTPUT' && a.dst === NET.other);
  t.is(refused.length, 1, JSON.stringify(refused));
  t.like(refused[0], { verdict: 'reject', protocol: 'tcp', dport: 80, prefix: 'default deny' });
  // The guest's DNS queries (to whatever resolv.conf names) were sent to moat's forwarder on loopback.
  t.true(recs.some((a) => a.hook === 'OUTPUT' && a.protocol === 'udp' && a.dport === 53 && a.dst === '127.0.0.1' && a.verdict === 'accept'), 'the redirected DNS query');
});

privilegedTest('the audit file names the guest process (pid and command) on its flow decisions, as the pcap comment does', async (t) => {
  // Each guest socket carries its owner (set at socket()) down to the filter's packets.
  const x = topo(t);
  const audit = scratch(t, 'jsonl');
  const pcap = scratch(t, 'pcapng');
  const r = await moatRun([...x.runArgs, '--policy', logAllPolicy(t), '--audit', audit, '--pcap', pcap], curl(`http://${NAMES.web}/`));
  t.is(r.code, 0, r.stderr);
  const comment = (await pcapFlows(pcap)).map((f) => f.comment).find((c) => c?.includes(' curl tcp '));
  const m = /^pid (\d+) curl tcp [\d.]+:(\d+) > /.exec(comment ?? '');
  t.truthy(m, `pcap comment ${comment}`);
  const line = readAudit(audit).find(({ rec }) => rec.hook === 'OUTPUT' && rec.dport === 80);
  t.like(line?.rec, { pid: Number(m?.[1]), command: 'curl', sport: Number(m?.[2]) });
});

privilegedTest('audit times are wall-clock milliseconds on every line (filter decisions too, not only DNS)', async (t) => {
  // attachPolicy hands auditTime to the DNS forwarder only; the filter engine stamps its stack clock.
  const x = topo(t);
  const audit = scratch(t, 'jsonl');
  const start = Date.now();
  await moatRun([...x.runArgs, '--policy', logAllPolicy(t), '--audit', audit], ['sh', '-c', `curl -sS -m 10 http://${NAMES.web}/; curl -sS -m 10 http://${NAMES.other}/; true`]);
  const end = Date.now();
  const recs = readAudit(audit).map((l) => l.rec);
  t.true(recs.length > 0);
  for (const r of recs) t.true(r.time >= start && r.time <= end, `${r.hook} ${r.dst} time ${r.time} not in [${start}, ${end}]`);
});

privilegedTest('--policy FILE errors name the file, line and field; --rule and --allow errors name the flag; moat run exits non-zero and never runs the guest', async (t) => {
  const x = topo(t);
  const cases: { what: string; args: string[]; message: string | RegExp }[] = [];
  const bad = (name: string, text: string): string => {
    const f = join(x.dir, name);
    writeFileSync(f, text);
    return f;
  };
  const port = bad('port.yaml', `default: deny\nallow:\n  - host: ${NAMES.web}\n    ports: [443, 70000]\n`);
  cases.push({ what: 'bad port', args: ['--policy', port], message: `${port}:4: allow[0].ports[1]: bad port "70000"` });
  const field = bad('field.yaml', 'default: deny\nallwo:\n  - host: x\n');
  cases.push({ what: 'unknown field', args: ['--policy', field], message: `${field}:2: allwo: unknown field "allwo"` });
  const value = bad('value.yaml', 'default: maybe\n');
  cases.push({ what: 'bad value', args: ['--policy', value], message: `${value}:1: default: expected one of allow, deny` });
  const proto = bad('proto.yaml', `allow:\n  - host: ${NAMES.web}\n    protocol: sctp\n`);
  cases.push({ what: 'bad protocol', args: ['--policy', proto], message: `${proto}:3: allow[0].protocol: expected one of tcp, udp, icmp, any` });
  cases.push({ what: 'missing file', args: ['--policy', join(x.dir, 'nonexistent.yaml')], message: /ENOENT/ });
  cases.push({ what: 'bad --rule', args: ['--rule', '-A OUTPUT -p tcp --dporx 22 -j ACCEPT'], message: '--rule #1: column 18: unknown option (at "--dporx")\n  -A OUTPUT -p tcp --dporx 22 -j ACCEPT\n                   ^^^^^^^' });
  cases.push({ what: 'bad --allow', args: ['--allow', 'web pt test'], message: '--allow: not a host name, *.name, address or CIDR: "web pt test"' });
  for (const c of cases) {
    const marker = join(x.dir, `ran-${files++}`);
    const r = await moatRun([...x.runArgs, ...c.args], ['touch', marker]);
    t.not(r.code, 0, `${c.what}: exit status`);
    t.not(r.code, null, `${c.what}: exited on its own`);
    if (typeof c.message === 'string') t.true(r.stderr.includes(c.message), `${c.what}: ${r.stderr}`);
    else t.regex(r.stderr, c.message, c.what);
    t.false(existsSync(marker), `${c.what}: the guest never ran`);
  }
  // The same flags, valid, run the guest (the marker is how we know).
  const marker = join(x.dir, `ran-${files++}`);
  const okFile = bad('ok.yaml', `default: deny\nallow:\n  - host: ${NAMES.web}\n    ports: [80]\n`);
  const ok = await moatRun([...x.runArgs, '--policy', okFile, '--rule', '-I OUTPUT -p tcp --dport 22 -j REJECT'], ['touch', marker]);
  t.is(ok.code, 0, ok.stderr);
  t.true(existsSync(marker));
});
