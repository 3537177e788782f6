// What each decision's policy request saw, for `mandate policy impact` (ADR-023): columns of its decision row (ADR-040); the ledger keeps its hash.
import type { PolicyInputDbRow, PolicyInputPut, PolicyInputRow } from '../port/rows.js';
import type { Sql } from './sql.js';

/** The policy columns a purge clears, all together: a decision holds its input whole or not at all. */
const CLEAR = 'policy_verdict = NULL, policy_gates = NULL, policy_input = NULL, policy_input_hash = NULL';

/** The decision read as its policy input: its time is the decision's (`created_at`, when the pipeline judged its contract period). */
const ROW = 'id AS decision_id, dfid, agent, capability, created_at AS at, policy_verdict AS verdict, policy_gates AS gates, policy_input AS input, policy_input_hash AS input_hash';

export const policyInputs = {
  /**
   * The input of a decision opened in an earlier unit (an input its own unit holds is written by `decisions.open`).
   * The first write stays, as the row's other writes leave it; a decision that does not exist changes no row.
   */
  put: `UPDATE decisions SET capability = COALESCE(capability, $2), policy_verdict = COALESCE(policy_verdict, $3), policy_gates = COALESCE(policy_gates, $4),
    policy_input = COALESCE(policy_input, $5), policy_input_hash = COALESCE(policy_input_hash, $6) WHERE id = $1`,
  // $1 since, $2 agent or null, $3 capability or null, $4 after at, $5 after decision id, $6 limit. By `decisions_created`,
  // from the later of `since` and the cursor: a page starts where the last one ended, not at `since`.
  list: {
    sqlite: `SELECT ${ROW} FROM decisions WHERE created_at >= max($1, $4) AND policy_input IS NOT NULL AND ($2 IS NULL OR agent = $2) AND ($3 IS NULL OR capability = $3)
      AND (created_at > $4 OR (created_at = $4 AND id > $5)) ORDER BY created_at, id LIMIT $6`,
    pg: `SELECT ${ROW} FROM decisions WHERE created_at >= GREATEST($1::bigint, $4::bigint) AND policy_input IS NOT NULL AND ($2::text IS NULL OR agent = $2) AND ($3::text IS NULL OR capability = $3)
      AND (created_at > $4 OR (created_at = $4 AND id > $5)) ORDER BY created_at, id LIMIT $6`,
  },
  /**
   * Clears the inputs of decisions made before $1, from where the last purge stopped (`retention_marks`): decisions
   * are kept for ever, so without the mark every purge would walk the whole history by `decisions_created`.
   */
  purge: `UPDATE decisions SET ${CLEAR} WHERE created_at >= COALESCE((SELECT cleared_before FROM retention_marks WHERE what = 'policy_inputs'), 0)
    AND created_at < $1 AND policy_input IS NOT NULL`,
  /** Where the purge stopped; never moved back (a shorter retention clears more, a longer one cannot bring inputs back). */
  mark: {
    sqlite: `INSERT INTO retention_marks (what, cleared_before) VALUES ('policy_inputs', $1)
      ON CONFLICT (what) DO UPDATE SET cleared_before = max(cleared_before, excluded.cleared_before)`,
    pg: `INSERT INTO retention_marks (what, cleared_before) VALUES ('policy_inputs', $1)
      ON CONFLICT (what) DO UPDATE SET cleared_before = GREATEST(retention_marks.cleared_before, EXCLUDED.cleared_before)`,
  },
} satisfies Record<string, Sql>;

/** The parameters of `policyInputs.put`; from the second on, the policy columns as `decisions.open` writes them too. */
export const policyInputParams = (r: PolicyInputPut): unknown[] => [r.decision_id, r.capability, r.verdict, JSON.stringify(r.gates), r.input, r.input_hash];

export const policyInputFromRow = (r: PolicyInputDbRow): PolicyInputRow => ({ ...r, at: Number(r.at), gates: JSON.parse(r.gates) as string[] });
