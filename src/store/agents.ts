import type { Db } from './db.js';

export type AgentStatus = 'active' | 'paused' | 'suspended' | 'terminated';
export type FlowStatus = 'active' | 'paused' | 'terminated';
export type InterventionState = 'pending' | 'acknowledged' | 'applied' | 'rejected' | 'expired';

export interface InterventionRow {
  id: string;
  dfid: string;
  target_kind: 'agent' | 'flow' | 'decision';
  target: string;
  target_agent: string;
  act: string;
  args: string;
  issued_by: string;
  issuer_role: string;
  state: InterventionState;
  reason_hash: string | null;
  created_at: number;
  updated_at: number;
  expires_at: number | null;
}

export interface AgentStatusRow {
  status: AgentStatus;
  updated_at: number;
  updated_by: string;
}

export interface ConstraintRow {
  intervention_id: string;
  agent: string;
  capability: string;
  field: string;
  max: number;
  expires_at: number;
}

/**
 * What interventions leave behind: agent and flow status (the intervention
 * check reads them first), temporary constraints, operator notes, and the
 * interventions themselves with their lifecycle.
 */
export class Agents {
  private readonly statusStmt;
  private readonly statusRowStmt;
  private readonly setStmt;
  private readonly flowStatusStmt;
  private readonly setFlowStmt;
  private readonly addInterventionStmt;
  private readonly setInterventionStmt;
  private readonly listStmt;
  private readonly oneStmt;
  private readonly sinceStmt;
  private readonly addConstraintStmt;
  private readonly constraintsStmt;
  private readonly addNoteStmt;
  private readonly takeNoteStmt;
  private readonly deliverNoteStmt;
  private readonly expireStmt;

  constructor(db: Db) {
    this.statusStmt = db.prepare<[string], { status: AgentStatus }>('SELECT status FROM agent_status WHERE agent = ?');
    this.statusRowStmt = db.prepare<[string], AgentStatusRow>('SELECT status, updated_at, updated_by FROM agent_status WHERE agent = ?');
    this.setStmt = db.prepare(
      `INSERT INTO agent_status (agent, status, updated_at, updated_by, reason) VALUES (@agent, @status, @at, @by, @reason)
       ON CONFLICT (agent) DO UPDATE SET status = @status, updated_at = @at, updated_by = @by, reason = @reason`,
    );
    // The strictest status that applies: the agent's own part of the flow, or the whole flow ('*').
    this.flowStatusStmt = db.prepare<[string, string], { status: FlowStatus }>(
      "SELECT status FROM flow_status WHERE dfid = ? AND agent IN (?, '*') ORDER BY CASE status WHEN 'terminated' THEN 0 WHEN 'paused' THEN 1 ELSE 2 END LIMIT 1",
    );
    this.setFlowStmt = db.prepare(
      `INSERT INTO flow_status (dfid, agent, status, updated_at) VALUES (@dfid, @agent, @status, @at)
       ON CONFLICT (dfid, agent) DO UPDATE SET status = @status, updated_at = @at`,
    );
    this.addInterventionStmt = db.prepare(
      `INSERT INTO interventions (id, dfid, target_kind, target, target_agent, act, args, issued_by, issuer_role, state, reason_hash, created_at, updated_at, expires_at)
       VALUES (@id, @dfid, @target_kind, @target, @target_agent, @act, @args, @issued_by, @issuer_role, @state, @reason_hash, @created_at, @updated_at, @expires_at)`,
    );
    this.setInterventionStmt = db.prepare('UPDATE interventions SET state = ?, updated_at = ? WHERE id = ?');
    this.listStmt = db.prepare<[number], InterventionRow>('SELECT * FROM interventions ORDER BY created_at DESC, id LIMIT ?');
    this.oneStmt = db.prepare<[string], InterventionRow>('SELECT * FROM interventions WHERE id = ?');
    this.sinceStmt = db.prepare<[number, string], InterventionRow>(
      "SELECT * FROM interventions WHERE updated_at >= ? AND act = 'terminate' AND state = 'applied' AND target_kind = ? ORDER BY updated_at",
    );
    this.addConstraintStmt = db.prepare(
      'INSERT INTO constraints (intervention_id, agent, capability, field, max, expires_at) VALUES (@intervention_id, @agent, @capability, @field, @max, @expires_at)',
    );
    this.constraintsStmt = db.prepare<[string, string, number], ConstraintRow>(
      'SELECT * FROM constraints WHERE agent = ? AND capability = ? AND expires_at > ? ORDER BY intervention_id',
    );
    this.addNoteStmt = db.prepare(
      'INSERT INTO notes (intervention_id, agent, note, created_at, expires_at) VALUES (@intervention_id, @agent, @note, @created_at, @expires_at)',
    );
    this.takeNoteStmt = db.prepare<[string, number], { intervention_id: string; note: string }>(
      'SELECT intervention_id, note FROM notes WHERE agent = ? AND delivered_at IS NULL AND expires_at > ? ORDER BY created_at, intervention_id LIMIT 1',
    );
    this.deliverNoteStmt = db.prepare('UPDATE notes SET delivered_at = ? WHERE intervention_id = ? AND delivered_at IS NULL');
    this.expireStmt = db.prepare<[{ now: number }], { id: string; dfid: string; target_agent: string }>(
      "UPDATE interventions SET state = 'expired', updated_at = @now WHERE state IN ('pending', 'acknowledged', 'applied') AND expires_at IS NOT NULL AND expires_at <= @now RETURNING id, dfid, target_agent",
    );
  }

  status(agent: string): AgentStatus {
    return this.statusStmt.get(agent)?.status ?? 'active';
  }

  /** The agent's status with who set it and when (null: never changed, so active). */
  statusRow(agent: string): AgentStatusRow | null {
    return this.statusRowStmt.get(agent) ?? null;
  }

  setStatus(agent: string, status: AgentStatus, by: string, reasonHash: string | null, at: number): void {
    this.setStmt.run({ agent, status, at, by, reason: reasonHash });
  }

  /** The status of `agent`'s calls in flow `dfid` (pass '*' for the whole-flow status). */
  flowStatus(dfid: string, agent: string): FlowStatus {
    return this.flowStatusStmt.get(dfid, agent)?.status ?? 'active';
  }

  setFlowStatus(dfid: string, agent: string, status: FlowStatus, at: number): void {
    this.setFlowStmt.run({ dfid, agent, status, at });
  }

  addIntervention(row: InterventionRow): void {
    this.addInterventionStmt.run(row);
  }

  setInterventionState(id: string, state: InterventionState, at: number): void {
    this.setInterventionStmt.run(state, at, id);
  }

  interventions(limit = 1000): InterventionRow[] {
    return this.listStmt.all(limit);
  }

  intervention(id: string): InterventionRow | null {
    return this.oneStmt.get(id) ?? null;
  }

  /** Terminations applied since `at` (a serving process polls this to abort its in-flight calls). */
  terminationsSince(at: number, kind: 'agent' | 'flow'): InterventionRow[] {
    return this.sinceStmt.all(at, kind);
  }

  addConstraint(row: ConstraintRow): void {
    this.addConstraintStmt.run(row);
  }

  constraints(agent: string, capability: string, now: number): ConstraintRow[] {
    return this.constraintsStmt.all(agent, capability, now);
  }

  addNote(row: { intervention_id: string; agent: string; note: string; created_at: number; expires_at: number }): void {
    this.addNoteStmt.run(row);
  }

  /** The oldest undelivered note for the agent, marked delivered (call inside a transaction). */
  takeNote(agent: string, now: number): { intervention_id: string; note: string } | null {
    const note = this.takeNoteStmt.get(agent, now);
    if (!note) return null;
    this.deliverNoteStmt.run(now, note.intervention_id);
    return note;
  }

  /** Moves interventions past their expiry to `expired`; returns them. */
  expireDue(now: number): { id: string; dfid: string; target_agent: string }[] {
    return this.expireStmt.all({ now });
  }
}
