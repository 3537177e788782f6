/**
 * List-change notifications through the gateway, counted by a real SDK
 * client: an upstream that announces list changes while it starts (as
 * @modelcontextprotocol/server-everything does) changes nothing the agent
 * sees, so the agent is told nothing; a re-pin that exposes a new tool is
 * one real change, and the agent gets one tools/list_changed for it; so is
 * a tool the upstream adds while it runs, however often it announces it.
 */
import { PromptListChangedNotificationSchema, ResourceListChangedNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, type AgentClient } from './helpers/e2e.js';
import { EVERYTHING_SERVER, FIXTURES, NODE, appendConfig, pin, starts, writeContract, y } from './helpers/gateway.js';

const e2e = new E2E();
let ws: string;
let agent: AgentClient;
const seen = { tools: 0, resources: 0, prompts: 0 };
const state = () => join(ws, 'state.json');
const settle = () => new Promise((r) => setTimeout(r, 1_500));

beforeAll(async () => {
  ws = await e2e.workspace();
  writeFileSync(state(), JSON.stringify({ growable: true }));
  appendConfig(
    ws,
    `upstreams:
  every:
    command: ${y(NODE)}
    args: [${y(EVERYTHING_SERVER)}, stdio]
    deadline_ms: 10000
  drift:
    command: ${y(NODE)}
    args: [${y(join(FIXTURES, 'drifting.mjs'))}, state.json]`,
  );
  writeContract(ws, 'everyone', 'grants:\n  - capability: every.*\n  - capability: drift.*\n');
  await pin(ws);
  agent = await e2e.client(ws, 'everyone', {
    beforeConnect: (c) => {
      c.setNotificationHandler(ToolListChangedNotificationSchema, () => void seen.tools++);
      c.setNotificationHandler(ResourceListChangedNotificationSchema, () => void seen.resources++);
      c.setNotificationHandler(PromptListChangedNotificationSchema, () => void seen.prompts++);
    },
  });
}, 90_000);

afterAll(async () => {
  for (const pid of starts(`${state()}.starts`)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await e2e.cleanup();
});

describe('list changes through the gateway', () => {
  it('the first call starts an upstream that announces list changes; the agent, whose lists did not change, is told nothing', async () => {
    const r = await agent.client.callTool({ name: 'every_echo', arguments: { message: 'hi' } }, undefined, { timeout: 20_000 });
    expect(r.isError).toBeFalsy();
    await agent.client.callTool({ name: 'drift_greet', arguments: { name: 'ada' } }, undefined, { timeout: 20_000 });
    await settle();
    expect(seen, JSON.stringify(seen)).toEqual({ tools: 0, resources: 0, prompts: 0 });
  });

  it('a re-pin that exposes a new tool is one change: one tools/list_changed, none for the unchanged resource and prompt lists, and the tool is listed', async () => {
    Object.assign(seen, { tools: 0, resources: 0, prompts: 0 });
    writeFileSync(state(), JSON.stringify({ growable: true, extraTool: true }));
    await pin(ws, 'drift');
    // A running server sees new pins within 0.5 s.
    let listed = false;
    for (let i = 0; i < 40 && !listed; i++) {
      listed = (await agent.client.listTools()).tools.some((t) => t.name === 'drift_sneaky');
      if (!listed) await new Promise((r) => setTimeout(r, 250));
    }
    expect(listed).toBe(true);
    await settle();
    expect(seen, JSON.stringify(seen)).toEqual({ tools: 1, resources: 0, prompts: 0 });
  });

  it('an upstream whose list really changes while it runs, announced three times: the agent is told once', async () => {
    Object.assign(seen, { tools: 0, resources: 0, prompts: 0 });
    await agent.client.callTool({ name: 'drift_grow', arguments: {} }, undefined, { timeout: 20_000 });
    await settle();
    expect(seen, JSON.stringify(seen)).toEqual({ tools: 1, resources: 0, prompts: 0 });
  });
});
