import type { WindowStats } from '../port/rows.js';
import type { MonitorWindows } from '../port/port.js';
import { monitors as sql } from '../tables/monitors.js';

interface Sample {
  id: number | null; // null: added in this unit, not stored yet
  monitor: string;
  at: number;
  value: number;
}

export type StateRow = { monitor: string; first_at: number; consecutive: number };
export type SampleRow = { id: number; monitor: string; at: number; value: number };


/**
 * One agent's monitor windows, as loaded with `loadState` and `loadSamples`,
 * evaluated in memory with the same semantics as src/store/sqlite/monitors.ts, and
 * written back (as statements handed to `write`) before the unit ends
 * (ADR-015).
 */
export function windowsOf(agent: string, stateRows: StateRow[], sampleRows: SampleRow[]): MonitorWindows & { writeBack(write: (sql: string, params: unknown[]) => void): void } {
  const states = new Map<string, { firstAt: number; consecutive: number; dirty: boolean }>();
  for (const r of stateRows) states.set(r.monitor, { firstAt: r.first_at, consecutive: r.consecutive, dirty: false });
  let samples: Sample[] = [...sampleRows];
  const removed: number[] = [];
  const own = (a: string) => {
    if (a !== agent) throw new Error(`monitor windows of \`${agent}\` were loaded, not of \`${a}\``);
  };
  const drop = (keep: (s: Sample) => boolean) => {
    const kept: Sample[] = [];
    for (const s of samples) {
      if (keep(s)) kept.push(s);
      else if (s.id !== null) removed.push(s.id);
    }
    samples = kept;
  };
  return {
    state(a, monitor, now) {
      own(a);
      const s = states.get(monitor);
      if (s) return { firstAt: s.firstAt, consecutive: s.consecutive };
      states.set(monitor, { firstAt: now, consecutive: 0, dirty: true });
      return { firstAt: now, consecutive: 0 };
    },
    sample(a, monitor, value, at, over): WindowStats {
      own(a);
      samples.push({ id: null, monitor, at, value });
      let window: Sample[];
      if ('last' in over) {
        // Keeps the newest `last` samples of this monitor, as the SQLite trim does.
        const mine = samples.filter((s) => s.monitor === monitor);
        const cut = new Set(mine.slice(0, Math.max(0, mine.length - over.last)));
        drop((s) => !cut.has(s));
        window = samples.filter((s) => s.monitor === monitor);
      } else {
        const from = at - over.windowMs;
        drop((s) => s.monitor !== monitor || s.at > from);
        window = samples.filter((s) => s.monitor === monitor && s.at > from);
      }
      if (!window.length) return { count: 0, sum: 0, max: null, firstAt: null };
      return {
        count: window.length,
        sum: window.reduce((t, s) => t + s.value, 0),
        max: Math.max(...window.map((s) => s.value)),
        firstAt: Math.min(...window.map((s) => s.at)),
      };
    },
    setConsecutive(a, monitor, firstAt, consecutive) {
      own(a);
      const s = states.get(monitor);
      // As the SQLite upsert: an existing row keeps its first_at.
      if (s) Object.assign(s, { consecutive, dirty: true });
      else states.set(monitor, { firstAt, consecutive, dirty: true });
    },
    writeBack(write) {
      if (removed.length) write(sql.dropSamples, [removed]);
      // In order, so the serial ids keep the samples' order.
      for (const s of samples) if (s.id === null) write(sql.addSample, [agent, s.monitor, s.at, s.value]);
      for (const [monitor, s] of states) {
        if (!s.dirty) continue;
        write(sql.setState, [agent, monitor, s.firstAt, s.consecutive]);
      }
    },
  };
}
