import test from 'ava';
import { execFileSync } from 'node:child_process';
import { native, isNativeError } from '../../src/net-plumbing/native.js';
import { privilegedTest } from '../helpers/privileged.js';

test('addon loads and rejects bad arguments with a TypeError', (t) => {
  const n = native();
  t.is(typeof n.openTap, 'function');
  t.throws(() => n.openTap(42 as unknown as string), { instanceOf: TypeError });
  t.throws(() => n.openTap('x'.repeat(20)), { instanceOf: RangeError });
});

test('closeFd on a bad fd reports EBADF with the errno name', (t) => {
  const err = t.throws(() => native().closeFd(987654));
  t.true(isNativeError(err));
  t.is((err as unknown as { code: string }).code, 'EBADF');
});

privilegedTest('openTap creates a tap device the kernel lists, and it goes away on close', (t) => {
  const ns = `moat-t${process.pid}-tap`;
  // Open it inside a namespace of our own so nothing on the host sees the device.
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const script = `
      import { native } from ${JSON.stringify(new URL('../../src/net-plumbing/native.js', import.meta.url).href)};
      import { execFileSync } from 'node:child_process';
      const h = native().openTap('moat-tap%d', { vnetHdr: true });
      const link = execFileSync('ip', ['-o', 'link', 'show', h.name]).toString();
      native().closeFd(h.fd);
      let gone = false;
      try { execFileSync('ip', ['link', 'show', h.name], { stdio: 'ignore' }); } catch { gone = true; }
      console.log(JSON.stringify({ fd: h.fd, name: h.name, link, gone }));
    `;
    const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script]).toString();
    const r = JSON.parse(out) as { fd: number; name: string; link: string; gone: boolean };
    t.true(r.fd > 2);
    t.regex(r.name, /^moat-tap\d+$/);
    t.true(r.link.includes(r.name));
    t.true(r.gone, 'a non-persistent tap disappears when its fd closes');
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
});

test('FrameIo rejects bad arguments before touching any fd', (t) => {
  const { FrameIo } = native();
  t.is(typeof FrameIo, 'function');
  t.throws(() => new FrameIo(-1, {}, () => {}), { instanceOf: RangeError });
  t.throws(() => new FrameIo(0, { slots: 0 }, () => {}), { instanceOf: RangeError });
  t.throws(() => new FrameIo(0, {}, 'nope' as unknown as () => void), { instanceOf: TypeError });
});

test('FrameIo.send refuses frames outside its staging buffer', (t) => {
  const { FrameIo } = native();
  // fd 0 is never read or written here: the checks come first, and ownsFd false leaves it open.
  const io = new FrameIo(0, { slots: 1, slotSize: 128, txBytes: 256, txSlots: 2, ownsFd: false }, () => {});
  t.is(io.txBuffer.byteLength, 256);
  t.is(io.rxBuffer.byteLength, 128);
  t.is(io.txMeta.length, 4);
  io.txMeta[0] = 200;
  io.txMeta[1] = 100;
  t.throws(() => io.send(1), { instanceOf: RangeError });
  t.throws(() => io.send(3), { instanceOf: RangeError });
  io.close();
  t.is(io.send(0), 0);
});

test('interfaceInfo reports the loopback interface', (t) => {
  const lo = native().interfaceInfo('lo');
  t.true(lo.ifindex >= 1);
  t.is(lo.mtu, 65536);
  t.deepEqual(Array.from(lo.mac), [0, 0, 0, 0, 0, 0]);
});
