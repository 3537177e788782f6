import type { PoolClient, QueryResult } from 'pg';
import type { Sql } from '../tables/sql.js';
import { PreparedTexts } from './prepared.js';

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
  private readonly texts: PreparedTexts;

  /** `inDb`: guards are sent in their database-checked form where they have one. */
  constructor(
    private readonly c: PoolClient,
    readonly inDb = false,
  ) {
    this.texts = new PreparedTexts(c);
  }

  /** A statement; `read` takes its answer and never throws. */
  add(sql: Sql, params: unknown[] = [], read?: (r: QueryResult) => void): void {
    this.statements.push({ sql: this.texts.text(sql, params), check: read });
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
    await this.texts.ready();
    this.onSend?.();
    this.onSend = null;
    const res = (await this.c.query(list.map((x) => x.sql).join(';\n'))) as QueryResult | QueryResult[];
    const results = Array.isArray(res) ? res : [res];
    list.forEach((x, i) => x.check?.(results[i] as QueryResult));
  }
}
