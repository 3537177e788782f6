import { hashOf } from '../core/canonical.js';
import { SENSITIVITY_ORDER, type Outcome, type ReasonDetail } from '../core/types.js';
import { resolveDfid } from './dfid.js';
import type { Kernel } from './kernel.js';

/**
 * Reads one memory record under the agent's contract: the scope must be
 * granted and the record no more sensitive than the scope's maximum. Every
 * read, allowed or denied, is recorded with the value's hash, never the value.
 */
export function readMemory(kernel: Kernel, agent: string, scope: string, key: string, traceparent?: string): Outcome {
  const { store, world, log } = kernel.deps;
  const { dfid } = resolveDfid(traceparent, world);
  const id = world.newId();
  const base = { dfid, decision_id: id, capability: null, idempotency_key: null, policies: [] as string[] };
  const record = (details: ReasonDetail[], data: Record<string, unknown>) => {
    const reasons = [...new Set(details.map((d) => d.code))];
    const receipt = store.ledger.append({ dfid, agent, type: 'MemoryRead', decision_id: id, reasons, data: { scope, key_hash: hashOf(key), ...data } });
    log.info({ dfid, agent, step: 'memory', scope, reasons }, reasons.length ? 'memory read denied' : 'memory read');
    return { reasons, receipt };
  };
  const deny = (details: ReasonDetail[]): Outcome => ({ ...base, verdict: 'rejected', status: 'rejected', details, ...record(details, { allowed: false }) });

  const contract = kernel.contractOf(agent);
  if (!contract) return deny([{ code: 'UNKNOWN_AGENT', message: 'no contract for this agent' }]);
  const status = store.agents.status(agent);
  if (status !== 'active') return deny([{ code: status === 'paused' ? 'AGENT_PAUSED' : 'AGENT_TERMINATED', message: `agent is ${status}` }]);
  const grant = contract.memory.find((m) => m.scope === scope);
  if (!grant) return deny([{ code: 'MEMORY_SCOPE_DENIED', message: `scope \`${scope}\` is not granted`, path: 'scope' }]);
  const rec = store.memory.get(scope, key);
  if (!rec) return deny([{ code: 'MEMORY_NOT_FOUND', message: 'no such record', path: 'key' }]);
  if (SENSITIVITY_ORDER.indexOf(rec.sensitivity) > SENSITIVITY_ORDER.indexOf(grant.max_sensitivity)) {
    return deny([{ code: 'MEMORY_SENSITIVITY_DENIED', message: `record is ${rec.sensitivity}; contract allows up to ${grant.max_sensitivity}`, path: 'key' }]);
  }
  const { reasons, receipt } = record([], { allowed: true, version: rec.version, value_hash: hashOf(rec.value ?? null) });
  return {
    ...base,
    verdict: 'accepted',
    status: 'accepted',
    reasons,
    details: [],
    receipt,
    output: { scope, key, version: rec.version, sensitivity: rec.sensitivity, provenance: rec.provenance, updated_at: new Date(rec.updated_at).toISOString(), value: rec.value },
  };
}
