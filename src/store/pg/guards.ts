import { decisions } from '../tables/decisions.js';
import { flows } from '../tables/flows.js';
import { idempotency } from '../tables/idempotency.js';
import { usage } from '../tables/usage.js';

/**
 * Guards checked in the database (ADR-028): each statement answers as the
 * port's own statement does, and raises (`mandate_guard`, SQLSTATE MG001)
 * where the client's check on that answer would refuse. A segment whose
 * guards are all of this kind can carry its COMMIT: a guard that fails stops
 * the query before it, and nothing of the try is kept.
 */
export const inDb = {
  /** The head is still the predicted one ($1 seq, $2 hash); takes its row lock. */
  lockChainHead: `SELECT seq, hash, mandate_guard(seq = $1 AND hash = $2, 'head_moved') AS ok FROM chain_head WHERE id = 1 FOR UPDATE`,
  /** The key was free, or its record had lapsed. */
  keyReserve: `WITH i AS (${idempotency.reserve} RETURNING 1) SELECT mandate_guard(EXISTS (SELECT 1 FROM i), 'key_taken') AS ok`,
  /** The flow's count after this call ($2: the flow cap). */
  flowBump: `WITH b AS (${flows.bump}) SELECT invocations, mandate_guard(invocations <= $2, 'flow_limit') AS ok FROM b`,
  /** A budget's window total plus $5 stays within $6, compared in doubles as the client compares them. */
  usageWithin: `SELECT total, mandate_guard(total::float8 + $5::float8 <= $6::float8, 'budget_exceeded') AS ok FROM (${usage.sum}) s`,
  /** The decision moved from $2 to $3. */
  transition: `WITH t AS (${decisions.transition} RETURNING 1) SELECT mandate_guard(count(*) = 1, 'status_moved') AS ok FROM t`,
} as const;

