// `mandate policy impact` replays past decisions against a proposed workspace
// from the policy inputs the store keeps beside each decision (ADR-023). After
// 200 real decisions, a tightened limit reports exactly the decisions above
// it, and a loosened forbid exactly the ones it refused; both are checked
// against re-running the same calls for real in a copy of the proposed
// workspace. A stored input that no longer matches its ledger hash is not
// replayed.
import { describe, expect, it } from 'vitest';
import { requireWorkspace } from '../../src/workspace/load.js';
import type { Outcome } from '../../src/core/types.js';
import { policyImpact, type ImpactReport, type VerdictClass } from '../../src/kernel/impact.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import type { Runtime } from '../../src/runtime.js';
import { runCli } from '../helpers/e2e.js';
import { FakeWorld, afterTest, call, copyTemplate, openTest, raw, replaceOnce, setupRuntime, transfer, type Env } from './helpers.js';

const PAYER = `agent: payer
version: 1.0.0
owner: finance@example.com
mission: Pay suppliers.
role: agent
grants:
  - capability: payments.transfer
    limits:
      max:
        amount_minor: 50000
      allowed:
        currency: [EUR]
escalation:
  rules:
    - capability: payments.transfer
      when: context.values.amount_minor > 40000
      reason: large transfers need a human
`;
const BASE = {
  'contracts/payer.yaml': () => PAYER,
  'data/books.json': replaceOnce('"balance_minor": 500000', '"balance_minor": 100000000'),
};
const TIGHTER = { ...BASE, 'contracts/payer.yaml': () => PAYER.replace('amount_minor: 50000', 'amount_minor: 20000') };
const NO_BLOCKING = { ...BASE, 'policies/base.cedar': replaceOnce('when { context.facts has payee_blocked && context.facts.payee_blocked };', 'when { false };') };

const N = 200;
const intentOf = (i: number) => transfer(250 + i * 250, {}, i % 7 === 0 ? { payee: 'shady-llc' } : {});
const classOf = (o: Outcome): VerdictClass => (o.verdict === 'accepted' ? 'allowed' : o.verdict === 'escalated' ? 'escalated' : 'refused');

/** The 200 calls, each a minute apart, on a runtime over `dir`; their outcomes in order. */
async function runCalls(dir: string): Promise<Outcome[]> {
  const world = new FakeWorld();
  const rt = await openTest(dir, world);
  afterTest(() => rt.close());
  return callsOn(rt, world);
}

async function callsOn(rt: Runtime, world: FakeWorld): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (let i = 0; i < N; i++) {
    out.push(await rt.kernel.govern(call('payer', intentOf(i))));
    world.advance(60_000);
  }
  return out;
}

/** A copy of the template with `edit`; its store is made fresh when it is opened. */
function proposal(edit: Record<string, (text: string) => string>): string {
  const ws = copyTemplate(edit);
  afterTest(ws.cleanup);
  return ws.dir;
}

async function impactOf(env: Env, dir: string): Promise<ImpactReport> {
  const proposed = await requireWorkspace(dir);
  return policyImpact(env.rt.store, { contracts: env.rt.workspace.contracts, engine: env.rt.kernel.policy }, { contracts: proposed.contracts, engine: new PolicyEngine(proposed.policySet) }, {});
}

/** Decision ids whose verdict class differs between the original run and a real re-run in the proposed copy. */
function changedByRerun(original: Outcome[], rerun: Outcome[]): Map<string, string> {
  const out = new Map<string, string>();
  original.forEach((o, i) => {
    const again = rerun[i] as Outcome;
    if (classOf(o) !== classOf(again)) out.set(o.decision_id, `${classOf(o)}→${classOf(again)}`);
  });
  return out;
}

describe('policy impact replays stored policy inputs against a proposed workspace', () => {
  it('a tightened limit reports exactly the decisions above it, as re-running them for real does', async () => {
    const tighter = proposal(TIGHTER);
    const env = await setupRuntime(BASE);
    const original = await callsOn(env.rt, env.world);
    expect(new Set(original.map((o) => o.verdict))).toEqual(new Set(['accepted', 'rejected', 'escalated']));
    const report = await impactOf(env, tighter);
    expect(report.replayed).toBe(N);
    expect(report.untrusted).toEqual([]);
    const above = original.filter((o, i) => i % 7 !== 0 && 250 + i * 250 > 20000).map((o) => o.decision_id);
    expect(report.flips.map((f) => f.decision_id).sort()).toEqual([...above].sort());
    expect(new Set(report.flips.map((f) => f.to))).toEqual(new Set(['refused']));
    // Totals: every amount above the new cap, by change.
    const sum = (from: VerdictClass) => report.flips.filter((f) => f.from === from).reduce((s, f) => s + (f.amounts['amount_minor'] ?? 0), 0);
    expect(report.totals['allowed→refused']?.amounts['amount_minor']).toBe(sum('allowed'));
    expect(report.totals['escalated→refused']?.count).toBeGreaterThan(0);
    expect(report.groups).toEqual([{ agent: 'payer', capability: 'payments.transfer', changes: { 'allowed→refused': report.totals['allowed→refused'], 'escalated→refused': report.totals['escalated→refused'] } }]);
    const rerun = changedByRerun(original, await runCalls(tighter));
    expect(new Map(report.flips.map((f) => [f.decision_id, `${f.from}→${f.to}`]))).toEqual(rerun);
  }, 120_000);

  it('a loosened forbid reports exactly the decisions it refused, as re-running them for real does; the CLI exits 1 unless allowed', async () => {
    const open = proposal(NO_BLOCKING);
    const env = await setupRuntime(BASE);
    const original = await callsOn(env.rt, env.world);
    const report = await impactOf(env, open);
    const refusedByForbid = original.filter((o) => o.policies.includes('forbid-blocked-payees')).map((o) => o.decision_id);
    expect(refusedByForbid.length).toBe(Math.ceil(N / 7));
    expect(report.flips.map((f) => f.decision_id).sort()).toEqual([...refusedByForbid].sort());
    expect(new Set(report.flips.map((f) => f.from))).toEqual(new Set(['refused']));
    const rerun = changedByRerun(original, await runCalls(open));
    expect(new Map(report.flips.map((f) => [f.decision_id, `${f.from}→${f.to}`]))).toEqual(rerun);

    const cli = await runCli(['policy', 'impact', '-w', env.dir, '--proposed', open, '--json']);
    expect(cli.code, cli.stderr).toBe(1);
    const json = JSON.parse(cli.stdout) as ImpactReport;
    expect(json.changed).toBe(refusedByForbid.length);
    expect((await runCli(['policy', 'impact', '-w', env.dir, '--proposed', open, '--allow-changes'])).code).toBe(0);
    const none = await runCli(['policy', 'impact', '-w', env.dir, '--proposed', env.dir, '--agent', 'payer']);
    expect(none.stdout).toContain(`replayed ${N} decisions: 0 would change`);
    expect(none.code).toBe(0);
  }, 120_000);

  it('a stored input changed after the fact no longer matches the ledger hash and is not replayed', async () => {
    const env = await setupRuntime(BASE);
    const first = await env.rt.kernel.govern(call('payer', intentOf(1)));
    raw(env.rt).db.prepare("UPDATE decisions SET policy_input = replace(policy_input, '500', '900') WHERE id = ?").run(first.decision_id);
    const report = await impactOf(env, env.dir);
    expect(report.replayed).toBe(0);
    expect(report.untrusted).toEqual([{ decision_id: first.decision_id, why: 'its input does not match the hash on the ledger' }]);
  });
});
