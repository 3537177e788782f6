/**
 * Mandate on each line package.json's `engines` supports other than the one
 * running the suite: on a Node 20 machine, 22 (which needs the V8 guard of
 * ADR-018) and 24 (which does not). On each, installed from its packed
 * tarball by that line's npm (no unsupported-engine warning), with
 * better-sqlite3 compiled for that line, then served over stdio by that
 * line's binary to the two official SDK clients, which run in this test's
 * Node: the v1 client on the 2025-11-25 wire and the v2 client pinned to
 * 2026-07-28. Each gets an accepted, a refused and an escalated transfer, and
 * the escalation is approved by an operator through the installed CLI.
 */
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureNodeLine, ensureSqliteAddon, OWN_LINE, supportedLines } from '../scripts/node-line.js';
import { assertBuilt, balance, CALL_TIMEOUT_MS, cleanEnv, E2E, startClient, transfer, type Outcome } from './helpers/e2e.js';
import { REVISION } from './helpers/mcp2026.js';
import { installPacked, packMandate } from './helpers/packed.js';
import { nodeLine, requires, sqliteAddon } from './helpers/requires.js';

const run = promisify(execFile);

// The running line is what the rest of the suite tests; an addon built for it would also load here, so the check below needs another line.
for (const major of supportedLines().filter((m) => m !== OWN_LINE)) {
  const need = await requires(import.meta.url, [nodeLine(major), sqliteAddon(major)]);

  describe.skipIf(need.skip)(need.title(`Mandate installed and served on Node ${major}, driven by the v1 and v2 SDK clients`), () => {
    const e2e = new E2E();
    let node = '';
    let cli = '';
    let ws = '';
    let env: Record<string, string> = {};
    let warnings: string[] = [];
    let installed = '';

    /** The installed CLI under this line. */
    const mandate = async (...args: string[]): Promise<string> => (await run(node, [cli, ...args], { env, timeout: 30_000 })).stdout;

    beforeAll(async () => {
      assertBuilt();
      node = ensureNodeLine(major) as string;
      const dir = e2e.tempDir(`mandate-node${major}-`);
      const scratch = join(dir, 'elsewhere');
      mkdirSync(scratch);
      const packed = await installPacked(await packMandate(dir), join(dir, 'global'), { cwd: scratch, node, addonBuild: ensureSqliteAddon(major) as string });
      warnings = packed.warnings;
      installed = packed.installed;
      cli = join(packed.installed, 'dist', 'src', 'cli', 'main.js');
      env = cleanEnv({ PATH: packed.path });
      ws = join(scratch, 'ws');
      await mandate('init', ws);
    }, 240_000);

    afterAll(() => e2e.cleanup());

    it(`the binary is Node ${major}, the tarball installs on it with no unsupported-engine or deprecation warning, and its better-sqlite3 is built for Node ${major} only`, async () => {
      expect((await run(node, ['--version'])).stdout).toMatch(new RegExp(`^v${major}\\.`));
      expect(warnings.filter((l) => /EBADENGINE|deprecated/i.test(l))).toEqual([]);
      const open = (bin: string) => run(bin, ['-e', `new (require(${JSON.stringify(join(installed, 'node_modules', 'better-sqlite3'))}))(':memory:').close()`]);
      await expect(open(node)).resolves.toBeDefined();
      await expect(open(process.execPath)).rejects.toThrow(/NODE_MODULE_VERSION/);
    });

    /** An accepted, a refused and an escalated transfer through `call`, the escalation approved by an operator through the installed CLI. */
    const acceptRefuseEscalate = async (call: (amount: number) => Promise<{ outcome: Outcome; isError: boolean }>, accepted: number, escalatedAmount: number) => {
      const before = balance(ws);
      expect((await call(accepted)).outcome).toMatchObject({ verdict: 'accepted', status: 'accepted' });
      expect(await call(155_000)).toMatchObject({ isError: true, outcome: { verdict: 'rejected', reasons: expect.arrayContaining(['CONTRACT_LIMIT_EXCEEDED']) } });
      const escalated = (await call(escalatedAmount)).outcome;
      expect(escalated).toMatchObject({ verdict: 'escalated', status: 'pending' });
      const approved = JSON.parse(await mandate('approvals', 'approve', escalated.decision_id, '--as', 'ops-anna', '--note', 'checked', '-w', ws)) as Outcome;
      expect(approved).toMatchObject({ verdict: 'accepted', status: 'approved' });
      expect(balance(ws)).toBe(before - accepted - escalatedAmount);
    };

    it('the v1 SDK client (2025-11-25): accepted, refused, escalated, then approved by an operator through the CLI', async () => {
      const agent = await startClient(ws, 'alice', { server: { node, cli }, env: { PATH: env['PATH'] as string }, logLevel: 'warn' });
      try {
        await acceptRefuseEscalate((amount) => agent.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: amount }) }), 900, 21_000);
      } finally {
        await agent.close();
      }
    });

    it('the v2 SDK client pinned to 2026-07-28: accepted, refused, escalated, then approved by an operator through the CLI', async () => {
      const client = new ClientV2({ name: `node${major}-test`, version: '1.0.0' }, { versionNegotiation: { mode: { pin: REVISION } } });
      await client.connect(new StdioV2({ command: node, args: [cli, 'serve', '--stdio', '--agent', 'alice', '-w', ws, '--log-level', 'warn'], env, stderr: 'ignore' }));
      const call = async (amount: number) => {
        const r = await client.callTool({ name: 'invoke_capability', arguments: { capability: 'payments.transfer', params: transfer({ amount_minor: amount }) } }, { timeout: CALL_TIMEOUT_MS });
        return { outcome: r.structuredContent as unknown as Outcome, isError: r.isError === true };
      };
      try {
        expect(client.getProtocolEra()).toBe('modern');
        await acceptRefuseEscalate(call, 800, 23_000);
      } finally {
        await client.close();
      }
    });
  });
}
