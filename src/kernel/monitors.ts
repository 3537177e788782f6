import type { Values } from '../capabilities/manifest.js';
import { windowMs, type Contract, type Monitor } from '../config/contract-schema.js';
import type { MonitorWindows } from '../store/port/index.js';

export interface Breach {
  monitor: string;
  metric: number;
  threshold: number;
}

/** The sample a monitor takes from one executed outcome, or null if the outcome is not its concern. */
export function sampleOf(m: Monitor, capability: string, ok: boolean, values: Values): number | null {
  if (m.capability && m.capability !== capability) return null;
  const metric = m.metric;
  if ('rate' in metric) {
    const p = metric.rate;
    if ('outcome' in p) return (p.outcome === 'failed') === !ok ? 1 : 0;
    const v = values[p.field];
    if (p.eq !== undefined) return v === p.eq ? 1 : 0;
    if (typeof v !== 'number') return 0;
    return (p.gt === undefined || v > p.gt) && (p.gte === undefined || v >= p.gte) && (p.lt === undefined || v < p.lt) && (p.lte === undefined || v <= p.lte) ? 1 : 0;
  }
  const field = 'avg' in metric ? metric.avg : 'sum' in metric ? metric.sum : metric.max;
  const v = values[field];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * Feeds one executed outcome to every monitor of the contract and returns the
 * monitors that breached (strictly above threshold, for `consecutive`
 * evaluations in a row), evaluated only once their window is full.
 */
export function evaluateMonitors(contract: Contract, store: MonitorWindows, capability: string, ok: boolean, values: Values, now: number): Breach[] {
  const breaches: Breach[] = [];
  for (const m of contract.monitors) {
    const sample = sampleOf(m, capability, ok, values);
    if (sample === null) continue;
    const state = store.state(contract.agent, m.id, now);
    const over: { last: number } | { windowMs: number } = 'last' in m.over ? { last: m.over.last } : { windowMs: windowMs(m.over.window) };
    const stats = store.sample(contract.agent, m.id, sample, now, over);
    const full = 'last' in over ? stats.count >= over.last : now - state.firstAt >= over.windowMs;
    if (!full || stats.count === 0) continue;
    const metric = 'max' in m.metric ? (stats.max ?? 0) : 'sum' in m.metric ? stats.sum : stats.sum / stats.count;
    const consecutive = metric > m.threshold ? state.consecutive + 1 : 0;
    if (consecutive >= m.consecutive) {
      breaches.push({ monitor: m.id, metric, threshold: m.threshold });
      store.setConsecutive(contract.agent, m.id, state.firstAt, 0);
    } else {
      store.setConsecutive(contract.agent, m.id, state.firstAt, consecutive);
    }
  }
  return breaches;
}
