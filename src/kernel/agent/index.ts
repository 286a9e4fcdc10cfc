// `moat agent`: serve containers' socket calls handed over by OCI runtimes (see agent.ts).
export { Agent, containerNameservers } from './agent.js';
export type { AgentOptions, AgentStats, PodNetwork, SandboxSession, ServeFunction } from './agent.js';
export { PolicyDirectory, denyAllPolicy, candidateNames, metadataPolicyName, isPolicyName } from './policy-dir.js';
export type { PolicyChoice } from './policy-dir.js';
export { parseContainerState, isSeccompListener } from './state.js';
export type { ContainerInfo, StateRejection, StateResult } from './state.js';
export { denyServe, supervisorServe, sandboxServe, socketLayerOf, resolveDefaultServe } from './serve.js';
export { agentSeccompProfile, TRAPPED_FD_CALLS } from './profile.js';
export type { OciSeccomp, OciSeccompRule } from './profile.js';
