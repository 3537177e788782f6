import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';

/**
 * Converts agent- or capability-supplied data into Cedar values. Only strings,
 * booleans, safe integers, arrays and records pass; keys starting with `__`
 * are dropped so data can never smuggle in `__entity` or `__extn` references.
 */
export function toCedarValue(value: unknown, depth = 0): CedarValueJson | undefined {
  if (depth > 8) return undefined;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (Array.isArray(value)) {
    const items = value.map((v) => toCedarValue(v, depth + 1));
    return items.every((v) => v !== undefined) ? (items as CedarValueJson[]) : undefined;
  }
  if (value !== null && typeof value === 'object') return toCedarRecord(value as Record<string, unknown>, depth);
  return undefined;
}

export function toCedarRecord(record: Record<string, unknown>, depth = 0): Record<string, CedarValueJson> {
  const out: Record<string, CedarValueJson> = {};
  for (const [key, v] of Object.entries(record)) {
    if (key.startsWith('__')) continue;
    const converted = toCedarValue(v, depth + 1);
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
