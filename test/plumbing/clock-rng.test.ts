import test from 'ava';
import { RealClock } from '../../src/net-plumbing/clock.js';
import { CryptoRng } from '../../src/net-plumbing/rng.js';
import { TimerQueue } from '../../src/netstack/timers.js';

test('RealClock: a wakeup fires once, at or after its time, and re-arming replaces it', async (t) => {
  const clock = new RealClock();
  const fired: number[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const w = clock.wakeup(() => {
    fired.push(clock.now());
    done();
  });
  const t0 = clock.now();
  w.arm(t0 + 1000);
  w.arm(t0 + 15); // replaces the first
  await finished;
  t.is(fired.length, 1);
  t.true(fired[0] >= t0 + 15, 'never early');
  await new Promise((r) => setTimeout(r, 30));
  t.is(fired.length, 1, 'fires once');
});

test('RealClock: a disarmed wakeup does not fire; it drives a TimerQueue in order', async (t) => {
  const clock = new RealClock();
  let stray = 0;
  const w = clock.wakeup(() => stray++);
  w.arm(clock.now() + 5);
  w.disarm();
  const q = new TimerQueue(clock);
  const order: string[] = [];
  await new Promise<void>((resolve) => {
    q.after(12, () => {
      order.push('b');
      resolve();
    });
    q.after(4, () => order.push('a'));
  });
  t.deepEqual(order, ['a', 'b']);
  t.is(stray, 0);
});

test('RealClock: now() is monotonic', (t) => {
  const c = new RealClock();
  let last = c.now();
  for (let i = 0; i < 1000; i++) {
    const n = c.now();
    t.true(n >= last);
    last = n;
  }
});

test('CryptoRng: u32 covers the whole range, pool refills, fill handles more than 64 KiB', (t) => {
  const rng = new CryptoRng(16);
  const seen = new Set<number>();
  let high = false;
  for (let i = 0; i < 1000; i++) {
    const v = rng.u32();
    t.true(Number.isInteger(v) && v >= 0 && v <= 0xffffffff);
    if (v > 0x7fffffff) high = true;
    seen.add(v);
  }
  t.true(high, 'values above 2^31 appear (unsigned)');
  t.true(seen.size > 990, 'no repeats beyond chance');
  const big = rng.fill(new Uint8Array(200_000));
  t.is(big.length, 200_000);
  const counts = new Array(256).fill(0);
  for (const b of big) counts[b]++;
  t.true(Math.min(...counts) > 500, 'every byte value appears: the tail past 64 KiB is filled too');
  t.throws(() => new CryptoRng(0), { instanceOf: RangeError });
});

test('RealClock: a deadline moved later fires at the later time, not the earlier one', async (t) => {
  const clock = new RealClock();
  const t0 = clock.now();
  const firedAt = await new Promise<number>((resolve) => {
    const w = clock.wakeup(() => resolve(clock.now()));
    w.arm(t0 + 5);
    w.arm(t0 + 40);
  });
  t.true(firedAt >= t0 + 40);
});
