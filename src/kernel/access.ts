/**
 * Governed access to an upstream's other primitives (ADR-013): reading or
 * subscribing to a resource, getting a prompt, and an upstream relaying a
 * sampling or elicitation request to the agent's client. Deny by default:
 * the agent must be active, its contract must grant the URI, prompt or kind
 * of request for this upstream, and Cedar must permit it (the grant's `when`
 * and the workspace's policies). Deterministic: same request and state, same
 * verdict. Every decision is recorded, content-safe, by `recordAccess`.
 */
import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import { promptGrantFor, resourceGrantFor } from '../config/contract-schema.js';
import type { ReasonDetail, Receipt } from '../core/types.js';
import { PROMPT_TYPE, RESOURCE_TYPE, UPSTREAM_TYPE, type AccessKind } from '../policy/compile.js';
import type { PolicyVerdict } from '../policy/engine.js';
import { failureMessage, policyFailure } from '../policy/errors.js';
import type { NewEvent } from '../store/port/index.js';
import type { StorePort } from '../store/port/index.js';
import type { Kernel } from './kernel.js';
import { statusCode } from './status.js';

export interface AccessRequest {
  agent: string;
  kind: AccessKind;
  upstream: string;
  /** A resource's URI, a prompt's name; for sampling and elicitation, the upstream. */
  target: string;
  /** What is done: read, subscribe, get, complete, sampling/createMessage, elicitation/create. */
  operation: string;
  /** Further Cedar context (prompt arguments, sampling bounds, the calling tool). */
  context?: Record<string, CedarValueJson>;
}

export type AccessVerdict = { ok: true; policies: string[] } | { ok: false; details: ReasonDetail[]; policies: string[] };

export async function decideAccess(kernel: Kernel, req: AccessRequest): Promise<AccessVerdict> {
  const deny = (details: ReasonDetail[], policies: string[] = []): AccessVerdict => ({ ok: false, details, policies });
  const contract = kernel.contractOf(req.agent);
  if (!contract) return deny([{ code: 'UNKNOWN_AGENT', message: 'no contract for this agent' }]);
  const status = await kernel.deps.store.agents.status(req.agent);
  if (status !== 'active') return deny([{ code: statusCode(status), message: `agent is ${status}` }]);

  let granted: boolean;
  let resource: { type: string; id: string; attrs: Record<string, CedarValueJson> };
  if (req.kind === 'resource') {
    granted = !!resourceGrantFor(contract, req.upstream, req.target);
    resource = { type: RESOURCE_TYPE, id: `${req.upstream}:${req.target}`, attrs: { id: `${req.upstream}:${req.target}`, uri: req.target, upstream: req.upstream } };
    if (!granted) return deny([{ code: 'RESOURCE_NOT_GRANTED', message: `no resource grant of upstream \`${req.upstream}\` matches this URI`, path: 'uri' }]);
  } else if (req.kind === 'prompt') {
    granted = !!promptGrantFor(contract, req.upstream, req.target);
    resource = { type: PROMPT_TYPE, id: `${req.upstream}.${req.target}`, attrs: { id: `${req.upstream}.${req.target}`, name: req.target, upstream: req.upstream } };
    if (!granted) return deny([{ code: 'PROMPT_NOT_GRANTED', message: `prompt \`${req.target}\` of upstream \`${req.upstream}\` is not granted`, path: 'name' }]);
  } else {
    granted = contract.client_requests.some((g) => g.upstream === req.upstream && g.kind === req.kind);
    resource = { type: UPSTREAM_TYPE, id: req.upstream, attrs: { id: req.upstream, upstream: req.upstream } };
    if (!granted) return deny([{ code: 'CLIENT_REQUEST_NOT_GRANTED', message: `upstream \`${req.upstream}\` may not relay ${req.kind} requests to this agent's client` }]);
  }

  let verdict: PolicyVerdict;
  try {
    verdict = kernel.policy.evaluateAccess({
      agent: { id: req.agent, role: contract.role },
      kind: req.kind,
      resource,
      context: { operation: req.operation, upstream: req.upstream, ...(req.context ?? {}) },
    });
  } catch (err) {
    verdict = { kind: 'error', policies: [], failures: [policyFailure('(request)', (err as Error).message)] };
  }
  switch (verdict.kind) {
    case 'permit':
      return { ok: true, policies: verdict.policies };
    case 'forbid':
      return deny([{ code: 'POLICY_FORBID', message: `forbidden by ${verdict.policies.join(', ')}` }], verdict.policies);
    case 'no_permit':
      return deny([{ code: 'POLICY_NO_PERMIT', message: 'no policy permits it (the grant\'s condition does not hold)' }]);
    case 'escalate':
      // There is no pending state for these: a request that would need a human is refused.
      return deny([{ code: 'ESCALATION_REQUIRED', message: `a policy requires a human decision (${verdict.reasons.join('; ')}), which this request cannot wait for; refused` }], verdict.policies);
    case 'error':
      return deny(verdict.failures.map((f) => ({ code: 'POLICY_ERROR' as const, message: failureMessage(f) })), verdict.policies);
  }
}

export type AccessEventType = Extract<NewEvent['type'], 'ResourceAccessed' | 'PromptAccessed' | 'ClientRequestRelayed'>;

/**
 * The one place that writes the gateway's access events (resource reads and
 * subscriptions, prompt gets, sampling and elicitation relays) to the ledger.
 * `data` holds only names, hashes, sizes and codes, never content.
 */
export async function recordAccess(store: StorePort, event: { type: AccessEventType; dfid: string; agent: string; decision_id: string; reasons: ReasonDetail['code'][]; data: Record<string, unknown> }): Promise<Receipt | null> {
  const r = await store.commit([{ op: 'event', event }]);
  return r.ok ? (r.receipts[0] ?? null) : null;
}
