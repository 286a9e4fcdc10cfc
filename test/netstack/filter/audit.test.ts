// Audit records: JSON lines with a fixed field order, and the per-host summary.

import test from 'ava';
import { AuditSummary, JsonLinesAuditSink, auditToJsonLine, type AuditRecord } from '../../../src/netstack/filter/audit.js';

const rec = (o: Partial<AuditRecord>): AuditRecord => ({ time: 5, hook: 'OUTPUT', protocol: 'tcp', src: '10.0.0.1', dst: '1.2.3.4', verdict: 'accept', rule: 'filter/OUTPUT#1', ...o });

test('one JSON object per line, fields in a fixed order, absent fields omitted', (t) => {
  const lines: string[] = [];
  const sink = new JsonLinesAuditSink((l) => lines.push(l));
  sink.record(rec({ pid: 42, command: 'curl "x"', sport: 40000, dport: 443, hostname: 'example.com', verdict: 'reject', prefix: 'p' }));
  sink.record(rec({}));
  t.is(
    lines[0],
    '{"time":5,"hook":"OUTPUT","pid":42,"command":"curl \\"x\\"","protocol":"tcp","src":"10.0.0.1","dst":"1.2.3.4","sport":40000,"dport":443,"hostname":"example.com","verdict":"reject","rule":"filter/OUTPUT#1","prefix":"p"}\n',
  );
  t.is(lines[1], '{"time":5,"hook":"OUTPUT","protocol":"tcp","src":"10.0.0.1","dst":"1.2.3.4","verdict":"accept","rule":"filter/OUTPUT#1"}\n');
  t.deepEqual(JSON.parse(auditToJsonLine(rec({ uid: 0 }))).uid, 0);
});

test('summary: allowed and denied flows per host (hostname when known), ports and commands, denied first', (t) => {
  const s = new AuditSummary();
  s.record(rec({ hostname: 'example.com', dport: 443, command: 'curl' }));
  s.record(rec({ hostname: 'example.com', dport: 80, command: 'wget', verdict: 'drop' }));
  s.record(rec({ dst: '169.254.169.254', dport: 80, verdict: 'reject' }));
  s.record(rec({ dst: '169.254.169.254', dport: 80, verdict: 'reject' }));
  s.record(rec({ dst: '9.9.9.9', verdict: 'log' }));
  t.deepEqual(s.summary(), [
    { host: '169.254.169.254', allowed: 0, denied: 2, ports: [80], commands: [] },
    { host: 'example.com', allowed: 1, denied: 1, ports: [80, 443], commands: ['curl', 'wget'] },
  ]);
  t.is(s.format(), 'host allowed denied ports\n169.254.169.254 0 2 80\nexample.com 1 1 80,443');
});
