import type { Db } from './db.js';

/**
 * What one decision's policy request saw (ADR-023): the principal's and the
 * resource's attributes and the context (values, facts, usage, now), exactly
 * as Cedar was given them, beside the decision, for `mandate policy impact`.
 * This is not the content-safe ledger: it holds values, under the workspace's
 * `retention.policy_inputs_days`; the ledger's `PolicyDecided` keeps its hash,
 * so a replay can prove the input untampered.
 */
export interface PolicyInputRow {
  decision_id: string;
  dfid: string;
  agent: string;
  capability: string;
  /** When the decision was made (epoch ms). */
  at: number;
  /** Cedar's verdict then: permit, escalate, forbid, no_permit or error. */
  verdict: string;
  /** Steward gates that turned a permit into an escalation (ids), if any. */
  gates: string[];
  /** The canonical JSON of `{ principal, resource, context }`. */
  input: string;
  /** sha256 of `input`, as the ledger's PolicyDecided records it. */
  input_hash: string;
}

export interface PolicyInputFilter {
  since?: number | undefined;
  agent?: string | undefined;
  capability?: string | undefined;
  /** Rows after this (at, decision_id), for paging. */
  after?: { at: number; decision_id: string } | undefined;
  limit: number;
}

interface Row extends Omit<PolicyInputRow, 'gates'> {
  gates: string;
}

export const fromPolicyInputRow = (r: Row): PolicyInputRow => ({ ...r, at: Number(r.at), gates: JSON.parse(r.gates) as string[] });

export class PolicyInputs {
  private readonly putStmt;
  private readonly listStmt;
  private readonly purgeStmt;

  constructor(db: Db) {
    this.putStmt = db.prepare(
      `INSERT INTO policy_inputs (decision_id, dfid, agent, capability, at, verdict, gates, input, input_hash)
       VALUES (@decision_id, @dfid, @agent, @capability, @at, @verdict, @gates, @input, @input_hash)
       ON CONFLICT (decision_id) DO NOTHING`,
    );
    this.listStmt = db.prepare<[{ since: number; agent: string | null; capability: string | null; after_at: number; after_id: string; limit: number }], Row>(
      `SELECT * FROM policy_inputs
       WHERE at >= @since AND (@agent IS NULL OR agent = @agent) AND (@capability IS NULL OR capability = @capability)
         AND (at > @after_at OR (at = @after_at AND decision_id > @after_id))
       ORDER BY at, decision_id LIMIT @limit`,
    );
    this.purgeStmt = db.prepare('DELETE FROM policy_inputs WHERE at < ?');
  }

  put(row: PolicyInputRow): void {
    this.putStmt.run({ ...row, gates: JSON.stringify(row.gates) });
  }

  list(f: PolicyInputFilter): PolicyInputRow[] {
    return this.listStmt.all({ since: f.since ?? 0, agent: f.agent ?? null, capability: f.capability ?? null, after_at: f.after?.at ?? -1, after_id: f.after?.decision_id ?? '', limit: f.limit }).map(fromPolicyInputRow);
  }

  /** Drops inputs older than `before`; returns how many. */
  purge(before: number): number {
    return this.purgeStmt.run(before).changes;
  }
}
