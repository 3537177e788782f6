import { sha256Hex } from './canonical.js';

/**
 * A name as logs may carry it. Names the workspace defines (a capability id,
 * a granted memory scope) appear as they are; anything else an agent typed is
 * logged as `#` plus the first 16 hex of its SHA-256, so a log line never
 * carries agent-chosen text yet still lets an operator match repeats.
 */
export function logName(name: string | null | undefined, known: boolean): string | null {
  if (name === null || name === undefined) return null;
  return known ? name : `#${sha256Hex(name).slice(0, 16)}`;
}
