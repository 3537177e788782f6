/**
 * Trace fields for log lines (ADR-026). The logger's mixin asks here; while
 * tracing is off nothing is installed and the answer is an empty object, so
 * the logger never loads or calls OpenTelemetry. (A fresh object each time:
 * pino merges the line's own fields into what the mixin returns.)
 */
type Fields = { trace_id: string; span_id: string };

let source: (() => Fields | undefined) | null = null;

export function setLogTraceFields(fn: (() => Fields | undefined) | null): void {
  source = fn;
}

/** The active span's trace_id and span_id, or nothing. */
export function logTraceFields(): Fields | Record<string, never> {
  return source?.() ?? {};
}
