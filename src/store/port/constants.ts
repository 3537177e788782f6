// Values every store must agree on, so that SQLite and PostgreSQL answer alike.

/** Usage is kept in one-minute buckets: a budget check reads at most window/1min rows (src/store/tables/usage.ts). */
export const BUCKET_MS = 60_000;

/** The usage field that counts calls (budgets' `max_calls`). */
export const CALLS_FIELD = '_calls';

/** The most records a memory scope lists at once. */
export const MEMORY_LIST_LIMIT = 500;

/** Events read per page when a network store verifies its chain (bounded memory however long the chain). */
export const VERIFY_PAGE = 5_000;
