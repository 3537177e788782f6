/**
 * The plan ops of the store port (ADR-025) do the same on a real SQLite file
 * and on PostgreSQL: a plan and its steps recorded, guarded moves (a step
 * starts once; a plan moves only from the state named), soft moves that
 * leave a plan an operator ended as it is, completion only with nothing
 * pending or running, unplanned attempts kept once per decision.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPgPort } from '../src/store/pg/port.js';
import type { StorePort } from '../src/store/port/index.js';
import { sqlitePort } from '../src/store/sqlite/port.js';
import { openStore } from '../src/store/sqlite/store.js';
import { freshDatabase, freshSchema } from './helpers/postgres.js';
import { POSTGRES, requires } from './helpers/requires.js';
import { FakeWorld } from './unit/helpers.js';

const need = await requires(import.meta.url, [POSTGRES]);
const dirs: string[] = [];
let pgdb: Awaited<ReturnType<typeof freshDatabase>> | undefined;
beforeAll(async () => {
  if (!need.skip) pgdb = await freshDatabase('plans');
});
afterAll(async () => {
  await pgdb?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const row = (id: string, agent = 'alice') => ({ id, agent, child: `${agent}/plan/${id}`, digest: `d-${id}`, status: 'pending_approval' as const, request: '{"steps":[]}', decision_id: `dec-${id}`, created_at: 1_000, expires_at: 61_000 });

function suite(kind: string, open: () => Promise<StorePort>) {
  describe(`plans in the ${kind} store`, () => {
    let port: StorePort;
    beforeAll(async () => {
      port = await open();
    });
    afterAll(() => port.close());

    it('records a plan with its steps pending and their facts, and reads it back by id, child and agent', async () => {
      const r = await port.commit([{ op: 'plan.add', row: row('p1'), facts: ['{"a":1}', null, '{"b":2}'] }]);
      expect(r.ok).toBe(true);
      expect(await port.plans.get('p1')).toMatchObject({ id: 'p1', agent: 'alice', status: 'pending_approval', failed_step: null, ended_by: null });
      expect((await port.plans.byChild('alice/plan/p1'))?.id).toBe('p1');
      expect((await port.plans.steps('p1')).map((s) => [s.step, s.status, s.facts, s.decision_id])).toEqual([[0, 'pending', '{"a":1}', null], [1, 'pending', null, null], [2, 'pending', '{"b":2}', null]]);
      expect(await port.plans.running('alice', 2_000)).toEqual([]);
    });

    it('moves a plan only from the state named, and a soft move never conflicts', async () => {
      expect((await port.commit([{ op: 'plan.status', id: 'p1', from: 'running', to: 'failed', at: 2_000, by: null, failed_step: 0 }])).ok).toBe(false);
      expect((await port.commit([{ op: 'plan.status', id: 'p1', from: 'pending_approval', to: 'running', at: 2_000, by: null, failed_step: null }])).ok).toBe(true);
      expect((await port.plans.running('alice', 2_000)).map((p) => p.id)).toEqual(['p1']);
      expect(await port.plans.running('alice', 61_000)).toEqual([]); // past its time limit
      const soft = await port.commit([{ op: 'plan.status', id: 'p1', from: 'failed', to: 'running', at: 2_500, by: null, failed_step: null, soft: true }]);
      expect(soft.ok).toBe(true);
      expect((await port.plans.get('p1'))?.status).toBe('running');
    });

    it('starts a step once: the second start is a conflict and rolls its unit back', async () => {
      const start = (decision: string) => port.commit([
        { op: 'plan.step', id: 'p1', step: 0, from: 'pending', to: 'running', decision_id: decision, at: 3_000 },
        { op: 'plan.attempt', row: { plan_id: 'p1', decision_id: `${decision}-probe`, capability: 'x', code: 'PLAN_STEP_MISMATCH', at: 3_000 } },
      ]);
      expect((await start('d-a')).ok).toBe(true);
      const second = await start('d-b');
      expect(second).toMatchObject({ ok: false, conflict: { kind: 'plan_moved', id: 'p1', step: 0 } });
      expect((await port.plans.attempts('p1')).map((a) => a.decision_id)).toEqual(['d-a-probe']);
      expect((await port.plans.steps('p1'))[0]).toMatchObject({ status: 'running', decision_id: 'd-a' });
    });

    it('completes a plan only once nothing is pending or running; attempts are kept once per decision', async () => {
      await port.commit([{ op: 'plan.step', id: 'p1', step: 0, from: 'running', to: 'done', decision_id: null, at: 4_000 }]);
      const early = await port.commit([{ op: 'plan.settle', id: 'p1', at: 4_000 }]);
      expect(early.ok && early.results.get(0)).toBe(false);
      await port.commit([
        { op: 'plan.step', id: 'p1', step: 1, from: 'pending', to: 'failed', decision_id: 'd-c', at: 4_100 },
        { op: 'plan.step', id: 'p1', step: 2, from: 'pending', to: 'running', decision_id: 'd-d', at: 4_100 },
        { op: 'plan.step', id: 'p1', step: 2, from: 'running', to: 'done', decision_id: null, at: 4_200 },
        { op: 'plan.step', id: 'p1', step: 2, from: 'done', to: 'compensated', decision_id: null, at: 4_300, compensated_by: 'd-undo' },
        { op: 'plan.attempt', row: { plan_id: 'p1', decision_id: 'd-a-probe', capability: 'x', code: 'PLAN_STEP_MISMATCH', at: 4_300 } },
      ]);
      const done = await port.commit([{ op: 'plan.settle', id: 'p1', at: 5_000 }]);
      expect(done.ok && done.results.get(0)).toBe(true);
      expect(await port.plans.get('p1')).toMatchObject({ status: 'completed', updated_at: 5_000 });
      expect((await port.plans.steps('p1')).map((s) => [s.status, s.decision_id, s.compensated_by])).toEqual([['done', 'd-a', null], ['failed', 'd-c', null], ['compensated', 'd-d', 'd-undo']]);
      expect(await port.plans.attempts('p1')).toHaveLength(1);
      expect((await port.plans.list()).map((p) => p.id)).toEqual(['p1']);
    });
  });
}

suite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-plans-'));
  dirs.push(dir);
  const path = join(dir, 'mandate.db');
  return sqlitePort(openStore(path, new FakeWorld()), path);
});

describe.skipIf(need.skip)(need.title('PostgreSQL'), () => {
  suite('PostgreSQL', async () => openPgPort(await freshSchema((pgdb as { url: string }).url), new FakeWorld()));
});
