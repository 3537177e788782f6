import type pg from 'pg';
import type { Receipt } from '../../core/types.js';
import type { World } from '../../core/world.js';
import { GroupCommitter, type Settlement } from '../port/group-commit.js';
import { StoreUnavailableError, UnitConflictSignal, type CommitResult, type Op, type ReadAhead, type ReadAheadRequest, type StorePort, type UnitResult } from '../port/port.js';
import { events } from '../tables/events.js';
import { applyUnitPg, type Announcement, type BatchState } from './handlers.js';
import { inDb } from './guards.js';
import { Segment } from './segment.js';
import { checkout, classify, describeUrl, isStaleStatement, isUnavailable, openPool, type PoolOptions } from './connect.js';
import { CredentialCache } from './credential-cache.js';
import { channelOf, PgListener } from './listener.js';
import { migrate } from './migrations.js';
import { PgReadAhead } from './read-ahead.js';
import { pgReads } from './reads.js';
import { pgSections } from './sections.js';

export interface PgPortOptions extends PoolOptions {
  /** Apply pending migrations at open (default true; `mandate store status` passes false). */
  migrate?: boolean;
  /** Connections for effect sections (default 16): how many resources one process can hold or await at once. */
  sectionsMax?: number;
}

/** A StorePort over PostgreSQL that also exposes its pool (the fleet-wide rate limiter and breakers share it). */
export interface PgStorePort extends StorePort {
  readonly kind: 'postgres';
  readonly pool: pg.Pool;
  /** A small pool whose commits do not wait for the WAL flush: for rate-limit counters and breaker state, never the ledger (ADR-015). */
  readonly volatilePool: pg.Pool;
  readonly notifications: PgListener;
  readAhead(req: ReadAheadRequest): Promise<ReadAhead>;
}

/** Whether the store is PostgreSQL (the composition root shares breakers and rate limits through it). */
export function isPgPort(store: StorePort): store is PgStorePort {
  return store.kind === 'postgres' && 'pool' in store;
}

/**
 * The store port over PostgreSQL (ADR-015). Units are group-committed like
 * SQLite's: one transaction per batch that first locks the chain-head row
 * (so appends from every replica are serialised: no gap, no fork), each unit
 * in its own savepoint, the head written back once, and the batch's changes
 * announced with NOTIFY, which PostgreSQL delivers only if it commits.
 */
export async function openPgPort(url: string, world: World, opts: PgPortOptions = {}): Promise<PgStorePort> {
  const pool = openPool(url, opts);
  try {
    await pool.query('SELECT 1');
    if (opts.migrate !== false) await migrate(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    if (isUnavailable(err)) throw new StoreUnavailableError(`cannot reach the PostgreSQL store at ${describeUrl(url)}: ${(err as Error).message}`, { cause: err });
    throw err;
  }
  // Held effect sections each keep a session of their own (ADR-019): a pool apart from the commits'.
  return pgPort(pool, openPool(url, { max: 4, volatile: true }), openPool(url, { max: opts.sectionsMax ?? SECTIONS_MAX }), url, world);
}

/** Whether an op revokes API keys: a key's own revocation, or the end of a sub-mandate, which revokes its agent's keys. */
const revokesKeys = (op: Op): boolean => op.op === 'credential.revoke' || op.op === 'delegation.end';

/** Sections held or awaited at once by one process (one connection each; in-process waiters queue before this). */
const SECTIONS_MAX = 16;

function pgPort(pool: pg.Pool, volatilePool: pg.Pool, sectionsPool: pg.Pool, url: string, world: World): PgStorePort {
  // Reads are named, so each connection prepares a statement once and reuses its plan.
  const names = new Map<string, string>();
  const nameOf = (sql: string) => {
    let name = names.get(sql);
    if (!name) names.set(sql, (name = `mandate_${names.size}`));
    return name;
  };
  const q = async <R>(sql: string, params?: unknown[]): Promise<R[]> => {
    try {
      return (await pool.query({ text: sql, values: params ?? [], name: nameOf(sql) })).rows as R[];
    } catch (err) {
      throw classify(err);
    }
  };
  /**
   * The chain head this port left at its last commit, while nobody else has
   * moved it since as far as this port saw (ADR-021). A batch then seals its
   * events onto it and sends it whole with its guards checked in the
   * database (ADR-028); if the head moved (another replica, the CLI) or
   * anything fails, that try is rolled back and the batch runs again the
   * classic way, lock first.
   */
  let predicted: Receipt | null = null;
  /** The head this port's last commit left, predicted or not. */
  let left: Receipt | null = null;
  const runBatch = async (units: Op[][]): Promise<Settlement<CommitResult>[]> => {
    const guess = predicted;
    predicted = null;
    if (guess) {
      const fast = await optimistic(units, guess);
      if (fast) return fast;
    }
    return classic(units);
  };
  /** The end of a batch: the new head, the announcements (delivered only if it commits), COMMIT. */
  const close = (seg: Segment, from: Receipt, to: Receipt, announced: Announcement[]): void => {
    if (to.seq !== from.seq) seg.add(events.setChainHead, [to.seq, to.hash]);
    for (const key of new Set(announced.map(([t, p]) => `${channelOf(t)}\n${p}`))) seg.add('SELECT pg_notify($1, $2)', key.split('\n'));
    seg.add('COMMIT');
  };
  /**
   * A batch on the predicted head, in as few round trips as its barriers
   * allow: BEGIN, the head's lock and check, every unit's statements and the
   * end in one query where no guard needs the client's eye (a guard only the
   * client checks is sent, and checked, before anything can commit). Every
   * unit commits, or none: null if anything failed, and nothing was kept.
   */
  const optimistic = async (units: Op[][], guess: Receipt): Promise<Settlement<CommitResult>[] | null> => {
    const { client: c, done } = await checkout(pool);
    let broken: unknown;
    try {
      const seg = new Segment(c, true);
      seg.add('BEGIN');
      seg.add(inDb.lockChainHead, [guess.seq, guess.hash]);
      const st: BatchState = { head: guess, world };
      const announced: Announcement[] = [];
      const results: (() => UnitResult)[] = [];
      for (const unit of units) {
        results.push(await applyUnitPg(c, seg, unit, st, announced));
        if (!seg.sealed) await seg.flush();
      }
      close(seg, guess, st.head, announced);
      await seg.flush();
      left = predicted = st.head;
      return results.map((r) => ({ ok: true, value: { ok: true, ...r() } }));
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      // A stale statement drops this connection; the classic batch then runs on another.
      if (isStaleStatement(err)) broken = err;
      if (!isUnavailable(err)) return null;
      broken = err;
      throw classify(err);
    } finally {
      done(broken);
    }
  };
  /** A batch lock first, each unit in its own savepoint, so a unit that fails leaves the others. */
  const classic = async (units: Op[][]): Promise<Settlement<CommitResult>[]> => {
    const { client: c, done } = await checkout(pool);
    let broken: unknown;
    try {
      // One round trip opens the transaction and takes the chain head.
      const opened = (await c.query(`BEGIN; ${events.lockChainHead}`)) as unknown as pg.QueryResult[];
      const row = opened[1]?.rows[0] as Receipt | undefined;
      if (!row) throw new Error('the chain head row is missing; run `mandate store migrate`');
      const head = { seq: row.seq, hash: row.hash };
      // Whether the head is where this port left it: then the next batch predicts it.
      const steady = left !== null && left.seq === head.seq && left.hash === head.hash;
      const st: BatchState = { head, world };
      const announced: Announcement[] = [];
      const settled: Settlement<CommitResult>[] = [];
      for (const [n, unit] of units.entries()) {
        const before = st.head;
        const mine: Announcement[] = [];
        // Each unit opens its own savepoint with its first round trip; they are released at commit.
        // A unique name means a rollback can only ever reach this unit's own writes.
        const seg = new Segment(c);
        let opened = false;
        seg.add(`SAVEPOINT unit_${n}`);
        seg.onSend = () => void (opened = true);
        try {
          const result = await applyUnitPg(c, seg, unit, st, mine);
          await seg.flush();
          announced.push(...mine);
          settled.push({ ok: true, value: { ok: true, ...result() } });
        } catch (err) {
          // The connection is gone, or its statements are stale: the whole batch fails, and the connection is dropped.
          if (isUnavailable(err) || isStaleStatement(err)) throw err;
          st.head = before;
          if (opened) await c.query(`ROLLBACK TO SAVEPOINT unit_${n}`);
          settled.push(err instanceof UnitConflictSignal ? { ok: true, value: { ok: false, conflict: err.conflict } } : { ok: false, error: err });
        }
      }
      const end = new Segment(c);
      close(end, head, st.head, announced);
      await end.flush();
      left = st.head;
      predicted = steady ? st.head : null;
      return settled;
    } catch (err) {
      broken = err;
      await c.query('ROLLBACK').catch(() => undefined);
      throw classify(err);
    } finally {
      done(broken);
    }
  };
  const committer = new GroupCommitter<Op[], CommitResult>(runBatch);
  const listener = new PgListener({ connectionString: url });
  const reads = pgReads(pool, q);
  const credentialCache = new CredentialCache(listener);
  const readsAhead = new PgReadAhead(pool);
  return {
    kind: 'postgres',
    location: describeUrl(url),
    pool,
    volatilePool,
    // This process's own revocation empties the cache before its commit returns, not a notification later.
    commit: (unit) => (unit.some(revokesKeys) ? committer.submit(unit).finally(() => credentialCache.clear()) : committer.submit(unit)),
    ping: async () => {
      await q('SELECT 1');
    },
    notifications: listener,
    sections: pgSections(sectionsPool),
    readAhead: (req) => readsAhead.read(req),
    ...reads,
    credentials: { ...reads.credentials, byHash: (keyHash) => credentialCache.byHash(keyHash, () => reads.credentials.byHash(keyHash)) },
    close: async () => {
      await committer.drain();
      await listener.close();
      await Promise.all([pool.end(), volatilePool.end(), sectionsPool.end()]);
    },
  };
}
