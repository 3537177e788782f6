// The monitors' unit after an effect is written only for an agent whose
// contract reads it: drift monitors sample the call, an every-N steward gate
// counts it. An agent with neither leaves no steward_counts row and no window
// (ADR-043). A gate added by a reload counts from the stored count.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { delegate, DELEGATING_ALICE, workerRequest } from './delegation-fixtures.js';
import { call, raw, replaceOnce, setupRuntime, transfer, type Env } from './helpers.js';

const GATE = '\n# Steward gates: every 50th executed call waits for a human, whatever it is.\nstewards:\n  every_n_calls: 50\n';
const NO_GATE = { 'contracts/scribe.yaml': replaceOnce(GATE, '\n') };

let n = 0;
const write = (env: Env) => env.rt.kernel.govern(call('scribe', { capability: 'files.write', params: { path: `notes/${++n}.md`, content: `note ${n}` } }));

/** What the store holds for an agent below the port: its steward_counts row, and its drift monitors' rows. */
function observedRows(env: Env, agent: string): { counted: number | undefined; samples: number; states: number } {
  const { db } = raw(env.rt);
  const row = db.prepare('SELECT executed FROM steward_counts WHERE agent = ?').get(agent) as { executed: number } | undefined;
  const samples = (db.prepare('SELECT COUNT(*) AS c FROM monitor_samples WHERE agent = ?').get(agent) as { c: number }).c;
  const states = (db.prepare('SELECT COUNT(*) AS c FROM monitor_state WHERE agent = ?').get(agent) as { c: number }).c;
  return { counted: row?.executed, samples, states };
}

/** Sets scribe's every-N gate (or removes it) in the workspace and reloads. */
async function reloadGate(env: Env, every: number | null): Promise<void> {
  const path = join(env.dir, 'contracts', 'scribe.yaml');
  const text = readFileSync(path, 'utf8').replace(/\nstewards:\n {2}every_n_calls: \d+\n/, '\n');
  writeFileSync(path, every === null ? text : `${text}\nstewards:\n  every_n_calls: ${every}\n`);
  expect((await env.rt.reload('operator:dana')).ok).toBe(true);
  expect(env.rt.kernel.contractOf('scribe')?.stewards.every_n_calls).toBe(every ?? undefined);
}

describe('the executed-call count is kept only where it is read', () => {
  it('an agent without drift monitors or an every-N gate leaves no steward_counts row and no window after its calls', async () => {
    const env = await setupRuntime(NO_GATE);
    expect(env.rt.kernel.contractOf('scribe')?.stewards.every_n_calls).toBeUndefined();
    for (let i = 0; i < 3; i++) expect((await write(env)).verdict).toBe('accepted');
    expect(observedRows(env, 'scribe')).toEqual({ counted: undefined, samples: 0, states: 0 });
    expect((await env.rt.store.monitors.executed('scribe'))).toBe(0);
    expect((await env.rt.store.ledger.verify()).ok).toBe(true);
  });

  it('an agent with only an every-N gate is counted without windows; an agent with drift monitors is counted and sampled', async () => {
    const env = await setupRuntime();
    for (let i = 0; i < 2; i++) expect((await write(env)).verdict).toBe('accepted');
    expect(observedRows(env, 'scribe')).toEqual({ counted: 2, samples: 0, states: 0 });
    expect((await env.rt.kernel.govern(call('alice', transfer(100)))).verdict).toBe('accepted');
    const alice = observedRows(env, 'alice');
    expect(alice.counted).toBe(1);
    expect(alice.samples).toBeGreaterThan(0);
  });

  it('a delegated call is counted for an ancestor with drift monitors and not for a child whose sub-mandate reads nothing', async () => {
    const env = await setupRuntime(DELEGATING_ALICE);
    expect((await delegate(env, 'alice', workerRequest('worker-1'))).verdict).toBe('accepted');
    const before = observedRows(env, 'alice').counted ?? 0;
    const paid = await env.rt.kernel.govern(call('worker-1', transfer(3_000)));
    expect(paid.verdict, JSON.stringify(paid.details)).toBe('accepted');
    expect(observedRows(env, 'alice').counted).toBe(before + 1);
    expect(observedRows(env, 'worker-1')).toEqual({ counted: undefined, samples: 0, states: 0 });
  });

  it('a gate added by a reload counts the calls executed while it is in force, plus whatever was counted before', async () => {
    const env = await setupRuntime(NO_GATE);
    // Uncounted without a gate: a gate of 3 added now counts from nothing, so the two calls after it run.
    for (let i = 0; i < 2; i++) expect((await write(env)).verdict).toBe('accepted');
    await reloadGate(env, 3);
    expect((await write(env)).verdict).toBe('accepted');
    expect((await write(env)).verdict).toBe('accepted');
    expect(observedRows(env, 'scribe').counted).toBe(2);
    // The gate removed: its count stays where it was while calls run uncounted.
    await reloadGate(env, null);
    for (let i = 0; i < 4; i++) expect((await write(env)).verdict).toBe('accepted');
    expect(observedRows(env, 'scribe').counted).toBe(2);
    // Added back, it counts on from 2: the very next call is its third.
    await reloadGate(env, 3);
    const gated = await write(env);
    expect(gated).toMatchObject({ verdict: 'escalated', reasons: ['ESCALATION_REQUIRED'] });
    expect(gated.policies).toContain('steward.every_n_calls');
  });
});
