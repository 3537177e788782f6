/**
 * The sealed `requestState` of an input round (2026-07-28 `input_required`):
 * an approval asked for in the client (ADR-020), or an upstream's request
 * for input during a held call (ADR-034). The client echoes it back byte for
 * byte, so it is untrusted input: HMAC-SHA256 (the SDK's codec), bound to the
 * agent and the method, expiring, and naming the exact decision and request
 * it was minted for. It carries ids and a hash, never argument values.
 */
import { hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { createRequestStateCodec, type RequestStateCodec } from '@modelcontextprotocol/server';

/** What an approval round carries between the escalated call and its retry. */
export interface ApprovalState {
  v: 1;
  /** The pending decision the answer resolves. */
  decision_id: string;
  /** hashOf({ tool, arguments }) of the call that escalated: a retry must be the same call. */
  request_hash: string;
}

/** What an upstream's input round carries between the held call's answer and the agent's retry (ADR-034). */
export interface HeldInputState {
  v: 1;
  kind: 'input';
  /** The held call's decision: once the call has ended, any process answers the retry with its recorded outcome. */
  decision_id: string;
  /** hashOf({ tool, arguments }) of the call that is held: a retry must be the same call. */
  request_hash: string;
  /** The held call, in the process named by `replica`. */
  held: string;
  replica: string;
  /** The held call's round this state answers (HeldCall.round): a state from an earlier round applies no answers. */
  round: number;
}

export type RoundState = ApprovalState | HeldInputState;

export function isHeldInputState(state: RoundState): state is HeldInputState {
  return (state as { kind?: unknown }).kind === 'input';
}

/** How long a minted approval state is accepted; the decision's own expiry still applies in the kernel. */
export const APPROVAL_STATE_TTL_SECONDS = 3600;

export interface StateKey {
  key: Uint8Array;
  /** `signing-key`: derived from the workspace's Ed25519 key, shared by every replica; `process`: random, this process only. */
  source: 'signing-key' | 'process';
}

/**
 * The HMAC key: derived (HKDF) from the workspace's signing key when it has
 * one, so every replica seals and opens alike; otherwise random for this
 * process, so a state from another process or an earlier run is refused.
 */
export function requestStateKey(signingKey: KeyObject | undefined): StateKey {
  if (signingKey?.type !== 'private') return { key: randomBytes(32), source: 'process' };
  const der = signingKey.export({ format: 'der', type: 'pkcs8' });
  return { key: new Uint8Array(hkdfSync('sha256', der, Buffer.alloc(0), 'mandate/mcp-request-state/v1', 32)), source: 'signing-key' };
}

export function roundStateCodec(key: Uint8Array, agent: string): RequestStateCodec<RoundState> {
  // The binding ties a state to the agent whose credential asked and to tools/call: another agent's retry fails the seal.
  return createRequestStateCodec<RoundState>({ key, ttlSeconds: APPROVAL_STATE_TTL_SECONDS, bind: (ctx) => `${ctx.mcpReq.method}\0${agent}` });
}
