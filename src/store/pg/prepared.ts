import { createHash } from 'node:crypto';
import type { ClientBase } from 'pg';
import { sqlFor, type Sql } from '../tables/sql.js';
import { literal, withLiterals } from './literals.js';

/** Statements PostgreSQL can prepare; BEGIN, COMMIT, SAVEPOINT and the like are sent as they are. */
const PREPARABLE = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i;

/** The most statement texts given a name: the store's are ~120; past this a text is sent with its literals inline. */
const MAX_NAMES = 1000;

/** A statement's name on every connection, from its text (the same in every process), and how many parameters it takes (ADR-044). */
const names = new Map<string, { name: string; arity: number } | null>();

/**
 * The names prepared on each connection. PREPARE outlives the transaction it
 * ran in, so a rollback keeps them; a connection whose statements went stale
 * is dropped from its pool (`isStaleStatement`), and its entry with it.
 */
const preparedOn = new WeakMap<ClientBase, Set<string>>();

function nameOf(text: string): { name: string; arity: number } | null {
  let named = names.get(text);
  if (named !== undefined) return named;
  if (names.size >= MAX_NAMES || !PREPARABLE.test(text)) return null;
  const arity = Math.max(0, ...[...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  named = { name: `mandate_x_${createHash('sha256').update(text).digest('hex').slice(0, 20)}`, arity };
  names.set(text, named);
  return named;
}

/**
 * The statements of one multi-statement query, each as `EXECUTE` of its
 * prepared form on the query's connection (ADR-044): PostgreSQL then parses
 * and plans a store statement once per connection, not at every call. A
 * statement the connection has not prepared yet is prepared by `ready`, in
 * one round trip before the query, the first time only.
 */
export class PreparedTexts {
  private readonly fresh = new Map<string, string>();

  constructor(private readonly c: ClientBase) {}

  /** `sql` with `params`, as this connection will run it. */
  text(sql: Sql, params: unknown[]): string {
    const text = sqlFor(sql, 'pg');
    const named = nameOf(text);
    if (!named) return withLiterals(text, params);
    const { name, arity } = named;
    if (!preparedOn.get(this.c)?.has(name)) this.fresh.set(name, text);
    const args: string[] = [];
    for (let i = 0; i < arity; i++) args.push(literal(params[i]));
    return arity ? `EXECUTE ${name}(${args.join(', ')})` : `EXECUTE ${name}`;
  }

  /** Prepares what the texts given so far need on this connection. */
  async ready(): Promise<void> {
    if (!this.fresh.size) return;
    const fresh = [...this.fresh];
    this.fresh.clear();
    await this.c.query(fresh.map(([name, text]) => `PREPARE ${name} AS ${text}`).join(';\n'));
    let set = preparedOn.get(this.c);
    if (!set) preparedOn.set(this.c, (set = new Set()));
    for (const [name] of fresh) set.add(name);
  }
}
