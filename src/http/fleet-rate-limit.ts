import type { Pool } from 'pg';
import { RateLimiter, type Admission, type Limiter, type RateLimitOptions } from './rate-limit.js';

const WINDOW_MS = 1_000;
/** How often, at most, windows that ended are deleted (principals come and go: delegated agents, plans). */
const SWEEP_MS = 5 * 60_000;

/**
 * Both counters of a request in one statement (ADR-042): its principal's,
 * then the overall one, always in that order, so two requests never wait on
 * each other's rows crosswise. A counter whose window ended starts again at 1.
 */
const TAKE = `INSERT INTO rate_limits (key, points, expire) VALUES ($1, 1, $3), ($2, 1, $3)
  ON CONFLICT (key) DO UPDATE SET
    points = CASE WHEN rate_limits.expire <= $4 THEN 1 ELSE rate_limits.points + 1 END,
    expire = CASE WHEN rate_limits.expire <= $4 THEN $3 ELSE rate_limits.expire END
  RETURNING key, points, expire`;
/** A refused request's point back, unless its window has ended since. */
const GIVE_BACK = 'UPDATE rate_limits SET points = points - 1 WHERE key = $1 AND expire = $2 AND points > 0';
const SWEEP = 'DELETE FROM rate_limits WHERE expire <= $1';
const OVERALL = 'overall:all';

interface Counter {
  key: string;
  points: number;
  expire: string | number;
}

/**
 * Rate limits that hold for the whole fleet (ADR-015): one counter per
 * principal and one overall, per one-second window, kept in PostgreSQL's
 * `rate_limits` table so that every replica draws from the same budget. A
 * request refused by one limit gives the other its point back, as the
 * in-process buckets do. If the database does not answer, each process falls
 * back to in-process buckets of the same size (the kernel fails closed on
 * the store anyway).
 */
export class FleetRateLimiter implements Limiter {
  private readonly per: number;
  private readonly all: number;
  private readonly fallback: RateLimiter;
  private sweptAt = 0;

  constructor(
    private readonly pool: Pool,
    opts: Pick<RateLimitOptions, 'perPrincipal' | 'overall'>,
    private readonly now: () => number = Date.now,
  ) {
    // A fixed one-second window counts whole requests: a fractional rate rounds down, to at least one.
    this.per = Math.max(1, Math.floor(opts.perPrincipal));
    this.all = Math.max(1, Math.floor(opts.overall));
    this.fallback = new RateLimiter({ perPrincipal: this.per, overall: this.all });
  }

  async take(key: string): Promise<Admission> {
    const now = this.now();
    const principal = `principal:${key}`;
    let rows: Counter[];
    try {
      // Named: each connection parses and plans it once (ADR-044).
      rows = (await this.pool.query<Counter>({ name: 'mandate_rate_take', text: TAKE, values: [principal, OVERALL, now + WINDOW_MS, now] })).rows;
    } catch {
      return this.fallback.take(key);
    }
    if (now - this.sweptAt >= SWEEP_MS) {
      this.sweptAt = now;
      void this.pool.query(SWEEP, [now]).catch(() => undefined);
    }
    const mine = rows.find((r) => r.key === principal);
    const overall = rows.find((r) => r.key === OVERALL);
    if (!mine || !overall) throw new Error('rate_limits: the counters were not returned');
    if (mine.points > this.per) return this.refused('principal', mine, overall, now);
    if (overall.points > this.all) return this.refused('overall', overall, mine, now);
    return { ok: true };
  }

  private async refused(scope: 'principal' | 'overall', over: Counter, other: Counter, now: number): Promise<Admission> {
    await this.pool.query(GIVE_BACK, [other.key, other.expire]).catch(() => undefined);
    return { ok: false, scope, retryAfterSeconds: Math.max(1, Math.ceil((Number(over.expire) - now) / 1000)) };
  }
}
