import test from 'ava';
import { ALL_STATES, fixtureIn } from './helpers/fixtures.js';
import { craft } from './helpers/craft.js';
import { SeededRng } from '../../src/netstack/random.js';
import { seqLe } from '../../src/netstack/wire/seq.js';

// Hostile input in every state: random bytes, and well-formed segments with random fields
// aimed at the connection's own 4-tuple. Nothing may throw, and the TCB stays coherent.
for (const s of ALL_STATES) {
  test(`random and mutated segments in ${s}: no exception, invariants hold`, (t) => {
    const f = fixtureIn(s);
    const rng = new SeededRng(s.length * 977);
    const ep = f.ep;
    const host = ep.localAddr && ep.localAddr.equals(f.b.addr) ? f.b : f.a;
    const other = host === f.a ? f.b : f.a;
    const lport = ep.localPort || 80;
    const rport = ep.remotePort || 5555;
    t.notThrows(() => {
      for (let i = 0; i < 3000; i++) {
        const kind = rng.u32() % 4;
        let bytes: Uint8Array;
        if (kind === 0) {
          bytes = rng.fill(new Uint8Array(rng.u32() % 80));
        } else {
          const near = (x: number) => (x + ((rng.u32() % 200_000) - 100_000)) >>> 0;
          bytes = craft(other.addr, host.addr, {
            srcPort: rport,
            dstPort: lport,
            seq: kind === 1 ? rng.u32() : near(ep.rcvNxt),
            ack: kind === 1 ? rng.u32() : near(ep.sndNxt),
            flags: rng.u32() & 0x3f,
            window: rng.u32() & 0xffff,
            mss: rng.u32() % 3 === 0 ? rng.u32() & 0xffff : -1,
            wscale: rng.u32() % 3 === 0 ? rng.u32() & 0xff : -1,
            sackPermitted: (rng.u32() & 1) === 1,
            sack: rng.u32() % 2 === 0 ? [near(ep.sndUna), near(ep.sndUna), near(ep.sndUna), near(ep.sndUna)] : [],
            hasTs: (rng.u32() & 1) === 1,
            tsVal: rng.u32(),
            tsEcr: rng.u32(),
            payload: new Uint8Array(rng.u32() % 1500),
          });
          if (kind === 3) bytes[rng.u32() % bytes.length] ^= 1 << (rng.u32() % 8); // bit flip
        }
        f.net.inject(host, other.addr, bytes);
        if (i % 100 === 0) f.net.run(50);
        if (ep.stateName !== 'CLOSED' && ep.stateName !== 'LISTEN') {
          if (!seqLe(ep.sndUna, ep.sndNxt)) throw new Error(`SND.UNA ${ep.sndUna} > SND.NXT ${ep.sndNxt}`);
        }
      }
      f.net.run(600_000);
    });
    const st = host.tcp.stats;
    t.true(st.badChecksum + st.malformed > 0);
  });
}
