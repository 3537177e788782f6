import type { MonitorReads, Sync } from '../port/port.js';
import type { MonitorSample, WindowStats } from '../port/rows.js';
import { monitors as sql } from '../tables/monitors.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

type Stats = { count: number; sum: number | null; max: number | null; firstAt: number | null };

/**
 * Drift-monitor windows and steward counters, kept incrementally: each
 * monitor holds at most its window of samples, so evaluating it costs the
 * same however long the ledger grows.
 */
export class Monitors implements Sync<MonitorReads> {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      add: prepare(db, sql.addSample),
      trimLast: prepare(db, sql.trimLast),
      trimTime: prepare(db, sql.trimTime),
      statsLast: prepare<Stats>(db, sql.statsLast),
      statsTime: prepare<Stats>(db, sql.statsTime),
      state: prepare<{ first_at: number; consecutive: number }>(db, sql.state),
      setState: prepare(db, sql.setState),
      countExecuted: prepare<{ executed: number }>(db, sql.countExecuted),
      executed: prepare<{ executed: number }>(db, sql.executed),
      samples: prepare<MonitorSample>(db, sql.samples),
      resetSamples: prepare(db, sql.resetSamples),
      resetState: prepare(db, sql.resetState),
    };
  }

  /** Adds a sample and trims the window; returns the window's statistics. */
  sample(agent: string, monitor: string, value: number, at: number, over: { last: number } | { windowMs: number }): WindowStats {
    this.s.add.run(agent, monitor, at, value);
    let row;
    if ('last' in over) {
      this.s.trimLast.run(agent, monitor, over.last);
      row = this.s.statsLast.get(agent, monitor);
    } else {
      this.s.trimTime.run(agent, monitor, at - over.windowMs);
      row = this.s.statsTime.get(agent, monitor, at - over.windowMs);
    }
    return { count: row?.count ?? 0, sum: row?.sum ?? 0, max: row?.max ?? null, firstAt: row?.firstAt ?? null };
  }

  /** When the monitor first saw a sample (its window is full once it spans the window), and the breach streak. */
  state(agent: string, monitor: string, now: number): { firstAt: number; consecutive: number } {
    const s = this.s.state.get(agent, monitor);
    if (s) return { firstAt: s.first_at, consecutive: s.consecutive };
    this.s.setState.run(agent, monitor, now, 0);
    return { firstAt: now, consecutive: 0 };
  }

  setConsecutive(agent: string, monitor: string, firstAt: number, consecutive: number): void {
    this.s.setState.run(agent, monitor, firstAt, consecutive);
  }

  /** Starts the agent's monitor windows afresh (an operator lifted its suspension). */
  reset(agent: string): void {
    this.s.resetSamples.run(agent);
    this.s.resetState.run(agent);
  }

  executed(agent: string): number {
    return this.s.executed.get(agent)?.executed ?? 0;
  }

  samples(agent: string, monitor: string): MonitorSample[] {
    return this.s.samples.all(agent, monitor);
  }

  countExecuted(agent: string): number {
    return (this.s.countExecuted.get(agent) as { executed: number }).executed;
  }
}
