/**
 * The console's pages in a real headless browser (Debian's chromium driven by
 * playwright-core), against `mandate serve --http` on a fresh workspace:
 * an approver sees the exact call and approves it with the keyboard alone, a
 * viewer sees it redacted, the ledger holds no params; the budget bars and
 * monitor charts show what the store holds; a decision opened by DFID shows
 * its lineage and its receipt verifies in the page's own Web Crypto (and a
 * changed one fails); the feed filters live in the URL; the agent page shows
 * the contract and the interventions; axe-core finds no serious or critical
 * violation. Screenshots go to test-artifacts/console-pages/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, REPO_ROOT, exportLedger, runCli, transfer } from './helpers/e2e.js';
import { FIXTURES, NODE, appendConfig, pin, writeContract, y } from './helpers/gateway.js';
import { api, createKey, httpAgent, startHttp, type HttpAgent, type HttpServer } from './helpers/http.js';
import { axeSerious, launchChromium, openConsole } from './helpers/console-browser.js';
import { CHROMIUM, requires } from './helpers/requires.js';

const need = await requires(import.meta.url, [CHROMIUM]);
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'console-pages');

const e2e = new E2E();
let s: HttpServer;
let browser: Browser | undefined;
let alice: HttpAgent;
let gw: HttpAgent;
let opKey: string;
let viewerKey: string;
let ws: string;
/** The escalation the first test approves; later tests open its decision page. */
let approved: { decision_id: string; dfid: string };

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  ws = await e2e.workspace();
  // An upstream MCP server behind the gateway, for a decision with an upstream call.
  writeFileSync(join(ws, 'state.json'), JSON.stringify({ description: 'Say hello to someone by name.' }));
  appendConfig(ws, `upstreams:\n  drift:\n    command: ${y(NODE)}\n    args: [${y(join(FIXTURES, 'drifting.mjs'))}, state.json]`);
  writeContract(ws, 'gw', 'grants:\n  - capability: drift.greet\n');
  await pin(ws, 'drift');
  // One CLI at a time: four at once can outlast the CLI's bound on a loaded machine.
  const keys = [];
  for (const holder of [{ operator: 'anna' }, { operator: 'vera', role: 'viewer' as const }, { agent: 'alice' }, { agent: 'gw' }]) keys.push(await createKey(ws, holder));
  [opKey, viewerKey] = [keys[0]?.key as string, keys[1]?.key as string];
  s = await startHttp(ws);
  alice = await httpAgent(s.url, keys[2]?.key as string);
  gw = await httpAgent(s.url, keys[3]?.key as string);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await alice?.close().catch(() => undefined);
  await gw?.close().catch(() => undefined);
  await s?.stop();
  await e2e.cleanup();
});


describe.skipIf(need.skip)(need.title('console pages in headless chromium'), () => {
  it('an operator approves a transfer with the keyboard alone, seeing its amount, payee and request hash; a viewer sees it redacted; the ledger holds no params', async () => {
    const esc = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 27_500, payee: 'acme-supplies' }), idempotency_key: 'pages-1' });
    expect(esc.outcome.verdict).toBe('escalated');
    approved = { decision_id: esc.outcome.decision_id, dfid: esc.outcome.dfid };
    const sel = `li.approval[data-decision-id="${esc.outcome.decision_id}"]`;

    // The viewer: the same approval, the request hash, no params.
    const viewer = await openConsole(browser as Browser, s.url, viewerKey);
    const seen = viewer.page.locator(sel);
    await seen.waitFor({ timeout: 10_000 });
    const viewerText = (await seen.textContent()) ?? '';
    expect(viewerText).toContain('redacted');
    expect(viewerText).not.toContain('27500');
    expect(viewerText).not.toContain('acme-supplies');
    await viewer.page.screenshot({ path: join(ARTIFACTS, '1-viewer-redacted.png'), fullPage: true });
    await viewer.done();

    // The operator API, the CLI and the page show one view of the call.
    const fromApi = (await api(s.url, opKey, `/api/v1/approvals/${esc.outcome.decision_id}`)).body['approval'] as Record<string, unknown>;
    const cli = await runCli(['approvals', 'show', esc.outcome.decision_id, '-w', ws]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toEqual(fromApi);
    expect(fromApi['params']).toEqual(transfer({ amount_minor: 27_500, payee: 'acme-supplies' }));

    const { page, done } = await openConsole(browser as Browser, s.url, opKey);
    const item = page.locator(sel);
    await item.waitFor({ timeout: 10_000 });
    expect(await item.locator('.params tr[data-field="amount_minor"] td').textContent()).toBe('27500');
    expect(await item.locator('.params tr[data-field="payee"] td').textContent()).toBe('acme-supplies');
    expect(await item.locator('.values tr[data-field="amount_minor"] td').textContent()).toBe('27500');
    expect(await item.locator('.facts-used tr[data-field="payee_known"] td').textContent()).toBe('true');
    expect(await item.textContent()).toContain(fromApi['request_hash'] as string);
    expect(await item.textContent()).toContain('ESCALATION_REQUIRED');
    const serious = await axeSerious(page);
    expect(serious).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, '2-approver-sees-the-call.png'), fullPage: true });

    // Keyboard only: Tab from the top of the page to the reason field, type, Tab to Approve, Enter.
    const reasonId = `reason-${esc.outcome.decision_id}`;
    await page.locator('body').focus();
    let tabs = 0;
    while ((await page.evaluate('document.activeElement && document.activeElement.id')) !== reasonId) {
      expect(++tabs, 'the reason field is reachable with Tab').toBeLessThan(200);
      await page.keyboard.press('Tab');
    }
    await page.keyboard.type('invoice 77 matches the order');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Approve');
    await page.keyboard.press('Enter');
    await item.waitFor({ state: 'detached', timeout: 10_000 });
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 10_000 }).toMatch(/^Approved payments\.transfer for alice: accepted \(approved\)/);
    await done();

    // Content safety: the ledger has hashes, never the amount or the payee.
    const ledger = await exportLedger(ws);
    expect(ledger.raw).not.toContain('27500');
    expect(ledger.raw).not.toContain('acme-supplies');
    expect(ledger.events.some((e) => e.type === 'EscalationResolved')).toBe(true);
  });

  it('after a scripted series of calls the budget bars, the monitor chart and the rate chart show what the store holds', async () => {
    for (const [i, amount] of [1_000, 2_000, 3_000].entries()) {
      const g = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: amount }), idempotency_key: `pages-small-${i}` });
      expect(g.outcome.verdict).toBe('accepted');
    }
    const over = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 60_000 }), idempotency_key: 'pages-over' });
    expect(over.outcome.verdict).toBe('rejected');

    const budgets = (await api(s.url, opKey, '/api/v1/budgets')).body['agents'] as { agent: string; budgets: { capability: string; field: string; window: string; used: number; limit: number }[] }[];
    const aliceBudgets = budgets.find((a) => a.agent === 'alice')?.budgets ?? [];
    // The four executed transfers (the approved one and three small ones): what the contract's budgets count.
    expect(aliceBudgets).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ capability: 'payments.transfer', field: 'amount_minor', window: '1d', used: 27_500 + 6_000, limit: 200_000 }),
        expect.objectContaining({ capability: 'payments.transfer', field: '_calls', window: '1h', used: 4, limit: 30 }),
      ]),
    );
    const monitors = (await api(s.url, opKey, '/api/v1/monitors')).body['monitors'] as { agent: string; monitor: string; value: number; threshold: number; samples: unknown[] }[];
    const drift = monitors.find((m) => m.agent === 'alice' && m.monitor === 'large-transfer-drift');
    expect(drift).toEqual(expect.objectContaining({ value: (27_500 + 6_000) / 4, threshold: 40_000 }));
    expect(drift?.samples).toHaveLength(4);

    const { page, done } = await openConsole(browser as Browser, s.url, opKey);
    const bar = (field: string) => page.locator(`.agent-budgets[data-agent="alice"] .budget[data-field="${field}"]`);
    await expect.poll(() => bar('amount_minor').getAttribute('data-used'), { timeout: 10_000 }).toBe('33500');
    for (const b of aliceBudgets) {
      const node = page.locator(`#budgets .agent-budgets[data-agent="alice"] .budget[data-field="${b.field}"][data-window="${b.window}"]`);
      expect(Number(await node.getAttribute('data-used'))).toBe(b.used);
      expect(Number(await node.getAttribute('data-limit'))).toBe(b.limit);
      // The bar's drawn length is the used share of its 240-pixel track.
      expect(Number(await node.locator('rect.used').getAttribute('width'))).toBeCloseTo((240 * b.used) / b.limit, 0);
    }
    expect(await bar('amount_minor').locator('.budget-figures').textContent()).toBe('33,500 of 200,000 used, 166,500 left');

    const chart = page.locator('#monitors figure[data-agent="alice"][data-monitor="large-transfer-drift"]');
    expect(Number(await chart.getAttribute('data-value'))).toBe(drift?.value);
    expect(Number(await chart.getAttribute('data-threshold'))).toBe(40_000);
    expect(await chart.locator('circle.sample').count()).toBe(4);
    expect(await chart.locator('circle.sample').evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('data-value'))))).toEqual([27_500, 1_000, 2_000, 3_000]);
    expect(await chart.locator('line.threshold').count()).toBe(1);

    const rate = (await api(s.url, opKey, '/api/v1/stats/decisions?minutes=60')).body['minutes'] as { accepted: number; rejected: number; escalated: number }[];
    const sum = (k: 'accepted' | 'rejected' | 'escalated') => rate.reduce((a, b) => a + b[k], 0);
    expect(sum('accepted')).toBeGreaterThanOrEqual(3);
    expect(sum('rejected')).toBeGreaterThanOrEqual(1);
    expect(sum('escalated')).toBeGreaterThanOrEqual(1);
    await expect.poll(() => page.locator('#rate figure').getAttribute('data-accepted'), { timeout: 10_000 }).toBe(String(sum('accepted')));
    expect(await page.locator('#rate figure').getAttribute('data-rejected')).toBe(String(sum('rejected')));
    expect(await page.locator('#rate figure').getAttribute('data-escalated')).toBe(String(sum('escalated')));
    await page.screenshot({ path: join(ARTIFACTS, '3-charts.png'), fullPage: true });
    await done();
  });

  it('a decision page opened by DFID shows the full lineage with hashes and chain positions; its receipt verifies in the page, and a changed receipt fails', async () => {
    const { page, done } = await openConsole(browser as Browser, s.url, opKey);
    await page.getByLabel('Decision id or DFID').fill(approved.dfid);
    await page.getByRole('button', { name: 'Open' }).click();
    await expect.poll(() => page.locator('#decision-title').textContent(), { timeout: 10_000 }).toBe(`Decision ${approved.decision_id}`);
    expect(page.url()).toContain(`#/decisions/${approved.dfid}`);

    const ledger = (await exportLedger(ws)).events.filter((e) => e.decision_id === approved.decision_id);
    const shown = await page.locator('.timeline > li').evaluateAll((lis) => lis.map((li) => ({ seq: Number(li.getAttribute('data-seq')), type: li.getAttribute('data-type'), hash: li.querySelector('.hash')?.textContent })));
    expect(shown).toEqual(ledger.map((e) => ({ seq: e.seq, type: e.type, hash: e.hash })));
    expect(shown.map((e) => e.type)).toEqual(expect.arrayContaining(['IntentReceived', 'PolicyDecided', 'EscalationOpened', 'EscalationResolved', 'ActionStarted', 'ActionOutcome']));
    const approval = (await page.locator('.approval-facts').textContent()) ?? '';
    expect(approval).toContain('approved');
    expect(approval).toContain('anna');
    // The operator sees the call here too.
    expect(await page.locator('#decision-body .params tr[data-field="amount_minor"] td').textContent()).toBe('27500');

    await page.getByRole('button', { name: 'Verify receipt' }).click();
    const result = page.locator('#receipt-result');
    await expect.poll(() => result.getAttribute('class'), { timeout: 10_000 }).toContain('pass');
    expect(await result.textContent()).toContain('VERIFIED in this browser');
    for (const check of ['key', 'signature', 'event', 'link', 'request']) expect(await result.locator(`li[data-check="${check}"]`).getAttribute('class')).toBe('ok');
    await page.screenshot({ path: join(ARTIFACTS, '4-decision-verified.png'), fullPage: true });
    expect(await axeSerious(page)).toEqual([]);

    // A receipt whose verdict was changed: the signature no longer holds.
    const original = await page.locator('#receipt-json').inputValue();
    await page.locator('#receipt-json').fill(original.replace('"verdict": "accepted"', '"verdict": "rejected"'));
    await page.getByRole('button', { name: 'Verify receipt' }).click();
    await expect.poll(() => result.getAttribute('class'), { timeout: 10_000 }).toContain('fail');
    expect(await result.locator('li[data-check="signature"]').getAttribute('class')).toBe('bad');
    // One that points at another ledger position: the signature and the chain check fail.
    const receipt = JSON.parse(original) as { seq: number };
    await page.locator('#receipt-json').fill(original.replace(`"seq": ${receipt.seq}`, `"seq": ${receipt.seq - 1}`));
    await page.getByRole('button', { name: 'Verify receipt' }).click();
    await expect.poll(() => result.locator('li[data-check="event"]').getAttribute('class'), { timeout: 10_000 }).toBe('bad');
    expect(await result.textContent()).toContain('FAILS verification');
    await page.screenshot({ path: join(ARTIFACTS, '5-decision-tampered.png'), fullPage: true });
    await done();
  });

  it('the feed filters live in the URL; the agent page shows the contract, budgets, decisions and interventions with their lifecycle', async () => {
    for (const act of ['pause', 'resume']) expect((await api(s.url, opKey, '/api/v1/interventions', { json: { act, agent: 'alice', reason: `${act} for the agent page` } })).status).toBe(200);

    const { page, done } = await openConsole(browser as Browser, s.url, opKey, '#/?agent=alice&verdict=rejected');
    await expect.poll(() => page.locator('#feed li').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await page.locator('#filter-verdict').inputValue()).toBe('rejected');
    expect(await page.locator('#filter-agent').inputValue()).toBe('alice');
    expect(new Set(await page.locator('#feed li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-verdict'))))).toEqual(new Set(['rejected']));
    expect(await page.locator('#feed').textContent()).toContain('LIMIT');
    // The feed drawn: the last five minutes of the shown events, by verdict (only rejections pass this filter).
    expect(Number(await page.locator('#feed-strip figure').getAttribute('data-rejected'))).toBeGreaterThanOrEqual(1);
    expect(await page.locator('#feed-strip figure').getAttribute('data-accepted')).toBe('0');

    await page.locator('#filter-verdict').selectOption('escalated');
    await expect.poll(() => page.url(), { timeout: 5_000 }).toContain('verdict=escalated');
    expect(page.url()).toContain('agent=alice');
    expect(new Set(await page.locator('#feed li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-verdict'))))).toEqual(new Set(['escalated']));
    await page.locator('#filter-capability').fill('payments.get_balance');
    await page.locator('#filter-capability').press('Enter');
    await expect.poll(() => page.url(), { timeout: 5_000 }).toContain('capability=payments.get_balance');
    expect(await page.locator('#feed li').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, '6-feed-filtered.png'), fullPage: true });
    // A reload keeps the filters: they are the URL.
    await page.reload();
    await page.locator('#app').waitFor({ timeout: 10_000 });
    await expect.poll(() => page.locator('#filter-capability').inputValue(), { timeout: 10_000 }).toBe('payments.get_balance');
    await page.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(() => page.url(), { timeout: 5_000 }).toMatch(/#\/$/);

    // The agent page, from the agents table.
    await page.locator('#agents tr[data-agent="alice"] th a').click();
    await expect.poll(() => page.locator('#agent-title').textContent(), { timeout: 10_000 }).toBe('Agent alice');
    const body = page.locator('#agent-body');
    await body.locator('.contract').waitFor({ timeout: 10_000 });
    expect(await page.locator('#agent-status').textContent()).toBe('active');
    const contract = (await body.locator('.contract').textContent()) ?? '';
    for (const text of ['payments.transfer', 'amount_minor 50000', 'transfers above 100.00 need a human approval', 'large-transfer-drift', 'cumulative', 'finance-team@example.com']) expect(contract).toContain(text);
    expect(await body.locator('.budget[data-field="amount_minor"]').getAttribute('data-used')).toBe('33500');
    expect(await body.locator('figure[data-monitor="large-transfer-drift"] circle.sample').count()).toBe(4);
    const overview = (await api(s.url, opKey, '/api/v1/agents/alice/overview')).body as { decisions: { decision_id: string }[]; interventions: { act: string; state: string }[] };
    expect(await body.locator('table.decisions tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-decision-id')))).toEqual(overview.decisions.map((d) => d.decision_id));
    expect(overview.decisions.map((d) => d.decision_id)).toContain(approved.decision_id);
    const rows = await body.locator('table.interventions tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.children[0]?.textContent, tr.children[1]?.textContent]));
    expect(rows).toEqual(overview.interventions.map((i) => [i.act, i.state]));
    expect(rows.map((r) => r[0])).toEqual(expect.arrayContaining(['pause', 'resume']));
    expect(await axeSerious(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, '7-agent.png'), fullPage: true });
    await done();
  });

  it('a gateway call\'s decision page names the upstream server and tool, and carries the very receipt the agent was given', async () => {
    const g = await gw.call('invoke_capability', { capability: 'drift.greet', params: { name: 'bob' } });
    expect(g.outcome.verdict).toBe('accepted');
    const given = (g.result.structuredContent as { signed_receipt?: unknown }).signed_receipt;
    expect(given).toEqual(expect.objectContaining({ decision_id: g.outcome.decision_id, verdict: 'accepted' }));
    const story = (await api(s.url, opKey, `/api/v1/decisions/${g.outcome.decision_id}/story`)).body;
    expect(story['upstream']).toEqual(expect.objectContaining({ server: 'drift', tool: 'greet', ran: true, upstream_error: false }));
    expect(story['signed_receipt']).toEqual(given);

    const { page, done } = await openConsole(browser as Browser, s.url, opKey, `#/decisions/${g.outcome.decision_id}`);
    await expect.poll(() => page.locator('#decision-title').textContent(), { timeout: 10_000 }).toBe(`Decision ${g.outcome.decision_id}`);
    const upstream = page.locator('section[aria-labelledby="upstream-title"]');
    await upstream.waitFor({ timeout: 10_000 });
    expect(await upstream.textContent()).toContain('drift');
    expect(await upstream.textContent()).toContain('greet');
    expect(JSON.parse(await page.locator('#receipt-json').inputValue())).toEqual(given);
    await page.getByRole('button', { name: 'Verify receipt' }).click();
    await expect.poll(() => page.locator('#receipt-result').getAttribute('class'), { timeout: 10_000 }).toContain('pass');
    await page.screenshot({ path: join(ARTIFACTS, '8-upstream-decision.png'), fullPage: true });
    await done();
  });

  it('the viewer API stays content-safe: no params in the decision story, no per-call samples of a field monitor', async () => {
    const story = (await api(s.url, viewerKey, `/api/v1/decisions/${approved.decision_id}/story`)).body;
    expect(story['call']).toEqual(expect.objectContaining({ params: null, values: null, facts: null, params_redacted: true }));
    expect(JSON.stringify(story)).not.toContain('acme-supplies');
    const monitors = (await api(s.url, viewerKey, '/api/v1/monitors')).body['monitors'] as { monitor: string; samples: unknown; value: number | null }[];
    expect(monitors.find((m) => m.monitor === 'large-transfer-drift')).toEqual(expect.objectContaining({ samples: null, value: (27_500 + 6_000) / 4 }));
    // The rate monitor's samples are 0 or 1 (failed or not): no call's content.
    expect(monitors.find((m) => m.monitor === 'failing-transfers')?.samples).toEqual(expect.any(Array));
  });
});
