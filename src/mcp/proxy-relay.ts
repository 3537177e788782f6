/**
 * Requests an upstream sends back during a call, relayed to the agent's own
 * client (ADR-013): sampling (`sampling/createMessage`), elicitation
 * (`elicitation/create`) and roots (`roots/list`). Sampling and elicitation
 * are governed like an intent: the contract must let this upstream use the
 * agent's model or user (`client_requests`) and Cedar must permit it;
 * every relay, refused or answered, is recorded in the call's flow with who
 * asked and hashes of the request and the answer, never their text. A client
 * that lacks the capability gets nothing, and the upstream gets -32601, as
 * from a client without it. Roots are the client's own answer, relayed as is.
 */
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { CreateMessageResultSchema, ElicitResultSchema, ListRootsResultSchema } from '@modelcontextprotocol/core';
import type { ZodType } from 'zod';
import { hashOf } from '../core/canonical.js';
import type { AskableCapabilities, CallRelay, ClientRequestContext, ReasonDetail, RelayNotification } from '../core/types.js';
import { decideAccess, recordAccess } from '../kernel/access.js';
import type { Kernel } from '../kernel/kernel.js';
import { refusal } from './proxy-errors.js';

/**
 * Sends one request to the agent's client: `extra.sendRequest` inside a call (so HTTP answers on its stream), else
 * `server.request`; on 2026-07-28, an input round of the held call (modern/held-calls.ts), under the upstream's own
 * `key` when it named the request.
 */
export type SendToClient = (request: { method: string; params?: Record<string, unknown> }, schema: ZodType, options: { signal: AbortSignal; key?: string | undefined }) => Promise<unknown>;

const KINDS = {
  'sampling/createMessage': { kind: 'sampling', schema: CreateMessageResultSchema },
  'elicitation/create': { kind: 'elicitation', schema: ElicitResultSchema },
} as const;

export function clientAsk(capabilities: () => AskableCapabilities, kernel: Kernel, agent: string, send: SendToClient): NonNullable<CallRelay['ask']> {
  return async (request: RelayNotification, ctx: ClientRequestContext) => {
    const caps = capabilities();
    if (request.method === 'roots/list') {
      if (!caps.roots) throw new ProtocolError(ProtocolErrorCode.MethodNotFound, "CLIENT_CAPABILITY_MISSING: the agent's client does not support roots");
      return (await send({ method: request.method, params: request.params }, ListRootsResultSchema, { signal: ctx.signal, key: ctx.key })) as Record<string, unknown>;
    }
    const known = KINDS[request.method as keyof typeof KINDS];
    if (!known) throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `Method not found: ${request.method}`);
    const { world } = kernel.deps;
    const dfid = ctx.dfid ?? world.newTraceId();
    const decisionId = world.newId();
    const params = request.params;
    const base = { upstream: ctx.upstream, method: request.method, ...(ctx.target ? { during: ctx.target } : {}), request_hash: hashOf(params) };
    const record = (details: ReasonDetail[], data: Record<string, unknown>) =>
      recordAccess(kernel.deps.store, { type: 'ClientRequestRelayed', dfid, agent, decision_id: decisionId, reasons: [...new Set(details.map((d) => d.code))], data: { ...base, ...data } });

    const verdict = await decideAccess(kernel, {
      agent,
      kind: known.kind,
      upstream: ctx.upstream,
      target: ctx.upstream,
      operation: request.method,
      context: {
        tool: ctx.target ?? '',
        ...(known.kind === 'sampling'
          ? { max_tokens: Number(params['maxTokens'] ?? 0) | 0, messages: Array.isArray(params['messages']) ? params['messages'].length : 0 }
          : { mode: typeof params['mode'] === 'string' ? params['mode'] : 'form' }),
      },
    });
    if (!verdict.ok) {
      await record(verdict.details, { allowed: false, policies: verdict.policies });
      throw refusal(verdict.details, dfid, decisionId);
    }
    const mode = typeof params['mode'] === 'string' ? params['mode'] : 'form';
    const supported = known.kind === 'sampling' ? !!caps.sampling : !!caps.elicitation && (mode !== 'url' || !!caps.elicitation.url);
    if (!supported) {
      const details: ReasonDetail[] = [{ code: 'CLIENT_CAPABILITY_MISSING', message: `the agent's client does not support ${known.kind}${known.kind === 'elicitation' ? ` (${mode} mode)` : ''}` }];
      await record(details, { allowed: false });
      throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `CLIENT_CAPABILITY_MISSING: ${details[0]?.message}`, { reasons: ['CLIENT_CAPABILITY_MISSING'], dfid, decision_id: decisionId });
    }
    let answer: Record<string, unknown>;
    try {
      answer = (await send({ method: request.method, params }, known.schema, { signal: ctx.signal, key: ctx.key })) as Record<string, unknown>;
    } catch (err) {
      await record([], { allowed: true, answered: false, error_code: err instanceof ProtocolError ? err.code : null });
      throw err;
    }
    await record([], { allowed: true, answered: true, answer_hash: hashOf(answer), ...(typeof answer['action'] === 'string' ? { action: answer['action'] } : {}), policies: verdict.policies });
    return answer;
  };
}
