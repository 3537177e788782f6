#!/usr/bin/env node
// A LangGraph supervisor that hands two workers part of its mandate through
// Mandate's `delegate` tool, then lets each worker pay over its own MCP
// connection as its own agent. The "models" are scripted (no LLM, no network).
// Mandate holds each worker to its carved budget and to the supervisor's
// contract and standing: pause the supervisor and both workers stop.
//
//   node examples/langgraph-delegation/agent.mjs --workspace <dir>           # delegate, then run the workers
//   node examples/langgraph-delegation/agent.mjs --workspace <dir> --workers-only
import { AIMessage } from '@langchain/core/messages';
import { Annotation, END, START, StateGraph } from '@langchain/langgraph';
import { createReactAgent } from '@langchain/langgraph/prebuilt';
import { MultiServerMCPClient } from '@langchain/mcp-adapters';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { outcomeOf, ScriptedChatModel } from '../langchain/agent.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const MANDATE_CLI = process.env.MANDATE_CLI ?? resolve(HERE, '../../dist/src/cli/main.js');
const MANDATE_NODE = process.env.MANDATE_NODE ?? process.execPath;

/** What each worker is handed: transfers to acme-supplies only, at most 100.00 each, a carved daily budget; and what it then tries to pay. */
export const WORKERS = [
  { child: 'worker-a', budget: 20_000, pays: [6_000, 5_000] },
  { child: 'worker-b', budget: 10_000, pays: [6_000, 5_000] },
];

let seq = 0;
const call = (name, args) => new AIMessage({ content: '', tool_calls: [{ id: `call_${++seq}`, name, args, type: 'tool_call' }] });

/** Plays a list of tool calls, one per turn, then a final answer. */
function script(calls, done) {
  const plan = [...calls];
  return () => plan.shift() ?? new AIMessage(done);
}

async function withMandate(agent, workspace, fn) {
  const client = new MultiServerMCPClient({
    mcpServers: { mandate: { transport: 'stdio', command: MANDATE_NODE, args: [MANDATE_CLI, 'serve', '--stdio', '--agent', agent, '-w', workspace, '--log-level', 'warn'] } },
    throwOnLoadError: true,
    prefixToolNameWithServerName: false,
  });
  try {
    return await fn(await client.getTools());
  } finally {
    await client.close();
  }
}

/** Runs a scripted ReAct agent as `agent` and returns what each tool call got back. */
async function runAgent(agent, workspace, calls, done) {
  return withMandate(agent, workspace, async (tools) => {
    const graph = createReactAgent({ llm: new ScriptedChatModel(script(calls, done)), tools });
    const result = await graph.invoke({ messages: [{ role: 'user', content: 'go' }] }, { recursionLimit: 20 });
    return result.messages.filter((m) => m.getType() === 'tool').map((m) => ({ agent, tool: m.name, status: m.status, outcome: outcomeOf(m) }));
  });
}

const State = Annotation.Root({ steps: Annotation({ reducer: (a, b) => a.concat(b), default: () => [] }) });

/** supervisor (delegates) → worker-a → worker-b, each a node of one LangGraph graph. */
export function delegationGraph(workspace, { workersOnly = false } = {}) {
  const supervisor = async () => ({
    steps: await runAgent(
      'alice',
      workspace,
      WORKERS.map((w) =>
        call('delegate', {
          child: w.child,
          purpose: `pay acme-supplies invoices (${w.child})`,
          grants: [{ capability: 'payments.transfer', limits: { max: { amount_minor: 10_000 }, allowed: { payee: ['acme-supplies'] }, budgets: [{ window: '1d', sum: 'amount_minor', max: w.budget }] } }],
          expires_in_minutes: 60,
        }),
      ),
      'Delegated to both workers.',
    ),
  });
  const worker = (w) => async () => ({
    steps: await runAgent(
      w.child,
      workspace,
      w.pays.map((amount) => call('payments_transfer', { from_account: 'operating', payee: 'acme-supplies', amount_minor: amount, currency: 'EUR' })),
      'Paid what I was allowed to.',
    ),
  });
  // With --workers-only the supervisor node passes (its children exist already).
  const g = new StateGraph(State)
    .addNode('supervisor', workersOnly ? async () => ({ steps: [] }) : supervisor)
    .addNode('worker_a', worker(WORKERS[0]))
    .addNode('worker_b', worker(WORKERS[1]));
  return g.addEdge(START, 'supervisor').addEdge('supervisor', 'worker_a').addEdge('worker_a', 'worker_b').addEdge('worker_b', END).compile();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { workspace: { type: 'string', short: 'w' }, 'workers-only': { type: 'boolean' }, json: { type: 'boolean' } } });
  if (!values.workspace) {
    process.stderr.write('usage: agent.mjs --workspace <dir> [--workers-only] [--json]\n');
    process.exit(2);
  }
  const { steps } = await delegationGraph(values.workspace, { workersOnly: values['workers-only'] }).invoke({});
  if (values.json) process.stdout.write(`${JSON.stringify({ steps })}\n`);
  else for (const s of steps) process.stdout.write(`${s.agent} ${s.tool}: ${s.outcome ? `${s.outcome.verdict} [${s.outcome.reasons.join(', ')}]` : s.status}\n`);
}
