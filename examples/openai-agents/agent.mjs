#!/usr/bin/env node
// OpenAI Agents JS with Mandate's governed tools, no API key needed:
//  1. MCPServerStdio / MCPServerStreamableHttp list and call tools directly;
//  2. an Agent runs with those MCP servers and the SDK's own ScriptedModel
//     (@openai/agents/testing) in place of an OpenAI model.
// The agent works under the `finops` contract of examples/finops-workspace.
// `openai` 7 needs Node >= 22: `npm run clients` installs the pinned clients and
// prints how to run this file with them (README.md).
//
//   node examples/openai-agents/agent.mjs --workspace /tmp/finops-ws                       # stdio
//   MANDATE_KEY=mdt_... node examples/openai-agents/agent.mjs --url http://127.0.0.1:8080/mcp  # HTTP
import { Agent, MCPServerStdio, MCPServerStreamableHttp, run, setTracingDisabled } from '@openai/agents';
import { assistantMessage, functionCall, modelResponder, ScriptedModel } from '@openai/agents/testing';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const MANDATE_CLI = process.env.MANDATE_CLI ?? resolve(HERE, '../../dist/src/cli/main.js');
const MANDATE_NODE = process.env.MANDATE_NODE ?? process.execPath;

setTracingDisabled(true); // tracing would export to OpenAI, which needs a key

/** Mandate as an MCP server of the Agents SDK, over stdio or Streamable HTTP. */
export function mandateServer({ workspace, url, key, agent = 'finops' }) {
  // The SDK's default request timeout is 5 s; a Mandate started over stdio on a busy machine can take longer to
  // answer `initialize` (it loads and compiles the workspace's policies first).
  const clientSessionTimeoutSeconds = 30;
  return url
    ? new MCPServerStreamableHttp({ name: 'mandate', url, requestInit: { headers: { Authorization: `Bearer ${key}` } }, cacheToolsList: true, clientSessionTimeoutSeconds })
    : new MCPServerStdio({ name: 'mandate', command: MANDATE_NODE, args: [MANDATE_CLI, 'serve', '--stdio', '--agent', agent, '-w', workspace, '--log-level', 'warn'], cacheToolsList: true, clientSessionTimeoutSeconds });
}

/**
 * The governed outcome inside whatever wraps it: callTool's content array
 * (Mandate's outcome JSON is content[0].text), or a function-call output the
 * runner fed to the model (a content block serialised as a string).
 */
export function outcomeOf(value, depth = 0) {
  if (depth > 4 || value == null) return null;
  if (typeof value === 'string') {
    try {
      return outcomeOf(JSON.parse(value), depth + 1);
    } catch {
      return null;
    }
  }
  if (Array.isArray(value)) return outcomeOf(value[0], depth + 1);
  if (typeof value === 'object') {
    if (typeof value.verdict === 'string') return value;
    if ('text' in value) return outcomeOf(value.text, depth + 1);
  }
  return null;
}

export async function runOpenAiAgents(opts) {
  const server = mandateServer(opts);
  await server.connect();
  try {
    // 1. The MCP client on its own.
    const tools = (await server.listTools()).map((t) => ({ name: t.name, readOnly: t.annotations?.readOnlyHint === true }));
    const listed = outcomeOf(await server.callTool('cloud_list_instances', { env: 'DEV' }));
    const forbidden = await server.callToolResult('cloud_stop_instance', { instance_id: 'i-prod-db-1' });
    const direct = { listed, forbidden: { isError: forbidden.isError === true, outcome: forbidden.structuredContent ?? outcomeOf(forbidden.content) } };

    // 2. An Agent whose model is scripted: one allowed stop, one forbidden, then a summary
    //    written from the tool outputs the runner fed back to it.
    const model = new ScriptedModel([
      [functionCall('cloud_stop_instance', { instance_id: 'i-dev-batch-1', reason: 'batch window over' }, { callId: 'call_1' })],
      [functionCall('cloud_stop_instance', { instance_id: 'i-prod-db-1', reason: 'idle?' }, { callId: 'call_2' })],
      modelResponder((call) => {
        const outputs = call.request.input.filter((i) => i.type === 'function_call_result');
        const verdicts = outputs.map((o) => outcomeOf(o.output)?.verdict ?? 'unknown');
        return [assistantMessage(`verdicts: ${verdicts.join(', ')}`)];
      }),
    ]);
    const agent = new Agent({ name: 'finops', instructions: 'Stop idle non-production instances.', model, mcpServers: [server] });
    const result = await run(agent, 'Stop i-dev-batch-1 and i-prod-db-1.', { maxTurns: 6 });
    const toolOutputs = result.newItems
      .filter((i) => i.type === 'tool_call_output_item')
      .map((i) => ({ tool: i.rawItem?.name ?? null, outcome: outcomeOf(i.output) }));
    return { tools, direct, agent: { finalOutput: result.finalOutput, modelCalls: model.calls.length, toolOutputs } };
  } finally {
    await server.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { workspace: { type: 'string', short: 'w' }, url: { type: 'string' }, agent: { type: 'string' }, json: { type: 'boolean' } } });
  const key = process.env.MANDATE_KEY;
  if ((!values.workspace && !values.url) || (values.url && !key)) {
    process.stderr.write('usage: agent.mjs --workspace <dir>   (stdio)\n       MANDATE_KEY=mdt_... agent.mjs --url http://127.0.0.1:8080/mcp   (HTTP)\n');
    process.exit(2);
  }
  const out = await runOpenAiAgents({ workspace: values.workspace, url: values.url, key, agent: values.agent });
  if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    process.stdout.write(`tools: ${out.tools.map((t) => t.name).join(', ')}\n`);
    process.stdout.write(`cloud_list_instances DEV -> ${out.direct.listed?.verdict}: ${out.direct.listed?.output?.instances.map((i) => i.instance_id).join(', ')}\n`);
    process.stdout.write(`cloud_stop_instance i-prod-db-1 -> ${out.direct.forbidden.outcome?.verdict} [${out.direct.forbidden.outcome?.reasons.join(', ')}] isError=${out.direct.forbidden.isError}\n`);
    process.stdout.write(`agent (${out.agent.modelCalls} model calls): ${out.agent.finalOutput}\n`);
  }
}
