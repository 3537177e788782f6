import pg, { type PoolClient, type QueryResult } from 'pg';
import { sqlFor, type Sql } from '../tables/sql.js';

/** `sql` with each `$n` replaced by its parameter as a literal, for a multi-statement query (which binds none). */
export function withLiterals(sql: Sql, params: unknown[]): string {
  return sqlFor(sql, 'pg').replace(/\$(\d+)/g, (_, n: string) => literal(params[Number(n) - 1]));
}

/** A value as an SQL literal: strings through the driver's escaping, numbers only when finite. */
function literal(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`cannot store the number ${v}`);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (typeof v === 'string') return pg.escapeLiteral(v);
  if (Array.isArray(v) && v.length) return `ARRAY[${v.map(literal).join(', ')}]`;
  throw new Error(`cannot store a ${typeof v} as a literal`);
}

/**
 * The statements of a unit that need no answer before the next one, sent
 * as one multi-statement query (one round trip instead of one per
 * statement). Each may carry a check, run on its result once the query
 * returns, in order; a check that throws ends the unit, and the caller rolls
 * back to the unit's savepoint, undoing the statements after it too.
 */
export class Segment {
  private statements: { sql: string; check: ((r: QueryResult) => void) | undefined }[] = [];
  /** Called before the first query is sent (the unit's savepoint exists from then on). */
  onSend: (() => void) | null = null;

  constructor(private readonly c: PoolClient) {}

  add(sql: Sql, params: unknown[] = [], check?: (r: QueryResult) => void): void {
    this.statements.push({ sql: withLiterals(sql, params), check });
  }

  async flush(): Promise<void> {
    const list = this.statements;
    if (!list.length) return;
    this.statements = [];
    this.onSend?.();
    this.onSend = null;
    const res = (await this.c.query(list.map((x) => x.sql).join(';\n'))) as QueryResult | QueryResult[];
    const results = Array.isArray(res) ? res : [res];
    list.forEach((x, i) => x.check?.(results[i] as QueryResult));
  }
}
