/**
 * Issue 2, requirement 2: the stdio server's tools, seen through a real SDK
 * client talking to the built CLI.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, type AgentClient } from './helpers/e2e.js';

const FIXED = ['submit_intent', 'invoke_capability', 'read_memory', 'intervene', 'get_decision', 'submit_plan', 'list_capabilities'];
const READ_ONLY = new Set(['read_memory', 'get_decision', 'list_capabilities']);

interface ListedCapability {
  id: string;
  version: string;
  description: string;
  side_effect: string;
  tool?: string;
  input_schema: { type?: string; properties?: Record<string, unknown>; required?: string[] };
  output_schema: { type?: string; properties?: Record<string, unknown> };
  limits: Record<string, unknown>;
  escalation_rules: string[];
}

const e2e = new E2E();
afterAll(() => e2e.cleanup());

describe('tools over stdio', () => {
  let ws: string;
  let alice: AgentClient;
  let scribe: AgentClient;
  beforeAll(async () => {
    ws = await e2e.workspace();
    [alice, scribe] = await Promise.all([e2e.client(ws, 'alice'), e2e.client(ws, 'scribe')]);
  });

  it('the server identifies itself and offers tools', () => {
    expect(alice.client.getServerVersion()?.name).toBe('mandate');
    expect(alice.client.getServerCapabilities()?.tools).toBeDefined();
    expect(alice.client.getInstructions()).toMatch(/list_capabilities/);
  });

  it('tools/list has the seven governed tools, each with description, inputSchema, outputSchema and honest annotations', async () => {
    const { tools } = await alice.client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const name of FIXED) {
      const t = byName.get(name);
      expect(t, name).toBeDefined();
      if (!t) continue;
      expect(t.description?.length ?? 0, `${name} description`).toBeGreaterThan(40);
      expect(t.inputSchema.type, `${name} inputSchema`).toBe('object');
      expect(t.outputSchema?.type, `${name} outputSchema`).toBe('object');
      expect(t.annotations, `${name} annotations`).toBeDefined();
      expect(t.annotations?.readOnlyHint, `${name} readOnlyHint`).toBe(READ_ONLY.has(name));
      expect(typeof t.annotations?.destructiveHint).toBe('boolean');
      expect(typeof t.annotations?.idempotentHint).toBe('boolean');
      expect(t.annotations?.openWorldHint).toBe(false);
    }
    // The governed tools share the outcome schema: verdict, reasons, dfid, decision_id, receipt.
    const out = byName.get('invoke_capability')?.outputSchema as { properties: Record<string, unknown>; required?: string[] };
    for (const field of ['verdict', 'reasons', 'dfid', 'decision_id', 'receipt', 'output']) expect(Object.keys(out.properties)).toContain(field);
    expect(out.required).toEqual(expect.arrayContaining(['verdict', 'reasons', 'dfid', 'decision_id', 'receipt']));
    const inv = byName.get('invoke_capability')?.inputSchema as { properties: Record<string, unknown>; required?: string[] };
    expect(inv.required).toEqual(expect.arrayContaining(['capability', 'params']));
    expect(Object.keys(inv.properties)).toContain('idempotency_key');
    const intent = byName.get('submit_intent')?.inputSchema as { properties: Record<string, unknown> };
    for (const field of ['capability', 'params', 'rationale', 'idempotency_key', 'ttl_seconds', 'created_at', 'observed_version']) {
      expect(Object.keys(intent.properties)).toContain(field);
    }
  });

  it('granted capabilities appear as their own tools: payments_transfer for alice, not for scribe (scribe gets the built-in memory_write)', async () => {
    expect(readFileSync(join(ws, 'mandate.yaml'), 'utf8')).toMatch(/^\s+expose_capabilities: true/m);
    const aliceTools = (await alice.client.listTools()).tools;
    const scribeTools = (await scribe.client.listTools()).tools;
    const aliceNames = aliceTools.map((t) => t.name);
    const scribeNames = scribeTools.map((t) => t.name);
    expect(aliceNames.sort()).toEqual([...FIXED, 'payments_get_balance', 'payments_reverse_transfer', 'payments_transfer'].sort());
    expect(scribeNames.sort()).toEqual([...FIXED, 'files_delete', 'files_write', 'memory_write'].sort());
    expect(scribeNames).not.toContain('payments_transfer');

    const pt = aliceTools.find((t) => t.name === 'payments_transfer');
    const props = (pt?.inputSchema.properties ?? {}) as Record<string, { type?: string }>;
    expect(Object.keys(props)).toEqual(expect.arrayContaining(['from_account', 'payee', 'amount_minor', 'currency', 'mandate']));
    expect(props['amount_minor']?.type).toBe('integer');
    expect(pt?.outputSchema?.type).toBe('object');
    expect(pt?.annotations?.readOnlyHint).toBe(false);
    expect(pt?.description).toMatch(/Governed by Mandate/);
    expect(aliceTools.find((t) => t.name === 'payments_get_balance')?.annotations?.readOnlyHint).toBe(true);
    expect(scribeTools.find((t) => t.name === 'files_delete')?.annotations?.destructiveHint).toBe(true);

    // A capability tool of another agent is not callable either.
    await expect(scribe.client.callTool({ name: 'payments_transfer', arguments: {} })).rejects.toThrow(/unknown tool/);
  });

  it('list_capabilities for alice shows only payments.get_balance and payments.transfer, with JSON Schemas', async () => {
    const { result } = await alice.call('list_capabilities', {});
    expect(result.isError).toBeFalsy();
    const sc = result.structuredContent as { agent: string; capabilities: ListedCapability[] };
    expect(sc.agent).toBe('alice');
    expect(sc.capabilities.map((c) => c.id)).toEqual(['payments.get_balance', 'payments.reverse_transfer', 'payments.transfer']);
    const transfer = sc.capabilities.find((c) => c.id === 'payments.transfer') as ListedCapability;
    expect(transfer.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(transfer.side_effect).toBe('write');
    expect(transfer.tool).toBe('payments_transfer');
    expect(transfer.input_schema.type).toBe('object');
    expect(transfer.input_schema.required).toEqual(expect.arrayContaining(['from_account', 'payee', 'amount_minor', 'currency']));
    expect(transfer.input_schema.properties?.['currency']).toEqual(expect.objectContaining({ enum: ['EUR', 'USD'] }));
    expect(transfer.output_schema.type).toBe('object');
    expect(Object.keys(transfer.output_schema.properties ?? {})).toEqual(expect.arrayContaining(['transfer_id', 'balance_minor', 'version']));
    expect(transfer.limits).toEqual(expect.objectContaining({ max: { amount_minor: 50000 } }));
    expect(transfer.escalation_rules.length).toBe(1);
    // The text content mirrors the structured content.
    const text = (result.content as { type: string; text: string }[])[0]?.text ?? '';
    expect(JSON.parse(text)).toEqual(sc);
  });

  it('list_capabilities for scribe shows only files.* and the built-in memory.write its contract grants', async () => {
    const { result } = await scribe.call('list_capabilities', {});
    const sc = result.structuredContent as { agent: string; capabilities: ListedCapability[] };
    expect(sc.agent).toBe('scribe');
    expect(sc.capabilities.length).toBeGreaterThan(0);
    for (const c of sc.capabilities) expect(c.id).toMatch(/^(files\.|memory\.write$)/);
    expect(sc.capabilities.map((c) => c.id).sort()).toEqual(['files.delete', 'files.write', 'memory.write']);
    for (const c of sc.capabilities) {
      expect(c.input_schema.type).toBe('object');
      expect(c.output_schema.type).toBe('object');
    }
  });

  it('read_memory reads a granted scope and refuses one above the contract sensitivity', async () => {
    const ok = await alice.call('read_memory', { scope: 'suppliers', key: 'acme-supplies' });
    expect(ok.isError).toBe(false);
    expect(ok.outcome.verdict).toBe('accepted');
    expect(ok.outcome.output).toEqual(expect.objectContaining({ value: expect.objectContaining({ name: 'Acme Supplies Ltd' }) }));
    const restricted = await alice.call('read_memory', { scope: 'suppliers', key: 'bank-credentials' });
    expect(restricted.isError).toBe(true);
    expect(restricted.outcome.reasons).toEqual(['MEMORY_SENSITIVITY_DENIED']);
    const scope = await scribe.call('read_memory', { scope: 'suppliers', key: 'acme-supplies' });
    expect(scope.outcome.reasons).toEqual(['MEMORY_SCOPE_DENIED']);
  });
});
