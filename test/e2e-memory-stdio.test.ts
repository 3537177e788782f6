/**
 * Over real stdio, memory: read_memory by key, pack and listing;
 * records as MCP resources memory://{scope}/{key} under the same contract
 * rules (a denied read is a JSON-RPC error, and is recorded); memory_write
 * with compare-and-set; the exported ledger never holds a value.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, exportLedger, type AgentClient } from './helpers/e2e.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

type Records = { records: { key: string; value: unknown; version: number }[]; withheld: number };

describe('memory over stdio', () => {
  let ws: string;
  let alice: AgentClient;
  let scribe: AgentClient;

  beforeAll(async () => {
    ws = await e2e.workspace();
    const suppliers = join(ws, 'memory', 'suppliers.yaml');
    writeFileSync(suppliers, `${readFileSync(suppliers, 'utf8')}packs:\n  everything: [acme-supplies, shady-llc, bank-credentials]\n`);
    [alice, scribe] = await Promise.all([e2e.client(ws, 'alice'), e2e.client(ws, 'scribe')]);
  });

  it('read_memory reads by key, by pack and by listing a scope, withholding and counting what the contract does not allow', async () => {
    const one = await alice.call('read_memory', { scope: 'suppliers', key: 'acme-supplies' });
    expect(one.outcome).toMatchObject({ verdict: 'accepted', output: { key: 'acme-supplies', version: 1, value: { name: 'Acme Supplies Ltd' } } });
    const pack = await alice.call('read_memory', { scope: 'suppliers', pack: 'everything' });
    expect((pack.outcome.output as unknown as Records).records.map((r) => r.key)).toEqual(['acme-supplies', 'shady-llc']);
    expect(pack.outcome.output).toMatchObject({ withheld: 1 });
    const list = await alice.call('read_memory', { scope: 'suppliers' });
    expect((list.outcome.output as unknown as Records).records.map((r) => r.key)).toEqual(['acme-supplies', 'shady-llc']);
    expect(list.outcome.output).toMatchObject({ withheld: 1 });
    const both = await alice.call('read_memory', { scope: 'suppliers', key: 'acme-supplies', pack: 'everything' });
    expect(both.outcome.reasons).toEqual(['SCHEMA_INVALID']);
  });

  it('memory records are MCP resources: list shows only readable ones, read returns the value, a denied read is a JSON-RPC error and is recorded', async () => {
    const templates = await alice.client.listResourceTemplates();
    expect(templates.resourceTemplates.map((t) => t.uriTemplate)).toEqual(['memory://{scope}/{key}']);
    const listed = await alice.client.listResources();
    expect(listed.resources.map((r) => r.uri).sort()).toEqual(['memory://suppliers/acme-supplies', 'memory://suppliers/shady-llc']);
    const scribeListed = await scribe.client.listResources();
    expect(scribeListed.resources.map((r) => r.uri)).toEqual(['memory://docs/style-guide']);

    const read = await alice.client.readResource({ uri: 'memory://suppliers/acme-supplies' });
    expect(read.contents).toHaveLength(1);
    expect(read.contents[0]).toMatchObject({ uri: 'memory://suppliers/acme-supplies', mimeType: 'application/json' });
    expect(JSON.parse((read.contents[0] as { text: string }).text)).toEqual({ name: 'Acme Supplies Ltd', payment_terms_days: 30, preferred_currency: 'EUR' });

    await expect(alice.client.readResource({ uri: 'memory://suppliers/bank-credentials' })).rejects.toThrow(/MEMORY_SENSITIVITY_DENIED/);
    await expect(alice.client.readResource({ uri: 'memory://docs/style-guide' })).rejects.toThrow(/MEMORY_SCOPE_DENIED/);
    await expect(alice.client.readResource({ uri: 'memory://suppliers/nobody' })).rejects.toThrow(/MEMORY_NOT_FOUND/);
    await expect(alice.client.readResource({ uri: 'file:///etc/passwd' })).rejects.toThrow(/SCHEMA_INVALID/);

    const { events, raw } = await exportLedger(ws);
    const denied = events.filter((e) => e.type === 'MemoryRead' && e.agent === 'alice' && e.data['allowed'] === false).map((e) => e.reasons[0]);
    expect(denied).toEqual(expect.arrayContaining(['MEMORY_SENSITIVITY_DENIED', 'MEMORY_SCOPE_DENIED', 'MEMORY_NOT_FOUND']));
    expect(raw).not.toContain('treasury');
    expect(raw).not.toContain('Acme Supplies Ltd');
  });

  it('memory_write over stdio: compare-and-set on the version, and the exported ledger never contains the value', async () => {
    const write = (value: unknown, expected: number) =>
      scribe.call('invoke_capability', { capability: 'memory.write', params: { scope: 'docs', key: 'runbook', value, expected_version: expected } });
    const created = await write({ text: 'MEM-E2E-SECRET-1' }, 0);
    expect(created.outcome).toMatchObject({ verdict: 'accepted', output: { scope: 'docs', key: 'runbook', version: 1 } });
    const updated = await scribe.call('memory_write', { scope: 'docs', key: 'runbook', value: { text: 'MEM-E2E-SECRET-2' }, expected_version: 1 });
    expect(updated.outcome).toMatchObject({ verdict: 'accepted', output: { version: 2 } });
    const stale = await write({ text: 'MEM-E2E-SECRET-3' }, 1);
    expect(stale.outcome).toMatchObject({ verdict: 'rejected', reasons: ['STATE_DRIFT'] });
    const notWritable = await scribe.call('invoke_capability', { capability: 'memory.write', params: { scope: 'suppliers', key: 'x', value: 1, expected_version: 0 } });
    expect(notWritable.outcome.reasons).toEqual(['INVARIANT_VIOLATED']);

    const back = await scribe.call('read_memory', { scope: 'docs', key: 'runbook' });
    expect(back.outcome.output).toMatchObject({ version: 2, value: { text: 'MEM-E2E-SECRET-2' }, provenance: 'agent:scribe' });
    const { raw } = await exportLedger(ws);
    expect(raw).not.toContain('MEM-E2E-SECRET');
  });
});
