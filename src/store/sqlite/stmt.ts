import type Database from 'better-sqlite3';
import { sqlFor, type Sql } from '../tables/sql.js';
import type { Db } from './db.js';

/** A prepared statement of a table module (src/store/tables/), taking its `$n` parameters in order. */
export interface Stmt<R> {
  run(...params: unknown[]): Database.RunResult;
  get(...params: unknown[]): R | undefined;
  all(...params: unknown[]): R[];
}

/**
 * Prepares a table's statement for SQLite. `$1`… are SQLite named parameters;
 * a statement that names each once, in order, is rewritten to `?` and bound
 * positionally (no object per call), any other is bound by name. `raw`: rows
 * come back as arrays in column order (no object per row).
 */
export function prepare<R = unknown>(db: Db, sql: Sql, raw = false): Stmt<R> {
  const text = sqlFor(sql, 'sqlite');
  const refs = [...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
  const inOrder = refs.every((n, i) => n === i + 1);
  const s = db.prepare<unknown[], R>(inOrder ? text.replace(/\$\d+/g, '?') : text);
  if (raw) s.raw();
  const bind = inOrder ? (p: unknown[]) => p.map(nullish) : (p: unknown[]) => [Object.fromEntries(p.map((v, i) => [i + 1, nullish(v)]))];
  if (!refs.length) return { run: () => s.run(), get: () => s.get(), all: () => s.all() };
  return {
    run: (...p) => s.run(...bind(p)),
    get: (...p) => s.get(...bind(p)),
    all: (...p) => s.all(...bind(p)),
  };
}

/** Absent values are stored as NULL, as PostgreSQL's store does. */
const nullish = (v: unknown): unknown => (v === undefined ? null : v);
