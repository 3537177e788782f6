/**
 * Span names and attributes of the OpenTelemetry MCP semantic conventions
 * (open-telemetry/semantic-conventions-genai, docs/gen-ai/mcp.md there; status
 * Development), and Mandate's own under `mandate.*` (ADR-026). Names are
 * spelled here once; the conventions are not in the stable
 * @opentelemetry/semantic-conventions entry point yet.
 */
import type { Outcome } from '../core/types.js';
import type { SpanAttributes } from './port.js';

export const MCP_METHOD_NAME = 'mcp.method.name';
export const MCP_PROTOCOL_VERSION = 'mcp.protocol.version';
export const MCP_SESSION_ID = 'mcp.session.id';
export const JSONRPC_REQUEST_ID = 'jsonrpc.request.id';
export const GEN_AI_TOOL_NAME = 'gen_ai.tool.name';
export const GEN_AI_PROMPT_NAME = 'gen_ai.prompt.name';
export const GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const GEN_AI_TOOL_CALL_ARGUMENTS = 'gen_ai.tool.call.arguments';
export const GEN_AI_TOOL_CALL_RESULT = 'gen_ai.tool.call.result';
export const NETWORK_TRANSPORT = 'network.transport';
export const RPC_RESPONSE_STATUS_CODE = 'rpc.response.status_code';

/** The low-cardinality target of a request: the tool or prompt it names (never a resource URI, which may be high-cardinality). */
function targetOf(method: string, params: Record<string, unknown> | undefined): { tool?: string; prompt?: string } {
  const name = typeof params?.['name'] === 'string' ? params['name'].slice(0, 128) : undefined;
  if (method === 'tools/call') return name ? { tool: name } : {};
  if (method === 'prompts/get') return name ? { prompt: name } : {};
  return {};
}

/** `{mcp.method.name} {target}`, or the method alone when there is no target. */
export function serverSpanName(method: string, params: Record<string, unknown> | undefined): string {
  const t = targetOf(method, params);
  const target = t.tool ?? t.prompt;
  return target ? `${method} ${target}` : method;
}

export function serverSpanAttributes(
  method: string,
  id: string | number,
  params: Record<string, unknown> | undefined,
  transport: 'pipe' | 'tcp',
  protocolVersion: string | undefined,
): SpanAttributes {
  const t = targetOf(method, params);
  return {
    [MCP_METHOD_NAME]: method,
    [JSONRPC_REQUEST_ID]: String(id),
    [NETWORK_TRANSPORT]: transport,
    [MCP_PROTOCOL_VERSION]: protocolVersion,
    [GEN_AI_TOOL_NAME]: t.tool,
    [GEN_AI_PROMPT_NAME]: t.prompt,
    [GEN_AI_OPERATION_NAME]: t.tool ? 'execute_tool' : undefined,
  };
}

export function upstreamSpanName(method: string, target: string): string {
  return method === 'tools/call' || method === 'prompts/get' ? `${method} ${target}` : method;
}

export function upstreamSpanAttributes(method: string, target: string, upstream: string, transport: 'pipe' | 'tcp', dfid: string): SpanAttributes {
  return {
    [MCP_METHOD_NAME]: method,
    [NETWORK_TRANSPORT]: transport,
    [GEN_AI_TOOL_NAME]: method === 'tools/call' ? target : undefined,
    [GEN_AI_PROMPT_NAME]: method === 'prompts/get' ? target : undefined,
    [GEN_AI_OPERATION_NAME]: method === 'tools/call' ? 'execute_tool' : undefined,
    'mandate.upstream': upstream,
    'mandate.dfid': dfid,
  };
}

/** What a governed answer says, as `mandate.*` attributes: ids, verdict and reason codes, never a value. */
export function outcomeAttributes(o: Outcome): SpanAttributes {
  return {
    'mandate.verdict': o.verdict,
    'mandate.status': o.status,
    'mandate.reason_codes': o.reasons.length ? [...o.reasons] : undefined,
    'mandate.decision_id': o.decision_id,
    'mandate.dfid': o.dfid,
    'mandate.capability': o.capability ?? undefined,
    'mandate.policy_ids': o.policies.length ? [...o.policies] : undefined,
    'mandate.replay_of': o.replay_of,
  };
}
