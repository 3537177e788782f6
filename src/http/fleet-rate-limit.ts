import type { Pool } from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Admission, Limiter, RateLimitOptions } from './rate-limit.js';

/**
 * Rate limits that hold for the whole fleet (ADR-015): one counter per
 * principal and one overall, per one-second window, kept in PostgreSQL (the
 * `rate_limits` table the store's migrations create) by rate-limiter-flexible,
 * so every replica draws from the same budget. A request refused by the
 * overall limit gives its principal's point back. If the database does not
 * answer, each process falls back to an in-memory limiter of the same size
 * (the kernel fails closed on the store anyway).
 */
export class FleetRateLimiter implements Limiter {
  private readonly principal: RateLimiterPostgres;
  private readonly overall: RateLimiterPostgres;

  constructor(pool: Pool, opts: Pick<RateLimitOptions, 'perPrincipal' | 'overall'>) {
    // A fixed one-second window counts whole requests: a fractional rate rounds down, to at least one.
    const per = Math.max(1, Math.floor(opts.perPrincipal));
    const all = Math.max(1, Math.floor(opts.overall));
    const common = { storeClient: pool, storeType: 'pool', tableName: 'rate_limits', tableCreated: true, duration: 1 } as const;
    this.principal = new RateLimiterPostgres({ ...common, keyPrefix: 'principal', points: per, insuranceLimiter: new RateLimiterMemory({ points: per, duration: 1 }) });
    this.overall = new RateLimiterPostgres({ ...common, keyPrefix: 'overall', points: all, insuranceLimiter: new RateLimiterMemory({ points: all, duration: 1 }) });
  }

  async take(key: string): Promise<Admission> {
    // Both counters at once (one round trip of latency); a refusal by one gives the other's point back.
    const [mine, all] = await Promise.allSettled([this.principal.consume(key), this.overall.consume('all')]);
    if (mine.status === 'rejected') {
      if (all.status === 'fulfilled') await this.overall.reward('all', 1).catch(() => undefined);
      return refused('principal', mine.reason);
    }
    if (all.status === 'rejected') {
      await this.principal.reward(key, 1).catch(() => undefined);
      return refused('overall', all.reason);
    }
    return { ok: true };
  }
}

function refused(scope: 'principal' | 'overall', res: unknown): Admission {
  // consume() rejects with a RateLimiterRes when over the limit; anything else is a failure of both stores.
  if (!(res instanceof RateLimiterRes)) throw res;
  return { ok: false, scope, retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) };
}
