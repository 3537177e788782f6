import type { Contract } from '../../config/contract-schema.js';
import type { DelegationRow } from '../../store/port/index.js';
import { DELEGATE_ID, type ChildGrant } from './request.js';

/**
 * A sub-mandate as a contract, so every stage reads a delegated agent as it
 * reads any other: its grants, memory and expiry are the sub-mandate's; it
 * answers to the root's owner; it approves and supervises nobody. The
 * ancestors' contracts are checked beside it at every call (ADR-022).
 */
export function subMandateContract(row: DelegationRow, root: Contract): Contract {
  const grants = (JSON.parse(row.grants) as ChildGrant[]).map((g) => ({ ...g, limits: g.limits ?? {} }));
  const mayDelegate = row.may_delegate === 1 && row.max_depth > row.depth && !!root.delegation;
  if (mayDelegate) grants.push({ capability: DELEGATE_ID, limits: {} });
  return {
    agent: row.child,
    version: `1.0.0+${row.id}`,
    owner: root.owner,
    effective_until: new Date(row.expires_at).toISOString(),
    mission: row.purpose,
    role: 'agent',
    default_ttl_seconds: root.default_ttl_seconds,
    grants,
    resources: [],
    prompts: [],
    client_requests: [],
    memory: JSON.parse(row.memory) as Contract['memory'],
    escalation: { ...(root.escalation.expiry_minutes !== undefined ? { expiry_minutes: root.escalation.expiry_minutes } : {}), rules: [], client_approval: false },
    stewards: {},
    monitors: [],
    approves: [],
    supervises: [],
    ...(mayDelegate && root.delegation ? { delegation: { ...root.delegation, max_depth: row.max_depth - row.depth } } : {}),
  };
}
