import * as cedar from './cedar.js';
import { hashOf } from '../core/canonical.js';
import { capabilityMatches, isGlob, type Contract } from '../config/contract-schema.js';
import { lineColumn, type Problem } from '../config/problems.js';
import { cedarDecimal, cedarLiteral, cedarString } from './cedar-values.js';

/**
 * How a numeric field of the capabilities a grant names reaches Cedar: Long
 * (integers), decimal (numbers), or unknown (no loaded capability types it,
 * or they disagree). Decides how a contract limit on it is compiled.
 */
export type FieldKind = (capabilityPattern: string, field: string) => 'long' | 'decimal' | 'other';

export const NS = 'Mandate';
export const AGENT_TYPE = `${NS}::Agent`;
export const CAPABILITY_TYPE = `${NS}::Capability`;
export const ACTION_TYPE = `${NS}::Action`;
export const INVOKE_ACTION = 'invoke';
/** Entity types and actions of an upstream's other primitives (ADR-013). */
export const RESOURCE_TYPE = `${NS}::Resource`;
export const PROMPT_TYPE = `${NS}::Prompt`;
export const UPSTREAM_TYPE = `${NS}::Upstream`;
export const ACCESS_ACTIONS = { resource: 'read_resource', prompt: 'get_prompt', sampling: 'sampling', elicitation: 'elicitation' } as const;
export type AccessKind = keyof typeof ACCESS_ACTIONS;

export interface CompiledPolicy {
  id: string;
  text: string;
  source: string; // file, or contract:<agent>
  escalate: string | null; // the @escalate annotation's reason, if any
}

export interface CompiledPolicySet {
  policies: Record<string, CompiledPolicy>;
  hash: string;
}

export interface PolicyFile {
  file: string;
  text: string;
}

function agentRef(agent: string): string {
  return `${AGENT_TYPE}::${cedarString(agent)}`;
}
function capabilityRef(id: string): string {
  return `${CAPABILITY_TYPE}::${cedarString(id)}`;
}
const invokeRef = `${ACTION_TYPE}::${cedarString(INVOKE_ACTION)}`;

/**
 * Cedar for one contract: a permit per grant (limits and the grant's `when`
 * as conditions), an escalating permit per rule.
 *
 * A glob grant (`fs.*`) leaves the resource open and matches its id
 * (`resource.id like "fs.*"`). It excludes the capabilities that an exact
 * grant or an earlier glob governs, so that Cedar and DIM agree on which
 * grant, and so which limits, govern each capability (`grantFor`).
 */
export function contractPolicies(contract: Contract, kindOf: FieldKind = () => 'long'): CompiledPolicy[] {
  const out: CompiledPolicy[] = [];
  const source = `contract:${contract.agent}`;
  contract.grants.forEach((grant, index) => {
    const id = `contract.${contract.agent}.grant.${grant.capability}`;
    const conditions: string[] = [];
    if (isGlob(grant.capability)) {
      conditions.push(`resource.id like ${cedarPattern(grant.capability)}`);
      for (const other of contract.grants) {
        if (!isGlob(other.capability) && capabilityMatches(grant.capability, other.capability)) conditions.push(`resource != ${capabilityRef(other.capability)}`);
      }
      for (const earlier of contract.grants.slice(0, index)) if (isGlob(earlier.capability)) conditions.push(`!(resource.id like ${cedarPattern(earlier.capability)})`);
    }
    conditions.push(...limitConditions(grant.limits, (field) => kindOf(grant.capability, field)));
    if (grant.when) conditions.push(`(${grant.when})`);
    const when = conditions.length ? `\nwhen {\n  ${conditions.join(' &&\n  ')}\n}` : '';
    out.push({
      id,
      source,
      escalate: null,
      text: `@id(${cedarString(id)})\npermit (\n  principal == ${agentRef(contract.agent)},\n  action == ${invokeRef},\n  ${resourceScope(grant.capability)}\n)${when};`,
    });
  });
  contract.escalation.rules.forEach((rule, index) => {
    const id = `contract.${contract.agent}.escalate.${index}`;
    const match = isGlob(rule.capability) ? `resource.id like ${cedarPattern(rule.capability)} && ` : '';
    out.push({
      id,
      source,
      escalate: rule.reason,
      text: `@id(${cedarString(id)})\n@escalate(${cedarString(rule.reason)})\npermit (\n  principal == ${agentRef(contract.agent)},\n  action == ${invokeRef},\n  ${resourceScope(rule.capability)}\n)\nwhen { ${match}(${rule.when}) };`,
    });
  });
  out.push(...accessPolicies(contract));
  return out;
}

/**
 * Permits for an upstream's resources, prompts, and sampling or elicitation
 * requests (ADR-013). As with tool grants, the first matching grant governs:
 * each permit excludes what an earlier grant of the same upstream matches,
 * so a broad grant cannot widen a narrower, conditioned one before it.
 */
function accessPolicies(contract: Contract): CompiledPolicy[] {
  const source = `contract:${contract.agent}`;
  const principal = `principal == ${agentRef(contract.agent)}`;
  const permit = (id: string, action: string, conditions: string[]): CompiledPolicy => ({
    id,
    source,
    escalate: null,
    text: `@id(${cedarString(id)})\npermit (\n  ${principal},\n  action == ${ACTION_TYPE}::${cedarString(action)},\n  resource\n)\nwhen {\n  ${conditions.join(' &&\n  ')}\n};`,
  });
  const out: CompiledPolicy[] = [];
  contract.resources.forEach((g, i) => {
    const earlier = contract.resources.slice(0, i).filter((e) => e.upstream === g.upstream);
    out.push(
      permit(`contract.${contract.agent}.resource.${i}`, ACCESS_ACTIONS.resource, [
        `resource is ${RESOURCE_TYPE}`,
        `resource.upstream == ${cedarString(g.upstream)}`,
        `resource.uri like ${cedarString(g.uri)}`,
        ...earlier.map((e) => `!(resource.uri like ${cedarString(e.uri)})`),
        ...(g.when ? [`(${g.when})`] : []),
      ]),
    );
  });
  contract.prompts.forEach((g, i) => {
    const earlier = contract.prompts.slice(0, i).filter((e) => e.upstream === g.upstream);
    out.push(
      permit(`contract.${contract.agent}.prompt.${i}`, ACCESS_ACTIONS.prompt, [
        `resource is ${PROMPT_TYPE}`,
        `resource.upstream == ${cedarString(g.upstream)}`,
        `resource.name like ${cedarString(g.name)}`,
        ...earlier.map((e) => `!(resource.name like ${cedarString(e.name)})`),
        ...(g.when ? [`(${g.when})`] : []),
      ]),
    );
  });
  contract.client_requests.forEach((g, i) => {
    const earlier = contract.client_requests.slice(0, i).some((e) => e.upstream === g.upstream && e.kind === g.kind);
    if (earlier) return; // the first grant of an upstream and kind governs
    out.push(
      permit(`contract.${contract.agent}.${g.kind}.${i}`, ACCESS_ACTIONS[g.kind], [
        `resource is ${UPSTREAM_TYPE}`,
        `resource.upstream == ${cedarString(g.upstream)}`,
        ...(g.when ? [`(${g.when})`] : []),
      ]),
    );
  });
  return out;
}

/** The resource scope of a grant or rule: one capability, or any (a glob matches in `when`). */
function resourceScope(capability: string): string {
  return isGlob(capability) ? 'resource' : `resource == ${capabilityRef(capability)}`;
}

/** A glob as a Cedar `like` pattern: `*` is Cedar's wildcard too; nothing else in an id needs escaping but quotes and backslashes. */
function cedarPattern(glob: string): string {
  return cedarString(glob);
}

// Contract limits are checked by DIM and compiled here too, so a permit can
// never be broader than its contract even if a DIM check were skipped.
// A limit on a decimal field compiles to decimal's methods (Cedar's `<=` takes
// Longs only); one whose field's type is unknown, or whose bound the field's
// type cannot hold, is left to DIM alone.
function limitConditions(limits: Contract['grants'][number]['limits'], kindOf: (field: string) => 'long' | 'decimal' | 'other'): string[] {
  const conds: string[] = [];
  const guard = (field: string, expr: string) =>
    `(!(context.values has ${cedarString(field)}) || ${expr})`;
  const compare = (field: string, bound: number, op: '<=' | '>='): string | null => {
    const ref = `context.values[${cedarString(field)}]`;
    const kind = kindOf(field);
    if (kind === 'long') return Number.isSafeInteger(bound) ? `${ref} ${op} ${bound}` : null;
    const literal = kind === 'decimal' ? cedarDecimal(bound) : null;
    return literal === null ? null : `${ref}.${op === '<=' ? 'lessThanOrEqual' : 'greaterThanOrEqual'}(decimal(${cedarString(literal)}))`;
  };
  const bounds: [Record<string, number> | undefined, '<=' | '>='][] = [
    [limits.max, '<='],
    [limits.min, '>='],
  ];
  for (const [table, op] of bounds) {
    for (const [field, bound] of Object.entries(table ?? {})) {
      const expr = compare(field, bound, op);
      if (expr) conds.push(guard(field, expr));
    }
  }
  for (const [field, allowed] of Object.entries(limits.allowed ?? {})) {
    const kind = kindOf(field);
    const literals = allowed.map((v) => (typeof v !== 'number' ? cedarLiteral(v) : kind === 'long' && Number.isSafeInteger(v) ? String(v) : kind === 'decimal' && cedarDecimal(v) !== null ? `decimal(${cedarString(cedarDecimal(v) as string)})` : null));
    if (literals.every((l) => l !== null)) conds.push(guard(field, `[${literals.join(', ')}].contains(context.values[${cedarString(field)}])`));
  }
  return conds;
}

/** Splits a .cedar file into policies, taking ids from @id annotations. */
export function filePolicies(file: PolicyFile, problems: Problem[]): CompiledPolicy[] {
  const parts = cedar.policySetTextToParts(file.text);
  if (parts.type === 'failure') {
    for (const e of parts.errors) {
      const at = e.sourceLocations?.[0];
      problems.push({ file: file.file, path: at ? lineColumn(file.text, at.start) : '(policy text)', message: e.message, hint: e.help ?? 'fix the Cedar syntax' });
    }
    return [];
  }
  const out: CompiledPolicy[] = [];
  parts.policies.forEach((text, index) => {
    const json = cedar.policyToJson(text);
    if (json.type === 'failure') {
      problems.push({ file: file.file, path: `policy #${index + 1}`, message: json.errors[0]?.message ?? 'unparsable', hint: 'fix the Cedar syntax' });
      return;
    }
    const annotations = json.json.annotations ?? {};
    const id = annotations['id'];
    if (!id) {
      problems.push({ file: file.file, path: `policy #${index + 1}`, message: 'policy has no @id annotation', hint: 'add @id("a-stable-name") above the policy; decisions record it' });
      return;
    }
    out.push({ id, text, source: file.file, escalate: annotations['escalate'] ?? null });
  });
  return out;
}

/** Contracts + policy files → one policy set, checked by Cedar, with a content hash. */
export function compilePolicySet(contracts: Contract[], files: PolicyFile[], problems: Problem[], kindOf?: FieldKind): CompiledPolicySet {
  const all: CompiledPolicy[] = [];
  for (const c of [...contracts].sort((a, b) => a.agent.localeCompare(b.agent))) all.push(...contractPolicies(c, kindOf));
  for (const f of [...files].sort((a, b) => a.file.localeCompare(b.file))) all.push(...filePolicies(f, problems));
  const policies: Record<string, CompiledPolicy> = {};
  for (const p of all) {
    const seen = policies[p.id];
    if (seen) {
      problems.push({ file: p.source, path: `@id(${p.id})`, message: `duplicate policy id, also in ${seen.source}`, hint: 'give every policy a unique @id' });
      continue;
    }
    const check = cedar.checkParsePolicySet({ staticPolicies: { [p.id]: p.text } });
    if (check.type === 'failure') {
      for (const e of check.errors) {
        problems.push({ file: p.source, path: p.id, message: e.message, hint: e.help ?? 'fix the Cedar condition' });
      }
      continue;
    }
    policies[p.id] = p;
  }
  const hash = hashOf(Object.fromEntries(Object.entries(policies).map(([id, p]) => [id, p.text])));
  return { policies, hash };
}
