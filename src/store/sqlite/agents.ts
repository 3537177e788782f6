import type { AgentReads, Sync } from '../port/port.js';
import type { AgentStatus, AgentStatusRow, ConstraintRow, FlowStatus, InterventionRow, InterventionState, NoteRow } from '../port/rows.js';
import { addParams, agents as sql, constraints, interventions, notes } from '../tables/agents.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

/**
 * What interventions leave behind: agent and flow status (the intervention
 * check reads them first), temporary constraints, operator notes, and the
 * interventions themselves with their lifecycle.
 */
export class Agents implements Sync<AgentReads> {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      status: prepare<{ status: AgentStatus }>(db, sql.status),
      statusRow: prepare<AgentStatusRow>(db, sql.statusRow),
      setStatus: prepare(db, sql.setStatus),
      flowStatus: prepare<{ status: FlowStatus }>(db, sql.flowStatus),
      setFlowStatus: prepare(db, sql.setFlowStatus),
      addIntervention: prepare(db, interventions.add),
      setInterventionState: prepare(db, interventions.setState),
      interventions: prepare<InterventionRow>(db, interventions.list),
      intervention: prepare<InterventionRow>(db, interventions.get),
      terminationsSince: prepare<InterventionRow>(db, interventions.terminationsSince),
      expire: prepare<{ id: string; dfid: string; target_agent: string }>(db, interventions.expire),
      addConstraint: prepare(db, constraints.add),
      constraints: prepare<ConstraintRow>(db, constraints.live),
      addNote: prepare(db, notes.add),
      takeNote: prepare<{ note: string }>(db, notes.take),
    };
  }

  status(agent: string): AgentStatus {
    return this.s.status.get(agent)?.status ?? 'active';
  }

  statusRow(agent: string): AgentStatusRow | null {
    return this.s.statusRow.get(agent) ?? null;
  }

  setStatus(agent: string, status: AgentStatus, by: string, reasonHash: string | null, at: number): void {
    this.s.setStatus.run(agent, status, at, by, reasonHash);
  }

  flowStatus(dfid: string, agent: string): FlowStatus {
    return this.s.flowStatus.get(dfid, agent)?.status ?? 'active';
  }

  setFlowStatus(dfid: string, agent: string, status: FlowStatus, at: number): void {
    this.s.setFlowStatus.run(dfid, agent, status, at);
  }

  addIntervention(row: InterventionRow): void {
    this.s.addIntervention.run(...addParams(row));
  }

  setInterventionState(id: string, state: InterventionState, at: number): void {
    this.s.setInterventionState.run(state, at, id);
  }

  interventions(limit = 1000): InterventionRow[] {
    return this.s.interventions.all(limit);
  }

  intervention(id: string): InterventionRow | null {
    return this.s.intervention.get(id) ?? null;
  }

  terminationsSince(at: number, kind: 'agent' | 'flow'): InterventionRow[] {
    return this.s.terminationsSince.all(at, kind);
  }

  addConstraint(row: ConstraintRow): void {
    this.s.addConstraint.run(row.intervention_id, row.agent, row.capability, row.field, row.max, row.expires_at);
  }

  constraints(agent: string, capability: string, now: number): ConstraintRow[] {
    return this.s.constraints.all(agent, capability, now);
  }

  addNote(row: NoteRow): void {
    this.s.addNote.run(row.intervention_id, row.agent, row.note, row.created_at, row.expires_at);
  }

  /** The oldest undelivered note for the agent, marked delivered (call inside a transaction). */
  takeNote(agent: string, now: number): string | undefined {
    return this.s.takeNote.get(agent, now)?.note;
  }

  /** Moves interventions past their expiry to `expired`; returns them in id order (as PostgreSQL's store does). */
  expireDue(now: number): { id: string; dfid: string; target_agent: string }[] {
    return this.s.expire.all(now).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
