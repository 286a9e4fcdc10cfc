// The container process state an OCI runtime sends to `linux.seccomp.listenerPath`, validated.
// Read first: the OCI runtime spec, config-linux.md "The Container Process State" and runtime.md
// "State". Everything here is untrusted input from whatever connected to the socket: a field of
// the wrong type, a missing `seccompFd`, fds that do not match their names, an fd that is not a
// seccomp listener are each a named rejection, never a throw.

import { native } from '../../net-plumbing/native.js';

/** The Kubernetes CRI annotations containerd and CRI-O put on every container. */
export const CRI_SANDBOX_NAMESPACE = 'io.kubernetes.cri.sandbox-namespace';
export const CRI_SANDBOX_NAME = 'io.kubernetes.cri.sandbox-name';
export const CRI_CONTAINER_NAME = 'io.kubernetes.cri.container-name';
/** CRI-O spells them differently. */
export const CRIO_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
export const CRIO_POD_NAME = 'io.kubernetes.pod.name';
export const CRIO_CONTAINER_NAME = 'io.kubernetes.container.name';

/** One container process that handed its seccomp listener to the agent. */
export interface ContainerInfo {
  /** state.id: the runtime's container id (the same for `runc exec` processes of that container). */
  id: string;
  /** The process this listener traps (top-level `pid`), in the runtime's (= the agent's) pid namespace. */
  pid: number;
  /** state.pid: the container's init process. */
  initPid: number;
  status: string;
  bundle: string;
  ociVersion: string;
  annotations: Readonly<Record<string, string>>;
  /** listenerMetadata, if the bundle set it. */
  metadata?: string;
  /** From the CRI annotations, when a Kubernetes runtime started it. */
  pod?: { namespace: string; name: string };
  containerName?: string;
  /** For log and audit lines: "namespace/pod/container" under Kubernetes, else the id. */
  label: string;
}

export type StateRejection =
  | 'not-json'
  | 'not-an-object'
  | 'bad-ociVersion'
  | 'bad-pid'
  | 'bad-fds'
  | 'fd-count-mismatch'
  | 'no-seccompFd'
  | 'bad-metadata'
  | 'bad-state'
  | 'bad-state-id'
  | 'bad-annotations'
  | 'not-a-seccomp-listener';

export type StateResult =
  | { ok: true; container: ContainerInfo; /** Index into the received fds of `seccompFd`. */ seccompIndex: number }
  | { ok: false; reason: StateRejection; detail: string };

const MAX_ID = 1024;
const MAX_METADATA = 64 * 1024;
const MAX_ANNOTATIONS = 4096;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPid(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 && v <= 0x3fffffff;
}

function printable(s: string): boolean {
  // Ids end up in log lines and file names: no control characters.
  return !/[\u0000-\u001f\u007f]/.test(s);
}

function reject(reason: StateRejection, detail: string): StateResult {
  return { ok: false, reason, detail };
}

/**
 * Parses the bytes a runtime sent together with `fdCount` fds. Does not look at the fds
 * themselves (see isSeccompListener): the caller closes every fd on rejection.
 */
export function parseContainerState(data: Uint8Array, fdCount: number): StateResult {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch (e) {
    return reject('not-json', (e as Error).message.slice(0, 200));
  }
  if (!isObject(doc)) return reject('not-an-object', typeof doc);
  if (typeof doc.ociVersion !== 'string' || doc.ociVersion.length === 0 || doc.ociVersion.length > 64) return reject('bad-ociVersion', String(doc.ociVersion));
  if (!isPid(doc.pid)) return reject('bad-pid', JSON.stringify(doc.pid) ?? 'undefined');
  const fds = doc.fds;
  if (!Array.isArray(fds) || !fds.every((f): f is string => typeof f === 'string')) return reject('bad-fds', 'fds must be an array of strings');
  if (fds.length !== fdCount) return reject('fd-count-mismatch', `fds names ${fds.length}, ${fdCount} received`);
  const seccompIndex = fds.indexOf('seccompFd');
  if (seccompIndex < 0 || fds.lastIndexOf('seccompFd') !== seccompIndex) return reject('no-seccompFd', `fds: ${JSON.stringify(fds).slice(0, 200)}`);
  if (doc.metadata !== undefined && (typeof doc.metadata !== 'string' || doc.metadata.length > MAX_METADATA || !printable(doc.metadata))) {
    return reject('bad-metadata', 'metadata must be a printable string');
  }
  const st = doc.state;
  if (!isObject(st)) return reject('bad-state', 'state must be an object');
  if (typeof st.id !== 'string' || st.id.length === 0 || st.id.length > MAX_ID || !printable(st.id)) return reject('bad-state-id', JSON.stringify(st.id)?.slice(0, 200) ?? 'undefined');
  if (typeof st.status !== 'string') return reject('bad-state', 'state.status must be a string');
  // state.pid is REQUIRED once the container is created; runc sends it while "creating" too.
  if (st.pid !== undefined && !isPid(st.pid)) return reject('bad-state', 'state.pid must be a positive integer');
  if (st.bundle !== undefined && typeof st.bundle !== 'string') return reject('bad-state', 'state.bundle must be a string');
  const annotations: Record<string, string> = {};
  if (st.annotations !== undefined && st.annotations !== null) {
    if (!isObject(st.annotations)) return reject('bad-annotations', 'state.annotations must be an object');
    const entries = Object.entries(st.annotations);
    if (entries.length > MAX_ANNOTATIONS) return reject('bad-annotations', `${entries.length} annotations`);
    for (const [k, v] of entries) {
      if (typeof v !== 'string') return reject('bad-annotations', `annotation ${JSON.stringify(k).slice(0, 100)} is not a string`);
      annotations[k] = v;
    }
  }
  const podNs = annotations[CRI_SANDBOX_NAMESPACE] ?? annotations[CRIO_POD_NAMESPACE];
  const podName = annotations[CRI_SANDBOX_NAME] ?? annotations[CRIO_POD_NAME];
  const containerName = annotations[CRI_CONTAINER_NAME] ?? annotations[CRIO_CONTAINER_NAME];
  const pod = podNs !== undefined && podName !== undefined && printable(podNs) && printable(podName) ? { namespace: podNs, name: podName } : undefined;
  const container: ContainerInfo = {
    id: st.id,
    pid: doc.pid,
    initPid: isPid(st.pid) ? st.pid : doc.pid,
    status: st.status,
    bundle: typeof st.bundle === 'string' ? st.bundle : '',
    ociVersion: doc.ociVersion,
    annotations,
    ...(typeof doc.metadata === 'string' ? { metadata: doc.metadata } : {}),
    ...(pod ? { pod } : {}),
    ...(containerName !== undefined && printable(containerName) ? { containerName } : {}),
    label: pod ? `${pod.namespace}/${pod.name}/${containerName ?? st.id}` : st.id,
  };
  return { ok: true, container, seccompIndex };
}

/** Is `fd` a seccomp user-notification listener? (Its /proc/self/fd link names the anon inode.) */
export function isSeccompListener(fd: number): boolean {
  return native().fdLinkText(fd) === 'anon_inode:seccomp notify';
}
