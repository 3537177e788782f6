import type { Db } from './sqlite/db.js';

export type PlanStatus = 'rejected' | 'pending_approval' | 'running' | 'completed' | 'failed' | 'abandoned';
export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'compensated';

/**
 * One plan (ADR-025): the request as decided (JSON text), its digest, and the
 * sub-mandate agent (`child`) its steps run as. `failed_step` is the step it
 * stopped at. Expiry is a time, not a status: a plan past `expires_at` is
 * expired whatever its status says.
 */
export interface PlanRow {
  id: string;
  agent: string;
  child: string;
  digest: string;
  status: PlanStatus;
  request: string;
  decision_id: string;
  failed_step: number | null;
  created_at: number;
  expires_at: number;
  updated_at: number;
  ended_by: string | null;
}

export interface PlanStepRow {
  plan_id: string;
  step: number;
  status: StepStatus;
  decision_id: string | null;
  /** The facts (JSON) the step was decided on: a call finds them moved, it is refused with STATE_DRIFT. */
  facts: string | null;
  /** The governed call that undid this step, once compensated. */
  compensated_by: string | null;
  updated_at: number;
}

/** A call that was no step of the plan: refused, and kept for the plan's report. */
export interface PlanAttemptRow {
  plan_id: string;
  decision_id: string;
  capability: string | null;
  code: string;
  at: number;
}

/** The tables' DDL, one self-contained migration for each dialect. */
export const PLANS_DDL = (bigint: 'INTEGER' | 'BIGINT') => `
  CREATE TABLE plans (
    id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    child TEXT NOT NULL UNIQUE,
    digest TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('rejected', 'pending_approval', 'running', 'completed', 'failed', 'abandoned')),
    request TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    failed_step INTEGER,
    created_at ${bigint} NOT NULL,
    expires_at ${bigint} NOT NULL,
    updated_at ${bigint} NOT NULL,
    ended_by TEXT
  );
  CREATE INDEX plans_agent ON plans(agent, status);
  CREATE TABLE plan_steps (
    plan_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'compensated')),
    decision_id TEXT,
    facts TEXT,
    compensated_by TEXT,
    updated_at ${bigint} NOT NULL,
    PRIMARY KEY (plan_id, step)
  );
  CREATE TABLE plan_attempts (
    plan_id TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    capability TEXT,
    code TEXT NOT NULL,
    at ${bigint} NOT NULL,
    PRIMARY KEY (plan_id, decision_id)
  );
`;

/** The SQL both dialects share, with `$n` placeholders (SQLite's `?` made below). */
export const PLAN_SQL = {
  insert: `INSERT INTO plans (id, agent, child, digest, status, request, decision_id, failed_step, created_at, expires_at, updated_at, ended_by)
    VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $8, NULL)`,
  insertStep: "INSERT INTO plan_steps (plan_id, step, status, decision_id, facts, compensated_by, updated_at) VALUES ($1, $2, 'pending', NULL, $3, NULL, $4)",
  facts: "UPDATE plan_steps SET facts = $1 WHERE plan_id = $2 AND step = $3 AND status = 'pending'",
  status: 'UPDATE plans SET status = $1, updated_at = $2, ended_by = COALESCE($3, ended_by), failed_step = $4 WHERE id = $5 AND status = $6',
  step: 'UPDATE plan_steps SET status = $1, decision_id = COALESCE($2, decision_id), compensated_by = COALESCE($7, compensated_by), updated_at = $3 WHERE plan_id = $4 AND step = $5 AND status = $6',
  amend: "UPDATE plans SET request = $1, digest = $2, status = 'pending_approval', updated_at = $3 WHERE id = $4 AND status = 'failed'",
  dropSteps: 'DELETE FROM plan_steps WHERE plan_id = $1 AND step >= $2',
  addStep: "INSERT INTO plan_steps (plan_id, step, status, decision_id, facts, compensated_by, updated_at) VALUES ($1, $2, 'pending', NULL, $3, NULL, $4)",
  // The plan's own sub-mandate takes the changed steps' grants (ADR-025's amendment).
  regrant: "UPDATE delegations SET grants = $1 WHERE child = $2 AND status = 'live'",
  settle: `UPDATE plans SET status = 'completed', updated_at = $1 WHERE id = $2 AND status = 'running'
    AND NOT EXISTS (SELECT 1 FROM plan_steps WHERE plan_id = $2 AND status IN ('pending', 'running'))`,
  attempt: 'INSERT INTO plan_attempts (plan_id, decision_id, capability, code, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (plan_id, decision_id) DO NOTHING',
  get: 'SELECT * FROM plans WHERE id = $1',
  byChild: 'SELECT * FROM plans WHERE child = $1',
  running: "SELECT * FROM plans WHERE agent = $1 AND status = 'running' AND expires_at > $2 ORDER BY created_at, id",
  list: 'SELECT * FROM plans ORDER BY created_at, id',
  steps: 'SELECT * FROM plan_steps WHERE plan_id = $1 ORDER BY step',
  attempts: 'SELECT * FROM plan_attempts WHERE plan_id = $1 ORDER BY at, decision_id',
} as const;

/** A statement with `$n` placeholders over SQLite's positional `?`: each occurrence takes its argument (one may repeat). */
function prepared(db: Db, sql: string) {
  const order = [...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]) - 1);
  const stmt = db.prepare(sql.replace(/\$\d+/g, '?'));
  const args = (a: unknown[]) => order.map((i) => a[i]);
  return {
    run: (...a: unknown[]) => stmt.run(...args(a)),
    get: (...a: unknown[]) => stmt.get(...args(a)),
    all: (...a: unknown[]) => stmt.all(...args(a)),
  };
}

/** Plans over SQLite; the kernel decides (src/kernel/plans/), this only records. */
export class Plans {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = Object.fromEntries(Object.entries(PLAN_SQL).map(([k, sql]) => [k, prepared(db, sql)])) as Record<keyof typeof PLAN_SQL, ReturnType<typeof prepared>>;
  }

  /** Records a plan and its steps, all pending, each with the facts it was decided on. */
  add(row: Omit<PlanRow, 'failed_step' | 'updated_at' | 'ended_by'>, facts: (string | null)[]): void {
    this.stmts.insert.run(row.id, row.agent, row.child, row.digest, row.status, row.request, row.decision_id, row.created_at, row.expires_at);
    facts.forEach((f, i) => this.stmts.insertStep.run(row.id, i, f, row.created_at));
  }

  /** The facts pending steps were decided on again (an approval re-decides the plan). */
  setFacts(id: string, facts: (string | null)[]): void {
    facts.forEach((f, i) => this.stmts.facts.run(f, id, i));
  }

  /** Moves a plan from `from` to `to`; false if it was not in `from`. */
  setStatus(id: string, from: PlanStatus, to: PlanStatus, at: number, by: string | null, failedStep: number | null): boolean {
    return this.stmts.status.run(to, at, by, failedStep, id, from).changes === 1;
  }

  /** Moves a step from `from` to `to`; false if it was not in `from`. */
  setStep(id: string, step: number, from: StepStatus, to: StepStatus, decisionId: string | null, at: number, compensatedBy: string | null = null): boolean {
    return this.stmts.step.run(to, decisionId, at, id, step, from, compensatedBy).changes === 1;
  }

  /**
   * A failed plan changed for a resume: its request and digest replaced, its
   * steps from `keep` on replaced by new pending ones (with the facts they
   * were decided on), its sub-mandate regranted; it then waits for approval.
   * False if the plan was not failed.
   */
  amend(id: string, request: string, digest: string, keep: number, facts: (string | null)[], grants: string, child: string, at: number): boolean {
    if (this.stmts.amend.run(request, digest, at, id).changes !== 1) return false;
    this.stmts.dropSteps.run(id, keep);
    facts.forEach((f, j) => this.stmts.addStep.run(id, keep + j, f, at));
    this.stmts.regrant.run(grants, child);
    return true;
  }

  /** Completes a running plan none of whose steps is pending or running; whether it did. */
  settle(id: string, at: number): boolean {
    return this.stmts.settle.run(at, id).changes === 1;
  }

  attempt(row: PlanAttemptRow): void {
    this.stmts.attempt.run(row.plan_id, row.decision_id, row.capability, row.code, row.at);
  }

  get(id: string): PlanRow | null {
    return (this.stmts.get.get(id) as PlanRow | undefined) ?? null;
  }

  byChild(child: string): PlanRow | null {
    return (this.stmts.byChild.get(child) as PlanRow | undefined) ?? null;
  }

  /** The agent's running plans at `now`, oldest first. */
  running(agent: string, now: number): PlanRow[] {
    return this.stmts.running.all(agent, now) as PlanRow[];
  }

  list(): PlanRow[] {
    return this.stmts.list.all() as PlanRow[];
  }

  steps(id: string): PlanStepRow[] {
    return this.stmts.steps.all(id) as PlanStepRow[];
  }

  attempts(id: string): PlanAttemptRow[] {
    return this.stmts.attempts.all(id) as PlanAttemptRow[];
  }
}
