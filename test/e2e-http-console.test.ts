/**
 * Issue 4, the operator console in a real headless browser: Debian's
 * chromium driven by playwright-core (`.ci/run` installs chromium when it is
 * missing). An agent raises an escalation over MCP and waits for it with a
 * long-polling get_decision; the operator logs in with a key, sees the
 * pending approval (the call's params, policies, countdown), approves it with
 * a reason, sees it leave the list, and the agent's waiting call completes.
 * Screenshots go to test-artifacts/console/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, REPO_ROOT, balance, transfer } from './helpers/e2e.js';
import { createKey, httpAgent, startHttp, type HttpAgent, type HttpServer } from './helpers/http.js';
import { launchChromium } from './helpers/console-browser.js';
import { CHROMIUM, requires } from './helpers/requires.js';

const need = await requires(import.meta.url, [CHROMIUM]);
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'console');

const e2e = new E2E();
let s: HttpServer;
let browser: Browser | undefined;
let alice: HttpAgent;
let opKey: string;
let viewerKey: string;
let ws: string;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  ws = await e2e.workspace();
  // One CLI at a time: several at once can outlast the CLI's bound on a loaded machine.
  opKey = (await createKey(ws, { operator: 'anna' })).key;
  viewerKey = (await createKey(ws, { operator: 'vera', role: 'viewer' })).key;
  const agentKey = (await createKey(ws, { agent: 'alice' })).key;
  s = await startHttp(ws);
  alice = await httpAgent(s.url, agentKey);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await alice?.close().catch(() => undefined);
  await s?.stop();
  await e2e.cleanup();
});

describe.skipIf(need.skip)(need.title('operator console in headless chromium'), () => {
  it('logs in with an operator key, sees the escalation an agent raised, approves it, and the agent\'s waiting call completes', async () => {
    const before = balance(ws);
    const esc = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 27_500 }), idempotency_key: 'console-1' });
    expect(esc.outcome.verdict).toBe('escalated');
    // The agent waits for a human (long poll, up to 60 s).
    const waiting = alice.client.callTool({ name: 'get_decision', arguments: { decision_id: esc.outcome.decision_id, wait_seconds: 55 } }, undefined, { timeout: 60_000 });

    const page = await (browser as Browser).newPage({ viewport: { width: 1200, height: 900 } });
    const foreign: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(s.url)) foreign.push(req.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));

    await page.goto(`${s.url}/console`);
    await page.getByLabel('Operator key').fill(opKey);
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.locator('#who').textContent(), { timeout: 10_000 }).toBe('anna (operator)');

    const item = page.locator(`li.approval[data-decision-id="${esc.outcome.decision_id}"]`);
    await item.waitFor({ timeout: 10_000 });
    const text = (await item.textContent()) ?? '';
    expect(text).toContain('payments.transfer — alice');
    expect(text).toContain(esc.outcome.dfid);
    expect(text).toContain('contract.alice.escalate.0');
    expect(text).toContain('transfers above 100.00 need a human approval');
    // An approver sees what they approve; a viewer does not (the second test).
    expect(await item.locator('.params tr[data-field="amount_minor"] td').textContent()).toBe('27500');
    expect(text).not.toContain('redacted');
    expect(await item.locator('.expiry').textContent()).toMatch(/^1[45]:\d\d left$/);
    await expect.poll(() => page.locator('#ledger-status').textContent(), { timeout: 10_000 }).toMatch(/^Intact: \d+ events/);
    await expect.poll(() => page.locator('#feed li').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await page.locator('#feed-state').textContent()).toBe('live');
    await page.screenshot({ path: join(ARTIFACTS, '1-pending.png'), fullPage: true });

    await item.getByLabel('Reason (recorded as a hash)').fill('invoice 42 matches the purchase order');
    await item.getByRole('button', { name: 'Approve' }).click();
    await item.waitFor({ state: 'detached', timeout: 10_000 });
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 10_000 }).toMatch(/^Approved payments\.transfer for alice: accepted \(approved\)/);
    await expect.poll(() => page.locator('#approvals-count').textContent(), { timeout: 10_000 }).toBe('0');
    // The live feed shows the resolution, from the event stream.
    await expect.poll(() => page.locator('#feed').textContent(), { timeout: 10_000 }).toContain('EscalationResolved');
    await page.screenshot({ path: join(ARTIFACTS, '2-approved.png'), fullPage: true });

    const done = (await waiting).structuredContent as { verdict: string; status: string; decision_id: string };
    expect(done).toEqual(expect.objectContaining({ decision_id: esc.outcome.decision_id, verdict: 'accepted', status: 'approved' }));
    expect(balance(ws)).toBe(before - 27_500);

    // Pause and resume from the agents table.
    const row = page.locator('tr[data-agent="alice"]');
    await row.getByRole('button', { name: 'Pause alice' }).click();
    await expect.poll(() => row.locator('td').nth(1).textContent(), { timeout: 10_000 }).toBe('paused');
    const refused = await alice.call('invoke_capability', { capability: 'payments.get_balance', params: { account: 'operating' } });
    expect(refused.outcome.reasons).toEqual(['AGENT_PAUSED']);
    await row.getByRole('button', { name: 'Resume alice' }).click();
    await expect.poll(() => row.locator('td').nth(1).textContent(), { timeout: 10_000 }).toBe('active');
    await page.screenshot({ path: join(ARTIFACTS, '3-agents.png'), fullPage: true });

    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a viewer sees the queue but cannot approve; a bad key is refused at login', async () => {
    const esc = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 28_000 }), idempotency_key: 'console-2' });
    const page = await (browser as Browser).newPage();
    await page.goto(`${s.url}/console`);
    await page.getByLabel('Operator key').fill('mdt_wrongwrongwrongwrongwrongwrongwrongwrongwro');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.locator('#login-error').textContent(), { timeout: 10_000 }).toMatch(/^Login failed/);

    await page.getByLabel('Operator key').fill(viewerKey);
    await page.getByRole('button', { name: 'Log in' }).click();
    const item = page.locator(`li.approval[data-decision-id="${esc.outcome.decision_id}"]`);
    await item.waitFor({ timeout: 10_000 });
    expect(await item.textContent()).toContain('redacted');
    expect(await item.textContent()).not.toContain('28000');
    expect(await item.getByRole('button', { name: 'Approve' }).isDisabled()).toBe(true);
    expect(await item.getByRole('button', { name: 'Deny' }).isDisabled()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, '4-viewer.png'), fullPage: true });
    // The key lives in this tab's sessionStorage only, and logging out forgets it.
    expect(await page.evaluate('sessionStorage.getItem("mandate.operatorKey")')).toBe(viewerKey);
    await page.getByRole('button', { name: 'Log out' }).click();
    expect(await page.evaluate('sessionStorage.getItem("mandate.operatorKey")')).toBeNull();
    await page.close();
  });
});
