import { resolve } from 'node:path';
import { loadConfig } from '../../workspace/load.js';
import { ConfigError } from '../../config/problems.js';
import type { StoreConfig } from '../../config/workspace-schema.js';
import { systemWorld } from '../../core/world.js';
import { openDb } from '../../store/sqlite/db.js';
import { databaseUrl } from '../../store/open.js';
import { describeUrl, isUnavailable, openPool } from '../../store/pg/connect.js';
import { copySqliteToPg } from '../../store/pg/copy.js';
import { migrate, migrationStatus, PG_MIGRATIONS } from '../../store/pg/migrations.js';
import { openPgPort } from '../../store/pg/port.js';
import { StoreUnavailableError } from '../../store/port/index.js';
import { sqlitePort } from '../../store/sqlite/port.js';
import { openStore } from '../../store/sqlite/store.js';
import { EXIT, printJson, UsageError, workspaceDir } from '../common.js';

type PgStore = Extract<StoreConfig, { kind: 'postgres' }>;

function storeConfig(dir: string): StoreConfig {
  const { config, problems } = loadConfig(dir);
  if (!config) throw new ConfigError(problems);
  return config.store;
}

async function withPool<T>(url: string, fn: (pool: ReturnType<typeof openPool>) => Promise<T>): Promise<T> {
  const pool = openPool(url, { max: 2 });
  try {
    await pool.query('SELECT 1');
    return await fn(pool);
  } catch (err) {
    if (isUnavailable(err)) throw new StoreUnavailableError(`cannot reach the PostgreSQL store at ${describeUrl(url)}: ${(err as Error).message}`);
    throw err;
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** `mandate store migrate`: applies pending migrations (a SQLite store migrates whenever it is opened). */
export async function storeMigrate(opts: { workspace?: string; json?: boolean }): Promise<number> {
  const dir = workspaceDir(opts.workspace);
  const store = storeConfig(dir);
  if (store.kind !== 'postgres') {
    const path = resolve(dir, store.path);
    const db = openDb(path);
    const version = db.pragma('user_version', { simple: true }) as number;
    db.close();
    if (opts.json) printJson({ kind: 'sqlite', location: path, version });
    else process.stdout.write(`sqlite store ${path}: schema version ${version} (up to date)\n`);
    return EXIT.ok;
  }
  const url = databaseUrl(store);
  return withPool(url, async (pool) => {
    const applied = await migrate(pool);
    if (opts.json) printJson({ kind: 'postgres', location: describeUrl(url), applied, version: PG_MIGRATIONS.length });
    else process.stdout.write(applied.length ? `postgres store ${describeUrl(url)}: applied migration(s) ${applied.join(', ')}; now at version ${PG_MIGRATIONS.length}\n` : `postgres store ${describeUrl(url)}: up to date (version ${PG_MIGRATIONS.length})\n`);
    return EXIT.ok;
  });
}

/** `mandate store status`: kind, location, schema version, pending migrations and the chain head; exit 1 when migrations are pending. */
export async function storeStatus(opts: { workspace?: string; json?: boolean }): Promise<number> {
  const dir = workspaceDir(opts.workspace);
  const store = storeConfig(dir);
  if (store.kind !== 'postgres') {
    const path = resolve(dir, store.path);
    const port = sqlitePort(openStore(path, systemWorld), path);
    try {
      const head = await port.ledger.headSeq();
      if (opts.json) printJson({ kind: 'sqlite', location: path, pending: [], chain_head: head });
      else process.stdout.write(`store: sqlite ${path}\nschema: up to date\nchain head: seq ${head}\n`);
      return EXIT.ok;
    } finally {
      await port.close();
    }
  }
  const url = databaseUrl(store);
  return withPool(url, async (pool) => {
    const status = await migrationStatus(pool);
    const head = status.current > 0 ? ((await pool.query<{ seq: number }>('SELECT seq FROM chain_head WHERE id = 1')).rows[0]?.seq ?? 0) : null;
    if (opts.json) {
      printJson({ kind: 'postgres', location: describeUrl(url), version: status.current, latest: status.latest, applied: status.applied, pending: status.pending, chain_head: head });
    } else {
      const pending = status.pending.length ? `${status.pending.length} pending (${status.pending.map((m) => `${m.version} ${m.name}`).join(', ')}); run mandate store migrate` : 'up to date';
      process.stdout.write(`store: postgres ${describeUrl(url)}\nschema: version ${status.current} of ${status.latest}, ${pending}\nchain head: ${head === null ? 'none (not migrated)' : `seq ${head}`}\n`);
    }
    return status.pending.length ? EXIT.failed : EXIT.ok;
  });
}

/**
 * `mandate store copy --from sqlite --to postgres`: moves a workspace's
 * SQLite store, chain included, into an empty PostgreSQL database, then
 * verifies the copied chain and compares its head with the source's.
 */
export async function storeCopy(opts: { workspace?: string; from?: string; to?: string; sqlite?: string; urlEnv?: string; json?: boolean }): Promise<number> {
  if (opts.from !== 'sqlite' || opts.to !== 'postgres') throw new UsageError('store copy moves a store --from sqlite --to postgres');
  const dir = workspaceDir(opts.workspace);
  const store = storeConfig(dir);
  const file = resolve(dir, opts.sqlite ?? (store.kind !== 'postgres' ? store.path : 'mandate.db'));
  const target: PgStore = { kind: 'postgres', url_env: opts.urlEnv ?? (store.kind === 'postgres' ? store.url_env : 'MANDATE_DATABASE_URL'), pool_max: 2 };
  const url = databaseUrl(target);
  const source = sqlitePort(openStore(file, systemWorld), file);
  try {
    const before = await source.ledger.verify();
    if (!before.ok) throw new Error(`the source ledger is broken at seq ${before.firstBadSeq} (${before.problem}); it is not copied`);
    const pg = await openPgPort(url, systemWorld, { max: 2 });
    try {
      const db = openDb(file);
      let report;
      try {
        report = await copySqliteToPg(db, pg.pool);
      } finally {
        db.close();
      }
      const after = await pg.ledger.verify();
      const ok = after.ok && after.events === before.events && after.head === before.head;
      if (opts.json) printJson({ ok, from: file, to: describeUrl(url), rows: report.rows, source: before, copy: after });
      else {
        process.stdout.write(`copied ${file} to ${describeUrl(url)}: ${Object.entries(report.rows).map(([t, n]) => `${t} ${n}`).join(', ')}\n`);
        process.stdout.write(ok ? `verified: ${before.events} events, head ${before.head} on both\n` : `VERIFY FAILED: source ${JSON.stringify(before)}, copy ${JSON.stringify(after)}\n`);
        if (ok && store.kind !== 'postgres') process.stdout.write(`next: set store: { kind: postgres, url_env: ${target.url_env} } in mandate.yaml\n`);
      }
      return ok ? EXIT.ok : EXIT.failed;
    } finally {
      await pg.close();
    }
  } finally {
    await source.close();
  }
}
