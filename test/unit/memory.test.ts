import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashOf } from '../../src/core/canonical.js';
import { readMemory } from '../../src/kernel/memory-read.js';
import type { Runtime } from '../../src/runtime.js';
import { copyTemplate, FakeWorld, openTest, T0, raw } from './helpers.js';

describe('memory', () => {
  let rt: Runtime;
  let dir: string;
  let world: FakeWorld;
  let cleanup: () => void;
  afterEach(async () => {
    await rt.close();
    cleanup();
  });

  async function open(): Promise<Runtime> {
    const ws = copyTemplate();
    dir = ws.dir;
    cleanup = ws.cleanup;
    world = new FakeWorld();
    rt = await openTest(dir, world);
    return rt;
  }

  const memoryEvent = (decisionId: string) => raw(rt).ledger.page(0, 1000).find((e) => e.decision_id === decisionId && e.type === 'MemoryRead');

  it('reads a granted record within the sensitivity ceiling; the MemoryRead event holds a value_hash, never the value', async () => {
    await open();
    const o = (await readMemory(rt.kernel, 'alice', { scope: 'suppliers', key: 'acme-supplies' }));
    const value = { name: 'Acme Supplies Ltd', payment_terms_days: 30, preferred_currency: 'EUR' };
    expect(o).toMatchObject({ verdict: 'accepted', reasons: [], output: { scope: 'suppliers', key: 'acme-supplies', version: 1, sensitivity: 'standard', provenance: 'human:workspace-seed', value } });
    expect((o.output as { updated_at: string }).updated_at).toBe(new Date(T0).toISOString());
    const ev = memoryEvent(o.decision_id);
    expect(ev?.data).toEqual({ scope: 'suppliers', mode: 'key', key_hash: hashOf('acme-supplies'), allowed: true, version: 1, value_hash: hashOf(value) });
    expect(JSON.stringify(ev)).not.toContain('Acme Supplies Ltd');
    expect(o.receipt).toEqual({ seq: ev?.seq, hash: ev?.hash });
    // elevated is within alice's ceiling for suppliers
    expect((await readMemory(rt.kernel, 'alice', { scope: 'suppliers', key: 'shady-llc' })).verdict).toBe('accepted');
  });

  it('a record above the contract max_sensitivity is MEMORY_SENSITIVITY_DENIED; a higher ceiling may read it', async () => {
    await open();
    const o = (await readMemory(rt.kernel, 'alice', { scope: 'suppliers', key: 'bank-credentials' }));
    expect(o).toMatchObject({ verdict: 'rejected', reasons: ['MEMORY_SENSITIVITY_DENIED'] });
    expect(o.output).toBeUndefined();
    expect(memoryEvent(o.decision_id)?.data).toEqual({ scope: 'suppliers', mode: 'key', key_hash: hashOf('bank-credentials'), allowed: false });
    expect((await readMemory(rt.kernel, 'supervisor', { scope: 'suppliers', key: 'bank-credentials' })).verdict).toBe('accepted');
  });

  it('a scope the contract does not grant is MEMORY_SCOPE_DENIED, even for a record that exists', async () => {
    await open();
    expect((await readMemory(rt.kernel, 'alice', { scope: 'docs', key: 'style-guide' }))).toMatchObject({ verdict: 'rejected', reasons: ['MEMORY_SCOPE_DENIED'] });
    expect((await readMemory(rt.kernel, 'scribe', { scope: 'suppliers', key: 'acme-supplies' })).reasons).toEqual(['MEMORY_SCOPE_DENIED']);
    expect((await readMemory(rt.kernel, 'scribe', { scope: 'docs', key: 'style-guide' })).verdict).toBe('accepted');
  });

  it('a missing record is MEMORY_NOT_FOUND; an unknown or paused agent is refused first', async () => {
    await open();
    expect((await readMemory(rt.kernel, 'alice', { scope: 'suppliers', key: 'nobody' })).reasons).toEqual(['MEMORY_NOT_FOUND']);
    expect((await readMemory(rt.kernel, 'mallory', { scope: 'suppliers', key: 'acme-supplies' })).reasons).toEqual(['UNKNOWN_AGENT']);
    raw(rt).agents.setStatus('alice', 'paused', 'operator:ops', null, world.now());
    expect((await readMemory(rt.kernel, 'alice', { scope: 'suppliers', key: 'acme-supplies' })).reasons).toEqual(['AGENT_PAUSED']);
  });

  it('seeding is idempotent: the same values keep the version, a changed value or sensitivity bumps it', async () => {
    await open();
    const mem = raw(rt).memory;
    const seed = (value: unknown, sensitivity: 'standard' | 'elevated' = 'standard') => mem.seed([{ scope: 's', key: 'k', sensitivity, value }], [], world.now());
    seed({ a: 1, b: [1, 2] });
    expect(mem.get('s', 'k')).toMatchObject({ version: 1, created_at: T0, updated_at: T0 });
    world.advance(1_000);
    seed({ a: 1, b: [1, 2] });
    expect(mem.get('s', 'k')).toMatchObject({ version: 1, updated_at: T0 });
    seed({ a: 2, b: [1, 2] });
    expect(mem.get('s', 'k')).toMatchObject({ version: 2, value: { a: 2, b: [1, 2] }, created_at: T0, updated_at: T0 + 1_000 });
    seed({ a: 2, b: [1, 2] }, 'elevated');
    expect(mem.get('s', 'k')).toMatchObject({ version: 3, sensitivity: 'elevated' });
  });

  it('reopening the workspace re-seeds without bumping versions, and an edited memory file bumps only its record', async () => {
    await open();
    await rt.close();
    world.advance(60_000);
    rt = await openTest(dir, world);
    expect((await rt.store.memory.get('suppliers', 'acme-supplies'))?.version).toBe(1);
    await rt.close();
    writeFileSync(
      join(dir, 'memory', 'docs.yaml'),
      'scope: docs\nrecords:\n  - key: style-guide\n    sensitivity: standard\n    value: { headings: title case, max_line_length: 100 }\n',
    );
    rt = await openTest(dir, world);
    expect((await rt.store.memory.get('docs', 'style-guide'))).toMatchObject({ version: 2, value: { headings: 'title case', max_line_length: 100 } });
    expect((await rt.store.memory.get('suppliers', 'acme-supplies'))?.version).toBe(1);
  });
});
