import { grantFor } from '../../config/contract-schema.js';
import { hashOf } from '../../core/canonical.js';
import { validateIntent } from '../dim.js';
import { policyContext } from '../../policy/context.js';
import { resolveFacts, usageForPolicy, usageSnapshot } from '../facts.js';
import { event, mark } from '../flow.js';
import { readsOf } from '../read-ahead.js';
import { reject } from '../record.js';
import { withConstraints } from '../stewards.js';
import { ancestorsAllow, tokenRefusal } from '../delegation/call-checks.js';
import { extend, next, type BoundState, type Stage, type ValidatedState } from './state.js';

/**
 * DIM: the facts and usage are read first and handed in, with the contract as
 * live `constrain` interventions have tightened it; DIM itself is pure.
 */
export const validate: Stage<BoundState, ValidatedState> = async (k, s) => {
  const { flow, intent, contract, capability } = s;
  const { world } = k.deps;
  mark(k, flow, 'checks');
  const facts = s.params?.success && capability ? await resolveFacts(k, capability, s.params.data, flow, s.call.signal) : undefined;
  mark(k, flow, 'facts');
  const grant = capability ? grantFor(contract, capability.def.id) : undefined;
  const reads = readsOf(k, s);
  const usage = grant && capability ? await usageSnapshot(k, flow.agent, capability.def.id, grant.limits.budgets ?? [], reads) : {};
  const effective = capability && grant ? withConstraints(contract, capability.def.id, await reads.constraints(flow.agent, capability.def.id, world.now())) : contract;
  const dim = validateIntent({ intent, contract: effective, capability, params: s.params, facts, usage, receivedAt: s.receivedAt, now: world.now() });
  if (!dim.ok) return reject(k, flow, dim.details);
  const cap = dim.capability;
  // A delegated call passes every ancestor's contract as if it made the call itself (ADR-022).
  const above = await ancestorsAllow(k, flow.chain, cap, dim.values);
  if (above.details.length) return reject(k, flow, above.details);
  // A token in `_meta` and the token the caller authenticated with: each that is there must hold, the stricter rule.
  for (const [token, path] of [[s.call.bearerToken, 'Authorization'], [s.call.delegationToken, '_meta.mandate/delegation_token']] as const) {
    if (token === undefined) continue;
    const refused = await tokenRefusal(k, flow, token, cap.def.id, dim.values, path);
    if (refused) return reject(k, flow, [refused]);
  }
  // Values as Cedar will see them; one it cannot hold exactly is refused here, never rounded or dropped.
  const context = policyContext(cap, dim.values, dim.facts, usageForPolicy(above.rootUsage ?? usage), world.now());
  if (!context.ok) return reject(k, flow, context.details);
  const factsHash = hashOf(dim.facts);
  const validated = { params: dim.params, facts: dim.facts, values: dim.values, factsHash };
  flow.journal.push(
    event(flow, 'IntentValidated', {
      data: {
        capability: cap.def.id,
        capability_version: cap.def.version,
        values_hash: hashOf(dim.values),
        facts_hash: factsHash,
        rationale_hash: intent.rationale ? hashOf(intent.rationale) : null,
        ...(cap.def.audit?.recordParams ? { params: dim.params } : {}),
      },
    }),
  );
  flow.log.info({ step: 'dim', decision_id: flow.decisionId, capability: cap.def.id }, 'intent validated');
  mark(k, flow, 'dim');
  return next(extend(s, { capability: cap, usage, policyContext: context.context, validated }));
};
