/**
 * Policy errors that teach. A grant on a gateway tool is type-checked against
 * the tool's pinned input schema, like a module's: `validate` refuses
 * `context.values.a < 100` on a number field with the decimal hint. At run
 * time a policy that fails to evaluate names itself and Cedar's error kind in
 * the refusal, in the log at warn, and on the ledger, never a value.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { E2E, exportLedger, runCli, transfer, waitFor } from './helpers/e2e.js';
import { EVERYTHING_SERVER, NODE, appendConfig, pin, writeContract, y } from './helpers/gateway.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

describe('a gateway grant is type-checked against the pinned input schema', () => {
  it('`< 100` on a number field is refused by validate with the decimal hint; the decimal method passes', async () => {
    const ws = await e2e.workspace();
    appendConfig(ws, `upstreams:\n  everything:\n    command: ${y(NODE)}\n    args: [${y(EVERYTHING_SERVER)}]`);
    await pin(ws, 'everything');
    writeContract(ws, 'gw', `grants:\n  - capability: everything.get-sum\n    when: 'context.values.a < 100'\n`);
    const bad = await runCli(['validate', '-w', ws, '--json']);
    expect(bad.code).not.toBe(0);
    const problems = (JSON.parse(bad.stdout) as { problems: { file: string; path: string; message: string; hint: string }[] }).problems;
    const problem = problems.find((p) => p.file.endsWith('gw.yaml'));
    expect(problem, bad.stdout).toBeDefined();
    expect(problem?.path).toBe('grants.0.when');
    expect(problem?.message).toMatch(/saw decimal/);
    expect(problem?.message).toContain('everything.get-sum');
    expect(problem?.hint).toMatch(/decimal\("500\.00"\)|lessThan/);

    writeContract(ws, 'gw', `grants:\n  - capability: everything.get-sum\n    when: 'context.values.a.lessThan(decimal("100.0"))'\n`);
    const good = await runCli(['validate', '-w', ws]);
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
  }, 60_000);
});

describe('a policy that fails to evaluate at run time names itself', () => {
  it('in the refusal (kind, no value), in the log at warn and on the ledger', async () => {
    const ws = await e2e.workspace();
    // Type-checks (Long * Long), but overflows at run time for large amounts.
    writeFileSync(
      join(ws, 'policies', 'overflow.cedar'),
      '@id("forbid-scaled-amounts")\nforbid (principal, action, resource == Mandate::Capability::"payments.transfer")\nwhen { context.values has amount_minor && context.values.amount_minor * 1000000000000000000 > 5 };\n',
    );
    expect((await runCli(['validate', '-w', ws])).code).toBe(0);
    const alice = await e2e.client(ws, 'alice', { logLevel: 'info' });
    const g = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 4321 }) });
    expect(g.outcome.verdict).toBe('rejected');
    expect(g.outcome.reasons).toEqual(['POLICY_ERROR']);
    expect(g.outcome.policies).toEqual(['forbid-scaled-amounts']);
    const detail = g.outcome.details[0];
    expect(detail?.message).toMatch(/^policy `forbid-scaled-amounts` failed to evaluate: integer overflow/);
    expect(JSON.stringify(g.outcome.details)).not.toContain('4321');

    // The log is written asynchronously: wait for the line.
    await waitFor(() => alice.stderr().includes('a policy failed to evaluate'), 5_000, 'the warn line');
    const warn = alice
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l['decision_id'] === g.outcome.decision_id && l['step'] === 'policy');
    expect(warn?.['level']).toBe(40);
    expect(warn?.['policy_errors']).toEqual([{ policy: 'forbid-scaled-amounts', kind: 'integer_overflow', summary: 'integer overflow' }]);
    expect(alice.stderr()).not.toContain('4321');
    await alice.close();

    const { events, raw } = await exportLedger(ws);
    const decided = events.find((e) => e.decision_id === g.outcome.decision_id && e.type === 'PolicyDecided');
    expect(decided?.reasons).toEqual(['POLICY_ERROR']);
    expect(decided?.data['policy_errors']).toEqual([{ policy: 'forbid-scaled-amounts', kind: 'integer_overflow', summary: 'integer overflow' }]);
    expect(raw).not.toContain('4321');
  }, 60_000);
});
