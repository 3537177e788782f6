import pg from 'pg';
import { StoreUnavailableError } from '../port/port.js';

/** int8 (counts, epoch milliseconds) and numeric (sums) as JS numbers: every value the store keeps fits. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === 20 || oid === 1700) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  }) as typeof pg.types.getTypeParser,
};

export interface PoolOptions {
  /** Connections at most (default 10). */
  max?: number;
  /** How long to wait for a connection before the store counts as unavailable (default 5 s). */
  connectTimeoutMs?: number;
  /**
   * For state whose last moments may be lost if the database itself crashes
   * (rate-limit counters, shared breaker state): commits do not wait for the
   * WAL flush. Never for the ledger and the kernel's state.
   */
  volatile?: boolean;
}

/**
 * A pool over the database the URL names. The URL comes from the
 * environment only; a query may name a schema with `?options=-c search_path=…`.
 */
export function openPool(url: string, opts: PoolOptions = {}): pg.Pool {
  const config: pg.PoolConfig = {
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    // A statement that hangs (a lock held by a dead peer's session) fails instead of holding the call.
    statement_timeout: 30_000,
    types,
    // pg-pool runs this before handing a new connection out.
    // Typed as returning void, but pg-pool awaits the promise it returns before handing the connection out.
    ...(opts.volatile ? { onConnect: ((client: pg.ClientBase) => client.query('SET synchronous_commit TO off')) as unknown as (client: pg.ClientBase) => void } : {}),
  };
  const pool = new pg.Pool(config);
  // An idle connection that breaks (the server restarted) is dropped from the pool; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Counts the round trips `pools` make from now on (each query sent is one; a
 * multi-statement query is one): the benchmark's figure per accepted write.
 */
export function countRoundTrips(pools: pg.Pool[]): { readonly n: number } {
  const counter = { n: 0 };
  const patched = new WeakSet<pg.PoolClient>();
  for (const pool of pools) {
    pool.on('acquire', (client) => {
      if (patched.has(client)) return;
      patched.add(client);
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        counter.n++;
        return query(...args);
      };
    });
  }
  return counter;
}

/** Where the store lives, for messages: host, port and database, never credentials. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `postgres://${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'postgres (unparseable url)';
  }
}

const NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', 'ENETUNREACH']);

/**
 * Whether an error means the database did not answer (connection refused,
 * dropped, timed out, shut down) rather than refused a statement.
 */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (NODE_CODES.has(code)) return true;
  // 08: connection exception; 57P01-03: admin shutdown, crash shutdown, cannot connect now.
  if (code.startsWith('08') || /^57P0[123]$/.test(code)) return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connect ECONNREFUSED/i.test(message);
}

/**
 * Whether an error means a statement this connection prepared is gone (a
 * pooler that does not keep sessions), no longer fits the table it reads (a
 * migration added a column under `SELECT *`), or is prepared already where
 * this process did not know it (a `PREPARE` round trip that failed part way):
 * the connection is dropped, and the next one prepares afresh (ADR-044).
 */
export function isStaleStatement(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e?.code === '26000' || e?.code === '42P05') return true;
  return e?.code === '0A000' && typeof e.message === 'string' && e.message.includes('cached plan must not change result type');
}

/** Rethrows a connection failure as StoreUnavailableError; other errors as they are. */
export function classify(err: unknown): unknown {
  if (err instanceof StoreUnavailableError || !isUnavailable(err)) return err;
  return new StoreUnavailableError(`the store is unavailable (${((err as Error).message ?? String(err)).slice(0, 120)})`, { cause: err });
}

/**
 * A connection checked out of the pool, guarded: a socket error that arrives
 * between two of its queries is kept (the next query fails with it) instead
 * of being an unhandled 'error' event that would end the process. Release it
 * with `done`, which drops a broken connection (or one with a stale
 * statement) rather than pooling it.
 */
export async function checkout(pool: pg.Pool): Promise<{ client: pg.PoolClient; done(err?: unknown): void }> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw classify(err);
  }
  let failed: Error | undefined;
  const onError = (err: Error) => void (failed = err);
  client.on('error', onError);
  return {
    client,
    done(err?: unknown) {
      client.off('error', onError);
      const broken = failed ?? (err !== undefined && (isUnavailable(err) || isStaleStatement(err)) ? (err as Error) : undefined);
      client.release(broken);
    },
  };
}
