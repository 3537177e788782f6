/**
 * The fix for an unknown key in a YAML file, worked out from the zod schema
 * the file is checked against: a key that belongs to another variant of the
 * same block (`path:` left in a `kind: postgres` store), or a misspelling of
 * a key that is allowed there (`capabilty:` -> `capability`), else the keys
 * that are allowed.
 */
import type { z } from 'zod';
import { closestName } from './suggest.js';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
  values?: unknown[];
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;
const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'nonoptional', 'readonly', 'catch']);

/** The schemas `s` may stand for, wrappers, pipes and unions taken apart (bounded depth). */
function alternatives(s: z.ZodType, depth = 0): z.ZodType[] {
  if (depth > 20) return [];
  const d = defOf(s);
  if (WRAPPERS.has(d.type) && d.innerType) return alternatives(d.innerType, depth + 1);
  if (d.type === 'pipe' && d.in) return alternatives(d.in, depth + 1);
  if (d.type === 'lazy' && d.getter) return alternatives(d.getter(), depth + 1);
  if (d.type === 'union' && d.options) return d.options.flatMap((o) => alternatives(o, depth + 1));
  if (d.type === 'intersection' && d.left && d.right) return [...alternatives(d.left, depth + 1), ...alternatives(d.right, depth + 1)];
  return [s];
}

/** The object schemas that can be at `path` of `schema`. */
function objectsAt(schema: z.ZodType, path: PropertyKey[]): Def[] {
  let here = alternatives(schema);
  for (const step of path) {
    here = here.flatMap((s) => {
      const d = defOf(s);
      if (d.type === 'object' && d.shape && typeof step === 'string' && d.shape[step]) return alternatives(d.shape[step]);
      if (d.type === 'array' && d.element) return alternatives(d.element);
      if (d.type === 'record' && d.valueType) return alternatives(d.valueType);
      return [];
    });
  }
  return here.map(defOf).filter((d) => d.type === 'object' && d.shape);
}

function valueAt(input: unknown, path: PropertyKey[]): Record<string, unknown> {
  let v = input;
  for (const step of path) v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[step] : undefined;
  return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
}

/** The literal keys of an object variant (its discriminators), with their one value. */
function literals(d: Def): [string, unknown][] {
  return Object.entries(d.shape ?? {}).flatMap(([k, s]) => {
    const lit = alternatives(s).map(defOf).find((x) => x.type === 'literal');
    return lit?.values?.length === 1 ? [[k, lit.values[0]] as [string, unknown]] : [];
  });
}

/** Whether the input picks this variant: every literal key it gives matches. */
function picks(d: Def, given: Record<string, unknown>): boolean {
  return literals(d).every(([k, v]) => !(k in given) || given[k] === v);
}

const list = (keys: string[]) => (keys.length > 12 ? `${keys.slice(0, 12).join(', ')}, …` : keys.join(', '));

/** Message and fix for `key`, unknown in the object at `path` of `input`. */
export function unknownKeyProblem(key: string, path: PropertyKey[], schema: z.ZodType | undefined, input: unknown): { message: string; hint: string } {
  const plain = { message: `unknown key \`${key}\``, hint: 'remove it or fix its spelling' };
  if (!schema) return plain;
  const variants = objectsAt(schema, path);
  if (!variants.length) return plain;
  const given = valueAt(input, path);
  const chosen = variants.filter((v) => picks(v, given));
  const here = chosen.length ? chosen : variants;
  const allowed = [...new Set(here.flatMap((v) => Object.keys(v.shape ?? {})))];
  // Allowed in another variant of this block: say which, and how to switch.
  const owner = variants.find((v) => !here.includes(v) && key in (v.shape ?? {}));
  if (owner) {
    const [discriminator, ownValue] = literals(owner)[0] ?? [];
    const current = discriminator !== undefined ? given[discriminator] : undefined;
    if (discriminator !== undefined && current !== undefined) {
      return {
        message: `\`${key}\` belongs to \`${discriminator}: ${String(ownValue)}\`, not to \`${discriminator}: ${String(current)}\``,
        hint: `remove \`${key}\` (\`${discriminator}: ${String(current)}\` takes ${list(allowed)}), or set \`${discriminator}: ${String(ownValue)}\` if that is what you meant`,
      };
    }
  }
  const near = closestName(key, allowed);
  if (near) return { message: `unknown key \`${key}\``, hint: `did you mean \`${near}\`? (allowed here: ${list(allowed)})` };
  return { message: `unknown key \`${key}\``, hint: `remove it; allowed here: ${list(allowed)}` };
}
