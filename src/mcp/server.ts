import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, type CallToolRequest, type ServerCapabilities, ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { Protocol } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { z } from 'zod';
import type { CallRelay, Channel, Outcome } from '../core/types.js';
import type { Kernel } from '../kernel/kernel.js';
import type { TaskResultForm } from '../store/port/index.js';
import { MandateTaskStore } from './task-store.js';
import { McpTasks, TASK_TOOLS, TASKS_CAPABILITY, withTaskSupport, type TaskRun } from './tasks.js';
import type { Gateway } from '../gateway/gateway.js';
import { APPROVAL_FORM, ApprovalAnswer, applyApproval, approvalQuestion, clientMayApprove } from './client-approval.js';
import { bearerTokenOf, governedTools, readCallMeta, UnknownToolError } from './governed-calls.js';
import { registerUpstreamPrimitives } from './proxy-primitives.js';
import { clientAsk } from './proxy-relay.js';
import { approvalWait } from '../telemetry/approval-span.js';
import { refuseInvalidParams } from './invalid-params.js';
import { SERVER_INFO } from '../core/server-info.js';
import { INSTRUCTIONS } from './server-info.js';

export { SERVER_INFO };

/**
 * The MCP adapter for one agent's session: it only translates between the
 * wire and the kernel. The low-level SDK `Server` is used so that argument
 * errors are governed outcomes too, not SDK-generated messages.
 */
export function createMcpServer(kernel: Kernel, agent: string, channel: Channel, gateway?: Gateway): Server {
  const { tools: toolsConfig, upstreams } = kernel.workspace.config;
  const mandateTools = toolsConfig.mandate_tools;
  const fronting = Object.keys(upstreams).length > 0;
  // logging: upstream log messages are forwarded; listChanged: a re-pin changes the upstream primitives (ADR-008, ADR-013).
  // Without Mandate's own tools, in front of one transparent upstream, the agent meets that upstream's pinned identity:
  // its name, instructions and capabilities. Tasks are Mandate's own, kept in its store (ADR-014), whatever the upstream offers.
  const identity = mandateTools ? null : (gateway?.transparentIdentity() ?? null);
  const base: ServerCapabilities = identity?.capabilities
    ? { ...withoutTasks(identity.capabilities), tools: identity.capabilities.tools ?? {} }
    : fronting
      ? { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, prompts: { listChanged: true }, completions: {}, logging: {} }
      : { tools: { listChanged: true }, resources: { listChanged: false }, logging: {} };
  // Mandate serves tasks itself (ADR-014); a transparent mirror offers them only where its upstream does, so it stays the upstream's identity.
  const mirrorsTasks = !identity || !!identity.capabilities?.tasks;
  const capabilities: ServerCapabilities = mirrorsTasks ? { ...base, tasks: TASKS_CAPABILITY } : base;
  const instructions = mandateTools ? INSTRUCTIONS : identity?.instructions;
  const taskStore = new MandateTaskStore(kernel, agent);
  const server = new Server(identity?.serverInfo ?? SERVER_INFO, { capabilities, ...(instructions !== undefined ? { instructions } : {}), taskStore });
  const tasks = new McpTasks(kernel, agent, (n) => server.notification(n), taskStore);
  tasks.install(server);
  const governed = governedTools(kernel, agent, channel);
  const { fixed, capabilityTools } = governed;

  server.setRequestHandler(ListToolsRequestSchema, () => ({
    // Governed tools take tasks optionally (ADR-014). A transparent mirror keeps each upstream tool's own `execution`, as
    // pinned; elsewhere an upstream tool that requires a task keeps saying so.
    tools: [
      ...fixed.map((t) => (TASK_TOOLS.has(t.name) ? withTaskSupport(t) : t)),
      ...capabilityTools().map((t) => (t.passthrough && (identity || (t.tool as { execution?: { taskSupport?: string } }).execution?.taskSupport === 'required') ? t.tool : withTaskSupport(t.tool))),
    ],
  }));
  // Which tools run as a task, and how their result looks: the governed ones only.
  const taskForm = (name: string): TaskResultForm | null => {
    if (TASK_TOOLS.has(name)) return 'outcome';
    const target = capabilityTools().find((t) => t.tool.name === name);
    return target ? (target.passthrough ? 'passthrough' : 'outcome') : null;
  };

  // One tools/call; for a task, `run` gives the task's decision id, abort signal and relay. Registered past the SDK's
  // Server override, which would answer `arguments` that is not an object with -32603 and a zod dump before this
  // handler runs; here such arguments get a governed refusal instead.
  const handleCall = async (request: z.infer<typeof LooseCallToolRequestSchema>, extra: CallToolExtra, run?: TaskRun) => {
    const meta = readCallMeta(request.params._meta as Record<string, unknown> | undefined);
    // Progress and log messages of the running capability (an upstream tool's) go back on this request.
    const relay: CallRelay = {
      progressToken: request.params._meta?.progressToken,
      notify: (n) => extra.sendNotification(n as Parameters<typeof extra.sendNotification>[0]),
      // Sampling, elicitation and roots an upstream asks for during the call go to this client, on this request (ADR-013).
      ask: clientAsk(() => server.getClientCapabilities() ?? {}, kernel, agent, (r, schema, o) => extra.sendRequest(r as never, schema as never, o)),
    };
    try {
      return await governed.call(request.params.name, request.params.arguments ?? {}, {
        signal: run?.signal ?? extra.signal,
        relay: run?.relay ?? relay,
        decisionId: run?.decisionId,
        traceparent: meta.traceparent,
        idempotencyKey: meta.idempotencyKey,
        planId: meta.planId,
        delegationToken: meta.delegationToken,
        bearerToken: bearerTokenOf(extra.authInfo),
        // A task waits for the human as input_required instead of asking the client.
        onEscalated: run ? undefined : (outcome) => askClientHuman(server, kernel, agent, outcome),
      });
    } catch (err) {
      if (err instanceof UnknownToolError) throw new McpError(ErrorCode.InvalidParams, err.message);
      throw err;
    }
  };

  const onCallTool = (request: z.infer<typeof LooseCallToolRequestSchema>, extra: CallToolExtra) => {
    if (!request.params.task) return handleCall(request, extra);
    const form = taskForm(request.params.name);
    if (!form) throw new McpError(ErrorCode.MethodNotFound, `tool \`${request.params.name.slice(0, 64)}\` does not run as a task`);
    return tasks.start(request as CallToolRequest, form, (run) => handleCall(request, extra, run));
  };
  Protocol.prototype.setRequestHandler.call(server, LooseCallToolRequestSchema, onCallTool as Parameters<Server['setRequestHandler']>[1]);
  const detach = registerUpstreamPrimitives(server, kernel, agent, gateway, { memory: mandateTools, declared: capabilities });
  onClosed(server, detach);
  refuseInvalidParams(server);
  return server;
}

function withoutTasks(caps: ServerCapabilities): ServerCapabilities {
  const { tasks: _notServed, ...rest } = caps;
  return rest;
}

/** tools/call as the SDK defines it, but with `arguments` of any type, so the handler can refuse a bad one itself. */
const LooseCallToolRequestSchema = CallToolRequestSchema.extend({ params: CallToolRequestSchema.shape.params.extend({ arguments: z.unknown().optional() }) });
type CallToolExtra = Parameters<Parameters<Server['setRequestHandler']>[1]>[1];

/** Runs `fn` when the session closes, whatever `onclose` its owner sets later (serve.ts, the HTTP route). */
function onClosed(server: Server, fn: () => void): void {
  let owner: (() => void) | undefined;
  Object.defineProperty(server, 'onclose', {
    configurable: true,
    get: () => () => {
      fn();
      owner?.();
    },
    set: (f: (() => void) | undefined) => {
      owner = f;
    },
  });
}

/**
 * MCP elicitation on a 2025-era session: where the contract opts in and the
 * client advertises elicitation, the human in the client is asked to approve
 * or deny. Declining or cancelling leaves the decision pending for an operator.
 */
async function askClientHuman(server: Server, kernel: Kernel, agent: string, outcome: Outcome): Promise<Outcome> {
  if (!clientMayApprove(kernel, agent) || !server.getClientCapabilities()?.elicitation) return outcome;
  const message = await approvalQuestion(kernel, agent, outcome);
  if (message === null) return outcome;
  // The time the client's human took is the approval wait's span (ADR-026).
  return (await approvalWait(kernel.deps.tracer, outcome.decision_id, 'elicitation', async () => {
    let answer;
    try {
      answer = await server.elicitInput({ message, requestedSchema: APPROVAL_FORM });
    } catch {
      return outcome; // the client could not ask; the decision stays pending
    }
    const parsed = ApprovalAnswer.safeParse(answer.content ?? {});
    if (answer.action !== 'accept' || !parsed.success) return outcome;
    return (await applyApproval(kernel, agent, outcome.decision_id, parsed.data)) ?? outcome; // null: resolved meanwhile by someone else
  })) ?? outcome;
}
