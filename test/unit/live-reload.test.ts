// Live reload: a new set of contracts, policies and capability modules is
// loaded, type-checked and validated before anything changes; a broken set
// is refused whole and the old one keeps serving; a call in flight finishes
// under the set it started with, and the next call gets the new one. Every
// attempt is on the ledger with who asked.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireWorkspace } from '../../src/workspace/load.js';
import { loadedSetHash } from '../../src/kernel/loaded-set.js';
import { delegate, DELEGATING_ALICE, workerRequest } from './delegation-fixtures.js';
import { call, events, setupRuntime, transfer } from './helpers.js';

const CAP = 'amount_minor: 50000        # 500.00 per transfer; a 15.5 that became 15,500.00 is refused';
const tighten = (dir: string) => {
  const path = join(dir, 'contracts', 'alice.yaml');
  writeFileSync(path, readFileSync(path, 'utf8').replace(CAP, 'amount_minor: 1000'));
};

describe('live reload', () => {
  it('applies a tightened limit from the next call, with a new set hash and who asked on the ledger', async () => {
    const env = await setupRuntime();
    const before = loadedSetHash(env.rt.workspace);
    expect((await env.rt.kernel.govern(call('alice', transfer(1550)))).verdict).toBe('accepted');
    tighten(env.dir);
    const r = await env.rt.reload('operator:dana');
    expect(r).toMatchObject({ ok: true, changed: true, previous_set_hash: before });
    expect(r.set_hash).toBe(loadedSetHash(env.rt.workspace));
    const after = await env.rt.kernel.govern(call('alice', transfer(1560)));
    expect(after.verdict).toBe('rejected');
    expect(after.reasons).toEqual(['CONTRACT_LIMIT_EXCEEDED']);
    const reloaded = events(env.rt).filter((e) => e.type === 'WorkspaceReloaded');
    expect(reloaded.map((e) => [e.agent, e.data['ok'], e.data['set_hash']])).toEqual([['operator:dana', true, r.set_hash]]);
  });

  it('a contract change that compiles to no policy (a steward gate) is a new set, with a new hash', async () => {
    const env = await setupRuntime();
    const before = loadedSetHash(env.rt.workspace);
    const path = join(env.dir, 'contracts', 'alice.yaml');
    const text = readFileSync(path, 'utf8');
    expect(text).toMatch(/^stewards:/m);
    writeFileSync(path, text.replace(/^stewards:\n/m, 'stewards:\n  every_n_calls: 7\n'));
    const r = await env.rt.reload('operator:dana');
    expect(r).toMatchObject({ ok: true, changed: true, previous_set_hash: before });
    expect(r.ok && r.set_hash).not.toBe(before);
    expect(env.rt.workspace.contracts.get('alice')?.stewards.every_n_calls).toBe(7);
  });

  it('refuses a set with a broken policy whole; the old set keeps serving', async () => {
    const env = await setupRuntime();
    const before = loadedSetHash(env.rt.workspace);
    tighten(env.dir); // a valid change in the same set must not be applied either
    writeFileSync(join(env.dir, 'policies', 'broken.cedar'), '@id("broken")\nforbid (principal, action, resource) when { context.values.amount_minor > };\n');
    const r = await env.rt.reload('signal:SIGHUP');
    expect(r.ok).toBe(false);
    expect(r.ok === false && r.problems.some((p) => p.file.includes('broken.cedar'))).toBe(true);
    expect(loadedSetHash(env.rt.workspace)).toBe(before);
    expect((await env.rt.kernel.govern(call('alice', transfer(1550)))).verdict).toBe('accepted');
    const refused = events(env.rt).filter((e) => e.type === 'WorkspaceReloaded');
    expect(refused.map((e) => [e.agent, e.data['ok'], e.data['set_hash']])).toEqual([['signal:SIGHUP', false, before]]);
  });

  it('a call in flight finishes under the set it started with; the next call is judged by the new one', async () => {
    const env = await setupRuntime();
    tighten(env.dir);
    const next = await requireWorkspace(env.dir);
    const inFlight = env.rt.kernel.govern(call('alice', transfer(1550)));
    env.rt.kernel.replaceSet(next);
    expect((await inFlight).verdict).toBe('accepted');
    expect((await env.rt.kernel.govern(call('alice', transfer(1560)))).reasons).toEqual(['CONTRACT_LIMIT_EXCEEDED']);
  });
});

describe('live reload and delegation', () => {
  it('an unchanged set reloads as unchanged; delegate stays a tool and sub-mandates stay known; each call records the set it was decided under', async () => {
    const env = await setupRuntime(DELEGATING_ALICE);
    expect((await delegate(env, 'alice', workerRequest('worker-1'))).verdict).toBe('accepted');
    const before = loadedSetHash(env.rt.workspace);
    const same = await env.rt.reload('operator:dana');
    expect(same).toMatchObject({ ok: true, changed: false, set_hash: before });
    // Credentials and tool lists read the registry synchronously: the child is known before its first call under the new set.
    expect(env.rt.kernel.delegations.cached('worker-1')).toBeDefined();
    expect((await env.rt.kernel.govern(call('worker-1', transfer(100)))).verdict).toBe('accepted');
    expect((await delegate(env, 'alice', workerRequest('worker-2'))).verdict).toBe('accepted');

    tighten(env.dir);
    const changed = await env.rt.reload('operator:dana');
    expect(changed).toMatchObject({ ok: true, changed: true, previous_set_hash: before });
    await env.rt.kernel.govern(call('alice', transfer(1550)));
    const received = events(env.rt).filter((e) => e.type === 'IntentReceived').map((e) => e.data['set_hash']);
    expect(received.slice(0, 3)).toEqual([before, before, before]);
    expect(received.at(-1)).toBe(changed.set_hash);
  });
});
