import type { Db } from './db.js';

export type AgentStatus = 'active' | 'paused' | 'terminated';

export interface InterventionRow {
  id: string;
  target_agent: string;
  act: string;
  issued_by: string;
  issuer_role: string;
  state: string;
  reason_hash: string | null;
  created_at: number;
}

/** Agent status (the intervention check reads it first) and the interventions behind it. */
export class Agents {
  private readonly statusStmt;
  private readonly setStmt;
  private readonly addInterventionStmt;
  private readonly setInterventionStmt;
  private readonly listStmt;

  constructor(db: Db) {
    this.statusStmt = db.prepare<[string], { status: AgentStatus }>('SELECT status FROM agent_status WHERE agent = ?');
    this.setStmt = db.prepare(
      `INSERT INTO agent_status (agent, status, updated_at, updated_by, reason) VALUES (@agent, @status, @at, @by, @reason)
       ON CONFLICT (agent) DO UPDATE SET status = @status, updated_at = @at, updated_by = @by, reason = @reason`,
    );
    this.addInterventionStmt = db.prepare(
      `INSERT INTO interventions (id, target_agent, act, issued_by, issuer_role, state, reason_hash, created_at)
       VALUES (@id, @target_agent, @act, @issued_by, @issuer_role, @state, @reason_hash, @created_at)`,
    );
    this.setInterventionStmt = db.prepare('UPDATE interventions SET state = ? WHERE id = ?');
    this.listStmt = db.prepare<[], InterventionRow>('SELECT * FROM interventions ORDER BY created_at, id');
  }

  status(agent: string): AgentStatus {
    return this.statusStmt.get(agent)?.status ?? 'active';
  }

  setStatus(agent: string, status: AgentStatus, by: string, reasonHash: string | null, at: number): void {
    this.setStmt.run({ agent, status, at, by, reason: reasonHash });
  }

  addIntervention(row: InterventionRow): void {
    this.addInterventionStmt.run(row);
  }

  setInterventionState(id: string, state: string): void {
    this.setInterventionStmt.run(state, id);
  }

  interventions(): InterventionRow[] {
    return this.listStmt.all();
  }
}
