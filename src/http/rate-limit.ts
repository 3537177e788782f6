/**
 * Token buckets keyed by principal (never by IP: many agents may share one
 * address, and one agent may move between addresses), plus one overall
 * bucket. Each holds one second's worth of requests. A request refused by
 * the overall bucket gives its principal's token back: a rejection changes
 * nothing.
 */
export interface RateLimitOptions {
  perPrincipal: number;
  overall: number;
  /** Monotonic milliseconds. */
  now?: () => number;
  /** Buckets kept at most; the idlest are dropped first (a full bucket is no information). */
  maxKeys?: number;
}

export type Admission = { ok: true } | { ok: false; scope: 'principal' | 'overall'; retryAfterSeconds: number };

/** What the HTTP edge asks before a request: this process's buckets, or the fleet's (src/http/fleet-rate-limit.ts). */
export interface Limiter {
  take(key: string): Admission | Promise<Admission>;
}

class Bucket {
  constructor(
    private readonly rate: number,
    private tokens: number,
    private at: number,
  ) {}

  private refill(now: number): void {
    const capacity = Math.max(this.rate, 1);
    this.tokens = Math.min(capacity, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
  }

  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  giveBack(): void {
    this.tokens += 1;
  }

  /** Seconds until one token is available (at least 1, as Retry-After is whole seconds). */
  wait(now: number): number {
    this.refill(now);
    return Math.max(1, Math.ceil((1 - this.tokens) / this.rate));
  }

  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= Math.max(this.rate, 1);
  }
}

/** In-process token buckets: the default, and the limit of one process. */
export class RateLimiter implements Limiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly overall: Bucket;
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(private readonly opts: RateLimitOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.maxKeys = opts.maxKeys ?? 10_000;
    this.overall = new Bucket(opts.overall, Math.max(opts.overall, 1), this.now());
  }

  take(key: string): Admission {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) this.prune(now);
      bucket = new Bucket(this.opts.perPrincipal, Math.max(this.opts.perPrincipal, 1), now);
      this.buckets.set(key, bucket);
    }
    if (!bucket.take(now)) return { ok: false, scope: 'principal', retryAfterSeconds: bucket.wait(now) };
    if (!this.overall.take(now)) {
      bucket.giveBack();
      return { ok: false, scope: 'overall', retryAfterSeconds: this.overall.wait(now) };
    }
    return { ok: true };
  }

  private prune(now: number): void {
    for (const [k, b] of this.buckets) if (b.full(now)) this.buckets.delete(k);
    // Still full of active principals: drop the oldest entries.
    for (const k of this.buckets.keys()) {
      if (this.buckets.size < this.maxKeys) break;
      this.buckets.delete(k);
    }
  }
}
