// Linux itself as a ConformanceTarget: every method is one system call made by
// linux_runner.py --serve (inside the test's namespace) over a line-oriented JSON pipe. It lets
// the TypeScript interpreter (target.ts runCase) run the table on the kernel, which checks the
// interpreter and the TS encoders (sockaddr, option values, cmsgs) against Linux, and it is the
// reference a moat ConformanceTarget can be compared with call by call.

import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { ERRNO } from '../../../src/kernel/errno.js';
import type { ConformanceTarget, Failed, Sys } from './target.js';

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const bytes = (h: string | undefined): Uint8Array => Uint8Array.from(Buffer.from(h ?? '', 'hex'));

type Answer = Record<string, unknown> & Partial<Failed> & { fatal?: string };

export class LinuxRpcTarget implements ConformanceTarget {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffered = '';
  private readonly waiting: ((line: string) => void)[] = [];
  private readonly lines: string[] = [];
  private exited = false;

  /** `command` runs the runner, e.g. ['ip', 'netns', 'exec', ns, 'python3', runnerPath]. */
  constructor(command: string[], private readonly envValues: Record<string, number>) {
    this.child = spawn(command[0], [...command.slice(1), '--serve'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.buffered += chunk;
      for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        const w = this.waiting.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
    this.child.on('exit', () => {
      this.exited = true;
      for (const w of this.waiting.splice(0)) w(JSON.stringify({ fatal: 'runner exited' }));
    });
    this.child.stdin.write(`${JSON.stringify({ errnos: ERRNO })}\n`);
  }

  private async call(fn: string, ...args: unknown[]): Promise<Answer> {
    if (this.exited) throw new Error('linux runner exited');
    this.child.stdin.write(`${JSON.stringify({ fn, args })}\n`);
    const line = this.lines.shift() ?? (await new Promise<string>((resolve) => this.waiting.push(resolve)));
    const a = JSON.parse(line) as Answer;
    if (a.fatal) throw new Error(`linux runner: ${a.fatal}`);
    return a;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    await done;
  }

  env(): Record<string, number> {
    return this.envValues;
  }

  async socket(domain: number, type: number, protocol: number): Sys<{ fd: number }> {
    const a = await this.call('socket', domain, type, protocol);
    return a.err ? { err: a.err } : { fd: a.fd as number };
  }
  async close(fd: number): Sys<object> {
    return this.call('close', fd);
  }
  async setsockopt(fd: number, level: number, name: number, optval: Uint8Array): Sys<object> {
    return this.call('setsockopt', fd, level, name, hex(optval));
  }
  async getsockopt(fd: number, level: number, name: number, optlen: number): Sys<{ optval: Uint8Array; optlen: number }> {
    const a = await this.call('getsockopt', fd, level, name, optlen);
    return a.err ? { err: a.err } : { optval: bytes(a.optval as string), optlen: a.optlen as number };
  }
  async bind(fd: number, addr: Uint8Array): Sys<object> {
    return this.call('bind', fd, hex(addr));
  }
  async connect(fd: number, addr: Uint8Array): Sys<object> {
    return this.call('connect', fd, hex(addr));
  }
  async listen(fd: number, backlog: number): Sys<object> {
    return this.call('listen', fd, backlog);
  }
  async accept4(fd: number, addrlen: number, flags: number): Sys<{ fd: number; addr: Uint8Array; addrlen: number }> {
    const a = await this.call('accept4', fd, addrlen, flags);
    return a.err ? { err: a.err } : { fd: a.fd as number, addr: bytes(a.addr as string), addrlen: a.addrlen as number };
  }
  async getsockname(fd: number, addrlen: number): Sys<{ addr: Uint8Array; addrlen: number }> {
    const a = await this.call('getsockname', fd, addrlen);
    return a.err ? { err: a.err } : { addr: bytes(a.addr as string), addrlen: a.addrlen as number };
  }
  async getpeername(fd: number, addrlen: number): Sys<{ addr: Uint8Array; addrlen: number }> {
    const a = await this.call('getpeername', fd, addrlen);
    return a.err ? { err: a.err } : { addr: bytes(a.addr as string), addrlen: a.addrlen as number };
  }
  async sendmsg(fd: number, data: Uint8Array, flags: number, name: Uint8Array | null, control: Uint8Array | null): Sys<{ ret: number }> {
    const a = await this.call('sendmsg', fd, hex(data), flags, name ? hex(name) : null, control ? hex(control) : null);
    return a.err ? { err: a.err } : { ret: a.ret as number };
  }
  async recvmsg(fd: number, len: number, flags: number, namelen: number, controllen: number): Sys<{
    ret: number; data: Uint8Array; msgFlags: number; addr?: Uint8Array; addrlen?: number; control?: Uint8Array;
  }> {
    const a = await this.call('recvmsg', fd, len, flags, namelen, controllen);
    if (a.err) return { err: a.err };
    return {
      ret: a.ret as number, data: bytes(a.data as string), msgFlags: a.msgFlags as number,
      ...(namelen ? { addr: bytes(a.addr as string), addrlen: a.addrlen as number } : {}),
      ...(controllen ? { control: bytes(a.control as string) } : {}),
    };
  }
  async shutdown(fd: number, how: number): Sys<object> {
    return this.call('shutdown', fd, how);
  }
  async poll(fd: number, events: number, timeoutMs: number): Promise<number> {
    return (await this.call('poll', fd, events, timeoutMs)).revents as number;
  }
  async ioctlInt(fd: number, req: number): Sys<{ value: number }> {
    const a = await this.call('ioctlInt', fd, req);
    return a.err ? { err: a.err } : { value: a.value as number };
  }
  async setNonblocking(fd: number, on: boolean): Sys<object> {
    return this.call('setNonblocking', fd, on);
  }
  async sleep(ms: number): Promise<void> {
    await this.call('sleep', ms);
  }
}
