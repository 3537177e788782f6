/**
 * The console's delegation, plan, check and impact pages in a real headless
 * browser (Debian's chromium via playwright-core) against `mandate serve
 * --http`, with data made by real calls: alice delegates through her governed
 * `delegate` tool, an operator delegates one level further through the
 * operator API, the grandchild pays over MCP; alice submits a plan with
 * `submit_plan` and runs its steps. Every figure read from the DOM is compared
 * with the operator API. An operator revokes from the tree's button (the
 * subtree goes, and the grandchild's next call is refused), pauses and resumes
 * alice from her page, resumes a failed plan; a viewer sees none of those
 * buttons. axe-core finds no serious or critical violation on any new page.
 * Screenshots go to test-artifacts/console-delegation-plans/.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, REPO_ROOT, exportLedger, transfer, type Outcome } from './helpers/e2e.js';
import { api, createKey, httpAgent, startHttp, type HttpAgent, type HttpServer } from './helpers/http.js';
import { axeSerious, launchChromium, openConsole } from './helpers/console-browser.js';
import { CHROMIUM, requires } from './helpers/requires.js';

const need = await requires(import.meta.url, [CHROMIUM]);
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'console-delegation-plans');

const e2e = new E2E();
const agents: HttpAgent[] = [];
let s: HttpServer;
let browser: Browser | undefined;
let alice: HttpAgent;
let opKey: string;
let viewerKey: string;
let ws: string;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  ws = await e2e.workspace();
  appendFileSync(join(ws, 'contracts', 'alice.yaml'), '\ndelegation:\n  capabilities: [payments.transfer]\n  max_depth: 2\n');
  const keys = [];
  for (const holder of [{ operator: 'anna' }, { operator: 'vera', role: 'viewer' as const }, { agent: 'alice' }]) keys.push(await createKey(ws, holder));
  [opKey, viewerKey] = [keys[0]?.key as string, keys[1]?.key as string];
  s = await startHttp(ws);
  alice = await httpAgent(s.url, keys[2]?.key as string);
  agents.push(alice);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
  await s?.stop();
  await e2e.cleanup();
});


interface TreeNode {
  agent: string;
  delegation_id: string | null;
  status: string;
  expires_at: string | null;
  grants: { capability: string; budgets: { window: string; field: string; max: number; used: number; remaining: number }[] }[];
  children: TreeNode[];
}

const find = (nodes: TreeNode[], agent: string): TreeNode | undefined => nodes.map((n) => (n.agent === agent ? n : find(n.children, agent))).find(Boolean);
const tree = async (): Promise<TreeNode[]> => (await api(s.url, opKey, '/api/v1/delegations')).body['tree'] as TreeNode[];
const PLAN = 'mandate/plan';

describe.skipIf(need.skip)(need.title('console delegation, plans, check and impact pages in headless chromium'), () => {
  let workerB: HttpAgent;
  let paidByB: Outcome;

  it('the tree shows each sub-mandate with its expiry and remaining budget as the API does; a decision of the grandchild shows its chain up to the human-owned root', async () => {
    // alice delegates through her governed tool; an operator delegates one level further on worker-a's behalf.
    const made = await alice.call('delegate', {
      child: 'worker-a',
      purpose: 'pay acme invoices',
      grants: [{ capability: 'payments.transfer', limits: { max: { amount_minor: 5_000 }, budgets: [{ window: '1d', sum: 'amount_minor', max: 8_000 }] } }],
      expires_in_minutes: 60,
      may_delegate: true,
      max_depth: 1,
    });
    expect(made.outcome.verdict, JSON.stringify(made.outcome)).toBe('accepted');
    const b = await api(s.url, opKey, '/api/v1/delegations', {
      json: { parent: 'worker-a', child: 'worker-b', purpose: 'pay one invoice', grants: [{ capability: 'payments.transfer', limits: { budgets: [{ window: '1d', sum: 'amount_minor', max: 4_000 }] } }], expires_in_minutes: 30, issue_key: true },
    });
    expect(b.status, JSON.stringify(b.body)).toBe(201);
    workerB = await httpAgent(s.url, b.body['key'] as string);
    agents.push(workerB);
    paidByB = (await workerB.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 3_000 }) })).outcome;
    expect(paidByB.verdict).toBe('accepted');

    const nodes = await tree();
    const a = find(nodes, 'worker-a') as TreeNode;
    const bNode = find(nodes, 'worker-b') as TreeNode;
    // Carved, not copied: worker-b's spend counts against worker-a's budget too.
    expect(a.grants[0]?.budgets[0]).toMatchObject({ max: 8_000, used: 3_000, remaining: 5_000 });
    expect(bNode.grants[0]?.budgets[0]).toMatchObject({ max: 4_000, used: 3_000, remaining: 1_000 });

    const { page, done } = await openConsole(browser as Browser, s.url, opKey, '#/delegations');
    await expect.poll(() => page.locator('#delegations-title').textContent(), { timeout: 10_000 }).toBe('Delegations');
    const node = (agent: string) => page.locator(`li.node[data-agent="${agent}"]`);
    await node('worker-b').waitFor({ timeout: 10_000 });
    // worker-b is drawn inside worker-a, inside alice.
    expect(await page.locator('li.node[data-agent="alice"] li.node[data-agent="worker-a"] li.node[data-agent="worker-b"]').count()).toBe(1);
    expect(await node('alice').getAttribute('data-depth')).toBe('0');
    for (const n of [a, bNode]) {
      const card = node(n.agent).locator(':scope > .node-card');
      expect(await node(n.agent).getAttribute('data-status')).toBe(n.status);
      expect(await card.textContent()).toContain(n.delegation_id as string);
      expect(await card.locator('.node-expiry').getAttribute('data-expires')).toBe(n.expires_at);
      const budget = n.grants[0]?.budgets[0];
      const bar = card.locator('.budget[data-field="amount_minor"]');
      expect([Number(await bar.getAttribute('data-used')), Number(await bar.getAttribute('data-limit'))]).toEqual([budget?.used, budget?.max]);
      expect(await bar.locator('.budget-figures').textContent()).toBe(`${budget?.used.toLocaleString('en-US')} of ${budget?.max.toLocaleString('en-US')} used, ${budget?.remaining.toLocaleString('en-US')} left`);
    }
    expect(await page.getByRole('button', { name: 'Revoke worker-a' }).count()).toBe(1);
    expect(await page.locator('#delegations-body').textContent()).not.toContain('null');
    expect(await axeSerious(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, '1-tree.png'), fullPage: true });

    // The grandchild's decision: its chain, root first, as the story API and the ledger give it.
    await page.goto(`${s.url}/console#/decisions/${paidByB.decision_id}`);
    const chain = page.locator('#delegation-chain > li');
    await expect.poll(() => chain.count(), { timeout: 10_000 }).toBe(3);
    const story = (await api(s.url, opKey, `/api/v1/decisions/${paidByB.decision_id}/story`)).body['delegation'] as { root: { agent: string; owner: string }; links: { agent: string; delegation_id: string; status_now: string }[] };
    expect(story.root).toMatchObject({ agent: 'alice', owner: 'finance-team@example.com' });
    expect(story.links.map((l) => [l.agent, l.delegation_id, l.status_now])).toEqual([
      ['worker-a', a.delegation_id, 'live'],
      ['worker-b', bNode.delegation_id, 'live'],
    ]);
    expect(await chain.evaluateAll((lis) => lis.map((li) => [li.getAttribute('data-agent'), li.getAttribute('data-link')]))).toEqual([
      ['alice', 'root'],
      ['worker-a', a.delegation_id],
      ['worker-b', bNode.delegation_id],
    ]);
    expect(await page.locator('.chain-owner').textContent()).toBe('finance-team@example.com');
    const recorded = (await exportLedger(ws)).events.find((e) => e.decision_id === paidByB.decision_id && e.type === 'PolicyDecided');
    expect(recorded?.data['delegation']).toEqual({ chain: ['alice', 'worker-a', 'worker-b'], links: [a.delegation_id, bNode.delegation_id], root_owner: 'finance-team@example.com' });
    expect(await axeSerious(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, '2-decision-chain.png'), fullPage: true });
    await done();
  });

  it('a viewer sees the tree without a revoke button, and no pause button on an agent page', async () => {
    const { page, done } = await openConsole(browser as Browser, s.url, viewerKey, '#/delegations');
    await page.locator('li.node[data-agent="worker-b"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#delegations-body').textContent()).toContain('Read-only');
    expect(await page.getByRole('button', { name: /Revoke/ }).count()).toBe(0);
    await page.goto(`${s.url}/console#/agents/alice`);
    await page.locator('#agent-status').waitFor({ timeout: 10_000 });
    expect(await page.locator('#agent-act').count()).toBe(0);
    // Her place in the tree is on her page too, still without a button.
    expect(await page.locator('.agent-delegation li.node[data-agent="worker-b"]').count()).toBe(1);
    expect(await page.getByRole('button', { name: /Revoke/ }).count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, '3-viewer-tree.png'), fullPage: true });
    await done();
  });

  it('an operator revokes worker-a from its button after a confirm step: the subtree ends as the kernel cascades it, and worker-b\'s next call is refused', async () => {
    // From alice's agent page to her whole tree.
    const { page, done } = await openConsole(browser as Browser, s.url, opKey, '#/agents/alice');
    await page.getByRole('link', { name: 'The whole tree of alice' }).click();
    await expect.poll(() => page.url(), { timeout: 5_000 }).toContain('#/delegations?root=alice');
    // (alice's page, now hidden, drew her tree too: this page's own is under #delegations-body.)
    const treePage = page.locator('#delegations-body');
    await treePage.locator('li.node[data-agent="worker-a"]').waitFor({ timeout: 10_000 });

    await page.getByRole('button', { name: 'Revoke worker-a' }).click();
    // Nothing happened yet: the confirm step names what goes, and has the focus.
    const confirm = treePage.locator('li.node[data-agent="worker-a"] > .node-card > .confirm-wrap > form.confirm');
    expect(await confirm.isVisible()).toBe(true);
    expect(await confirm.textContent()).toContain('the 1 live sub-mandate below it');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Revoke worker-a');
    await page.getByRole('button', { name: 'Cancel' }).click();
    expect(await confirm.isVisible()).toBe(false);
    // Escape closes it too, and the keyboard is back on the button that opened it.
    await page.getByRole('button', { name: 'Revoke worker-a' }).click();
    await page.keyboard.press('Escape');
    expect(await confirm.isVisible()).toBe(false);
    expect(await page.evaluate('document.activeElement.getAttribute("aria-label")')).toBe('Revoke worker-a');
    expect(find(await tree(), 'worker-a')?.status).toBe('live');

    await page.getByRole('button', { name: 'Revoke worker-a' }).click();
    await confirm.getByLabel('Reason (recorded as a hash)').fill('invoices paid');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 10_000 }).toBe('Revoked worker-a: 2 sub-mandates ended (worker-a, worker-b)');
    await expect.poll(() => treePage.locator('li.node[data-agent="worker-b"]').getAttribute('data-status'), { timeout: 10_000 }).toBe('revoked');
    const after = await tree();
    for (const agent of ['worker-a', 'worker-b']) {
      expect(find(after, agent)?.status).toBe('revoked');
      expect(await treePage.locator(`li.node[data-agent="${agent}"]`).getAttribute('data-status')).toBe('revoked');
    }
    expect(await page.getByRole('button', { name: /Revoke/ }).count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, '4-revoked.png'), fullPage: true });
    await done();

    // The ledger: both ended in one revocation, worker-b by cascade from worker-a.
    const ended = (await exportLedger(ws)).events.filter((e) => e.type === 'DelegationRevoked');
    expect(ended.map((e) => [e.agent, e.data['by'], e.data['cascade_from'] ?? null])).toEqual([
      ['worker-a', 'operator:anna', null],
      ['worker-b', 'operator:anna', 'worker-a'],
    ]);
    // worker-b's next call: its key went with its sub-mandate.
    await expect(workerB.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 100 }) })).rejects.toThrow(/401|INVALID_CREDENTIAL/);
  });

  it('an operator pauses and resumes alice from her page; her calls are refused while she is paused', async () => {
    const { page, done } = await openConsole(browser as Browser, s.url, opKey, '#/agents/alice');
    await expect.poll(() => page.locator('#agent-status').textContent(), { timeout: 10_000 }).toBe('active');
    await page.getByRole('button', { name: 'Pause alice' }).click();
    await expect.poll(() => page.locator('#agent-status').textContent(), { timeout: 10_000 }).toBe('paused');
    expect(((await api(s.url, opKey, '/api/v1/agents/alice')).body['agent'] as { status: string }).status).toBe('paused');
    // Focus stays on the button, which now resumes.
    expect(await page.evaluate('document.activeElement.getAttribute("aria-label")')).toBe('Resume alice');
    const refused = await alice.call('payments_transfer', transfer({ amount_minor: 100 }));
    expect(refused.outcome.reasons).toEqual(['AGENT_PAUSED']);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#agent-status').textContent(), { timeout: 10_000 }).toBe('active');
    expect((await alice.call('payments_transfer', transfer({ amount_minor: 100 }))).outcome.verdict).toBe('accepted');
    const acts = await page.locator('table.interventions tbody tr').evaluateAll((trs) => trs.slice(0, 2).map((tr) => [tr.children[0]?.textContent, tr.children[1]?.textContent, tr.children[2]?.textContent]));
    expect(acts).toEqual([
      ['resume', 'applied', 'operator:anna'],
      ['pause', 'applied', 'operator:anna'],
    ]);
    await done();
  });

  it('the plan page shows each step\'s progress and the totals as the report does; a failed plan is resumed from its button and the open page follows it to completed', async () => {
    const step = async (planId: string, amount: number, memo: string): Promise<Outcome> =>
      ((await alice.client.callTool({ name: 'payments_transfer', arguments: transfer({ amount_minor: amount, memo }), _meta: { [PLAN]: planId } })) as CallToolResult).structuredContent as unknown as Outcome;
    const submitted = await alice.call('submit_plan', {
      purpose: 'three invoices',
      steps: [
        { capability: 'payments.transfer', params: transfer({ amount_minor: 1_000, memo: 'a' }) },
        { capability: 'payments.transfer', params: transfer({ amount_minor: 2_000, memo: 'b' }) },
        { capability: 'payments.transfer', params: transfer({ memo: 'c' }), bounds: { amount_minor: { max: 3_000 } } },
      ],
      budgets: [{ capability: 'payments.transfer', window: '1d', sum: 'amount_minor', max: 7_000 }],
    });
    expect(submitted.outcome.verdict, JSON.stringify(submitted.outcome)).toBe('accepted');
    const planId = (submitted.outcome.output as { plan_id: string }).plan_id;
    expect((await step(planId, 1_000, 'a')).verdict).toBe('accepted');
    expect((await step(planId, 9_000, 'z')).reasons).toEqual(['PLAN_STEP_MISMATCH']);
    // The account's currency changes under the plan: step 2's facts drifted, and the plan stops there.
    const books = join(ws, 'data', 'books.json');
    const original = readFileSync(books, 'utf8');
    const book = JSON.parse(original) as { accounts: Record<string, { currency: string }> };
    (book.accounts['operating'] as { currency: string }).currency = 'USD';
    writeFileSync(books, JSON.stringify(book));
    expect((await step(planId, 2_000, 'b')).reasons).toEqual(['STATE_DRIFT']);
    writeFileSync(books, original);

    const report = async () => (await api(s.url, opKey, `/api/v1/plans/${planId}`)).body['report'] as { status: string; failed_step: number; planned: { step: number; status: string; decision_id: string | null }[]; unplanned: { decision_id: string; code: string }[]; missed: number[]; budgets: { used: number; max: number }[] };
    const failed = await report();
    expect(failed).toMatchObject({ status: 'failed', failed_step: 1, missed: [1] });

    // The list, then the plan.
    const { page, done } = await openConsole(browser as Browser, s.url, opKey, '#/plans');
    const row = page.locator(`table.plans tr[data-plan-id="${planId}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('.plan-state').textContent()).toBe('failed at step 2');
    expect(await axeSerious(page)).toEqual([]);
    await row.getByRole('link', { name: planId }).click();
    await expect.poll(() => page.locator('#plan-title').textContent(), { timeout: 10_000 }).toBe(`Plan ${planId}`);
    await page.locator('table.plan-steps').waitFor({ timeout: 10_000 });
    const steps = () => page.locator('table.plan-steps tbody tr').evaluateAll((trs) => trs.map((tr) => [Number(tr.getAttribute('data-step')), tr.getAttribute('data-status'), tr.getAttribute('data-progress')]));
    expect(await steps()).toEqual(failed.planned.map((p) => [p.step, p.status, p.step === 0 ? 'executed' : p.step === 1 ? 'missed' : 'planned']));
    expect(await page.locator('#plan-state').textContent()).toBe('failed at step 2');
    expect(await page.locator('#plan-missed').getAttribute('data-missed')).toBe('1');
    expect(await page.locator('table.plan-unplanned tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-decision-id')))).toEqual(failed.unplanned.map((u) => u.decision_id));
    expect(await page.locator('table.plan-unplanned').textContent()).toContain('PLAN_STEP_MISMATCH');
    const budget = page.locator('.plan-budgets .budget');
    expect([Number(await budget.getAttribute('data-used')), Number(await budget.getAttribute('data-limit'))]).toEqual([failed.budgets[0]?.used, failed.budgets[0]?.max]);
    expect(failed.budgets[0]).toMatchObject({ used: 1_000, max: 7_000 });
    expect(await page.locator('svg.progress-bar').getAttribute('data-done')).toBe('1');
    expect(await axeSerious(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, '5-plan-failed.png'), fullPage: true });

    // A viewer sees the same plan without the buttons.
    const viewer = await openConsole(browser as Browser, s.url, viewerKey, `#/plans/${planId}`);
    await viewer.page.locator('table.plan-steps').waitFor({ timeout: 10_000 });
    expect(await viewer.page.getByRole('button', { name: /Resume|Abandon/ }).count()).toBe(0);
    await viewer.done();

    await page.getByRole('button', { name: `Resume plan ${planId} after step 2` }).click();
    await expect.poll(() => page.locator('#plan-state').textContent(), { timeout: 10_000 }).toBe('running');
    expect((await report()).status).toBe('running');
    expect((await step(planId, 2_500, 'c')).verdict).toBe('accepted');
    // The open page follows the plan's events from the live feed: no reload.
    await expect.poll(() => page.locator('#plan-state').textContent(), { timeout: 10_000 }).toBe('completed');
    const completed = await report();
    expect(completed).toMatchObject({ status: 'completed', missed: [1] });
    expect(await steps()).toEqual([
      [0, 'done', 'executed'],
      [1, 'failed', 'missed'],
      [2, 'done', 'executed'],
    ]);
    expect(await page.locator('.plan-budgets .budget').getAttribute('data-used')).toBe(String(completed.budgets[0]?.used));
    expect(completed.budgets[0]?.used).toBe(3_500);
    expect(await page.getByRole('button', { name: /Resume|Abandon/ }).count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, '6-plan-completed.png'), fullPage: true });
    await done();
  });

  it('the check form answers as POST /api/v1/check does: verdict, reasons, values, facts, policies and who an escalation goes to', async () => {
    const { page, done } = await openConsole(browser as Browser, s.url, opKey, '#/check');
    await page.locator('#check-agent').selectOption('alice');
    await page.locator('#check-capability').fill('payments.transfer');
    const params = transfer({ amount_minor: 27_500 });
    await page.locator('#check-params').fill(JSON.stringify(params));
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    await expect.poll(() => page.locator('#check-verdict').textContent(), { timeout: 10_000 }).toBe('escalated');
    const api1 = (await api(s.url, opKey, '/api/v1/check', { json: { agent: 'alice', capability: 'payments.transfer', params } })).body['check'] as { verdict: string; details: { code: string }[]; policies: string[]; values: Record<string, unknown>; escalation: { approvers: { supervisors: string[] } } };
    expect(api1.verdict).toBe('escalated');
    expect(await page.locator('#check-reasons li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-code')))).toEqual(api1.details.map((d) => d.code));
    expect(await page.locator('#check-policies').textContent()).toBe(api1.policies.join(', '));
    expect(await page.locator('#check-result .values tr[data-field="amount_minor"] td').textContent()).toBe('27500');
    expect(await page.locator('#check-result .facts-used tr[data-field="payee_known"] td').textContent()).toBe('true');
    expect(await page.locator('#check-approvers').textContent()).toBe(['any operator', ...api1.escalation.approvers.supervisors.map((x) => `supervisor ${x}`)].join(', '));
    expect(await axeSerious(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, '7-check-escalated.png'), fullPage: true });

    await page.locator('#check-params').fill(JSON.stringify(transfer({ amount_minor: 60_000 })));
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    await expect.poll(() => page.locator('#check-verdict').textContent(), { timeout: 10_000 }).toBe('rejected');
    expect(await page.locator('#check-reasons').textContent()).toContain('LIMIT_EXCEEDED');
    // Nothing ran: no decision was opened by either check.
    const decisions = (await api(s.url, opKey, '/api/v1/agents/alice/overview')).body['decisions'] as { capability: string; outcome: { reasons: string[] } | null }[];
    expect(decisions.filter((d) => d.outcome?.reasons.includes('LIMIT_EXCEEDED'))).toEqual([]);
    await done();
  });

  it('the impact page replays past decisions against an edited contract as POST /api/v1/policy/impact does; a broken proposal lists its problems; nothing is written', async () => {
    const before = readFileSync(join(ws, 'contracts', 'alice.yaml'), 'utf8');
    const { page, done } = await openConsole(browser as Browser, s.url, opKey, '#/impact');
    await page.locator('#impact-file').selectOption('contracts/alice.yaml');
    const tightened = before.replace('amount_minor: 50000', 'amount_minor: 2000');
    expect(tightened).not.toBe(before);
    await page.locator('#impact-text').fill(tightened);
    expect(await page.locator('#impact-changed').textContent()).toBe('Changed: contracts/alice.yaml');
    await page.getByRole('button', { name: 'Show impact' }).click();
    const result = page.locator('#impact-result');
    await result.waitFor({ timeout: 20_000 });
    const fromApi = (await api(s.url, opKey, '/api/v1/policy/impact', { json: { contracts: { files: { 'alice.yaml': tightened } } } })).body['impact'] as { replayed: number; changed: number; flips: { decision_id: string; from: string; to: string; amounts: Record<string, number> }[] };
    expect(fromApi.changed).toBeGreaterThan(0);
    expect([Number(await result.getAttribute('data-replayed')), Number(await result.getAttribute('data-changed'))]).toEqual([fromApi.replayed, fromApi.changed]);
    expect(await page.locator('table.impact-flips tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-decision-id'), tr.getAttribute('data-change')]))).toEqual(fromApi.flips.map((f) => [f.decision_id, `${f.from}→${f.to}`]));
    // Tightened to 20.00: what was allowed above it would now be refused (worker-b's 30.00 was decided as alice, its root).
    expect(fromApi.flips.map((f) => f.decision_id)).toContain(paidByB.decision_id);
    expect(new Set(fromApi.flips.map((f) => `${f.from}→${f.to}`))).toEqual(new Set(['allowed→refused']));
    // Its amount counts in the totals by the root's grant.
    expect(fromApi.flips.find((f) => f.decision_id === paidByB.decision_id)?.amounts).toEqual({ amount_minor: 3_000 });
    expect(await axeSerious(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, '8-impact.png'), fullPage: true });

    await page.locator('#impact-text').fill(`${tightened}\ngrants: [oops`);
    await page.getByRole('button', { name: 'Show impact' }).click();
    await expect.poll(() => page.locator('.impact-problems').count(), { timeout: 10_000 }).toBe(1);
    expect(await page.locator('.impact-problems').textContent()).toContain('contracts/alice.yaml');

    // Back to the workspace as it is, plus a new policy file that forbids every transfer.
    await page.getByRole('button', { name: 'Undo my edits' }).click();
    await page.locator('#impact-new').fill('../escape.cedar');
    await page.getByRole('button', { name: 'Add file' }).click();
    expect(await page.locator('#impact-changed').textContent()).toContain('Cannot add');
    await page.locator('#impact-new').fill('stop.cedar');
    await page.getByRole('button', { name: 'Add file' }).click();
    expect(await page.locator('#impact-file').inputValue()).toBe('policies/stop.cedar');
    const stop = '@id("stop-transfers")\nforbid (principal, action, resource == Mandate::Capability::"payments.transfer");\n';
    await page.locator('#impact-text').fill(stop);
    expect(await page.locator('#impact-changed').textContent()).toBe('Changed: policies/stop.cedar');
    await page.getByRole('button', { name: 'Show impact' }).click();
    await expect.poll(() => page.locator('#impact-result').getAttribute('data-changed'), { timeout: 20_000 }).not.toBeNull();
    const forbidden = (await api(s.url, opKey, '/api/v1/policy/impact', { json: { policies: { files: { 'stop.cedar': stop } } } })).body['impact'] as { changed: number; totals: Record<string, { count: number }> };
    expect(forbidden.changed).toBeGreaterThan(fromApi.changed);
    expect(Number(await page.locator('#impact-result').getAttribute('data-changed'))).toBe(forbidden.changed);
    expect(await page.locator('table.impact-totals tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-change'), Number(tr.children[1]?.textContent)]))).toEqual(Object.entries(forbidden.totals).map(([c, t]) => [c, t.count]));
    await done();
    expect(existsSync(join(ws, 'policies', 'stop.cedar'))).toBe(false);
    expect(readFileSync(join(ws, 'contracts', 'alice.yaml'), 'utf8')).toBe(before);
  });

  it('POST /api/v1/policy/impact takes file names, never paths, is for operators only, and refuses an empty or broken proposal with a structured error', async () => {
    const escape = await api(s.url, opKey, '/api/v1/policy/impact', { json: { contracts: { files: { '../mandate.yaml': 'x: 1' } } } });
    expect([escape.status, (escape.body['error'] as { code: string }).code]).toEqual([400, 'INVALID_REQUEST']);
    const nested = await api(s.url, opKey, '/api/v1/policy/impact', { json: { policies: { files: { 'sub/x.cedar': 'permit(principal, action, resource);' } } } });
    expect(nested.status).toBe(400);
    expect((await api(s.url, opKey, '/api/v1/policy/impact', { json: {} })).status).toBe(400);
    expect((await api(s.url, viewerKey, '/api/v1/policy/impact', { json: { policies: { remove: ['base.cedar'] } } })).status).toBe(403);
    expect((await api(s.url, viewerKey, '/api/v1/policy/files')).status).toBe(403);
    const broken = await api(s.url, opKey, '/api/v1/policy/impact', { json: { policies: { files: { 'extra.cedar': 'permit(principal' } } } });
    expect(broken.status).toBe(422);
    const err = broken.body['error'] as { code: string; problems: { file: string }[] };
    expect(err.code).toBe('PROPOSED_SET_INVALID');
    expect(err.problems.map((p) => p.file)).toContain('policies/extra.cedar');
    // A forbid laid over the workspace's policies: every allowed decision of alice's would be refused.
    const forbid = await api(s.url, opKey, '/api/v1/policy/impact', { json: { policies: { files: { 'stop.cedar': '@id("stop-everything")\nforbid (principal, action, resource);' } }, agent: 'alice' } });
    expect(forbid.status, JSON.stringify(forbid.body)).toBe(200);
    const impact = forbid.body['impact'] as { changed: number; unchanged: number; totals: Record<string, { count: number }> };
    expect(impact.changed).toBeGreaterThan(0);
    expect(Object.keys(impact.totals).every((c) => c.endsWith('→refused'))).toBe(true);
  });
});
