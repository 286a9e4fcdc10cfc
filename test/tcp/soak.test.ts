import test from 'ava';
import { TestNet, type Impairments } from './helpers/net.js';
import { connectPair, pattern, Sink, Writer, sha256 } from './helpers/apps.js';
import { SeededRng } from '../../src/netstack/random.js';

// Many small worlds with random settings and impairments, data both ways at once: every
// byte must arrive, in order, and both ends must close cleanly. Seeds make failures replayable.
const SEEDS = Number(process.env.MOAT_TCP_SOAK_SEEDS ?? 40);

test(`randomized soak: ${SEEDS} seeds, bidirectional transfers under random options and impairments`, (t) => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = new SeededRng(seed * 7919);
    const pick = <T>(xs: T[]) => xs[r.u32() % xs.length];
    const cfg = {
      sack: pick([true, true, false]),
      timestamps: pick([true, false]),
      windowScaling: pick([true, false]),
      congestion: pick(['cubic', 'newreno'] as const),
      prr: pick([true, false]),
      rcvBuf: pick([4096, 16_384, 65_536, 131_072]),
      rcvBufAutoTune: pick([true, false]),
    };
    const mtu = pick([576, 1280, 1500, 9000]);
    const net = new TestNet(seed);
    const a = net.addHost('10.0.0.1', cfg, mtu);
    const b = net.addHost('10.0.0.2', cfg, mtu);
    if (pick([false, true])) {
      a.checksumOffload = true;
      a.gsoMaxSize = 65536;
    }
    const imp: Impairments = {
      delayMs: pick([0.1, 1, 5, 20, 50, 200]),
      loss: pick([0, 0.005, 0.02, 0.05, 0.15]),
      reorder: pick([0, 0.01, 0.05]),
      reorderDelayMs: pick([1, 3, 10]),
      dup: pick([0, 0.01]),
      rateBytesPerMs: pick([0, 1250, 12_500]),
      queueBytes: pick([30_000, 200_000]),
      lossDataOnly: true,
    };
    net.setBoth(a, b, imp);
    const label = `seed ${seed} ${JSON.stringify(cfg)} mtu ${mtu} ${JSON.stringify(imp)}`;
    const { client, server } = connectPair(net, a, b);
    const up = pattern(300_000 + (r.u32() % 500_000), seed);
    const down = pattern(100_000 + (r.u32() % 300_000), seed + 1000);
    const sinkS = new Sink(server);
    const sinkC = new Sink(client);
    new Writer(client, up);
    new Writer(server, down);
    if (pick([false, false, true])) {
      // a slow reader: the server stops reading now and then (zero windows, persist probes)
      const period = pick([50, 300, 2000]);
      const flip = () => {
        sinkS.paused = !sinkS.paused;
        if (!sinkS.paused) sinkS.drain();
        if (!sinkS.eof) b.timers.after(period, flip);
      };
      b.timers.after(period, flip);
    }
    const ok = net.runUntil(() => sinkS.eof && sinkC.eof, 3_600_000);
    if (!ok || sinkS.digest() !== sha256(up) || sinkC.digest() !== sha256(down)) {
      t.fail(`${label}: ok ${ok}, got ${sinkS.bytes}/${up.length} and ${sinkC.bytes}/${down.length}, errors ${sinkS.error} ${sinkC.error}, states ${client.stateName}/${server.stateName}`);
      return;
    }
    client.close();
    server.close();
    if (!net.runUntil(() => (client.stateName === 'CLOSED' || client.stateName === 'TIME_WAIT') && (server.stateName === 'CLOSED' || server.stateName === 'TIME_WAIT'), 3_600_000)) {
      t.fail(`${label}: close stuck in ${client.stateName}/${server.stateName}`);
      return;
    }
  }
  t.pass();
});
