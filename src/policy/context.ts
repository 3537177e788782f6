import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { Capability, Facts, Values } from '../capabilities/manifest.js';
import type { ReasonDetail } from '../core/types.js';
import { capabilityTyping } from './cedar-schema.js';
import { toCedarRecord, type ValueIssue } from './cedar-values.js';

export type PolicyContext = { ok: true; context: Record<string, CedarValueJson> } | { ok: false; details: ReasonDetail[] };

/**
 * The `context` Cedar sees for one request, each value converted as the
 * capability's generated schema types it (numbers typed `number` become
 * `decimal`). A value Cedar cannot hold exactly is refused with
 * POLICY_VALUE_INVALID and its path, never dropped or rounded.
 */
export function policyContext(cap: Capability, values: Values, facts: Facts, usage: Record<string, number>, nowMs: number): PolicyContext {
  const typing = capabilityTyping(cap);
  const issues: ValueIssue[] = [];
  const context = {
    values: toCedarRecord(values, typing.values, 'values', issues),
    facts: toCedarRecord(facts, typing.facts, 'facts', issues),
    usage: toCedarRecord(usage, undefined, 'usage', issues),
    now: Math.floor(nowMs / 1000),
  };
  if (!issues.length) return { ok: true, context };
  return { ok: false, details: issues.map((i) => ({ code: 'POLICY_VALUE_INVALID' as const, message: i.message, path: i.path.replace(/^values\./, '') })) };
}
