#!/usr/bin/env node
// A LangGraph ReAct agent whose tools are Mandate's governed tools, loaded
// through @langchain/mcp-adapters. The "model" is scripted (no LLM, no API
// key): it emits the tool calls a FinOps model would, and reads the results
// like one. Everything it asks for is decided by Mandate, under the `finops`
// contract of examples/finops-workspace.
//
//   node examples/langchain/agent.mjs --workspace /tmp/finops-ws                 # stdio
//   MANDATE_KEY=mdt_... node examples/langchain/agent.mjs --url http://127.0.0.1:8080/mcp   # HTTP
import { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { AIMessage } from '@langchain/core/messages';
import { createReactAgent } from '@langchain/langgraph/prebuilt';
import { MultiServerMCPClient } from '@langchain/mcp-adapters';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const MANDATE_CLI = process.env.MANDATE_CLI ?? resolve(HERE, '../../dist/src/cli/main.js');
// The node that runs the Mandate server over stdio (its better-sqlite3 build must match it).
const MANDATE_NODE = process.env.MANDATE_NODE ?? process.execPath;

/**
 * Reads the governed outcome out of a ToolMessage. A result carries it as the
 * `mcp_structured_content` artifact; a ToolException (an `isError` result,
 * e.g. a rejection) only as text inside the error message the agent sees.
 */
export function outcomeOf(message) {
  const structured = (Array.isArray(message.artifact) ? message.artifact : []).find((a) => a?.type === 'mcp_structured_content');
  if (structured) return structured.data;
  const text = typeof message.content === 'string' ? message.content : message.content.map((c) => c.text ?? '').join('');
  const start = text.indexOf('{"verdict"');
  const end = text.lastIndexOf('}');
  if (start < 0 || end < start) return null;
  try {
    return JSON.parse(text.slice(start, end + 1));
  } catch {
    return null;
  }
}

/**
 * A chat model that follows a script instead of sampling: each turn it looks
 * at the conversation and returns the next AIMessage with tool_calls, or a
 * final answer. bindTools() returns this, as createReactAgent requires.
 */
export class ScriptedChatModel extends BaseChatModel {
  constructor(next) {
    super({});
    this.next = next;
    this.turns = 0;
  }
  _llmType() {
    return 'scripted';
  }
  bindTools() {
    return this;
  }
  async _generate(messages) {
    this.turns += 1;
    const message = this.next(messages, this.turns);
    return { generations: [{ text: typeof message.content === 'string' ? message.content : '', message }] };
  }
}

let callSeq = 0;
const call = (name, args) => new AIMessage({ content: '', tool_calls: [{ id: `call_${++callSeq}`, name, args, type: 'tool_call' }] });

/**
 * The FinOps script: stop a DEV instance, try PROD, stop a STG instance, and
 * wait for the human's decision on the STG one with get_decision (long poll).
 */
export function finopsScript({ waitSeconds = 20, maxPolls = 6 } = {}) {
  const plan = [
    call('cloud_stop_instance', { instance_id: 'i-dev-web-1', reason: 'idle for 7 days' }),
    call('cloud_stop_instance', { instance_id: 'i-prod-db-1', reason: 'idle?' }),
    call('cloud_stop_instance', { instance_id: 'i-stg-api-1', reason: 'idle since the release' }),
  ];
  let polls = 0;
  return (messages) => {
    const last = messages.at(-1);
    if (last?.getType() === 'tool') {
      const outcome = outcomeOf(last);
      // A pending decision: wait for the human, a bounded number of times.
      if (outcome && outcome.status === 'pending' && polls < maxPolls) {
        polls += 1;
        return call('get_decision', { decision_id: outcome.decision_id, wait_seconds: waitSeconds });
      }
    }
    const step = plan.shift();
    if (step) return step;
    return new AIMessage('Done: stopped what the contract allows; PROD was refused; STG went to a human.');
  };
}

/** Connects to Mandate (stdio or HTTP), runs the agent, and returns its transcript. */
export async function runFinopsAgent({ workspace, url, key, agent = 'finops', waitSeconds, maxPolls } = {}) {
  const server = url
    ? { transport: 'http', url, headers: { Authorization: `Bearer ${key}` }, automaticSSEFallback: false }
    : { transport: 'stdio', command: MANDATE_NODE, args: [MANDATE_CLI, 'serve', '--stdio', '--agent', agent, '-w', workspace, '--log-level', 'warn'] };
  const client = new MultiServerMCPClient({ mcpServers: { mandate: server }, throwOnLoadError: true, prefixToolNameWithServerName: false });
  try {
    const tools = await client.getTools();
    const model = new ScriptedChatModel(finopsScript({ waitSeconds, maxPolls }));
    const graph = createReactAgent({ llm: model, tools });
    const result = await graph.invoke({ messages: [{ role: 'user', content: 'Stop the idle instances: i-dev-web-1, i-prod-db-1, i-stg-api-1.' }] }, { recursionLimit: 40 });
    const transcript = result.messages.map((m) => ({
      type: m.getType(),
      ...(m.getType() === 'ai' ? { tool_calls: (m.tool_calls ?? []).map((c) => ({ name: c.name, args: c.args })), text: typeof m.content === 'string' ? m.content : '' } : {}),
      ...(m.getType() === 'tool' ? { name: m.name, status: m.status, outcome: outcomeOf(m), content: typeof m.content === 'string' ? m.content : JSON.stringify(m.content) } : {}),
    }));
    return { tools: tools.map((t) => t.name), transcript };
  } finally {
    await client.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { workspace: { type: 'string', short: 'w' }, url: { type: 'string' }, agent: { type: 'string' }, json: { type: 'boolean' } } });
  const key = process.env.MANDATE_KEY;
  if (!values.workspace && !values.url) {
    process.stderr.write('usage: agent.mjs --workspace <dir>   (stdio)\n       MANDATE_KEY=mdt_... agent.mjs --url http://127.0.0.1:8080/mcp   (HTTP)\n');
    process.exit(2);
  }
  if (values.url && !key) {
    process.stderr.write('set MANDATE_KEY to a key from `mandate keys create --agent finops`\n');
    process.exit(2);
  }
  const out = await runFinopsAgent({ workspace: values.workspace, url: values.url, key, agent: values.agent });
  if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    process.stdout.write(`tools: ${out.tools.join(', ')}\n`);
    for (const m of out.transcript) {
      if (m.type === 'ai') process.stdout.write(m.tool_calls.length ? `agent -> ${m.tool_calls.map((c) => `${c.name} ${JSON.stringify(c.args)}`).join('; ')}\n` : `agent: ${m.text}\n`);
      if (m.type === 'tool') process.stdout.write(`  ${m.status === 'error' ? 'TOOL ERROR' : 'result'}: ${m.outcome ? `${m.outcome.verdict} ${m.outcome.status} [${m.outcome.reasons.join(', ')}]` : m.content.slice(0, 200)}\n`);
    }
  }
}
