import { canonicalJson } from '../core/canonical.js';
import type { Facts } from '../capabilities/manifest.js';

/**
 * Fields whose value moved between two facts snapshots. A numeric field may
 * move by up to its tolerance; every other field must be identical.
 */
export function driftBetween(before: Facts, after: Facts, tolerance: Record<string, number>): string[] {
  const fields = new Set([...Object.keys(before), ...Object.keys(after)]);
  const moved: string[] = [];
  for (const field of [...fields].sort()) {
    const a = before[field];
    const b = after[field];
    const tol = tolerance[field];
    if (tol !== undefined && typeof a === 'number' && typeof b === 'number') {
      if (Math.abs(a - b) > tol) moved.push(field);
    } else if (canonicalJson(a ?? null) !== canonicalJson(b ?? null)) {
      moved.push(field);
    }
  }
  return moved;
}
