import { capabilityMatches, isGlob, type Contract, type Grant } from '../../config/contract-schema.js';
import { SENSITIVITY_ORDER, type ReasonDetail } from '../../core/types.js';
import { CALLS_FIELD } from '../../store/port/index.js';
import { DELEGATE_ID, type ChildGrant, type DelegationRequest } from './request.js';

/**
 * What the kernel knows of a would-be parent when it asks whether a
 * sub-mandate fits (the `delegation.create` capability's facts): plain JSON,
 * read once, so the check below is pure.
 */
export interface ParentFacts {
  parent: string;
  root: string;
  /** The parent's level: 0 for the root contract. */
  depth: number;
  /** The deepest level any agent of the parent's subtree may reach. */
  max_depth: number;
  /** Whether the parent may delegate at all (a `delegation:` section, or a sub-mandate that allows it). */
  may_delegate: boolean;
  delegable: string[];
  grants: Grant[];
  memory: Contract['memory'];
  /** When the parent's own authority ends (its sub-mandate's expiry, its contract's effective_until), or null. */
  expires_at: number | null;
  default_expiry_minutes: number;
  max_expiry_minutes: number;
  max_children: number;
  live_children: number;
  child_taken: boolean;
  /** What remains of each of the parent's budgets now, by `capability:window:field` (calls as `_calls`). */
  remaining: Record<string, number>;
  now: number;
}

export function remainingKey(capability: string, window: string, field: string): string {
  return `${capability}:${window}:${field}`;
}

/** The parent grant a requested grant must fit: the exact grant, or a glob of the parent covering the requested id or glob. */
export function parentGrantFor(grants: Grant[], requested: string): Grant | undefined {
  return grants.find((g) => g.capability === requested) ?? grants.find((g) => isGlob(g.capability) && capabilityMatches(g.capability, requested));
}

/** The expiry a request asks for, as an instant: its own minutes, else the parent's default. */
export function requestedExpiry(req: DelegationRequest, f: ParentFacts): number {
  return f.now + (req.expires_in_minutes ?? f.default_expiry_minutes) * 60_000;
}

/** The deepest level the child's descendants may reach, as the request asks. */
export function requestedMaxDepth(req: DelegationRequest, f: ParentFacts): number {
  const below = req.may_delegate ? (req.max_depth ?? 1) : 0;
  return f.depth + 1 + below;
}

/**
 * Whether a requested sub-mandate is within its parent's, per dimension:
 * every way it is not, each with its own reason code, naming the capability,
 * field, scope or bound. Nothing is clipped: an empty answer means the
 * request fits exactly as asked. Pure.
 */
export function checkSubMandate(req: DelegationRequest, f: ParentFacts): ReasonDetail[] {
  if (!f.may_delegate) return [{ code: 'DELEGATION_NOT_ALLOWED', message: `\`${f.parent}\` may not delegate: ${f.depth === 0 ? 'its contract has no delegation section' : 'its sub-mandate does not allow it'}`, path: 'delegation' }];
  const out: ReasonDetail[] = [];
  if (f.child_taken) out.push({ code: 'DELEGATION_CHILD_TAKEN', message: `\`${req.child}\` is already an agent`, path: 'child' });
  if (f.live_children >= f.max_children) out.push({ code: 'DELEGATION_CHILDREN_EXCEEDED', message: `\`${f.parent}\` already holds ${f.live_children} live sub-mandates, its maximum`, path: 'child' });
  if (f.depth + 1 > f.max_depth) out.push({ code: 'DELEGATION_DEPTH_EXCEEDED', message: `a child of \`${f.parent}\` would be at level ${f.depth + 1}; its chain allows ${f.max_depth}`, path: 'child' });
  else if (requestedMaxDepth(req, f) > f.max_depth) {
    out.push({ code: 'DELEGATION_DEPTH_EXCEEDED', message: `descendants down to level ${requestedMaxDepth(req, f)} asked; the chain allows ${f.max_depth}`, path: 'max_depth' });
  }
  req.grants.forEach((g, i) => out.push(...checkGrant(g, i, f)));
  req.memory.forEach((m, i) => {
    const held = f.memory.find((p) => p.scope === m.scope);
    const path = `memory.${i}`;
    if (!held) out.push({ code: 'DELEGATION_MEMORY_WIDER', message: `\`${f.parent}\` holds no memory scope \`${m.scope}\``, path });
    else {
      if (SENSITIVITY_ORDER.indexOf(m.max_sensitivity) > SENSITIVITY_ORDER.indexOf(held.max_sensitivity)) out.push({ code: 'DELEGATION_MEMORY_WIDER', message: `scope \`${m.scope}\` up to ${m.max_sensitivity} asked; \`${f.parent}\` holds it up to ${held.max_sensitivity}`, path });
      if (m.write && !held.write) out.push({ code: 'DELEGATION_MEMORY_WIDER', message: `scope \`${m.scope}\` is read-only for \`${f.parent}\``, path });
    }
  });
  const expiry = requestedExpiry(req, f);
  if (expiry > f.now + f.max_expiry_minutes * 60_000) out.push({ code: 'DELEGATION_EXPIRY_LATER', message: `${req.expires_in_minutes} minutes asked; at most ${f.max_expiry_minutes}`, path: 'expires_in_minutes' });
  else if (f.expires_at !== null && expiry > f.expires_at) {
    out.push({ code: 'DELEGATION_EXPIRY_LATER', message: `the child would end at ${new Date(expiry).toISOString()}, after \`${f.parent}\` (${new Date(f.expires_at).toISOString()})`, path: 'expires_in_minutes' });
  }
  return out;
}

function checkGrant(g: ChildGrant, i: number, f: ParentFacts): ReasonDetail[] {
  const path = `grants.${i}`;
  if (g.capability === DELEGATE_ID) return [{ code: 'DELEGATION_CAPABILITY_NOT_HELD', message: `\`${DELEGATE_ID}\` is handed on with may_delegate, not as a grant`, path }];
  const held = parentGrantFor(f.grants, g.capability);
  if (!held) return [{ code: 'DELEGATION_CAPABILITY_NOT_HELD', message: `\`${f.parent}\` does not hold \`${g.capability}\``, path }];
  if (!f.delegable.some((p) => capabilityMatches(p, g.capability))) return [{ code: 'DELEGATION_CAPABILITY_NOT_HELD', message: `\`${g.capability}\` is not among the capabilities \`${f.parent}\` may delegate`, path }];
  const out: ReasonDetail[] = [];
  const wider = (field: string, message: string) => out.push({ code: 'DELEGATION_LIMIT_WIDER', message: `\`${g.capability}\` \`${field}\`: ${message}`, path: `${path}.limits.${field}` });
  const mine = g.limits;
  for (const [field, cap] of Object.entries(mine.max ?? {})) {
    const theirs = held.limits.max?.[field];
    if (theirs !== undefined && cap > theirs) wider(field, `cap ${cap} asked, \`${f.parent}\`'s is ${theirs}`);
  }
  for (const [field, floor] of Object.entries(mine.min ?? {})) {
    const theirs = held.limits.min?.[field];
    if (theirs !== undefined && floor < theirs) wider(field, `floor ${floor} asked, \`${f.parent}\`'s is ${theirs}`);
  }
  for (const [field, list] of Object.entries(mine.allowed ?? {})) {
    const theirs = held.limits.allowed?.[field];
    const extra = theirs ? list.filter((v) => !theirs.some((t) => t === v)) : [];
    if (extra.length) wider(field, `values ${extra.map((v) => JSON.stringify(v)).join(', ')} are not allowed to \`${f.parent}\``);
  }
  (mine.budgets ?? []).forEach((b, j) => {
    const field = b.max_calls !== undefined ? CALLS_FIELD : (b.sum as string);
    const asked = b.max_calls ?? (b.max as number);
    for (const pb of held.limits.budgets ?? []) {
      const pField = pb.max_calls !== undefined ? CALLS_FIELD : pb.sum;
      if (pField !== field) continue;
      const left = f.remaining[remainingKey(g.capability, pb.window, field)] ?? (pb.max_calls ?? pb.max ?? 0);
      if (asked > left) {
        const what = field === CALLS_FIELD ? 'calls' : `\`${field}\``;
        out.push({ code: 'DELEGATION_BUDGET_EXCEEDS_REMAINING', message: `\`${g.capability}\`: ${asked} ${what} asked; \`${f.parent}\` has ${left} left of its ${pb.window} budget`, path: `${path}.limits.budgets.${j}` });
      }
    }
  });
  return out;
}
