/**
 * `mandate serve --watch`: a change to a contract or policy file reloads the
 * set once its writes have stopped for 500 ms, through the same path as
 * SIGHUP. A burst of writes is one reload; a broken policy file is refused
 * and the old set keeps serving. Each attempt is on the ledger, by `watch`.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, CLI, E2E, exportLedger, REPO_ROOT, transfer, waitFor, type Outcome } from './helpers/e2e.js';
import { setLoaderMax } from './helpers/reload-fixtures.js';

const e2e = new E2E();
let client: Client | undefined;

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await e2e.cleanup();
});

describe('serve --watch', () => {
  it('a burst of writes is one reload and the new limit applies; a broken policy file is refused and the old set keeps serving', async () => {
    const ws = await e2e.workspace();
    setLoaderMax(ws, 50000);
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'serve', '--stdio', '--agent', 'loader', '--watch', '-w', ws, '--log-level', 'info'], cwd: REPO_ROOT, env: cleanEnv(), stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    client = new Client({ name: 'watch-test', version: '1.0.0' });
    await client.connect(transport, { timeout: 15_000 });
    let n = 0;
    const pay = async (amount: number) => {
      const r = (await client!.callTool({ name: 'invoke_capability', arguments: { capability: 'payments.transfer', params: transfer({ amount_minor: amount, memo: `w${++n}` }) } }, undefined, { timeout: 15_000 })) as CallToolResult;
      return r.structuredContent as unknown as Outcome;
    };
    const count = (text: string) => stderr.split('\n').filter((l) => l.includes(text)).length;
    await waitFor(() => stderr.includes('watching the set'), 10_000, 'the watch to start');
    expect((await pay(20_000)).verdict).toBe('accepted');

    // Four saves in quick succession: one reload, after the last of them.
    for (const max of [40_000, 30_000, 20_000, 10_000]) {
      setLoaderMax(ws, max);
      await new Promise((r) => setTimeout(r, 30));
    }
    await waitFor(() => count('reloaded a new set') >= 1, 10_000, 'the reload');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(count('reloaded a new set') + count('reloaded; the set is unchanged')).toBe(1);
    const over = await pay(20_000);
    expect(over).toMatchObject({ verdict: 'rejected', reasons: ['CONTRACT_LIMIT_EXCEEDED'] });
    expect((await pay(5_000)).verdict).toBe('accepted');

    // A policy that does not parse: refused whole; the set with the 10000 limit keeps serving.
    writeFileSync(join(ws, 'policies', 'broken.cedar'), '@id("broken")\npermit(principal, action, resource) when { context.values.amount_minor < };\n');
    await waitFor(() => count('reload refused') >= 1, 10_000, 'the refused reload');
    expect((await pay(5_000)).verdict).toBe('accepted');
    expect((await pay(20_000)).reasons).toEqual(['CONTRACT_LIMIT_EXCEEDED']);

    // Removing it reloads again, and the set is the one already served.
    rmSync(join(ws, 'policies', 'broken.cedar'));
    await waitFor(() => count('reloaded; the set is unchanged') >= 1, 10_000, 'the reload after the fix');

    await client.close();
    client = undefined;
    const reloads = (await exportLedger(ws)).events.filter((e) => e.type === 'WorkspaceReloaded').map((e) => e.data as { by: string; ok: boolean });
    expect(reloads).toEqual([expect.objectContaining({ by: 'watch', ok: true }), expect.objectContaining({ by: 'watch', ok: false }), expect.objectContaining({ by: 'watch', ok: true })]);
  }, 90_000);
});
