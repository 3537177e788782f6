import { ProtocolError, ProtocolErrorCode, Server, type JSONRPCRequest, type Result, type ServerCapabilities, type ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { CallRelay, Channel, Outcome } from '../core/types.js';
import type { Kernel } from '../kernel/kernel.js';
import type { TaskResultForm } from '../store/port/index.js';
import { MandateTaskStore } from './task-store.js';
import { McpTasks, TASK_TOOLS, TASKS_CAPABILITY, withTaskSupport, type TaskRun } from './tasks.js';
import type { Gateway } from '../gateway/gateway.js';
import { APPROVAL_FORM, ApprovalAnswer, applyApproval, approvalQuestion, clientMayApprove } from './client-approval.js';
import { bearerTokenOf, governedTools, readCallMeta, UnknownToolError } from './governed-calls.js';
import { ListParams } from './legacy-params.js';
import { registerUpstreamPrimitives } from './proxy-primitives.js';
import { clientAsk } from './proxy-relay.js';
import { approvalWait } from '../telemetry/approval-span.js';
import { SERVER_INFO } from '../core/server-info.js';
import { INSTRUCTIONS } from './server-info.js';

export { SERVER_INFO };

/**
 * The low-level SDK v2 `Server` of one 2025-era session (ADR-036). tools/call
 * is Mandate's own from end to end on this wire: the SDK's `tools/call` wrap
 * would check the request and the result against the revision's schemas,
 * answering `arguments` that is not an object with -32602 before Mandate sees
 * it, and refusing a task handle as a tools/call result. Here a bad
 * `arguments` gets a governed refusal, and a task-augmented call answers with
 * its task (the 2025-11-25 task wire, which SDK v2 no longer carries). The
 * session's end detaches it from the gateway. Both are the SDK's documented
 * subclass hooks, not patches.
 */
class LegacyServer extends Server {
  constructor(
    info: ConstructorParameters<typeof Server>[0],
    options: ConstructorParameters<typeof Server>[1],
    private readonly onSessionEnd: () => void,
  ) {
    super(info, options);
  }

  protected override _wrapHandler(method: string, handler: (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result>): (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result> {
    return method === 'tools/call' ? handler : super._wrapHandler(method, handler);
  }

  protected override _onclose(): void {
    this.onSessionEnd();
    super._onclose();
  }
}

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
  // The pin records the upstream's capabilities as its wire said them, JSON throughout.
  const pinned = identity?.capabilities as ServerCapabilities | undefined;
  const base: ServerCapabilities = pinned
    ? { ...withoutTasks(pinned), tools: pinned.tools ?? {} }
    : fronting
      ? { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, prompts: { listChanged: true }, completions: {}, logging: {} }
      : { tools: { listChanged: true }, resources: { listChanged: false }, logging: {} };
  // Mandate serves tasks itself (ADR-014); a transparent mirror offers them only where its upstream does, so it stays the upstream's identity.
  const mirrorsTasks = !identity || !!identity.capabilities?.tasks;
  const capabilities = (mirrorsTasks ? { ...base, tasks: TASKS_CAPABILITY } : base) as ServerCapabilities;
  const instructions = mandateTools ? INSTRUCTIONS : identity?.instructions;
  const taskStore = new MandateTaskStore(kernel, agent);
  let detach: () => void = () => undefined;
  const server = new LegacyServer(identity?.serverInfo ?? SERVER_INFO, { capabilities, ...(instructions !== undefined ? { instructions } : {}) }, () => detach());
  const tasks = new McpTasks(kernel, agent, (n) => server.notification(n as Parameters<typeof server.notification>[0]), taskStore);
  // A transparent mirror of an upstream without tasks has no task methods, as that upstream has none.
  if (mirrorsTasks) tasks.install(server);
  // What the session's client declared at initialize: what it can be asked, and what a 2026 upstream is told (ADR-038).
  const clientCapabilities = () => server.getClientCapabilities() ?? {};
  const governed = governedTools(kernel, agent, channel);
  const { fixed, capabilityTools } = governed;

  server.setRequestHandler('tools/list', { params: ListParams }, () => ({
    // Governed tools take tasks optionally (ADR-014). A transparent mirror keeps each upstream tool's own `execution`, as
    // pinned; elsewhere an upstream tool that requires a task keeps saying so.
    tools: [
      ...fixed.map((t) => (TASK_TOOLS.has(t.name) ? withTaskSupport(t) : t)),
      ...capabilityTools().map((t) => (t.passthrough && (identity || (t.tool as { execution?: { taskSupport?: string } }).execution?.taskSupport === 'required') ? t.tool : withTaskSupport(t.tool))),
    ] as never,
  }));
  // Which tools run as a task, and how their result looks: the governed ones only.
  const taskForm = (name: string): TaskResultForm | null => {
    if (TASK_TOOLS.has(name)) return 'outcome';
    const target = capabilityTools().find((t) => t.tool.name === name);
    return target ? (target.passthrough ? 'passthrough' : 'outcome') : null;
  };

  // One tools/call; for a task, `run` gives the task's decision id, abort signal and relay.
  const handleCall = async (params: CallParams, ctx: ServerContext, run?: TaskRun) => {
    const meta = readCallMeta(params._meta);
    // Progress and log messages of the running capability (an upstream tool's) go back on this request.
    const relay: CallRelay = {
      progressToken: params._meta?.['progressToken'] as CallRelay['progressToken'],
      notify: (n) => ctx.mcpReq.notify(n as Parameters<typeof ctx.mcpReq.notify>[0]),
      // Sampling, elicitation and roots an upstream asks for during the call go to this client, on this request (ADR-013).
      ask: clientAsk(clientCapabilities, kernel, agent, (r, schema, o) => ctx.mcpReq.send(r as never, schema as never, o)),
      // A 2026 upstream is told what this session's client declared, so it asks only for input that can reach someone (ADR-038).
      askable: clientCapabilities,
    };
    try {
      return (await governed.call(params.name, params.arguments ?? {}, {
        signal: run?.signal ?? ctx.mcpReq.signal,
        relay: run?.relay ?? relay,
        decisionId: run?.decisionId,
        traceparent: meta.traceparent,
        idempotencyKey: meta.idempotencyKey,
        planId: meta.planId,
        delegationToken: meta.delegationToken,
        bearerToken: bearerTokenOf(ctx.http?.authInfo),
        // A task waits for the human as input_required instead of asking the client.
        onEscalated: run ? undefined : (outcome) => askClientHuman(server, kernel, agent, outcome),
      })) as Result;
    } catch (err) {
      if (err instanceof UnknownToolError) throw new ProtocolError(ProtocolErrorCode.InvalidParams, err.message);
      throw err;
    }
  };

  server.setRequestHandler('tools/call', { params: CallParams }, async (params, ctx) => {
    if (!params.task) return handleCall(params, ctx);
    if (!mirrorsTasks) throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Server does not support task creation for tools/call');
    const form = taskForm(params.name);
    if (!form) throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `tool \`${params.name.slice(0, 64)}\` does not run as a task`);
    return (await tasks.start(params, form, (run) => handleCall(params, ctx, run))) as unknown as Result;
  });
  detach = registerUpstreamPrimitives(server, kernel, agent, gateway, { memory: mandateTools, declared: capabilities });
  return server;
}

function withoutTasks(caps: ServerCapabilities): ServerCapabilities {
  const { tasks: _notServed, ...rest } = caps as ServerCapabilities & { tasks?: unknown };
  return rest;
}

/** tools/call's params as the revision defines them, but with `arguments` of any type, so the handler can refuse a bad one itself. */
const CallParams = z
  .object({
    name: z.string(),
    arguments: z.unknown().optional(),
    task: z.object({ ttl: z.number().optional() }).loose().optional(),
    _meta: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();
type CallParams = z.infer<typeof CallParams>;

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
