import { sqlFor, type Sql } from '../tables/sql.js';

/** `sql` with each `$n` replaced by its parameter as a literal, for a multi-statement query (which binds none). */
export function withLiterals(sql: Sql, params: unknown[]): string {
  return sqlFor(sql, 'pg').replace(/\$(\d+)/g, (_, n: string) => literal(params[Number(n) - 1]));
}

/** A value as an SQL literal: strings through the driver's escaping, numbers only when finite. */
export function literal(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`cannot store the number ${v}`);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (typeof v === 'string') return quoted(v);
  if (Array.isArray(v) && v.length) return `ARRAY[${v.map(literal).join(', ')}]`;
  throw new Error(`cannot store a ${typeof v} as a literal`);
}

/**
 * A string as a literal, exactly as the driver's `escapeLiteral` writes it
 * (quotes doubled; with a backslash, backslashes doubled and an `E` prefix),
 * by whole-string replaces: the driver's loop adds one character at a time,
 * and a governed call's ledger records and JSON columns are kilobytes.
 */
export function quoted(v: string): string {
  const body = v.includes("'") ? v.replaceAll("'", "''") : v;
  return v.includes('\\') ? ` E'${body.replaceAll('\\', '\\\\')}'` : `'${body}'`;
}
