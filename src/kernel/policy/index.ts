// Policy files and flags -> filter rules + DNS allowlist. See policy.ts for the format.
export * from './yaml.js';
export * from './policy.js';
export * from './attach.js';
