/**
 * Limits on the JSON an agent may send, checked before anything hashes or
 * validates it: canonical JSON (and so every hash) cannot represent a
 * non-finite number (`1e400` parses as Infinity), and recursive code must not
 * meet a nesting deep enough to overflow the stack. Iterative, so the check
 * itself cannot overflow. Pure.
 */
export const MAX_JSON_DEPTH = 64;

export interface JsonProblem {
  path: string;
  message: string;
}

/** Longest path a problem names (deep paths are cut; keys are agent-chosen). */
const MAX_PATH_CHARS = 200;

export function jsonProblem(value: unknown, maxDepth = MAX_JSON_DEPTH): JsonProblem | null {
  const found = firstProblem(value, maxDepth);
  return found && { ...found, path: found.path.length > MAX_PATH_CHARS ? `${found.path.slice(0, MAX_PATH_CHARS)}…` : found.path };
}

function firstProblem(value: unknown, maxDepth: number): JsonProblem | null {
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: '', depth: 0 }];
  while (stack.length) {
    const { v, path, depth } = stack.pop() as { v: unknown; path: string; depth: number };
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { path: path || '(arguments)', message: 'number out of range: JSON numbers must be finite (at most about 1.8e308)' };
      continue;
    }
    if (typeof v === 'bigint' || typeof v === 'function' || typeof v === 'symbol') return { path: path || '(arguments)', message: 'not a JSON value' };
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= maxDepth) return { path: path || '(arguments)', message: `nested deeper than ${maxDepth} levels` };
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
    for (const [k, x] of entries) stack.push({ v: x, path: path ? `${path}.${k.slice(0, 64)}` : k.slice(0, 64), depth: depth + 1 });
  }
  return null;
}

/** True for a plain JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
