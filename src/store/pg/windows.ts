import type { PoolClient } from 'pg';
import type { WindowStats } from '../monitors.js';
import type { MonitorWindows } from '../port.js';

interface Sample {
  id: number | null; // null: added in this unit, not stored yet
  monitor: string;
  at: number;
  value: number;
}

/**
 * One agent's monitor windows, loaded inside the committing transaction (its
 * state rows FOR UPDATE), evaluated in memory with the same semantics as
 * src/store/monitors.ts, and written back before the unit ends (ADR-015).
 */
export async function loadWindows(c: PoolClient, agent: string): Promise<MonitorWindows & { writeBack(): Promise<void> }> {
  const states = new Map<string, { firstAt: number; consecutive: number; dirty: boolean }>();
  for (const r of (await c.query<{ monitor: string; first_at: number; consecutive: number }>('SELECT monitor, first_at, consecutive FROM monitor_state WHERE agent = $1 FOR UPDATE', [agent])).rows) {
    states.set(r.monitor, { firstAt: r.first_at, consecutive: r.consecutive, dirty: false });
  }
  let samples: Sample[] = (await c.query<Sample>('SELECT id, monitor, at, value FROM monitor_samples WHERE agent = $1 ORDER BY id', [agent])).rows;
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
    async writeBack() {
      if (removed.length) await c.query('DELETE FROM monitor_samples WHERE id = ANY($1::bigint[])', [removed]);
      const fresh = samples.filter((s) => s.id === null);
      if (fresh.length) {
        await c.query(
          'INSERT INTO monitor_samples (agent, monitor, at, value) SELECT $1, m, a, v FROM unnest($2::text[], $3::bigint[], $4::float8[]) WITH ORDINALITY AS t(m, a, v, o) ORDER BY o',
          [agent, fresh.map((s) => s.monitor), fresh.map((s) => s.at), fresh.map((s) => s.value)],
        );
      }
      for (const [monitor, s] of states) {
        if (!s.dirty) continue;
        await c.query(
          `INSERT INTO monitor_state (agent, monitor, first_at, consecutive) VALUES ($1, $2, $3, $4)
           ON CONFLICT (agent, monitor) DO UPDATE SET consecutive = EXCLUDED.consecutive`,
          [agent, monitor, s.firstAt, s.consecutive],
        );
      }
    },
  };
}
