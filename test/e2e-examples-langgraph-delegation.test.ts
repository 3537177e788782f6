/**
 * examples/langgraph-delegation: a LangGraph supervisor delegates to two
 * workers through the `delegate` tool; each worker pays over its own MCP
 * stdio connection as its own agent, with scripted models (no network). One
 * worker is refused for exceeding its carved budget; pausing the supervisor
 * stops both.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/e2e.js';
import { runExample } from './helpers/examples.js';
import { tempDir } from './unit/helpers.js';

interface Step {
  agent: string;
  tool: string;
  status: string;
  outcome: { verdict: string; reasons: string[]; output?: Record<string, unknown> } | null;
}

const tmp = tempDir('mandate-langgraph-');
const ws = { dir: join(tmp.dir, 'ws') };
beforeAll(async () => {
  expect((await runCli(['init', ws.dir])).code).toBe(0);
  // What the README says to add to alice's contract: she may hand on transfers, two levels deep.
  appendFileSync(join(ws.dir, 'contracts', 'alice.yaml'), '\ndelegation:\n  capabilities: [payments.transfer]\n  max_depth: 2\n');
});
afterAll(() => tmp.cleanup());

describe('examples/langgraph-delegation', () => {
  it('a supervisor delegates to two workers over MCP; one is refused past its carved budget, and pausing the supervisor stops both', async () => {
    const first = await runExample<{ steps: Step[] }>('langgraph-delegation', ['--workspace', ws.dir], { timeoutMs: 90_000 });
    const by = (agent: string) => first.steps.filter((s) => s.agent === agent);
    expect(by('alice').map((s) => [s.tool, s.outcome?.verdict, s.outcome?.output?.['child']])).toEqual([
      ['delegate', 'accepted', 'worker-a'],
      ['delegate', 'accepted', 'worker-b'],
    ]);
    expect(by('worker-a').map((s) => s.outcome?.verdict)).toEqual(['accepted', 'accepted']);
    expect(by('worker-b').map((s) => s.outcome?.verdict)).toEqual(['accepted', 'rejected']);
    expect(by('worker-b')[1]?.outcome?.reasons).toEqual(['BUDGET_EXCEEDED']);

    const tree = JSON.parse((await runCli(['delegations', 'tree', '--json', '-w', ws.dir])).stdout) as { agent: string; children: { agent: string; grants: { budgets: { remaining: number }[] }[] }[] }[];
    expect(tree[0]?.agent).toBe('alice');
    expect(tree[0]?.children.map((c) => [c.agent, c.grants[0]?.budgets[0]?.remaining])).toEqual([
      ['worker-a', 9_000],
      ['worker-b', 4_000],
    ]);

    const paused = await runCli(['intervene', 'pause', '--agent', 'alice', '--reason', 'stop the team', '--as', 'ops', '-w', ws.dir]);
    expect(paused.code).toBe(0);
    const second = await runExample<{ steps: Step[] }>('langgraph-delegation', ['--workspace', ws.dir, '--workers-only'], { timeoutMs: 90_000 });
    expect(second.steps.length).toBe(4);
    for (const s of second.steps) expect(s.outcome?.reasons, s.agent).toEqual(['AGENT_PAUSED']);
  }, 180_000);
});
