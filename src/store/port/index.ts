// The store as the rest of Mandate sees it (ADR-010, ADR-021): the port, its
// ops and rows, and the shared constants. Code outside src/store/ imports
// from here, never from a store's own files.
export * from './port.js';
export * from './rows.js';
export * from './constants.js';
export { GENESIS_HASH, eventHash } from './events.js';
// What a read ahead leaves to its reader: a key's liveness and a window's first bucket at the reader's `now` (ADR-028).
export { isLive } from '../tables/idempotency.js';
export { windowStart } from '../tables/usage.js';
export { LEDGER_EVENT_TYPES, LedgerEventSchema } from './ledger-schema.js';
export type { PlanAttemptRow, PlanRow, PlanStatus, PlanStepRow, StepStatus } from '../plans.js';
