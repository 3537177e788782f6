import * as cedar from './cedar.js';
import type { Schema } from '@cedar-policy/cedar-wasm/nodejs';
import type { Capability } from '../capabilities/manifest.js';
import { capabilityMatches, grantFor, type Contract } from '../config/contract-schema.js';
import { lineColumn, type Problem } from '../config/problems.js';
import { AGENT_TYPE, CAPABILITY_TYPE, type CompiledPolicySet, type PolicyFile } from './compile.js';
import { capabilityTyping, cedarSchema, contextType, usageFieldNames } from './cedar-schema.js';
import { policyHint } from './hints.js';

export interface TypecheckInput {
  set: CompiledPolicySet;
  files: PolicyFile[];
  contracts: Contract[];
  /** Contract file of each agent, relative to the workspace. */
  contractFiles: Map<string, string>;
  capabilities: Map<string, Capability>;
}

/** One Cedar validation run: a capability's context under one set of usage fields, and the policies that can apply there. */
interface Job {
  cap: Capability;
  usage: string[];
  policies: Record<string, string>;
}

/**
 * Validates every policy with Cedar's own validator (strict mode) against the
 * schema generated for each capability it can apply to: a contract's policy
 * against the capabilities its grant governs, a workspace policy against
 * those its resource scope names (all when it names none). Each real problem
 * is reported once, with file, line and column (or the contract path) and a
 * fix hint. Returns the capabilities that could not be typed, with why.
 */
export function typecheckPolicies(input: TypecheckInput, problems: Problem[]): string[] {
  const typed = [...input.capabilities.values()].filter((c) => !capabilityTyping(c).untyped.length);
  const skipped = [...input.capabilities.values()].filter((c) => capabilityTyping(c).untyped.length).map((c) => `\`${c.def.id}\`: ${capabilityTyping(c).untyped.join('; ')}`);
  const contracts = new Map(input.contracts.map((c) => [c.agent, c]));
  const jobs = new Map<string, Job>();
  const add = (cap: Capability, usage: string[], id: string, text: string) => {
    const key = `${cap.def.id}|${usage.join(',')}`;
    const job = jobs.get(key) ?? { cap, usage, policies: {} };
    job.policies[id] = text;
    jobs.set(key, job);
  };
  for (const [id, p] of Object.entries(input.set.policies)) {
    const agent = p.source.startsWith('contract:') ? p.source.slice('contract:'.length) : null;
    const contract = agent ? contracts.get(agent) : undefined;
    if (contract) {
      const pattern = contractPattern(contract, id);
      for (const cap of typed) {
        const grant = grantFor(contract, cap.def.id);
        if (!grant || !pattern || !capabilityMatches(pattern.capability, cap.def.id) || (pattern.grant && grant !== pattern.grant)) continue;
        add(cap, usageFieldNames(grant.limits.budgets ?? []), id, p.text);
      }
      continue;
    }
    const scope = scopeOf(p.text);
    for (const cap of typed) {
      if (scope.resource !== null && scope.resource !== cap.def.id) continue;
      // Only agents whose contract grants the capability ever reach the policies with it.
      const usages = new Map<string, string[]>();
      for (const c of input.contracts) {
        if (scope.principal !== null && scope.principal !== c.agent) continue;
        const grant = grantFor(c, cap.def.id);
        if (grant) usages.set(usageFieldNames(grant.limits.budgets ?? []).join(','), usageFieldNames(grant.limits.budgets ?? []));
      }
      for (const usage of usages.values()) add(cap, usage, id, p.text);
    }
  }

  const seen = new Set<string>();
  for (const job of jobs.values()) {
    const answer = cedar.validate({ schema: cedarSchema(contextType(capabilityTyping(job.cap), job.usage)) as Schema, policies: { staticPolicies: job.policies } });
    if (answer.type === 'failure') {
      for (const e of answer.errors) problems.push({ file: '(generated Cedar schema)', path: job.cap.def.id, message: e.message, hint: 'report this: the generated schema should always be valid' });
      continue;
    }
    for (const v of answer.validationErrors) {
      const policy = input.set.policies[v.policyId];
      if (!policy) continue;
      const message = v.error.message.replace(/^for policy `[^`]*`, /, '');
      const at = v.error.sourceLocations?.[0];
      const key = `${v.policyId}|${message}|${at?.start ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const snippet = at ? policy.text.slice(at.start, at.end) : '';
      problems.push({
        ...where(input, v.policyId, policy.source, policy.text, at?.start),
        message: `${message}${snippet ? ` in \`${snippet}\`` : ''} (checked for \`${job.cap.def.id}\`)`,
        hint: policyHint(message, v.error.help, { cap: job.cap, typed, unscoped: !policy.source.startsWith('contract:') && scopeOf(policy.text).resource === null }),
      });
    }
  }
  return skipped;
}

/**
 * The Cedar schemas a workspace's policies are checked against: one per
 * capability and set of usage fields, with the agents whose grants give it
 * (`mandate validate --cedar-schema`). Untyped capabilities are left out.
 */
export function workspaceSchemas(contracts: Contract[], capabilities: Map<string, Capability>): { capability: string; agents: string[]; schema: Record<string, unknown> }[] {
  const out = new Map<string, { capability: string; agents: string[]; schema: Record<string, unknown> }>();
  for (const cap of [...capabilities.values()].sort((a, b) => a.def.id.localeCompare(b.def.id))) {
    if (capabilityTyping(cap).untyped.length) continue;
    for (const c of [...contracts].sort((a, b) => a.agent.localeCompare(b.agent))) {
      const grant = grantFor(c, cap.def.id);
      if (!grant) continue;
      const usage = usageFieldNames(grant.limits.budgets ?? []);
      const key = `${cap.def.id}|${usage.join(',')}`;
      const entry = out.get(key) ?? { capability: cap.def.id, agents: [], schema: cedarSchema(contextType(capabilityTyping(cap), usage)) };
      entry.agents.push(c.agent);
      out.set(key, entry);
    }
  }
  return [...out.values()];
}

/** For a contract's policy id, the grant or escalation rule it was compiled from. */
function contractPattern(contract: Contract, id: string): { capability: string; grant?: Contract['grants'][number] } | null {
  const prefix = `contract.${contract.agent}.`;
  const rest = id.slice(prefix.length);
  if (rest.startsWith('grant.')) {
    const grant = contract.grants.find((g) => g.capability === rest.slice('grant.'.length));
    return grant ? { capability: grant.capability, grant } : null;
  }
  const rule = contract.escalation.rules[Number(rest.slice('escalate.'.length))];
  return rule ? { capability: rule.capability } : null;
}

/** The principal and resource a policy's scope pins down with `==` (null: any). */
function scopeOf(text: string): { principal: string | null; resource: string | null } {
  const json = cedar.policyToJson(text);
  if (json.type === 'failure') return { principal: null, resource: null };
  const pick = (scope: unknown, type: string): string | null => {
    const s = scope as { op?: string; entity?: { type?: string; id?: string } };
    return s.op === '==' && s.entity?.type === type && typeof s.entity.id === 'string' ? s.entity.id : null;
  };
  return { principal: pick(json.json.principal, AGENT_TYPE), resource: pick(json.json.resource, CAPABILITY_TYPE) };
}

/** Where a problem is: a policy file's line and column, or the contract key the policy was compiled from. */
function where(input: TypecheckInput, id: string, source: string, text: string, start: number | undefined): { file: string; path: string } {
  if (source.startsWith('contract:')) {
    const agent = source.slice('contract:'.length);
    const file = input.contractFiles.get(agent) ?? `${agent}.yaml`;
    const contract = input.contracts.find((c) => c.agent === agent);
    const rest = id.slice(`contract.${agent}.`.length);
    if (rest.startsWith('escalate.')) return { file, path: `escalation.rules.${rest.slice('escalate.'.length)}.when` };
    const index = contract?.grants.findIndex((g) => g.capability === rest.slice('grant.'.length)) ?? -1;
    const when = contract?.grants[index]?.when;
    const inWhen = when !== undefined && start !== undefined && start >= text.lastIndexOf(`(${when})`);
    return { file, path: `grants.${index}.${inWhen ? 'when' : 'limits'}` };
  }
  const file = input.files.find((f) => f.file === source);
  const base = file ? file.text.indexOf(text) : -1;
  if (!file || base < 0 || start === undefined) return { file: source, path: `@id(${id})` };
  return { file: source, path: `${lineColumn(file.text, base + start)} (@id ${id})` };
}
