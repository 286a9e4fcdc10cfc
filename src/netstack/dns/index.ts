// DNS inside the stack: the forwarder guests resolve through (allowlist-aware) and the helper
// that redirects every guest DNS query to it.

export * from './forwarder.js';
