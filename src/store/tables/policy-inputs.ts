// What each decision's policy request saw, for `mandate policy impact` (ADR-023); the ledger keeps its hash.
import type { PolicyInputDbRow, PolicyInputRow } from '../port/rows.js';
import type { Sql } from './sql.js';

export const policyInputs = {
  put: `INSERT INTO policy_inputs (decision_id, dfid, agent, capability, at, verdict, gates, input, input_hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (decision_id) DO NOTHING`,
  // $1 since, $2 agent or null, $3 capability or null, $4 after at, $5 after decision id, $6 limit.
  list: {
    sqlite: `SELECT * FROM policy_inputs WHERE at >= $1 AND ($2 IS NULL OR agent = $2) AND ($3 IS NULL OR capability = $3)
      AND (at > $4 OR (at = $4 AND decision_id > $5)) ORDER BY at, decision_id LIMIT $6`,
    pg: `SELECT * FROM policy_inputs WHERE at >= $1 AND ($2::text IS NULL OR agent = $2) AND ($3::text IS NULL OR capability = $3)
      AND (at > $4 OR (at = $4 AND decision_id > $5)) ORDER BY at, decision_id LIMIT $6`,
  },
  purge: 'DELETE FROM policy_inputs WHERE at < $1',
} satisfies Record<string, Sql>;

export const policyInputParams = (r: PolicyInputRow): unknown[] => [r.decision_id, r.dfid, r.agent, r.capability, r.at, r.verdict, JSON.stringify(r.gates), r.input, r.input_hash];

export const policyInputFromRow = (r: PolicyInputDbRow): PolicyInputRow => ({ ...r, at: Number(r.at), gates: JSON.parse(r.gates) as string[] });
