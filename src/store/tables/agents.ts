// What interventions leave behind: agent and flow status, interventions, constraints and operator notes.
import type { InterventionRow } from '../port/rows.js';
import type { Sql } from './sql.js';

export const agents = {
  status: 'SELECT status FROM agent_status WHERE agent = $1',
  statusRow: 'SELECT status, updated_at, updated_by FROM agent_status WHERE agent = $1',
  setStatus: `INSERT INTO agent_status (agent, status, updated_at, updated_by, reason) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (agent) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by, reason = EXCLUDED.reason`,
  // The strictest status that applies: the agent's own part of the flow, or the whole flow ('*'); NULL when none does.
  // An aggregate, not ORDER BY … LIMIT 1: SQLite built a sorter for it at every call, rows or none.
  flowStatus: `SELECT CASE min(CASE status WHEN 'terminated' THEN 0 WHEN 'paused' THEN 1 ELSE 2 END) WHEN 0 THEN 'terminated' WHEN 1 THEN 'paused' WHEN 2 THEN 'active' END AS status
    FROM flow_status WHERE dfid = $1 AND agent IN ($2, '*')`,
  setFlowStatus: `INSERT INTO flow_status (dfid, agent, status, updated_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (dfid, agent) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at`,
} satisfies Record<string, Sql>;

export const interventions = {
  add: `INSERT INTO interventions (id, dfid, target_kind, target, target_agent, act, args, issued_by, issuer_role, state, reason_hash, created_at, updated_at, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
  setState: 'UPDATE interventions SET state = $1, updated_at = $2 WHERE id = $3',
  list: 'SELECT * FROM interventions ORDER BY created_at DESC, id LIMIT $1',
  get: 'SELECT * FROM interventions WHERE id = $1',
  terminationsSince: "SELECT * FROM interventions WHERE updated_at >= $1 AND act = 'terminate' AND state = 'applied' AND target_kind = $2 ORDER BY updated_at",
  /** Moves interventions past their expiry to `expired`, returning them (SQLite's in no set order: its store sorts them by id). */
  expire: {
    sqlite: `UPDATE interventions SET state = 'expired', updated_at = $1
      WHERE state IN ('pending', 'acknowledged', 'applied') AND expires_at IS NOT NULL AND expires_at <= $1 RETURNING id, dfid, target_agent`,
    pg: `WITH x AS (UPDATE interventions SET state = 'expired', updated_at = $1
        WHERE state IN ('pending', 'acknowledged', 'applied') AND expires_at IS NOT NULL AND expires_at <= $1 RETURNING id, dfid, target_agent)
      SELECT * FROM x ORDER BY id`,
  },
} satisfies Record<string, Sql>;

export const addParams = (r: InterventionRow): unknown[] => [r.id, r.dfid, r.target_kind, r.target, r.target_agent, r.act, r.args, r.issued_by, r.issuer_role, r.state, r.reason_hash, r.created_at, r.updated_at, r.expires_at];

export const constraints = {
  add: 'INSERT INTO constraints (intervention_id, agent, capability, field, max, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
  live: 'SELECT * FROM constraints WHERE agent = $1 AND capability = $2 AND expires_at > $3 ORDER BY intervention_id',
} satisfies Record<string, Sql>;

export const notes = {
  add: 'INSERT INTO notes (intervention_id, agent, note, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
  /** The oldest live undelivered note of the agent, marked delivered, with its text. */
  take: {
    sqlite: `UPDATE notes SET delivered_at = $2 WHERE delivered_at IS NULL AND intervention_id = (
        SELECT intervention_id FROM notes WHERE agent = $1 AND delivered_at IS NULL AND expires_at > $2 ORDER BY created_at, intervention_id LIMIT 1)
      RETURNING note`,
    pg: `UPDATE notes SET delivered_at = $2 WHERE delivered_at IS NULL AND intervention_id = (
        SELECT intervention_id FROM notes WHERE agent = $1 AND delivered_at IS NULL AND expires_at > $2 ORDER BY created_at, intervention_id LIMIT 1 FOR UPDATE)
      RETURNING note`,
  },
} satisfies Record<string, Sql>;
