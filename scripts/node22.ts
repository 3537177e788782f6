/** Node 22 for the tools that need it (the conformance suite ≥ 0.1.14, and clients declaring engines >= 22). */
import { ensureNodeLine, nodeLinePackage } from './node-line.js';

export const NODE22_PACKAGE = nodeLinePackage(22);

/** A Node ≥ 22 binary: this one if it is, else the cached registry package; null where none can be had. */
export function ensureNode22(): string | null {
  return ensureNodeLine(22, true);
}
