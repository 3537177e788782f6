import type { Db } from './db.js';

export interface WindowStats {
  count: number;
  sum: number;
  max: number | null;
  firstAt: number | null;
}

export interface MonitorSample {
  at: number;
  value: number;
}

/**
 * Drift-monitor windows and steward counters, kept incrementally: each
 * monitor holds at most its window of samples, so evaluating it costs the
 * same however long the ledger grows.
 */
export class Monitors {
  private readonly addStmt;
  private readonly trimLastStmt;
  private readonly trimTimeStmt;
  private readonly statsLastStmt;
  private readonly statsTimeStmt;
  private readonly stateStmt;
  private readonly setStateStmt;
  private readonly bumpExecutedStmt;
  private readonly executedStmt;
  private readonly resetSamplesStmt;
  private readonly resetStateStmt;
  private readonly samplesStmt;

  constructor(db: Db) {
    this.addStmt = db.prepare('INSERT INTO monitor_samples (agent, monitor, at, value) VALUES (?, ?, ?, ?)');
    this.trimLastStmt = db.prepare(
      `DELETE FROM monitor_samples WHERE agent = @agent AND monitor = @monitor AND id <= (
         SELECT id FROM monitor_samples WHERE agent = @agent AND monitor = @monitor ORDER BY id DESC LIMIT 1 OFFSET @keep)`,
    );
    this.trimTimeStmt = db.prepare('DELETE FROM monitor_samples WHERE agent = ? AND monitor = ? AND at <= ?');
    this.statsLastStmt = db.prepare<[string, string], { count: number; sum: number | null; max: number | null; firstAt: number | null }>(
      'SELECT COUNT(*) AS count, SUM(value) AS sum, MAX(value) AS max, MIN(at) AS firstAt FROM monitor_samples WHERE agent = ? AND monitor = ?',
    );
    this.statsTimeStmt = db.prepare<[string, string, number], { count: number; sum: number | null; max: number | null; firstAt: number | null }>(
      'SELECT COUNT(*) AS count, SUM(value) AS sum, MAX(value) AS max, MIN(at) AS firstAt FROM monitor_samples WHERE agent = ? AND monitor = ? AND at > ?',
    );
    this.stateStmt = db.prepare<[string, string], { first_at: number; consecutive: number }>('SELECT first_at, consecutive FROM monitor_state WHERE agent = ? AND monitor = ?');
    this.setStateStmt = db.prepare(
      `INSERT INTO monitor_state (agent, monitor, first_at, consecutive) VALUES (@agent, @monitor, @first_at, @consecutive)
       ON CONFLICT (agent, monitor) DO UPDATE SET consecutive = @consecutive`,
    );
    this.bumpExecutedStmt = db.prepare<[string], { executed: number }>(
      'INSERT INTO steward_counts (agent, executed) VALUES (?, 1) ON CONFLICT (agent) DO UPDATE SET executed = executed + 1 RETURNING executed',
    );
    this.resetSamplesStmt = db.prepare('DELETE FROM monitor_samples WHERE agent = ?');
    this.resetStateStmt = db.prepare('DELETE FROM monitor_state WHERE agent = ?');
    this.samplesStmt = db.prepare<[string, string], MonitorSample>('SELECT at, value FROM monitor_samples WHERE agent = ? AND monitor = ? ORDER BY id');
    this.executedStmt = db.prepare<[string], { executed: number }>('SELECT executed FROM steward_counts WHERE agent = ?');
  }

  /** Adds a sample and trims the window; returns the window's statistics. */
  sample(agent: string, monitor: string, value: number, at: number, over: { last: number } | { windowMs: number }): WindowStats {
    this.addStmt.run(agent, monitor, at, value);
    let row;
    if ('last' in over) {
      this.trimLastStmt.run({ agent, monitor, keep: over.last });
      row = this.statsLastStmt.get(agent, monitor);
    } else {
      this.trimTimeStmt.run(agent, monitor, at - over.windowMs);
      row = this.statsTimeStmt.get(agent, monitor, at - over.windowMs);
    }
    return { count: row?.count ?? 0, sum: row?.sum ?? 0, max: row?.max ?? null, firstAt: row?.firstAt ?? null };
  }

  /** When the monitor first saw a sample (its window is full once it spans the window), and the breach streak. */
  state(agent: string, monitor: string, now: number): { firstAt: number; consecutive: number } {
    const s = this.stateStmt.get(agent, monitor);
    if (s) return { firstAt: s.first_at, consecutive: s.consecutive };
    this.setStateStmt.run({ agent, monitor, first_at: now, consecutive: 0 });
    return { firstAt: now, consecutive: 0 };
  }

  setConsecutive(agent: string, monitor: string, firstAt: number, consecutive: number): void {
    this.setStateStmt.run({ agent, monitor, first_at: firstAt, consecutive });
  }

  /** Starts the agent's monitor windows afresh (an operator lifted its suspension). */
  reset(agent: string): void {
    this.resetSamplesStmt.run(agent);
    this.resetStateStmt.run(agent);
  }

  /** The samples in a monitor's window as the store holds them, oldest first (the console's monitor chart). */
  samples(agent: string, monitor: string): MonitorSample[] {
    return this.samplesStmt.all(agent, monitor);
  }

  /** Executed calls of the agent so far (for every-N steward gates). */
  executed(agent: string): number {
    return this.executedStmt.get(agent)?.executed ?? 0;
  }

  countExecuted(agent: string): number {
    return (this.bumpExecutedStmt.get(agent) as { executed: number }).executed;
  }
}
