// Decimal amounts reach Cedar as `decimal`, are decided by a Cedar rule at
// the boundary, and policies are type-checked against the generated schema.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkspace } from '../../src/workspace/load.js';
import { cedarDecimal } from '../../src/policy/cedar-values.js';
import { afterTest, call, copyTemplate, eventsOf, FakeWorld, openTest, ROOT, typesOf } from './helpers.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'workbench');

/** The template plus a refunds capability (amount in EUR with cents), its contract and its policies. */
function refundsWorkspace(policy?: string): string {
  const ws = copyTemplate();
  afterTest(ws.cleanup);
  copyFileSync(join(FIXTURES, 'refunds.mjs'), join(ws.dir, 'capabilities', 'refunds.mjs'));
  copyFileSync(join(FIXTURES, 'refunder.yaml'), join(ws.dir, 'contracts', 'refunder.yaml'));
  writeFileSync(join(ws.dir, 'policies', 'refunds.cedar'), policy ?? readFileSync(join(FIXTURES, 'refunds.cedar'), 'utf8'));
  mkdirSync(join(ws.dir, 'data'), { recursive: true });
  return ws.dir;
}

const refund = (amount_eur: number, order_id = 'order-1') => ({ capability: 'refunds.issue', params: { order_id, amount_eur, reason: 'damaged' } });

describe('decimal amounts in policies', () => {
  it('a decimal refund at 299.99, 500.00 and 500.01 is decided by a Cedar rule at its boundary', async () => {
    const rt = await openTest(refundsWorkspace(), new FakeWorld());
    afterTest(() => rt.close());
    const small = await rt.kernel.govern(call('refunder', refund(299.99)));
    const atBound = await rt.kernel.govern(call('refunder', refund(500.0, 'order-2')));
    const above = await rt.kernel.govern(call('refunder', refund(500.01, 'order-3')));
    expect([small.verdict, small.reasons]).toEqual(['accepted', []]);
    expect([atBound.verdict, atBound.reasons]).toEqual(['accepted', []]);
    expect([above.verdict, above.reasons]).toEqual(['escalated', ['ESCALATION_REQUIRED']]);
    expect(above.policies).toContain('escalate-large-refunds');
    // A fact typed integer still compares with `>`: a 20-day-old order is forbidden.
    const old = await rt.kernel.govern(call('refunder', refund(10.5, 'old-order')));
    expect([old.verdict, old.reasons, old.policies]).toEqual(['rejected', ['POLICY_FORBID'], ['forbid-old-orders']]);
  });

  it('a contract cap on a decimal field is compiled with decimal methods and holds at 2000.00', async () => {
    const rt = await openTest(refundsWorkspace(), new FakeWorld());
    afterTest(() => rt.close());
    const grant = rt.workspace.policySet.policies['contract.refunder.grant.refunds.issue'];
    expect(grant?.text).toContain('context.values["amount_eur"].lessThanOrEqual(decimal("2000.0"))');
    const over = await rt.kernel.govern(call('refunder', refund(2000.01)));
    expect(over.reasons).toEqual(['CONTRACT_LIMIT_EXCEEDED']);
    expect(over.details[0]?.message).toBe('`amount_eur` is 2000.01, above its cap of 2000');
  });

  it('a value beyond decimal precision is refused with its own reason and path, never rounded', async () => {
    const rt = await openTest(refundsWorkspace(), new FakeWorld());
    afterTest(() => rt.close());
    const outcome = await rt.kernel.govern(call('refunder', refund(299.99999)));
    expect(outcome.verdict).toBe('rejected');
    expect(outcome.reasons).toEqual(['POLICY_VALUE_INVALID']);
    expect(outcome.details[0]?.path).toBe('amount_eur');
    expect(outcome.details[0]?.message).toMatch(/4 decimal places/);
    // Refused as DIM refuses: the intent is never recorded as validated.
    expect(typesOf(rt, outcome.decision_id)).toEqual(['IntentReceived', 'IntentRejected']);
    const rejected = eventsOf(rt, outcome.decision_id).find((e) => e.type === 'IntentRejected');
    expect(rejected?.data['checks']).toEqual([{ code: 'POLICY_VALUE_INVALID', path: 'amount_eur' }]);
    expect(JSON.stringify(rejected)).not.toContain('299.99999');
  });

  it('cedarDecimal: exact literals only', () => {
    expect(cedarDecimal(299.99)).toBe('299.99');
    expect(cedarDecimal(500)).toBe('500.0');
    expect(cedarDecimal(-0.0001)).toBe('-0.0001');
    expect(cedarDecimal(0.00001)).toBeNull();
    expect(cedarDecimal(0.1 + 0.2)).toBeNull();
    expect(cedarDecimal(1e21)).toBeNull();
    expect(cedarDecimal(922337203685477)).toBeNull();
  });
});

describe('typed policies', () => {
  it('validate reports a decimal compared with `>` at its file, line and column, with a fix hint', async () => {
    const dir = refundsWorkspace('// refunds\n@id("large-refunds")\nforbid (principal, action, resource == Mandate::Capability::"refunds.issue")\nwhen { context.values.amount_eur > 500 };\n');
    const { workspace, problems } = await loadWorkspace(dir);
    expect(workspace).toBeNull();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: 'policies/refunds.cedar', path: 'line 4, column 8 (@id large-refunds)' });
    expect(problems[0]?.message).toMatch(/expected Long but saw decimal in `context.values.amount_eur`/);
    expect(problems[0]?.hint).toMatch(/greaterThan\(decimal\("500.00"\)\)/);
  });

  it('validate reports a field that does not exist, naming the fields that do', async () => {
    const dir = refundsWorkspace('@id("typo")\nforbid (principal, action, resource == Mandate::Capability::"refunds.issue")\nwhen { context.values.amount > 5 };\n');
    const { problems } = await loadWorkspace(dir);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe('line 3, column 8 (@id typo)');
    expect(problems[0]?.message).toMatch(/attribute `values.amount` .* not found/);
    expect(problems[0]?.hint).toMatch(/did you mean `amount_eur`\? Its values, most alike first: amount_eur, reason, order_id; its facts: order_age_days/);
  });

  it('a contract\'s escalation rule is checked against the capability its grant governs', async () => {
    const dir = refundsWorkspace();
    writeFileSync(join(dir, 'contracts', 'refunder.yaml'), `${readFileSync(join(FIXTURES, 'refunder.yaml'), 'utf8')}escalation:\n  rules:\n    - { capability: refunds.issue, when: "context.values.amount_eur > 100", reason: big }\n`);
    const { problems } = await loadWorkspace(dir);
    expect(problems.map((p) => `${p.file} ${p.path}`)).toEqual(['contracts/refunder.yaml escalation.rules.0.when']);
  });
});

describe('facts against their declared shape', () => {
  it('a fact that does not match its factsSchema is refused with its path, not passed to Cedar as another type', async () => {
    const dir = refundsWorkspace();
    const mod = join(dir, 'capabilities', 'refunds.mjs');
    writeFileSync(mod, readFileSync(mod, 'utf8').replace("order_age_days: params.order_id === 'old-order' ? 20 : 3", "order_age_days: params.order_id === 'old-order' ? 'twenty' : 3"));
    const rt = await openTest(dir, new FakeWorld());
    afterTest(() => rt.close());
    expect((await rt.kernel.govern(call('refunder', refund(10)))).verdict).toBe('accepted');
    const odd = await rt.kernel.govern(call('refunder', refund(10, 'old-order')));
    expect(odd.reasons).toEqual(['POLICY_VALUE_INVALID']);
    expect(odd.details).toEqual([{ code: 'POLICY_VALUE_INVALID', path: 'facts.order_age_days', message: '`facts.order_age_days` is not an integer, as its schema declares' }]);
  });

  it('a field with a default is typed as always present: a policy may read it without `has`', async () => {
    const dir = refundsWorkspace('@id("no-silent-overwrite")\nforbid (principal, action, resource == Mandate::Capability::"files.write")\nwhen { context.values.overwrite && !context.facts.exists };\n');
    const { problems } = await loadWorkspace(dir);
    expect(problems).toEqual([]);
  });
});
