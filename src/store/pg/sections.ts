import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { StoreSections } from '../port/port.js';
import { classify } from './connect.js';

/** The first key of every section's advisory lock ('msec'); the second is the section's hash. The migration lock uses the one-key form, a separate space. */
const SECTION_CLASS = 0x6d736563;

/** lock_not_available (lock_timeout), query_canceled (statement_timeout): the section was not free in time. */
const NOT_IN_TIME = new Set(['55P03', '57014']);

/** The second advisory key of a section: 32 bits of its name's SHA-256. Two names that collide only wait for each other, never share a section. */
export function sectionLockKey(key: string): number {
  return createHash('sha256').update(key).digest().readInt32BE(0);
}

/**
 * Effect sections across replicas (ADR-019): a session advisory lock per
 * section, held on a connection of its own from `pool` (never the commit
 * pool, so held sections cannot starve commits). PostgreSQL queues waiters
 * first come, first served; `lock_timeout` bounds the wait to the call's
 * budget; a session that ends (its process killed, its connection dropped)
 * frees its sections.
 */
export function pgSections(pool: pg.Pool): StoreSections {
  return {
    async acquire(key, waitMs, signal) {
      if (signal?.aborted || waitMs < 1) return null;
      const until = Date.now() + waitMs;
      const pending = connect(pool);
      const got = await within(pending, waitMs, signal);
      if (!got) {
        // A connection that arrives late goes straight back.
        void pending.then((c) => c.done(false), () => undefined);
        return null;
      }
      const { client, done } = got;
      const left = until - Date.now();
      if (left < 1 || signal?.aborted) {
        done(false);
        return null;
      }
      const lock = `${SECTION_CLASS}, ${sectionLockKey(key)}`;
      // Ending the session is how a waiting lock is given up on abort, and how a lock that could not be unlocked is freed.
      let ended = false;
      const end = (destroy: boolean) => {
        if (ended) return;
        ended = true;
        done(destroy);
      };
      const onAbort = () => end(true);
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        // Integers only, inlined: a simple query can carry both statements in one round trip.
        await client.query(`SET lock_timeout = ${Math.ceil(left)}; SELECT pg_advisory_lock(${lock})`);
      } catch (err) {
        signal?.removeEventListener('abort', onAbort);
        const code = (err as { code?: unknown }).code;
        if (signal?.aborted || (typeof code === 'string' && NOT_IN_TIME.has(code))) {
          end(signal?.aborted === true);
          return null;
        }
        end(true);
        throw classify(err);
      }
      signal?.removeEventListener('abort', onAbort);
      if (ended) return null;
      return async () => {
        try {
          await client.query(`SELECT pg_advisory_unlock(${lock})`);
          end(false);
        } catch (err) {
          // The session is dropped, which frees the lock anyway.
          end(true);
          throw classify(err);
        }
      };
    },
  };
}

/** A connection of the sections pool; `done(true)` ends its session instead of pooling it (so do a socket error and a dead connection). */
async function connect(pool: pg.Pool): Promise<{ client: pg.PoolClient; done(destroy: boolean): void }> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw classify(err);
  }
  let broken = false;
  const onError = () => void (broken = true);
  client.on('error', onError);
  return {
    client,
    done(destroy) {
      client.off('error', onError);
      client.release(destroy || broken);
    },
  };
}

/** `p`'s value, or undefined if `ms` passes or `signal` aborts first. */
async function within<T>(p: Promise<T>, ms: number, signal?: AbortSignal): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
        onAbort = () => resolve(undefined);
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
