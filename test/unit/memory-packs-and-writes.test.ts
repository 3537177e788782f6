// Memory: reads by key, pack or listing follow the contract (scope ×
// maximum sensitivity), withholding and counting what the agent may not see;
// every read, allowed or denied, is recorded with hashes. Writes go only
// through the governed memory.write capability, compare-and-set on the version.
import { describe, expect, it } from 'vitest';
import { hashOf } from '../../src/core/canonical.js';
import { createLogger } from '../../src/core/log.js';
import { readMemory } from '../../src/kernel/memory-read.js';
import { openRuntime } from '../../src/runtime.js';
import { call, copyTemplate, FakeWorld, replaceOnce, raw } from './helpers.js';
import { events, eventsOf, oversightEdits, setup, type Env } from './oversight-fixtures.js';

const EDITS = oversightEdits({
  'memory/suppliers.yaml': (t) => `${t}packs:\n  everything: [acme-supplies, shady-llc, bank-credentials, no-such-key]\n`,
  'memory/docs.yaml': replaceOnce(
    'packs:\n',
    '  - key: board-minutes\n    sensitivity: restricted\n    value: { summary: kept by the board }\npacks:\n',
  ),
  // scribe may read suppliers (standard only) but not write it.
  'contracts/scribe.yaml': replaceOnce('memory:\n  - scope: docs\n', 'memory:\n  - scope: suppliers\n    max_sensitivity: standard\n  - scope: docs\n'),
});

const keys = (o: { output?: unknown }) => ((o.output as { records: { key: string }[] }).records ?? []).map((r) => r.key);

function memWrite(env: Env, params: Record<string, unknown>, who = 'scribe') {
  return env.rt.kernel.govern(call(who, { capability: 'memory.write', params }));
}

describe('memory reads', () => {
  it('read by pack returns the records the contract allows, in pack order, and counts the withheld ones', async () => {
    const env = await setup(EDITS);
    const alice = (await readMemory(env.rt.kernel, 'alice', { scope: 'suppliers', pack: 'everything' }));
    expect(alice).toMatchObject({ verdict: 'accepted', output: { scope: 'suppliers', withheld: 1 } });
    expect(keys(alice)).toEqual(['acme-supplies', 'shady-llc']);
    const sup = (await readMemory(env.rt.kernel, 'supervisor', { scope: 'suppliers', pack: 'everything' }));
    expect(keys(sup)).toEqual(['acme-supplies', 'shady-llc', 'bank-credentials']);
    expect(sup.output).toMatchObject({ withheld: 0 });
    const scribe = (await readMemory(env.rt.kernel, 'scribe', { scope: 'docs', pack: 'onboarding' }));
    expect(keys(scribe)).toEqual(['style-guide']);
  });

  it('listing a scope returns the visible records with versions and provenance, counts the withheld, and records hashes only', async () => {
    const env = await setup(EDITS);
    const o = (await readMemory(env.rt.kernel, 'alice', { scope: 'suppliers' }));
    expect(o).toMatchObject({ verdict: 'accepted', output: { withheld: 1 } });
    expect(keys(o)).toEqual(['acme-supplies', 'shady-llc']);
    expect((o.output as { records: unknown[] }).records[0]).toMatchObject({ version: 1, sensitivity: 'standard', provenance: 'human:workspace-seed', value: { name: 'Acme Supplies Ltd' } });
    const ev = eventsOf(env.rt, o.decision_id);
    expect(ev.map((e) => e.type)).toEqual(['MemoryRead']);
    expect(ev[0]?.data).toMatchObject({ scope: 'suppliers', mode: 'list', allowed: true, records: 2, withheld: 1 });
    expect(ev[0]?.data['values_hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(events(env.rt))).not.toContain('Acme Supplies Ltd');
  });

  it('denied reads are recorded with their reason and a hash of what was asked: scope, sensitivity, missing key, unknown pack', async () => {
    const env = await setup(EDITS);
    const cases = [
      [(await readMemory(env.rt.kernel, 'alice', { scope: 'docs', key: 'style-guide' })), 'MEMORY_SCOPE_DENIED', { key_hash: hashOf('style-guide') }],
      [(await readMemory(env.rt.kernel, 'alice', { scope: 'docs' })), 'MEMORY_SCOPE_DENIED', {}],
      [(await readMemory(env.rt.kernel, 'alice', { scope: 'suppliers', key: 'bank-credentials' })), 'MEMORY_SENSITIVITY_DENIED', { key_hash: hashOf('bank-credentials') }],
      [(await readMemory(env.rt.kernel, 'scribe', { scope: 'docs', key: 'board-minutes' })), 'MEMORY_SENSITIVITY_DENIED', { key_hash: hashOf('board-minutes') }],
      [(await readMemory(env.rt.kernel, 'alice', { scope: 'suppliers', key: 'nobody' })), 'MEMORY_NOT_FOUND', { key_hash: hashOf('nobody') }],
      [(await readMemory(env.rt.kernel, 'alice', { scope: 'suppliers', pack: 'nope' })), 'MEMORY_NOT_FOUND', { pack_hash: hashOf('nope') }],
    ] as const;
    for (const [o, code, data] of cases) {
      expect(o).toMatchObject({ verdict: 'rejected', reasons: [code] });
      expect(o.output).toBeUndefined();
      const [ev] = eventsOf(env.rt, o.decision_id);
      expect(ev).toMatchObject({ type: 'MemoryRead', reasons: [code], data: { allowed: false, ...data } });
      expect(o.receipt).toEqual({ seq: ev?.seq, hash: ev?.hash });
    }
    expect(JSON.stringify(events(env.rt))).not.toContain('treasury');
  });
});

describe('memory.write', () => {
  it('creates with expected_version 0, then moves only by compare-and-set; a stale version is STATE_DRIFT and writes nothing', async () => {
    const env = await setup(EDITS);
    const created = await memWrite(env, { scope: 'docs', key: 'page-1', value: { text: 'v1' }, expected_version: 0, model: 'test-model' });
    expect(created).toMatchObject({ verdict: 'accepted', output: { scope: 'docs', key: 'page-1', version: 1 } });
    // A second create of the same key lost the race: the record is at version 1.
    const recreate = await memWrite(env, { scope: 'docs', key: 'page-1', value: { text: 'other' }, expected_version: 0 });
    expect(recreate).toMatchObject({ verdict: 'rejected', reasons: ['STATE_DRIFT'] });
    expect(recreate.details[0]).toMatchObject({ invariant: 'version_current' });

    expect((await memWrite(env, { scope: 'docs', key: 'page-1', value: { text: 'v2' }, expected_version: 1 })).output).toMatchObject({ version: 2 });
    const stale = await memWrite(env, { scope: 'docs', key: 'page-1', value: { text: 'v2-from-stale-read' }, expected_version: 1 });
    expect(stale).toMatchObject({ verdict: 'rejected', reasons: ['STATE_DRIFT'] });
    expect((await env.rt.store.memory.get('docs', 'page-1'))).toMatchObject({ version: 2, value: { text: 'v2' }, provenance: 'agent:scribe', sensitivity: 'standard' });

    // The store's own compare-and-set refuses a stale version too (the handler's last line of defence).
    expect(raw(env.rt).memory.write({ scope: 'docs', key: 'page-1', value: 1, sensitivity: 'standard', provenance: 'agent:scribe', expected: 1, at: env.world.now() })).toBeNull();
    expect(raw(env.rt).memory.write({ scope: 'docs', key: 'page-1', value: 1, sensitivity: 'standard', provenance: 'agent:scribe', expected: 0, at: env.world.now() })).toBeNull();

    // The written record is readable under the same rules, with its provenance.
    const read = (await readMemory(env.rt.kernel, 'scribe', { scope: 'docs', key: 'page-1' }));
    expect(read.output).toMatchObject({ version: 2, value: { text: 'v2' } });
    expect((await readMemory(env.rt.kernel, 'supervisor', { scope: 'docs', key: 'page-1' })).verdict).toBe('accepted');
  });

  it('a write to a scope the contract does not mark writable, or does not grant, is INVARIANT_VIOLATED and writes nothing', async () => {
    const env = await setup(EDITS);
    const readOnly = await memWrite(env, { scope: 'suppliers', key: 'acme-supplies', value: { name: 'Hijacked' }, expected_version: 1 });
    expect(readOnly).toMatchObject({ verdict: 'rejected', reasons: ['INVARIANT_VIOLATED'] });
    expect(readOnly.details.map((d) => d.invariant)).toEqual(['scope_writable']);
    const ungranted = await memWrite(env, { scope: 'secrets', key: 'k', value: 1, expected_version: 0 });
    expect(ungranted.reasons).toEqual(['INVARIANT_VIOLATED']);
    expect(ungranted.details.map((d) => d.invariant)).toContain('scope_writable');
    expect((await env.rt.store.memory.get('suppliers', 'acme-supplies'))).toMatchObject({ version: 1, value: { name: 'Acme Supplies Ltd' } });
    expect((await env.rt.store.memory.get('secrets', 'k'))).toBeNull();
    // Without the grant, memory.write is like any ungranted capability.
    expect((await memWrite(env, { scope: 'suppliers', key: 'x', value: 1, expected_version: 0 }, 'alice')).reasons).toEqual(['CAPABILITY_NOT_GRANTED']);
  });

  it('a write above the scope maximum sensitivity is refused, and so is overwriting a record above it', async () => {
    const env = await setup(EDITS);
    const elevated = await memWrite(env, { scope: 'docs', key: 'page-2', value: 'x', sensitivity: 'elevated', expected_version: 0 });
    expect(elevated).toMatchObject({ verdict: 'rejected', reasons: ['INVARIANT_VIOLATED'] });
    expect(elevated.details.map((d) => d.invariant)).toEqual(['sensitivity_within_contract']);
    // board-minutes is restricted: scribe may neither read it nor overwrite (downgrade) it.
    const downgrade = await memWrite(env, { scope: 'docs', key: 'board-minutes', value: 'overwritten', sensitivity: 'standard', expected_version: 1 });
    expect(downgrade.reasons).toEqual(['INVARIANT_VIOLATED']);
    expect(downgrade.details.map((d) => d.invariant)).toEqual(['sensitivity_within_contract']);
    expect((await env.rt.store.memory.get('docs', 'page-2'))).toBeNull();
    expect((await env.rt.store.memory.get('docs', 'board-minutes'))).toMatchObject({ version: 1, sensitivity: 'restricted' });
  });

  it('the ledger and the logs hold the hash of a written value, never the value', async () => {
    const lines: string[] = [];
    const ws = copyTemplate(EDITS);
    const rt = await openRuntime(ws.dir, createLogger('trace', { write: (s: string) => void lines.push(s) }), new FakeWorld());
    try {
      const value = { secret: 'MEM-SECRET-8812', list: [1, 2, 3] };
      const o = await rt.kernel.govern(call('scribe', { capability: 'memory.write', params: { scope: 'docs', key: 'secret-page', value, expected_version: 0 } }));
      expect(o.verdict).toBe('accepted');
      const validated = (await rt.store.ledger.page(0, 10_000)).find((e) => e.decision_id === o.decision_id && e.type === 'IntentValidated');
      expect(validated?.data['values_hash']).toBe(hashOf({ scope: 'docs', key: 'secret-page', value, sensitivity: 'standard', expected_version: 0 }));
      const read = (await readMemory(rt.kernel, 'scribe', { scope: 'docs', key: 'secret-page' }));
      const ev = (await rt.store.ledger.page(0, 10_000)).find((e) => e.decision_id === read.decision_id);
      expect(ev?.data['value_hash']).toBe(hashOf(value));
      const ledgerText = JSON.stringify(raw(rt).db.prepare('SELECT * FROM events').all());
      expect(ledgerText).not.toContain('MEM-SECRET-8812');
      expect(lines.length).toBeGreaterThan(3);
      expect(lines.join('\n')).not.toContain('MEM-SECRET-8812');
    } finally {
      await rt.close();
      ws.cleanup();
    }
  });
});
