import { canonicalJson } from '../core/canonical.js';
import type { Facts } from '../capabilities/manifest.js';

/**
 * How a change to one fact between the decision and the effect is judged
 * (ADR-019): `exact`, refused on any change; a number, a numeric fact may move
 * by up to that much; `revalidate`, the decision is evaluated again on the
 * fresh facts and holds only if its values and verdict are unchanged.
 */
export type DriftJudgement = 'exact' | 'revalidate' | number;

/** A capability's judgements: `drift` (tolerances as `{ tolerance }`) over the older `driftTolerance`. */
export function driftJudgements(def: { driftTolerance?: Record<string, number> | undefined; drift?: Record<string, 'exact' | 'revalidate' | { tolerance: number }> | undefined }): Record<string, DriftJudgement> {
  const out: Record<string, DriftJudgement> = { ...(def.driftTolerance ?? {}) };
  for (const [field, j] of Object.entries(def.drift ?? {})) out[field] = typeof j === 'object' ? j.tolerance : j;
  return out;
}

/**
 * The fields that moved between two facts snapshots, in name order: `moved`
 * are refused as they stand (exact, or beyond their tolerance), `revalidate`
 * moved under a `revalidate` judgement. A field without a judgement is exact;
 * a type change is always a move.
 */
export function judgeDrift(before: Facts, after: Facts, judgements: Record<string, DriftJudgement>): { moved: string[]; revalidate: string[] } {
  const fields = new Set([...Object.keys(before), ...Object.keys(after)]);
  const moved: string[] = [];
  const revalidate: string[] = [];
  for (const field of [...fields].sort()) {
    const a = before[field];
    const b = after[field];
    const j = judgements[field] ?? 'exact';
    if (typeof j === 'number' && typeof a === 'number' && typeof b === 'number') {
      if (Math.abs(a - b) > j) moved.push(field);
    } else if (canonicalJson(a ?? null) !== canonicalJson(b ?? null)) {
      // Appearing or disappearing is a change of shape, never re-validated.
      (j === 'revalidate' && a !== undefined && b !== undefined ? revalidate : moved).push(field);
    }
  }
  return { moved, revalidate };
}

/**
 * Fields whose value moved between two facts snapshots. A numeric field may
 * move by up to its tolerance; every other field must be identical.
 */
export function driftBetween(before: Facts, after: Facts, tolerance: Record<string, number>): string[] {
  return judgeDrift(before, after, tolerance).moved;
}
