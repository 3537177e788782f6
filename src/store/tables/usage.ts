// Rolling-window usage in one-minute buckets (BUCKET_MS): a budget check reads at most window/1min rows.
import { BUCKET_MS } from '../port/constants.js';
import type { Sql } from './sql.js';

export const usage = {
  add: `INSERT INTO usage (agent, capability, field, bucket, total) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (agent, capability, field, bucket) DO UPDATE SET total = usage.total + EXCLUDED.total`,
  sum: 'SELECT COALESCE(SUM(total), 0) AS total FROM usage WHERE agent = $1 AND capability = $2 AND field = $3 AND bucket >= $4',
} satisfies Record<string, Sql>;

export const bucketOf = (at: number): number => Math.floor(at / BUCKET_MS);

/**
 * The first bucket of the window ending at `now`. Conservative: the bucket
 * holding `now - window` counts whole, so nothing inside the window is ever
 * forgotten (usage may be remembered up to one bucket longer).
 */
export const windowStart = (now: number, windowMs: number): number => Math.floor((now - windowMs) / BUCKET_MS);
