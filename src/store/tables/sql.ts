/**
 * One statement of a table, for both stores (ADR-021). Parameters are written
 * `$1`, `$2`…, which PostgreSQL binds positionally and SQLite binds as named
 * parameters `1`, `2`… (src/store/sqlite/stmt.ts), so most statements are one
 * text; where the dialects differ, the statement names both side by side.
 */
export type Sql = string | { sqlite: string; pg: string };

export type Dialect = 'sqlite' | 'pg';

export function sqlFor(sql: Sql, dialect: Dialect): string {
  return typeof sql === 'string' ? sql : sql[dialect];
}
