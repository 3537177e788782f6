// Fixtures shared by the issue-3 in-process tests (humans in charge):
// a capability module whose handlers count their runs, a `tester` contract
// with a drift monitor, and small helpers over the ledger.
import { afterEach, expect } from 'vitest';
import type { Outcome } from '../../src/core/types.js';
import { intervene, type InterventionRequest, type Principal } from '../../src/kernel/interventions.js';
import type { Runtime } from '../../src/runtime.js';
import type { LedgerEvent } from '../../src/store/ledger.js';
import { ISSUE3_CAPABILITIES, TESTER_CONTRACT } from '../helpers/issue3.js';
import { copyTemplate, FakeWorld, openTest, replaceOnce, runs } from './helpers.js';

export { ISSUE3_CAPABILITIES, TESTER_CONTRACT };

export const MIN = 60_000;
export const HOUR = 60 * MIN;

/** The template workspace plus the fixtures, with the supervisor also supervising (not approving) tester. */
export function issue3Edits(extra: Record<string, (text: string) => string> = {}): Record<string, (text: string) => string> {
  return {
    'capabilities/issue3.mjs': () => ISSUE3_CAPABILITIES,
    'contracts/tester.yaml': () => TESTER_CONTRACT,
    'contracts/supervisor.yaml': replaceOnce('supervises: [alice, scribe]', 'supervises: [alice, scribe, tester]'),
    ...extra,
  };
}

export interface Env {
  dir: string;
  world: FakeWorld;
  rt: Runtime;
  restart(): Promise<Runtime>;
  /** Lines in data/runs.log: one per handler run of the fixture capabilities. */
  runs(): string[];
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()?.();
});

export async function setup(edit: Record<string, (text: string) => string> = issue3Edits(), world = new FakeWorld()): Promise<Env> {
  const ws = copyTemplate(edit);
  cleanups.push(ws.cleanup);
  const env: Env = {
    dir: ws.dir,
    world,
    rt: await openTest(ws.dir, world),
    async restart() {
      env.rt.close();
      env.rt = await openTest(ws.dir, world);
      return env.rt;
    },
    runs: () => runs(ws.dir),
  };
  cleanups.push(() => env.rt.close());
  return env;
}

export const agent = (id: string): Principal => ({ kind: 'agent', id });
export const operator: Principal = { kind: 'operator', id: 'ops' };

export function act(env: Env, who: Principal, req: InterventionRequest): Promise<Outcome> {
  return intervene(env.rt.kernel, who, req);
}

export const events = (rt: Runtime): LedgerEvent[] => rt.store.ledger.page(0, 100_000);
export const eventsOf = (rt: Runtime, decisionId: string): LedgerEvent[] => events(rt).filter((e) => e.decision_id === decisionId);
export const typesOf = (rt: Runtime, decisionId: string): string[] => eventsOf(rt, decisionId).map((e) => e.type);

/**
 * Asserts an intervention was refused with `code`: recorded as issued then
 * rejected (acknowledged in between only when the kernel's approval path
 * refused it), never applied, and left in state `rejected`.
 */
export function expectRefused(env: Env, o: Outcome, code: string): void {
  expect(o.verdict).toBe('rejected');
  expect(o.reasons).toEqual([code]);
  const types = typesOf(env.rt, o.decision_id);
  expect([
    ['InterventionIssued', 'InterventionRejected'],
    ['InterventionIssued', 'InterventionAcknowledged', 'InterventionRejected'],
  ]).toContainEqual(types);
  if (types.length === 3) expect(code).toBe('DECISION_NOT_FOUND');
  expect(env.rt.store.agents.interventions().find((i) => i.id === o.decision_id)?.state).toBe('rejected');
}

/** Polls `check` (bounded) while real time passes; for handlers running in the background. */
export async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export { runs };
