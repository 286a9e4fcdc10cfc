import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestNet } from './helpers/net.js';
import { connectPair, pattern, Sink, Writer } from './helpers/apps.js';
import { writeTracePcap } from './helpers/pcap.js';

const tshark = ['/usr/bin/tshark', '/usr/local/bin/tshark'].find((p) => existsSync(p));

test('a lossy transfer written as pcap decodes in tshark with valid checksums and options', async (t) => {
  const net = new TestNet(5);
  const a = net.addHost('10.0.0.1');
  const b = net.addHost('10.0.0.2');
  net.setBoth(a, b, { delayMs: 5, loss: 0.03 });
  net.trace = [];
  const { client, server } = connectPair(net, a, b, 5001);
  const sink = new Sink(server);
  new Writer(client, pattern(300_000, 1));
  t.true(net.runUntil(() => sink.eof, 120_000));
  client.close();
  server.close();
  net.run(1000);
  const dir = mkdtempSync(join(tmpdir(), 'moat-tcp-'));
  try {
    const file = join(dir, 'trace.pcap');
    await writeTracePcap(net.trace, file);
    const sent = net.trace.filter((e) => e.event === 'sent').length;
    if (!tshark) {
      t.log('tshark not installed: the pcap was written but not cross-checked');
      t.true(existsSync(file));
      return;
    }
    const run = (filter: string) =>
      execFileSync(tshark, ['-r', file, '-o', 'tcp.check_checksum:TRUE', '-Y', filter, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .split('\n')
        .filter(Boolean).length;
    t.is(run('tcp'), sent);
    t.is(run('tcp.checksum.status == "Bad" || _ws.malformed || ip.checksum.status == "Bad"'), 0);
    t.is(run('tcp.flags.syn == 1 && tcp.options.sack_perm && tcp.options.wscale.shift == 7 && tcp.options.timestamp.tsval'), 2);
    t.true(run('tcp.options.sack_le') > 0, 'SACK blocks seen by tshark');
    t.true(run('tcp.analysis.retransmission || tcp.analysis.fast_retransmission') > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
