import type { Contract } from '../config/contract-schema.js';
import { hashOf } from '../core/canonical.js';
import type { ReasonCode } from '../core/reasons.js';
import type { ReasonDetail } from '../core/types.js';

const hashes = new WeakMap<Contract, string>();

/**
 * The contract a decision was made under, for its ledger events: the agent's
 * id, the contract's version and the SHA-256 of its canonical JSON (as
 * loaded, defaults applied), so a decision can be tied to the exact contract.
 */
export function contractRef(contract: Contract | undefined): { contract?: { id: string; version: string; hash: string } } {
  if (!contract) return {};
  let hash = hashes.get(contract);
  if (!hash) {
    hash = hashOf(contract);
    hashes.set(contract, hash);
  }
  return { contract: { id: contract.agent, version: contract.version, hash } };
}

/** Longest path kept per failed check (a path may hold keys the agent chose). */
const MAX_PATH = 200;

/**
 * Which checks failed, for an `IntentRejected` event: reason codes with the
 * path (or invariant id) they concern. Content-safe: never a message, which
 * may quote the value the agent sent.
 */
export function failedChecks(details: readonly ReasonDetail[]): { code: ReasonCode; path?: string; invariant?: string }[] {
  return details.map((d) => ({
    code: d.code,
    ...(d.path !== undefined ? { path: d.path.slice(0, MAX_PATH) } : {}),
    ...(d.invariant !== undefined ? { invariant: d.invariant } : {}),
  }));
}
