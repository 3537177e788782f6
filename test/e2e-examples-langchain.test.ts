/**
 * examples/langchain: a LangGraph ReAct agent (createReactAgent) with
 * Mandate's tools from @langchain/mcp-adapters' MultiServerMCPClient and a
 * scripted BaseChatModel, run as its own process over stdio and over HTTP.
 * An operator approves the escalated stop through the CLI while the agent
 * long-polls get_decision.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { E2E, exportLedger } from './helpers/e2e.js';
import { approveWhenPending, eventsOf, finopsWorkspace, runExample, stateOf } from './helpers/examples.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';

interface Step {
  type: string;
  tool_calls?: { name: string; args: Record<string, unknown> }[];
  text?: string;
  name?: string;
  status?: string;
  content?: string;
  outcome?: { verdict: string; status: string; reasons: string[]; decision_id: string } | null;
}
interface Transcript {
  tools: string[];
  transcript: Step[];
}

const e2e = new E2E();
const servers: HttpServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await e2e.cleanup();
});

async function runWithOperator(ws: string, args: string[], env: Record<string, string> = {}) {
  const agent = runExample<Transcript>('langchain', args, { env, timeoutMs: 60_000 });
  // The operator approves from a terminal while the agent waits on get_decision.
  const approval = approveWhenPending(ws, 'finops', { timeoutMs: 40_000 });
  const [out, approved] = await Promise.all([agent, approval]);
  return { out, approved };
}

function checkTranscript(ws: string, out: Transcript, approvedId: string) {
  expect(out.tools).toEqual(expect.arrayContaining(['cloud_stop_instance', 'cloud_list_instances', 'get_decision']));
  const tools = out.transcript.filter((m) => m.type === 'tool');
  const [dev, prod, stg, ...polls] = tools;

  // Allowed: a DEV instance is stopped.
  expect(dev?.status).toBe('success');
  expect(dev?.outcome).toMatchObject({ verdict: 'accepted', status: 'accepted' });

  // Forbidden: the adapter threw a ToolException, and ToolNode gave the agent an error ToolMessage it can read.
  expect(prod?.status).toBe('error');
  expect(prod?.content).toMatch(/^Error: MCP tool 'cloud_stop_instance' on server 'mandate' returned an error: /);
  expect(prod?.content).toContain('POLICY_FORBID');
  expect(prod?.outcome).toMatchObject({ verdict: 'rejected', reasons: ['POLICY_FORBID'] });

  // Escalated: a pending outcome, then get_decision long polls until the operator's approval.
  expect(stg?.outcome).toMatchObject({ verdict: 'escalated', status: 'pending', reasons: ['ESCALATION_REQUIRED'] });
  expect(stg?.outcome?.decision_id).toBe(approvedId);
  expect(polls.length).toBeGreaterThanOrEqual(1);
  expect(polls.every((p) => p.name === 'get_decision')).toBe(true);
  expect(polls.at(-1)?.outcome).toMatchObject({ verdict: 'accepted', status: 'approved', decision_id: approvedId });
  const pollCalls = out.transcript.filter((m) => m.type === 'ai').flatMap((m) => m.tool_calls ?? []).filter((c) => c.name === 'get_decision');
  expect(pollCalls[0]?.args).toMatchObject({ decision_id: approvedId, wait_seconds: 20 });
  expect(out.transcript.at(-1)).toMatchObject({ type: 'ai', tool_calls: [] });

  // The side effects, in the inventory file.
  expect(stateOf(ws, 'i-dev-web-1')).toBe('stopped');
  expect(stateOf(ws, 'i-stg-api-1')).toBe('stopped');
  expect(stateOf(ws, 'i-prod-db-1')).toBe('running');
}

describe('examples/langchain', () => {
  it('stdio: allowed, forbidden as a ToolException the agent reads, escalated and approved through the CLI', async () => {
    const ws = await finopsWorkspace(e2e);
    const { out, approved } = await runWithOperator(ws, ['--workspace', ws]);
    expect(approved.outcome).toMatchObject({ verdict: 'accepted', status: 'approved' });
    checkTranscript(ws, out, approved.decisionId);
    const { events } = await exportLedger(ws);
    const resolved = eventsOf(events, approved.decisionId).find((e) => e.type === 'EscalationResolved');
    expect(resolved).toMatchObject({ reasons: ['ESCALATION_APPROVED'], data: { by: 'ops-anna' } });
  });

  it('HTTP: the same agent through MultiServerMCPClient with a bearer key', async () => {
    const ws = await finopsWorkspace(e2e);
    const key = await createKey(ws, { agent: 'finops' });
    const server = await startHttp(ws);
    servers.push(server);
    const { out, approved } = await runWithOperator(ws, ['--url', `${server.url}/mcp`], { MANDATE_KEY: key.key });
    checkTranscript(ws, out, approved.decisionId);
  });
});
