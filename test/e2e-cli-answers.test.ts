/**
 * CLI answers an operator can act on: a port in use names the port and
 * suggests --port; approve and deny always print a JSON answer, also for a
 * decision that has already expired.
 */
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/core/log.js';
import { openRuntime } from '../src/runtime.js';
import { E2E, runCli } from './helpers/e2e.js';
import { FakeWorld } from './unit/helpers.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

describe('CLI answers', () => {
  it('serve --http on a port in use names the port and suggests --port', async () => {
    const ws = await e2e.workspace();
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await runCli(['serve', '--http', '--port', String(port), '-w', ws]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`port ${port} is already in use (127.0.0.1:${port}); choose another with --port <n>`);
      expect(r.stderr).not.toMatch(/^Error: listen EADDRINUSE/m);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('approve on an expired decision prints its JSON answer and exits 1; deny likewise', async () => {
    const ws = await e2e.workspace();
    // An escalation raised an hour ago (its 15 minutes long gone), then closed as expired by the sweep in `approvals list`.
    const rt = await openRuntime(ws, silentLogger, new FakeWorld(Date.now() - 3_600_000));
    const esc = await rt.kernel.govern({ agent: 'alice', channel: 'cli', intent: { capability: 'payments.transfer', params: { from_account: 'operating', payee: 'acme-supplies', amount_minor: 25_000, currency: 'EUR' } } });
    rt.close();
    expect(esc.verdict).toBe('escalated');
    expect((await runCli(['approvals', 'list', '-w', ws])).stdout).toContain('no pending approvals');

    for (const act of ['approve', 'deny']) {
      const r = await runCli(['approvals', act, esc.decision_id, '--as', 'ops-anna', '-w', ws]);
      expect(r.code, act).toBe(1);
      expect(JSON.parse(r.stdout), act).toMatchObject({
        decision_id: esc.decision_id,
        error: { code: 'DECISION_NOT_FOUND', message: `decision \`${esc.decision_id}\` is expired, not pending` },
        status: 'expired',
        outcome: { verdict: 'rejected', status: 'expired', reasons: ['ESCALATION_EXPIRED'] },
      });
    }
    const unknown = await runCli(['approvals', 'approve', 'no-such-decision', '--as', 'ops-anna', '-w', ws]);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toEqual({ decision_id: 'no-such-decision', error: { code: 'DECISION_NOT_FOUND', message: 'no decision `no-such-decision`' }, status: null, outcome: null });
  });
});
