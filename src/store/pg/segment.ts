import type { PoolClient, QueryResult } from 'pg';
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

/**
 * The statements of a unit that need no answer before the next one, sent
 * as one multi-statement query (one round trip instead of one per
 * statement). Each may carry a check, run on its result once the query
 * returns, in order. A check that throws ends the unit (the caller rolls
 * back to the unit's savepoint, undoing the statements after it too), so a
 * segment holding such a guard cannot carry the COMMIT; where the guard has a
 * form checked in the database (src/store/pg/guards.ts) and the segment
 * checks there (`inDb`), that form is sent and the segment can (ADR-028).
 */
export class Segment {
  private statements: { sql: string; check: ((r: QueryResult) => void) | undefined }[] = [];
  /** Guards queued whose failure only the client would see. */
  private blind = 0;
  /** Called before the first query is sent (the unit's savepoint exists from then on). */
  onSend: (() => void) | null = null;

  /** `inDb`: guards are sent in their database-checked form where they have one. */
  constructor(
    private readonly c: PoolClient,
    readonly inDb = false,
  ) {}

  /** A statement; `read` takes its answer and never throws. */
  add(sql: Sql, params: unknown[] = [], read?: (r: QueryResult) => void): void {
    this.statements.push({ sql: withLiterals(sql, params), check: read });
  }

  /**
   * A statement whose `check` may refuse the unit. `db` is its form checked
   * in the database, with its parameters: on the answer it gives (the guard
   * having held) `check` does not throw.
   */
  guard(sql: Sql, params: unknown[], check: (r: QueryResult) => void, db?: { sql: Sql; params: unknown[] }): void {
    if (this.inDb && db) return this.add(db.sql, db.params, check);
    this.blind++;
    this.add(sql, params, check);
  }

  /** Whether every guard queued is checked in the database: then the COMMIT may follow in the same query. */
  get sealed(): boolean {
    return this.blind === 0;
  }

  async flush(): Promise<void> {
    const list = this.statements;
    if (!list.length) return;
    this.statements = [];
    this.blind = 0;
    this.onSend?.();
    this.onSend = null;
    const res = (await this.c.query(list.map((x) => x.sql).join(';\n'))) as QueryResult | QueryResult[];
    const results = Array.isArray(res) ? res : [res];
    list.forEach((x, i) => x.check?.(results[i] as QueryResult));
  }
}
