/** Scenario 6: Cedar evaluation time with many agents' contracts compiled into one policy set. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContractSchema, type Contract } from '../../src/config/contract-schema.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { percentile, ROOT, type Sizes } from '../lib.js';

export interface PolicyResult {
  contracts: number;
  policies: number;
  compileMs: number;
  evalP50us: number;
  evalP99us: number;
  baselineP50us: number;
  baselineP99us: number;
}

function contract(i: number): Contract {
  return ContractSchema.parse({
    agent: `agent-${i}`,
    version: 1,
    owner: 'bench@example.com',
    mission: 'Benchmark policy evaluation.',
    role: 'agent',
    grants: [
      { capability: 'payments.transfer', limits: { max: { amount_minor: 50_000 + i }, allowed: { currency: ['EUR'] } } },
      { capability: 'payments.get_balance' },
    ],
    escalation: { rules: [{ capability: 'payments.transfer', when: 'context.values.amount_minor > 10000', reason: 'large transfer' }] },
  });
}

function timeEvals(engine: PolicyEngine, agents: number, n: number): { p50: number; p99: number } {
  const lat: number[] = [];
  for (let k = 0; k < n; k++) {
    const i = k % agents;
    const t0 = performance.now();
    engine.evaluate({
      agent: { id: `agent-${i}`, role: 'agent' },
      capability: { id: 'payments.transfer', version: '1.0.0', sideEffect: 'write' },
      context: { values: { amount_minor: 100 + (k % 20_000), currency: 'EUR' }, facts: { payee_blocked: false }, usage: {}, now: 0 },
    });
    lat.push((performance.now() - t0) * 1000);
  }
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

export function policyScenario(sizes: Sizes): PolicyResult {
  const files = [{ file: 'policies/base.cedar', text: readFileSync(join(ROOT, 'templates/workspace/policies/base.cedar'), 'utf8') }];
  const problems: never[] = [];
  const small = new PolicyEngine(compilePolicySet([contract(0), contract(1), contract(2)], files, problems));
  const t0 = performance.now();
  const set = compilePolicySet(Array.from({ length: sizes.contracts }, (_, i) => contract(i)), files, problems);
  const engine = new PolicyEngine(set);
  const compileMs = performance.now() - t0;
  if (problems.length) throw new Error(`policy set has problems: ${JSON.stringify(problems)}`);
  const n = Math.max(2000, sizes.contracts * 5);
  timeEvals(small, 3, 500);
  timeEvals(engine, sizes.contracts, 500);
  const base = timeEvals(small, 3, n);
  const big = timeEvals(engine, sizes.contracts, n);
  return { contracts: sizes.contracts, policies: Object.keys(set.policies).length, compileMs, evalP50us: big.p50, evalP99us: big.p99, baselineP50us: base.p50, baselineP99us: base.p99 };
}
