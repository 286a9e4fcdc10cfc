// moat's packetdrill-compatible script runner: parse a .pkt script, run it against an
// in-process stack in virtual time, report PASS/FAIL with the first mismatch. See runner.ts for
// the execution model, parser.ts for the accepted grammar, syscalls.ts for the supported calls
// (served by the socket layer, src/kernel/socket).

export { parseScript, exprText, ScriptSyntaxError } from './parser.js';
export type { Script, ScriptEvent, TimeSpec, Expr, SyscallSpec, PacketSpec, TcpPacketSpec, UdpPacketSpec, IcmpPacketSpec, TcpOptionSpec } from './parser.js';
export { runScript, runScriptText, formatFailure, DEFAULT_TOLERANCE_USECS, ADDRESSES, DEFAULT_REMOTE_PORT } from './runner.js';
export type { RunOptions, RunResult, ScriptFailure, CapturedFrame } from './runner.js';
export {
  SyscallAdapter, PendingCall, SUPPORTED_SYSCALLS, SUPPORTED_SOCKOPTS, SUPPORTED_SEND_FLAGS, SUPPORTED_RECV_FLAGS, SUPPORTED_FCNTL, SUPPORTED_IOCTLS, CONSTANTS,
} from './syscalls.js';
export type { CallOutcome, AdapterEnv } from './syscalls.js';
export { buildInbound, parseOutbound, matchOutbound, liveText, specText } from './packet.js';
export { replay, formatReplay } from './replay.js';
export type { ReplayFrame, ReplayOptions, ReplayResult, Divergence } from './replay.js';
export { ScriptLink } from './runner.js';
