/**
 * Fix hints for policy type errors. For a field that does not exist, the
 * names the capability does give, most alike first (`amount_minor` before
 * `memo` for `amount`), where else a field of that name exists, and the two
 * ways out: a `has` guard, or a policy scoped to the capability it is for.
 */
import type { Capability } from '../capabilities/manifest.js';
import { closestName, rankBySimilarity, similarity } from '../config/suggest.js';
import { CAPABILITY_TYPE } from './compile.js';
import { capabilityTyping, type RecordType } from './cedar-schema.js';

const COMPARING_AMOUNTS = 'see "Comparing amounts" in docs/guides/writing-a-contract.md';
const RECORDS = ['values', 'facts'] as const;

export interface HintContext {
  /** The capability the policy was checked for. */
  cap: Capability;
  /** Every typed capability of the workspace (where else a field exists). */
  typed: Capability[];
  /** True for a workspace policy that names no capability in its scope (it applies to all). */
  unscoped: boolean;
}

/** The attribute names of a record of this capability at `path` (e.g. ['values'] or ['values', 'payee']). */
function namesAt(cap: Capability, path: string[]): string[] | null {
  const [record, ...rest] = path;
  if (record !== 'values' && record !== 'facts') return null;
  let here: RecordType = capabilityTyping(cap)[record];
  for (const step of rest) {
    const next = here.attributes[step];
    if (!next || next.type !== 'Record') return null;
    here = next;
  }
  return Object.keys(here.attributes);
}

function notFoundHint(missing: string[], ctx: HintContext): string | null {
  const field = missing.at(-1) as string;
  const parent = missing.slice(0, -1);
  const id = ctx.cap.def.id;
  if (!parent.length) return `context has ${rankBySimilarity(field, ['values', 'facts', 'usage', 'now']).join(', ')}`;
  const here = namesAt(ctx.cap, parent);
  if (!here) return null;
  const ranked = rankBySimilarity(field, here);
  const near = closestName(field, here);
  const localBest = ranked[0] !== undefined ? similarity(field, ranked[0]) : 0;
  const parts = [`\`${id}\` has no \`${missing.join('.')}\`${near ? `: did you mean \`${near}\`?` : ''} Its ${parent.join('.')}, most alike first: ${ranked.join(', ') || '(none)'}`];
  if (parent.length === 1) {
    const other = RECORDS.find((r) => r !== parent[0]) as string;
    parts.push(`its ${other}: ${rankBySimilarity(field, namesAt(ctx.cap, [other]) ?? []).join(', ') || '(none)'}`);
  }
  // A field much more like it on another capability: the policy may be meant for that one.
  const elsewhere = ctx.typed
    .filter((c) => c !== ctx.cap)
    .flatMap((c) => (namesAt(c, parent) ?? []).map((name) => ({ c: c.def.id, name, s: similarity(field, name) })))
    .filter((x) => x.s >= 0.6 && x.s > localBest)
    .sort((a, b) => b.s - a.s)[0];
  const record = `context.${parent.join('.')}`;
  const guard = (name: string) => `guard it with \`has\` (\`${record} has ${name} && ${record}.${name} …\`) so that capabilities without it pass`;
  const scope = (cap: string) => `scope the policy to the capability it is for (\`resource == ${CAPABILITY_TYPE}::"${cap}"\`)`;
  if (elsewhere) parts.push(`\`${elsewhere.c}\` has ${parent.join('.')}.${elsewhere.name}: if the policy is meant for it, ${ctx.unscoped ? `${scope(elsewhere.c)}, or ` : ''}${guard(elsewhere.name)}`);
  else parts.push(`if the field is optional, or only some capabilities have it, ${guard(near ?? field)}${ctx.unscoped ? `; or ${scope(id)}` : ''}`);
  return parts.join('; ');
}

/** The fix hint for one Cedar validation error of a policy checked for `ctx.cap`. */
export function policyHint(message: string, help: string | null | undefined, ctx: HintContext): string {
  if (/saw decimal/.test(message)) return `this field is a decimal (a number with a fraction): compare it with its methods, e.g. context.values.amount.greaterThan(decimal("500.00")), or lessThan, greaterThanOrEqual, lessThanOrEqual; ${COMPARING_AMOUNTS}`;
  if (/expected decimal/.test(message)) return `compare a decimal with a decimal: decimal("500.00"), not 500; ${COMPARING_AMOUNTS}`;
  const missing = /attribute `([^`]+)` in context\b.*not found/.exec(message)?.[1];
  const hint = missing ? notFoundHint(missing.split('.'), ctx) : null;
  if (hint) return hint;
  if (/not found/.test(message)) {
    const t = capabilityTyping(ctx.cap);
    const list = (r: { attributes: Record<string, unknown> }) => Object.keys(r.attributes).join(', ') || '(none)';
    return `${help ? `${help}; ` : ''}\`${ctx.cap.def.id}\` gives policies values: ${list(t.values)}; facts: ${list(t.facts)}`;
  }
  return help ?? 'see "Typed policies" in docs/guides/writing-a-contract.md';
}
