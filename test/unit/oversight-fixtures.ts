// Fixtures shared by the issue-3 in-process tests (humans in charge):
// a capability module whose handlers count their runs, a `tester` contract
// with a drift monitor, and small helpers over the ledger.
import { expect } from 'vitest';
import type { Outcome } from '../../src/core/types.js';
import { intervene, type InterventionRequest, type Principal } from '../../src/kernel/interventions.js';
import { OVERSIGHT_CAPABILITIES, TESTER_CONTRACT } from '../helpers/oversight-capabilities.js';
import { events, eventsOf, FakeWorld, replaceOnce, runs, setupRuntime, typesOf, type Env } from './helpers.js';

export { OVERSIGHT_CAPABILITIES, TESTER_CONTRACT };

export const MIN = 60_000;
export const HOUR = 60 * MIN;

/** The template workspace plus the fixtures, with the supervisor also supervising (not approving) tester. */
export function oversightEdits(extra: Record<string, (text: string) => string> = {}): Record<string, (text: string) => string> {
  return {
    'capabilities/oversight.mjs': () => OVERSIGHT_CAPABILITIES,
    'contracts/tester.yaml': () => TESTER_CONTRACT,
    'contracts/supervisor.yaml': replaceOnce('supervises: [alice, scribe]', 'supervises: [alice, scribe, tester]'),
    ...extra,
  };
}

export type { Env };

/** A runtime on the template plus the issue-3 fixtures (or `edit`). */
export function setup(edit: Record<string, (text: string) => string> = oversightEdits(), world = new FakeWorld()): Promise<Env> {
  return setupRuntime(edit, world);
}

export const agent = (id: string): Principal => ({ kind: 'agent', id });
export const operator: Principal = { kind: 'operator', id: 'ops' };

export function act(env: Env, who: Principal, req: InterventionRequest): Promise<Outcome> {
  return intervene(env.rt.kernel, who, req);
}

export { events, eventsOf, typesOf };

/**
 * Asserts an intervention was refused with `code`: recorded as issued then
 * rejected (acknowledged in between only when the kernel's approval path
 * refused it), never applied, and left in state `rejected`.
 */
export async function expectRefused(env: Env, o: Outcome, code: string): Promise<void> {
  expect(o.verdict).toBe('rejected');
  expect(o.reasons).toEqual([code]);
  const types = typesOf(env.rt, o.decision_id);
  expect([
    ['InterventionIssued', 'InterventionRejected'],
    ['InterventionIssued', 'InterventionAcknowledged', 'InterventionRejected'],
  ]).toContainEqual(types);
  if (types.length === 3) expect(code).toBe('DECISION_NOT_FOUND');
  expect((await env.rt.store.agents.interventions()).find((i) => i.id === o.decision_id)?.state).toBe('rejected');
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
