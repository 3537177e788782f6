// Invocations per flow (dfid), counted at reservation time.
import type { Sql } from './sql.js';

export const flows = {
  bump: 'INSERT INTO flows (dfid, invocations) VALUES ($1, 1) ON CONFLICT (dfid) DO UPDATE SET invocations = flows.invocations + 1 RETURNING invocations',
} satisfies Record<string, Sql>;
