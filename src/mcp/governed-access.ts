/**
 * The governed part of an agent's request for an upstream's resource, prompt
 * or completion (ADR-013), free of any wire: both the 2025-era session
 * (proxy-primitives.ts) and the 2026-07-28 request (modern/prompts.ts,
 * modern/resources.ts) call these same functions, so a resource or
 * prompt is listed, decided, checked against its pin and recorded
 * identically on either revision.
 *
 * - A request is decided by `decideAccess` (contract, Cedar), checked against
 *   its pin (quarantine), sent upstream with the dfid as traceparent, and
 *   recorded, content-safe, either way. A refusal is a JSON-RPC error (the
 *   SDK's ProtocolError) carrying the reason codes, on either wire.
 * - Lists come from the pins, filtered by the contract: a resource or
 *   template is listed when a resource grant of its upstream matches its URI
 *   (or URI template), a prompt when a prompt grant matches its name. Each
 *   entry is the pinned definition exactly as the upstream listed it; a
 *   prompt of a prefixed upstream is named `<server>_<prompt>`.
 * - Completions go to the upstream of a granted prompt or template.
 */
import { ProtocolError, ProtocolErrorCode, type Prompt, type Resource, type ResourceTemplateType as ResourceTemplate } from '@modelcontextprotocol/server';
import { CompleteResultSchema, GetPromptResultSchema, ReadResourceResultSchema } from '@modelcontextprotocol/core';
import type { ZodType } from 'zod';
import { CapabilityError } from '../capabilities/manifest.js';
import { promptGrantFor, resourceGrantFor, wildcardMatches } from '../config/contract-schema.js';
import { hashOf } from '../core/canonical.js';
import type { CallRelay, ReasonDetail } from '../core/types.js';
import { exposeMode, wireName } from '../gateway/exposure.js';
import type { Gateway, PinnedPrimitive } from '../gateway/gateway.js';
import { decideAccess, recordAccess, type AccessEventType } from '../kernel/access.js';
import { resolveDfid } from '../kernel/dfid.js';
import type { Kernel } from '../kernel/kernel.js';
import { refusal } from './proxy-errors.js';

/** Where Mandate puts the record of a governed read or get in a result's `_meta`. */
export const ACCESS_META_KEY = 'mandate/access';

export interface Access {
  kind: 'resource' | 'prompt';
  event: AccessEventType;
  operation: string;
  server: string | null;
  target: string;
  pin: PinnedPrimitive | null;
  context?: Record<string, string | number | boolean | Record<string, string>>;
  data?: Record<string, unknown>;
  unknownCode?: number;
}

/** How the wire lets an upstream's progress and requests reach the agent's client during a read or get (no `ask`: it cannot), and what it can be asked. */
export type AccessRelay = Pick<CallRelay, 'notify' | 'ask' | 'askable'>;

export interface CompleteParams {
  ref: { type: string; name?: string; uri?: string };
  [key: string]: unknown;
}

export type GovernedAccess = ReturnType<typeof governedAccess>;

export function governedAccess(kernel: Kernel, agent: string, gateway: Gateway | undefined) {
  const config = kernel.workspace.config;
  const contract = () => kernel.contractOf(agent);

  /** Granted prompts, each with the name the agent sees. */
  const listedPrompts = (): { pin: PinnedPrimitive; name: string }[] => {
    const c = contract();
    if (!gateway || !c) return [];
    return gateway
      .primitives('prompt')
      .filter((p) => promptGrantFor(c, p.server, p.name))
      .map((pin) => ({ pin, name: wireName(exposeMode(config, pin.server), pin.server, pin.name) }));
  };

  /**
   * Decided (contract, Cedar), checked against its pin, the upstream started.
   * Refusals are recorded and thrown; the caller records what follows.
   */
  const admit = async (req: Access, meta: Record<string, unknown> | undefined, signal: AbortSignal) => {
    const { world, store } = kernel.deps;
    const { dfid } = resolveDfid(typeof meta?.['traceparent'] === 'string' ? meta['traceparent'] : undefined, world);
    const decisionId = world.newId();
    const targetField = req.kind === 'resource' ? { uri_hash: hashOf(req.target) } : { prompt: req.target };
    let policies: string[] = [];
    const record = (details: ReasonDetail[], data: Record<string, unknown>) =>
      recordAccess(store, {
        type: req.event,
        dfid,
        agent,
        decision_id: decisionId,
        reasons: [...new Set(details.map((d) => d.code))],
        data: { upstream: req.server, operation: req.operation, ...targetField, ...(req.data ?? {}), ...(policies.length ? { policies } : {}), ...data },
      });
    const refuse = async (details: ReasonDetail[]) => {
      await record(details, { allowed: false });
      return refusal(details, dfid, decisionId, req.unknownCode);
    };
    if (!gateway || req.server === null) {
      throw await refuse([{ code: 'PRIMITIVE_UNKNOWN', message: req.kind === 'resource' ? 'no upstream serves this URI for you' : `no prompt \`${req.target}\`` }]);
    }
    const verdict = await decideAccess(kernel, { agent, kind: req.kind, upstream: req.server, target: req.target, operation: req.operation, context: req.context ?? {} });
    policies = verdict.policies;
    if (!verdict.ok) throw await refuse(verdict.details);
    const ready = await gateway.ready(req.server, req.pin, signal);
    if (!ready.ok) throw await refuse([{ code: ready.code, message: ready.message }]);
    const upstream = gateway.upstreams.get(req.server);
    if (!upstream) throw await refuse([{ code: 'UPSTREAM_UNAVAILABLE', message: `no upstream \`${req.server}\`` }]);
    return { dfid, decisionId, record, refuse, upstream, server: req.server };
  };

  /** A governed request answered by the upstream: its result as it came, plus Mandate's record in `_meta`. */
  const governed = async (
    req: Access & { method: string; params: Record<string, unknown>; schema: ZodType },
    meta: Record<string, unknown> | undefined,
    signal: AbortSignal,
    wire: AccessRelay,
  ): Promise<Record<string, unknown>> => {
    const { dfid, decisionId, record, refuse, upstream, server: name } = await admit(req, meta, signal);
    const cfg = config.upstreams[name];
    const deadline = cfg?.deadline_ms ?? config.limits.default_deadline_ms;
    const maxBytes = cfg?.max_output_bytes ?? config.limits.default_max_output_bytes;
    // The caller's progress token: an upstream's progress during a long read or get is relayed under it.
    const progressToken = (meta?.['progressToken'] as string | number | undefined) ?? undefined;
    const relay: CallRelay = { progressToken, notify: wire.notify, ...(wire.ask ? { ask: wire.ask } : {}), ...(wire.askable ? { askable: wire.askable } : {}) };
    let result: Record<string, unknown>;
    try {
      result = (await upstream.request(req.method, req.params, req.schema, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(deadline)]),
        dfid,
        agent,
        // What a relayed sampling or elicitation request records as `during`: a prompt's name, never a URI.
        target: req.kind === 'resource' ? req.method : req.target,
        relay,
      })) as Record<string, unknown>;
    } catch (err) {
      // The upstream's own JSON-RPC error is its answer, passed on as it came; anything else means it is unavailable.
      if (upstreamAnswered(err)) {
        await record([{ code: 'HANDLER_FAILED', message: 'the upstream answered with an error' }], { allowed: true, error_code: err.code });
        throw err;
      }
      // Mandate's own reason (the upstream asked for input the agent cannot give here, a busy upstream…): refused with it.
      if (err instanceof CapabilityError) throw await refuse([{ code: err.code, message: err.message }]);
      throw await refuse([{ code: 'UPSTREAM_UNAVAILABLE', message: `upstream \`${name}\` did not answer` }]);
    }
    const bytes = Buffer.byteLength(JSON.stringify(result));
    if (bytes > maxBytes) throw await refuse([{ code: 'OUTPUT_TOO_LARGE', message: `the answer is ${bytes} bytes; the cap is ${maxBytes}` }]);
    const receipt = await record([], { allowed: true, result_hash: hashOf(result), result_bytes: bytes });
    const own = result['_meta'] && typeof result['_meta'] === 'object' ? (result['_meta'] as Record<string, unknown>) : {};
    return { ...result, _meta: { ...own, [ACCESS_META_KEY]: { dfid, decision_id: decisionId, receipt } } };
  };

  /** The agent's granted upstream resources, each the pinned definition exactly as its upstream listed it. */
  const listResources = (): Resource[] => {
    const c = contract();
    if (!gateway || !c) return [];
    return gateway
      .primitives('resource')
      .filter((p) => resourceGrantFor(c, p.server, p.name))
      .map((p) => p.definition as Resource);
  };

  /** The agent's granted upstream resource templates: a resource grant of the upstream matches the URI template. */
  const listTemplates = (): ResourceTemplate[] => {
    const c = contract();
    if (!gateway || !c) return [];
    return gateway
      .primitives('template')
      .filter((p) => c.resources.some((g) => g.upstream === p.server && wildcardMatches(g.uri, p.name)))
      .map((p) => p.definition as ResourceTemplate);
  };

  /** The upstream serving a URI for this agent, and its pin (a resource or template), or null. */
  const ownerOf = (uri: string) => {
    const c = contract();
    const candidates = c ? c.resources.filter((g) => wildcardMatches(g.uri, uri)).map((g) => g.upstream) : [];
    return gateway?.resourceOwner(uri, candidates) ?? null;
  };

  /** resources/read of an upstream's URI: governed with the URI as the Cedar context (hashed in the record). */
  const readResource = (params: { uri: string; _meta?: Record<string, unknown> | undefined }, signal: AbortSignal, wire: AccessRelay) => {
    const { uri } = params;
    const owner = ownerOf(uri);
    return governed(
      { kind: 'resource', event: 'ResourceAccessed', operation: 'read', server: owner?.server ?? null, target: uri, pin: owner?.pin ?? null, method: 'resources/read', params: { uri }, schema: ReadResourceResultSchema, context: { uri } },
      params._meta,
      signal,
      wire,
    );
  };

  /** The agent's granted prompts, each the pinned definition exactly as its upstream listed it, under the agent's name for it. */
  const listPrompts = (): Prompt[] => listedPrompts().map(({ pin, name }) => ({ ...(pin.definition as Prompt), name }));

  /** prompts/get: governed like a read, with the prompt's arguments as the Cedar context (hashed in the record). */
  const getPrompt = (params: { name: string; arguments?: Record<string, string>; _meta?: Record<string, unknown> }, signal: AbortSignal, wire: AccessRelay) => {
    const { name } = params;
    const args = params.arguments ?? {};
    const found = listedPrompts().find((p) => p.name === name) ?? null;
    // A prompt not granted is not listed: asking for it is refused as not granted when it exists, unknown otherwise.
    const pin = found?.pin ?? gateway?.primitives('prompt').find((p) => wireName(exposeMode(config, p.server), p.server, p.name) === name) ?? null;
    return governed(
      {
        kind: 'prompt',
        event: 'PromptAccessed',
        operation: 'get',
        server: pin?.server ?? null,
        target: pin?.name ?? name,
        pin,
        method: 'prompts/get',
        params: { name: pin?.name ?? name, arguments: args },
        schema: GetPromptResultSchema,
        context: { arguments: args },
        data: { arguments_hash: hashOf(args) },
        unknownCode: ProtocolErrorCode.InvalidParams,
      },
      params._meta,
      signal,
      wire,
    );
  };

  /** completion/complete: sent to the upstream of a granted prompt or resource template, under its upstream name. */
  const complete = async (params: CompleteParams, signal: AbortSignal): Promise<Record<string, unknown>> => {
    const ref = params.ref;
    const c = contract();
    let target: { server: string; ref: Record<string, unknown> } | null = null;
    if (ref.type === 'ref/prompt') {
      const p = listedPrompts().find((x) => x.name === ref.name);
      if (p) target = { server: p.pin.server, ref: { type: 'ref/prompt', name: p.pin.name } };
    } else if (ref.type === 'ref/resource' && typeof ref.uri === 'string' && c) {
      const t = gateway?.primitives('template').find((x) => x.name === ref.uri && c.resources.some((g) => g.upstream === x.server && wildcardMatches(g.uri, x.name)));
      if (t) target = { server: t.server, ref: { type: 'ref/resource', uri: t.name } };
    }
    // Completion suggests values; it reads nothing the grant does not already show, so the grant suffices.
    if (!target || !gateway) throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'PRIMITIVE_UNKNOWN: no granted prompt or resource template with this reference');
    const ready = await gateway.ready(target.server, null, signal);
    if (!ready.ok) throw new ProtocolError(ProtocolErrorCode.InternalError, `${ready.code}: ${ready.message}`);
    const upstream = gateway.upstreams.get(target.server);
    if (!upstream?.declares('completions')) return { completion: { values: [] } };
    const { dfid } = resolveDfid(undefined, kernel.deps.world);
    return (await upstream.request('completion/complete', { ...params, ref: target.ref }, CompleteResultSchema, {
      signal: AbortSignal.any([signal, AbortSignal.timeout(config.limits.default_deadline_ms)]),
      dfid,
      agent,
      target: String(target.ref['name'] ?? target.ref['uri']),
    })) as Record<string, unknown>;
  };

  return { admit, governed, listResources, listTemplates, ownerOf, readResource, listPrompts, getPrompt, complete };
}

/** Whether an upstream's error is its own JSON-RPC answer (passed on as it came) rather than its absence. */
export function upstreamAnswered(err: unknown): err is ProtocolError {
  // A closed connection or a timeout is an SdkError, never a ProtocolError: only an answer of the upstream's is one.
  return err instanceof ProtocolError;
}
