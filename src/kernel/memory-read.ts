import { hashOf } from '../core/canonical.js';
import { logName } from '../core/log-names.js';
import { SENSITIVITY_ORDER, type Outcome, type ReasonDetail, type Sensitivity } from '../core/types.js';
import type { MemoryRecord } from '../store/port/index.js';
import { resolveDfid } from './dfid.js';
import type { Kernel } from './kernel.js';
import { statusCode } from './status.js';

/** One record, by key; a named pack of keys; or a whole scope (at most 500 records). */
export type MemoryQuery = { scope: string; key: string } | { scope: string; pack: string } | { scope: string };

export function allowedSensitivity(record: Sensitivity, max: Sensitivity): boolean {
  return SENSITIVITY_ORDER.indexOf(record) <= SENSITIVITY_ORDER.indexOf(max);
}

function view(rec: MemoryRecord) {
  return {
    scope: rec.scope,
    key: rec.key,
    version: rec.version,
    sensitivity: rec.sensitivity,
    provenance: rec.provenance,
    created_at: new Date(rec.created_at).toISOString(),
    updated_at: new Date(rec.updated_at).toISOString(),
    value: rec.value,
  };
}

/**
 * Reads memory under the agent's contract, deny by default: the scope must be
 * granted, and each record no more sensitive than the scope's maximum. A pack
 * or a listing returns the records the agent may see and counts the withheld
 * ones. Every read, allowed or denied, is recorded with hashes, never values.
 */
export async function readMemory(kernel: Kernel, agent: string, query: MemoryQuery, traceparent?: string): Promise<Outcome> {
  const { store, world, log } = kernel.deps;
  const { dfid } = resolveDfid(traceparent, world);
  const id = world.newId();
  const base = { dfid, decision_id: id, capability: null, idempotency_key: null, policies: [] as string[] };
  const mode = 'key' in query ? 'key' : 'pack' in query ? 'pack' : 'list';
  // What was asked for, as a hash: a denied read is recorded with its target too.
  const target = 'key' in query ? { key_hash: hashOf(query.key) } : 'pack' in query ? { pack_hash: hashOf(query.pack) } : {};
  const record = async (details: ReasonDetail[], data: Record<string, unknown>) => {
    const reasons = [...new Set(details.map((d) => d.code))];
    const r = await store.commit([{ op: 'event', event: { dfid, agent, type: 'MemoryRead', decision_id: id, reasons, data: { scope: query.scope, mode, ...target, ...data } } }]);
    const receipt = r.ok ? (r.receipts[0] ?? null) : null;
    log.info({ dfid, agent, step: 'memory', scope: logName(query.scope, !!kernel.contractOf(agent)?.memory.some((g) => g.scope === query.scope)), mode, reasons }, reasons.length ? 'memory read denied' : 'memory read');
    return { reasons, receipt };
  };
  const deny = async (details: ReasonDetail[]): Promise<Outcome> => ({ ...base, verdict: 'rejected', status: 'rejected', details, ...(await record(details, { allowed: false })) });

  const contract = kernel.contractOf(agent);
  if (!contract) return deny([{ code: 'UNKNOWN_AGENT', message: 'no contract for this agent' }]);
  const status = await store.agents.status(agent);
  if (status !== 'active') return deny([{ code: statusCode(status), message: `agent is ${status}` }]);
  const grant = contract.memory.find((m) => m.scope === query.scope);
  if (!grant) return deny([{ code: 'MEMORY_SCOPE_DENIED', message: `scope \`${query.scope}\` is not granted`, path: 'scope' }]);

  if ('key' in query) {
    const rec = await store.memory.get(query.scope, query.key);
    if (!rec) return deny([{ code: 'MEMORY_NOT_FOUND', message: 'no such record', path: 'key' }]);
    if (!allowedSensitivity(rec.sensitivity, grant.max_sensitivity)) {
      return deny([{ code: 'MEMORY_SENSITIVITY_DENIED', message: `record is ${rec.sensitivity}; contract allows up to ${grant.max_sensitivity}`, path: 'key' }]);
    }
    const { reasons, receipt } = await record([], { allowed: true, version: rec.version, value_hash: hashOf(rec.value ?? null) });
    return { ...base, verdict: 'accepted', status: 'accepted', reasons, details: [], receipt, output: view(rec) };
  }

  let records: MemoryRecord[];
  if ('pack' in query) {
    const keys = await store.memory.pack(query.scope, query.pack);
    if (!keys) return deny([{ code: 'MEMORY_NOT_FOUND', message: 'no such pack', path: 'pack' }]);
    records = [];
    for (const key of keys) {
      const rec = await store.memory.get(query.scope, key);
      if (rec) records.push(rec);
    }
  } else {
    records = await store.memory.list(query.scope);
  }
  const visible = records.filter((r) => allowedSensitivity(r.sensitivity, grant.max_sensitivity));
  const withheld = records.length - visible.length;
  const { reasons, receipt } = await record([], {
    allowed: true,
    records: visible.length,
    withheld,
    values_hash: hashOf(visible.map((r) => [r.key, r.version, hashOf(r.value ?? null)])),
  });
  return { ...base, verdict: 'accepted', status: 'accepted', reasons, details: [], receipt, output: { scope: query.scope, records: visible.map(view), withheld } };
}
