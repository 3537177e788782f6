/**
 * Scenario 7: approval latency. The agent's call escalates; it waits with
 * get_decision(wait_seconds); an operator in another process (this one, with
 * its own connection to the store) approves; we time until the waiting call
 * returns with the approved outcome.
 */
import { silentLogger } from '../../src/core/log.js';
import { openRuntime } from '../../src/runtime.js';
import { benchWorkspace, governedStdio, percentile, type Sizes } from '../lib.js';

export interface ApprovalResult {
  approvals: number;
  approveP50ms: number;
  waitReturnP50ms: number;
  waitReturnP99ms: number;
  totalP50ms: number;
}

export async function approvalScenario(sizes: Sizes): Promise<ApprovalResult> {
  const ws = benchWorkspace();
  const g = await governedStdio(ws);
  const operator = await openRuntime(ws, silentLogger);
  const approve: number[] = [];
  const waitReturn: number[] = [];
  const total: number[] = [];
  try {
    for (let i = 0; i < sizes.approvals; i++) {
      const t0 = performance.now();
      const esc = (await g.client.callTool({ name: 'invoke_capability', arguments: { capability: 'bench.gated', params: { n: i }, idempotency_key: `gated-${i}` } })).structuredContent as { verdict: string; decision_id: string };
      if (esc.verdict !== 'escalated') throw new Error(`expected an escalation, got ${esc.verdict}`);
      const waiting = g.client.callTool({ name: 'get_decision', arguments: { decision_id: esc.decision_id, wait_seconds: 30 } });
      const a0 = performance.now();
      const approved = await operator.kernel.approve(esc.decision_id, 'bench-operator', null);
      const a1 = performance.now();
      if (approved.verdict !== 'accepted') throw new Error(`approval did not run: ${approved.reasons.join(',')}`);
      const done = (await waiting).structuredContent as { status: string };
      const t1 = performance.now();
      if (done.status !== 'approved') throw new Error(`waiting call saw ${done.status}`);
      approve.push(a1 - a0);
      waitReturn.push(t1 - a1);
      total.push(t1 - t0);
    }
  } finally {
    operator.close();
    await g.client.close();
  }
  for (const l of [approve, waitReturn, total]) l.sort((a, b) => a - b);
  return { approvals: approve.length, approveP50ms: percentile(approve, 50), waitReturnP50ms: percentile(waitReturn, 50), waitReturnP99ms: percentile(waitReturn, 99), totalP50ms: percentile(total, 50) };
}
