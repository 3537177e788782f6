import type { WindowStats } from '../monitors.js';
import type { MonitorWindows } from '../port.js';

interface Sample {
  id: number | null; // null: added in this unit, not stored yet
  monitor: string;
  at: number;
  value: number;
}

export type StateRow = { monitor: string; first_at: number; consecutive: number };
export type SampleRow = { id: number; monitor: string; at: number; value: number };

/** The queries that load one agent's windows inside the committing transaction (its state rows FOR UPDATE). */
export const LOAD_STATE = 'SELECT monitor, first_at, consecutive FROM monitor_state WHERE agent = $1 FOR UPDATE';
export const LOAD_SAMPLES = 'SELECT id, monitor, at, value FROM monitor_samples WHERE agent = $1 ORDER BY id';

/**
 * One agent's monitor windows, as loaded with LOAD_STATE and LOAD_SAMPLES,
 * evaluated in memory with the same semantics as src/store/monitors.ts, and
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
      if (removed.length) write('DELETE FROM monitor_samples WHERE id = ANY($1::bigint[])', [removed]);
      // In order, so the serial ids keep the samples' order.
      for (const s of samples) if (s.id === null) write('INSERT INTO monitor_samples (agent, monitor, at, value) VALUES ($1, $2, $3, $4)', [agent, s.monitor, s.at, s.value]);
      for (const [monitor, s] of states) {
        if (!s.dirty) continue;
        write(
          `INSERT INTO monitor_state (agent, monitor, first_at, consecutive) VALUES ($1, $2, $3, $4)
           ON CONFLICT (agent, monitor) DO UPDATE SET consecutive = EXCLUDED.consecutive`,
          [agent, monitor, s.firstAt, s.consecutive],
        );
      }
    },
  };
}
