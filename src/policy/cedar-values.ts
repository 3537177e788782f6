import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';

/**
 * A Cedar type as Cedar's JSON schema format writes it, restricted to what
 * Mandate generates (src/policy/cedar-schema.ts). `required` only appears on
 * a record's attributes.
 */
export type CedarType =
  | { type: 'Long' | 'String' | 'Boolean'; required?: boolean }
  | { type: 'Extension'; name: 'decimal'; required?: boolean }
  | { type: 'Set'; element: CedarType; required?: boolean }
  | { type: 'Record'; attributes: Record<string, CedarType>; required?: boolean };

/** A value that could not be given to Cedar as its type; `path` is dotted from the context root. */
export interface ValueIssue {
  path: string;
  message: string;
}

/** Cedar's decimal: a 64-bit integer of ten-thousandths, so 4 places and about ±922 trillion. */
const DECIMAL_PLACES = 4;
const DECIMAL_MAX_INTEGER = 922_337_203_685_476n;

/**
 * The Cedar `decimal` literal for a number, or null when Cedar's decimal
 * cannot hold it exactly (more than 4 decimal places, or too large). Never
 * rounds: a value Cedar cannot hold is refused by the caller, not changed.
 */
export function cedarDecimal(n: number): string | null {
  if (!Number.isFinite(n)) return null;
  // The shortest text that round-trips the double: 299.99 is "299.99", 1e21 is "1e+21" (refused).
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(n));
  if (!match) return null;
  const [, sign, whole, fraction = ''] = match as unknown as [string, string, string, string | undefined];
  if (fraction.length > DECIMAL_PLACES || BigInt(whole) > DECIMAL_MAX_INTEGER) return null;
  return `${sign}${whole}.${fraction || '0'}`;
}

const decimalValue = (literal: string): CedarValueJson => ({ __extn: { fn: 'decimal', arg: literal } });
// Messages name the path, not the value: a fact or a derived value is not the agent's to see.
const tooPrecise = (path: string): ValueIssue => ({
  path,
  message: `\`${path}\` cannot be given to the policies exactly: Cedar's decimal holds at most ${DECIMAL_PLACES} decimal places and ±922337203685476.9999`,
});

/**
 * Converts agent- or capability-supplied data into Cedar values, following
 * `type` where one is declared. Numbers with a fraction (and numbers a
 * schema types as decimal) become Cedar `decimal`; a number Cedar cannot hold
 * exactly is reported in `issues`, never dropped or rounded. Keys starting
 * with `__` are dropped so data can never smuggle in `__entity` or `__extn`
 * references; `null` and non-JSON values are dropped as before.
 */
export function toCedarValue(value: unknown, type?: CedarType, path = '(value)', issues: ValueIssue[] = [], depth = 0): CedarValueJson | undefined {
  if (depth > 8) return undefined;
  if (type && value !== null && value !== undefined && !fits(value, type)) {
    issues.push({ path, message: `\`${path}\` is not ${KIND[type.type]}, as its schema declares` });
    return undefined;
  }
  if (typeof value === 'number') {
    const wantsDecimal = type?.type === 'Extension' || (type?.type !== 'Long' && !Number.isInteger(value));
    if (!wantsDecimal) {
      if (Number.isSafeInteger(value)) return value;
      issues.push({ path, message: Number.isInteger(value) ? `\`${path}\` is beyond the integers Cedar can hold exactly (±2^53)` : `\`${path}\` is declared an integer but has a fraction` });
      return undefined;
    }
    const literal = cedarDecimal(value);
    if (literal === null) {
      issues.push(tooPrecise(path));
      return undefined;
    }
    return decimalValue(literal);
  }
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) {
    const element = type?.type === 'Set' ? type.element : undefined;
    const before = issues.length;
    const items = value.map((v, i) => toCedarValue(v, element, `${path}.${i}`, issues, depth + 1));
    if (issues.length > before) return undefined;
    return items.every((v) => v !== undefined) ? (items as CedarValueJson[]) : undefined;
  }
  if (value !== null && typeof value === 'object') return toCedarRecord(value as Record<string, unknown>, type?.type === 'Record' ? type : undefined, path, issues, depth);
  return undefined;
}

const KIND: Record<CedarType['type'], string> = { Long: 'an integer', Extension: 'a number', String: 'a string', Boolean: 'a boolean', Set: 'an array', Record: 'an object' };

/** Whether a value has the JSON kind its declared type needs (an integer's exactness is checked with the number). */
function fits(value: unknown, type: CedarType): boolean {
  switch (type.type) {
    case 'String':
      return typeof value === 'string';
    case 'Boolean':
      return typeof value === 'boolean';
    case 'Set':
      return Array.isArray(value);
    case 'Record':
      return typeof value === 'object' && !Array.isArray(value);
    default:
      return typeof value === 'number';
  }
}

export function toCedarRecord(
  record: Record<string, unknown>,
  type?: Extract<CedarType, { type: 'Record' }>,
  path?: string,
  issues: ValueIssue[] = [],
  depth = 0,
): Record<string, CedarValueJson> {
  const out: Record<string, CedarValueJson> = {};
  for (const [key, v] of Object.entries(record)) {
    if (key.startsWith('__')) continue;
    const converted = toCedarValue(v, type?.attributes[key], path ? `${path}.${key}` : key, issues, depth + 1);
    if (converted !== undefined) out[key] = converted;
  }
  return out;
}

/** A Cedar string literal. */
export function cedarString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\u{${code.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}

export function cedarLiteral(value: string | number | boolean): string {
  if (typeof value === 'string') return cedarString(value);
  return String(value);
}
