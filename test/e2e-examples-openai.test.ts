/**
 * examples/openai-agents: MCPServerStdio and MCPServerStreamableHttp from
 * @openai/agents list and call Mandate's tools with no API key, and an Agent
 * runs with them under the SDK's own ScriptedModel (@openai/agents/testing).
 * openai 7 declares engines node >= 22: the example runs under Node 22 with the
 * clients of scripts/test-clients.ts, Mandate under this repository's Node.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { E2E } from './helpers/e2e.js';
import { finopsWorkspace, runExample, stateOf } from './helpers/examples.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';
import { NODE22_CLIENTS, requires } from './helpers/requires.js';

const clients = await requires(import.meta.url, [NODE22_CLIENTS]);

interface Outcome {
  verdict: string;
  status: string;
  reasons: string[];
  output?: Record<string, unknown>;
}
interface OpenAiRun {
  tools: { name: string; readOnly: boolean }[];
  direct: { listed: Outcome & { output: { instances: { instance_id: string; env: string }[] } }; forbidden: { isError: boolean; outcome: Outcome } };
  agent: { finalOutput: string; modelCalls: number; toolOutputs: { tool: string | null; outcome: Outcome | null }[] };
}

const e2e = new E2E();
const servers: HttpServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await e2e.cleanup();
});

function check(ws: string, out: OpenAiRun) {
  const names = out.tools.map((t) => t.name);
  expect(names).toEqual(['submit_intent', 'invoke_capability', 'read_memory', 'intervene', 'get_decision', 'submit_plan', 'list_capabilities', 'cloud_list_instances', 'cloud_stop_instance']);
  // Annotations follow the side-effect class: the read capability is read-only, the write one is not.
  expect(out.tools.find((t) => t.name === 'cloud_list_instances')?.readOnly).toBe(true);
  expect(out.tools.find((t) => t.name === 'cloud_stop_instance')?.readOnly).toBe(false);
  // callTool: only the content array; the outcome JSON is content[0].text.
  expect(out.direct.listed).toMatchObject({ verdict: 'accepted' });
  expect(out.direct.listed.output.instances.map((i) => i.instance_id)).toEqual(['i-dev-web-1', 'i-dev-web-2', 'i-dev-batch-1']);
  // callToolResult: isError and structuredContent.
  expect(out.direct.forbidden).toMatchObject({ isError: true, outcome: { verdict: 'rejected', reasons: ['POLICY_FORBID'] } });
  // The Agent: two tool calls through the MCP server, and an answer built from their outputs.
  expect(out.agent.modelCalls).toBe(3);
  expect(out.agent.toolOutputs.map((t) => [t.tool, t.outcome?.verdict, t.outcome?.reasons])).toEqual([
    ['cloud_stop_instance', 'accepted', []],
    ['cloud_stop_instance', 'rejected', ['POLICY_FORBID']],
  ]);
  expect(out.agent.finalOutput).toBe('verdicts: accepted, rejected');
  expect(stateOf(ws, 'i-dev-batch-1')).toBe('stopped');
  expect(stateOf(ws, 'i-prod-db-1')).toBe('running');
  expect(stateOf(ws, 'i-dev-web-1')).toBe('running');
}

describe.skipIf(clients.skip)(clients.title('examples/openai-agents under Node 22'), () => {
  it('MCPServerStdio: list, call, and an Agent with a ScriptedModel', async () => {
    const ws = await finopsWorkspace(e2e);
    check(ws, await runExample<OpenAiRun>('openai-agents', ['--workspace', ws], { node22Clients: true }));
  });

  it('MCPServerStreamableHttp: the same over HTTP with a bearer key', async () => {
    const ws = await finopsWorkspace(e2e);
    const key = await createKey(ws, { agent: 'finops' });
    const server = await startHttp(ws);
    servers.push(server);
    check(ws, await runExample<OpenAiRun>('openai-agents', ['--url', `${server.url}/mcp`], { node22Clients: true, env: { MANDATE_KEY: key.key } }));
  });
});
