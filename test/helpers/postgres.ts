// Fresh PostgreSQL databases and schemas for tests (PostgreSQL on 127.0.0.1:5432, trust auth; .ci/run starts it).
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server tests use; override with MANDATE_TEST_PG_URL (a URL of its `postgres` database). */
export const PG_ADMIN_URL = process.env['MANDATE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The URL of another database on the same server. */
export function urlOf(database: string, schema?: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${database}`;
  if (schema) u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>, url = PG_ADMIN_URL): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A new, empty database named after the test (`mandate_<label>_<random>`); `drop()` removes it. */
export async function freshDatabase(label: string): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `mandate_${label.replace(/[^a-z0-9]/g, '_')}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: urlOf(name),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** A new, empty schema in `database`; the URL puts it first on the search path. */
export async function freshSchema(databaseUrl: string): Promise<string> {
  const schema = `s_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE SCHEMA ${schema}`), databaseUrl);
  const u = new URL(databaseUrl);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}
