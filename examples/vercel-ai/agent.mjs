#!/usr/bin/env node
// The Vercel AI SDK with Mandate's governed tools: createMCPClient from
// @ai-sdk/mcp, generateText from `ai` with a scripted mock model
// (MockLanguageModelV4 from ai/test: no LLM, no API key). The agent runs
// under the `finops-copilot` contract of examples/finops-workspace, whose
// `escalation.client_approval: true` lets the human at this client approve an
// escalated stop through MCP elicitation. `ai` 7 needs Node >= 22: `npm run clients`
// installs the pinned clients and prints how to run this file with them (README.md).
//
//   node examples/vercel-ai/agent.mjs --workspace /tmp/finops-ws                    # stdio, asks you on the terminal
//   MANDATE_KEY=mdt_... node examples/vercel-ai/agent.mjs --url http://127.0.0.1:8080/mcp --human approve
import { createMCPClient, ElicitationRequestSchema } from '@ai-sdk/mcp';
import { StdioMCPTransport } from '@ai-sdk/mcp/mcp-stdio';
import { generateText, isStepCount } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const MANDATE_CLI = process.env.MANDATE_CLI ?? resolve(HERE, '../../dist/src/cli/main.js');
// The node that runs the Mandate server over stdio (its better-sqlite3 build must match it).
const MANDATE_NODE = process.env.MANDATE_NODE ?? process.execPath;

const usage = { inputTokens: { total: 0, noCache: 0, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 0, text: 0, reasoning: 0 } };
const toolCall = (id, toolName, input) => ({
  content: [{ type: 'tool-call', toolCallId: id, toolName, input: JSON.stringify(input) }],
  finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
  usage,
  warnings: [],
});
const text = (t) => ({ content: [{ type: 'text', text: t }], finishReason: { unified: 'stop', raw: 'stop' }, usage, warnings: [] });

/** The scripted model: stop a STG instance (escalates), then try PROD (forbidden), then answer. */
export function scriptedModel() {
  const script = [
    toolCall('call_1', 'cloud_stop_instance', { instance_id: 'i-stg-api-1', reason: 'idle since the release' }),
    toolCall('call_2', 'cloud_stop_instance', { instance_id: 'i-prod-db-1', reason: 'idle?' }),
    text('Stopped i-stg-api-1 after your approval; i-prod-db-1 is production and was refused.'),
  ];
  return new MockLanguageModelV4({ doGenerate: async () => script.shift() ?? text('Nothing left to do.') });
}

/**
 * The human behind the client, asked through MCP elicitation when an
 * escalated call may be approved here. `approve` / `deny` answer at once (a
 * scripted human, for tests); `ask` asks on the terminal; `decline` leaves
 * the decision to an operator.
 */
export function humanAt(mode, seen) {
  return async (request) => {
    seen.push({ message: request.params.message, fields: Object.keys(request.params.requestedSchema?.properties ?? {}) });
    if (mode === 'approve') return { action: 'accept', content: { decision: 'approve', reason: 'checked the staging calendar' } };
    if (mode === 'deny') return { action: 'accept', content: { decision: 'deny', reason: 'release testing this week' } };
    if (mode === 'ask' && process.stdin.isTTY) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        const answer = (await rl.question(`\n${request.params.message}\napprove or deny? `)).trim().toLowerCase();
        if (answer === 'approve' || answer === 'deny') return { action: 'accept', content: { decision: answer } };
      } finally {
        rl.close();
      }
    }
    return { action: 'decline' };
  };
}

/** Connects (stdio or HTTP), runs generateText with Mandate's tools, returns what happened. */
export async function runVercelAgent({ workspace, url, key, agent = 'finops-copilot', human = 'ask' } = {}) {
  const transport = url
    ? { type: 'http', url, headers: { Authorization: `Bearer ${key}` } }
    : new StdioMCPTransport({ command: MANDATE_NODE, args: [MANDATE_CLI, 'serve', '--stdio', '--agent', agent, '-w', workspace, '--log-level', 'warn'] });
  const elicitations = [];
  const client = await createMCPClient({ transport, clientName: 'mandate-vercel-example', capabilities: { elicitation: {} } });
  client.onElicitationRequest(ElicitationRequestSchema, humanAt(human, elicitations));
  try {
    const tools = await client.tools();
    const result = await generateText({
      model: scriptedModel(),
      tools,
      stopWhen: isStepCount(5),
      prompt: 'Stop the idle instances i-stg-api-1 and i-prod-db-1.',
    });
    const toolResults = result.steps.flatMap((s) => s.toolResults).map((r) => {
      const out = r.output ?? {};
      return { tool: r.toolName, input: r.input, isError: out.isError === true, outcome: out.structuredContent ?? null };
    });
    return { tools: Object.keys(tools), elicitations, toolResults, text: result.text, steps: result.steps.length };
  } finally {
    await client.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { workspace: { type: 'string', short: 'w' }, url: { type: 'string' }, agent: { type: 'string' }, human: { type: 'string' }, json: { type: 'boolean' } } });
  const key = process.env.MANDATE_KEY;
  if ((!values.workspace && !values.url) || (values.url && !key)) {
    process.stderr.write('usage: agent.mjs --workspace <dir> [--human ask|approve|deny|decline]   (stdio)\n       MANDATE_KEY=mdt_... agent.mjs --url http://127.0.0.1:8080/mcp [--human ...]   (HTTP)\n');
    process.exit(2);
  }
  const out = await runVercelAgent({ workspace: values.workspace, url: values.url, key, agent: values.agent, human: values.human ?? 'ask' });
  if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    process.stdout.write(`tools: ${out.tools.join(', ')}\n`);
    for (const e of out.elicitations) process.stdout.write(`elicitation: ${e.message}\n`);
    for (const r of out.toolResults) {
      const o = r.outcome;
      process.stdout.write(`${r.tool} ${JSON.stringify(r.input)} -> ${o ? `${o.verdict} ${o.status} [${o.reasons.join(', ')}]` : 'no outcome'}${r.isError ? ' (isError)' : ''}\n`);
    }
    process.stdout.write(`model: ${out.text}\n`);
  }
}
