// `moat replay`: the recorded HTTP client of pcap-fixtures/http-v4.pcap (and -v6) replayed
// against moat's stack playing nginx, in process. The application bytes must arrive intact both
// ways, and the divergences from the recorded Linux server are exactly the known ones.

import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/net-plumbing/native.js';
import { LinkType, readPcapBuffer } from '../../src/net-plumbing/pcap/index.js';
import { IpAddr } from '../../src/netstack/index.js';
import { formatReplay, replay } from '../../src/kernel/script/index.js';
import { parseDut, replayFile } from '../../src/cli/replay.js';

const fixture = (name: string) =>
  readPcapBuffer(readFileSync(join(packageRoot(), 'pcap-fixtures', name)))
    .filter((r) => r.linkType === LinkType.EN10MB)
    .map((r) => ({ usecs: Number(r.timestampNs / 1000n), data: r.data }));

for (const [name, dut, mss] of [['http-v4.pcap', '10.213.77.2', 1460], ['http-v6.pcap', 'fd77::1:2', 1440]] as const) {
  test(`replay ${name}: data intact, the recorded server's packets matched but for the known divergences`, (t) => {
    const r = replay(fixture(name), { dut: { addr: IpAddr.parse(dut), port: 80 } });
    t.is(r.error, null);
    t.is(r.peerPackets, 12);
    t.is(r.recordedDutPackets, 10);
    t.is(r.peerBytes, 85);
    t.is(r.dutReadBytes, 85);
    t.is(r.dutBytes, 9269);
    t.is(r.deliveredBytes, 9269);
    t.true(r.dataIntact);
    // The recorded server was Linux with a larger tcp_rmem (wscale 10), and it delayed the ACK of
    // the client's FIN so it rode on its own FIN 2 ms later; moat acknowledges the FIN at once.
    t.deepEqual(r.divergences, [
      { kind: 'moat-only', index: 0, text: `S. 0:0(0) ack 1 <mss ${mss},sackOK,TS,nop,wscale 7>` },
      { kind: 'recorded-only', index: 0, text: `S. 0:0(0) ack 1 <mss ${mss},sackOK,TS,nop,wscale 10>` },
      { kind: 'moat-only', index: 9, text: '. 9270:9270(0) ack 87 <nop,nop,TS>' },
    ]);
    if (name === 'http-v4.pcap') t.deepEqual(r.actual.slice(2, 9), [
      '. 1:1449(1448) ack 86 <nop,nop,TS>',
      '. 1449:2897(1448) ack 86 <nop,nop,TS>',
      '. 2897:4345(1448) ack 86 <nop,nop,TS>',
      '. 4345:5793(1448) ack 86 <nop,nop,TS>',
      'P. 5793:7241(1448) ack 86 <nop,nop,TS>',
      '. 7241:8689(1448) ack 86 <nop,nop,TS>',
      'P. 8689:9270(581) ack 86 <nop,nop,TS>',
    ]);
    t.is(r.actual.at(-1), 'F. 9270:9270(0) ack 87 <nop,nop,TS>');
    t.false(r.ok, 'divergences make the replay fail');
  });
}

test('replay: the peer follows moat\'s live ISN and TS values (checksums recomputed)', (t) => {
  const r = replay(fixture('http-v4.pcap'), { dut: { addr: IpAddr.parse('10.213.77.2'), port: 80 }, seed: 7 });
  const r2 = replay(fixture('http-v4.pcap'), { dut: { addr: IpAddr.parse('10.213.77.2'), port: 80 }, seed: 99 });
  // Another seed gives moat another ISN: the replay still lines up, packet for packet.
  t.deepEqual(r.actual, r2.actual);
  t.true(r2.dataIntact);
  const isn = (frames: typeof r.frames) => {
    const synAck = frames.find((f) => f.dir === 'out' && (f.data[14 + 20 + 13]! & 0x12) === 0x12)!;
    return new DataView(synAck.data.buffer, synAck.data.byteOffset).getUint32(14 + 20 + 4);
  };
  t.not(isn(r.frames), isn(r2.frames));
});

test('replay refuses what it does not support, by name', (t) => {
  const frames = fixture('http-v4.pcap');
  t.regex(replay(frames, { dut: { addr: IpAddr.parse('10.213.77.1'), port: 50754 } }).error!, /the DUT opened the connection/);
  t.regex(replay(frames, { dut: { addr: IpAddr.parse('10.9.9.9'), port: 80 } }).error!, /no TCP conversation with 10\.9\.9\.9:80/);
  t.throws(() => parseDut('10.0.0.1'), { message: /--dut takes IP:PORT/ });
  t.deepEqual(parseDut('[fd77::1:2]:80').port, 80);
});

test('moat replay: report lines and a pcap of the replay', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-replay-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const r = await replayFile(join(packageRoot(), 'pcap-fixtures', 'http-v4.pcap'), parseDut('10.213.77.2:80'), dir, (l) => lines.push(l));
  t.is(lines[0], 'conversation 10.213.77.1:50754 -> DUT 10.213.77.2:80');
  t.is(lines[2], 'application data: peer -> DUT 85 bytes (moat read 85); DUT -> peer 9269 bytes (moat sent 9269), intact');
  t.true(lines.includes('3 divergences'));
  t.deepEqual(formatReplay(r).length, lines.length - 1);
  const pcap = join(dir, 'http-v4.replay.pcap');
  t.is(lines.at(-1), `pcap of the replay: ${pcap}`);
  t.true(existsSync(pcap));
  t.is(readPcapBuffer(readFileSync(pcap)).length, 23);
});
