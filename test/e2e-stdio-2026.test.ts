/**
 * Issue 19 over a real stdio pipe: `mandate serve --stdio` serves either era,
 * chosen by the connection's first message. A `@modelcontextprotocol/client`
 * 2.4 client pinned to 2026-07-28, or in 'auto' mode, gets the governed tools
 * and verdicts; the same client in its default mode still gets a 2025 session;
 * an approval asked in the client comes back input_required and is answered.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balance, cleanEnv, CLI, E2E, REPO_ROOT, transfer, type Outcome } from './helpers/e2e.js';
import { REVISION } from './helpers/mcp2026.js';

const e2e = new E2E();
const clients: Client[] = [];
let ws: string;

beforeAll(async () => {
  ws = await e2e.workspace();
  const contract = join(ws, 'contracts', 'alice.yaml');
  writeFileSync(contract, readFileSync(contract, 'utf8').replace('client_approval: false', 'client_approval: true'));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await e2e.cleanup();
});

async function stdioClient(mode: 'pin' | 'auto' | 'legacy', elicit?: () => Record<string, unknown>): Promise<Client> {
  const versionNegotiation = mode === 'pin' ? { mode: { pin: REVISION } } : mode === 'auto' ? { mode: 'auto' as const } : undefined;
  const client = new Client({ name: 'stdio-2026-test', version: '1.0.0' }, { ...(versionNegotiation ? { versionNegotiation } : {}), capabilities: elicit ? { elicitation: { form: {} } } : {} });
  if (elicit) client.setRequestHandler('elicitation/create', () => elicit() as never);
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'serve', '--stdio', '--agent', 'alice', '-w', ws, '--log-level', 'warn'], cwd: REPO_ROOT, env: cleanEnv(), stderr: 'ignore' });
  clients.push(client);
  await client.connect(transport);
  return client;
}

const call = async (client: Client, args: Record<string, unknown>) => {
  const result = await client.callTool({ name: 'invoke_capability', arguments: args });
  return { outcome: result.structuredContent as unknown as Outcome, isError: result.isError === true };
};

describe('serve --stdio, both eras', () => {
  it('a v2 client pinned to 2026-07-28 lists the governed tools and gets verdicts: accepted, rejected, escalated', async () => {
    const client = await stdioClient('pin');
    expect(client.getProtocolEra()).toBe('modern');
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(expect.arrayContaining(['invoke_capability', 'get_decision', 'payments_transfer']));
    const before = balance(ws);
    const ok = await call(client, { capability: 'payments.transfer', params: transfer({ amount_minor: 900 }), idempotency_key: 'stdio26-ok' });
    expect(ok.outcome).toMatchObject({ verdict: 'accepted', status: 'accepted' });
    const refused = await call(client, { capability: 'payments.transfer', params: transfer({ amount_minor: 155_000 }) });
    expect(refused.isError).toBe(true);
    expect(refused.outcome.reasons).toContain('CONTRACT_LIMIT_EXCEEDED');
    // This client declares no elicitation: the escalation waits for an operator.
    const escalated = await call(client, { capability: 'payments.transfer', params: transfer({ amount_minor: 21_000 }), idempotency_key: 'stdio26-esc' });
    expect(escalated.outcome).toMatchObject({ verdict: 'escalated', status: 'pending' });
    expect(balance(ws)).toBe(before - 900);
  });

  it("a v2 client in 'auto' mode selects 2026-07-28", async () => {
    const client = await stdioClient('auto');
    expect(client.getProtocolEra()).toBe('modern');
    expect((await call(client, { capability: 'payments.get_balance', params: { account: 'operating' } })).outcome.verdict).toBe('accepted');
  });

  it('a v2 client in its default mode gets a 2025-11-25 session, as before', async () => {
    const client = await stdioClient('legacy');
    expect(client.getProtocolEra()).toBe('legacy');
    expect((await call(client, { capability: 'payments.get_balance', params: { account: 'operating' } })).outcome.verdict).toBe('accepted');
  });

  it('on 2026-07-28 the human in the client approves an escalation through input_required', async () => {
    const client = await stdioClient('pin', () => ({ action: 'accept', content: { decision: 'approve' } }));
    const before = balance(ws);
    const approved = await call(client, { capability: 'payments.transfer', params: transfer({ amount_minor: 22_000 }), idempotency_key: 'stdio26-approve' });
    expect(approved.outcome).toMatchObject({ verdict: 'accepted', status: 'approved' });
    expect(balance(ws)).toBe(before - 22_000);
  });
});
