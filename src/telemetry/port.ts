/**
 * The tracing port (ADR-026). Kernel, gateway and MCP adapters only ever see
 * this interface; the OpenTelemetry SDK behind it is loaded only when tracing
 * is on (otel.ts). Off, every call is the no-op below: no SDK, no context
 * manager, no allocation beyond the caller's own closure.
 */

/** Span attribute values, as OpenTelemetry takes them; undefined ones are left out. */
export type SpanAttributes = Record<string, string | number | boolean | string[] | undefined>;

export interface TraceSpan {
  set(attributes: SpanAttributes): void;
  /** Marks the span failed: `error.type` and an ERROR status (the message is a fixed text, never a value). */
  fail(errorType: string, message?: string): void;
}

/** The server span of one MCP request: its context is entered with `run`, and it ends with `end`. */
export interface ServerSpan extends TraceSpan {
  run<T>(fn: () => T): T;
  end(): void;
}

/** W3C trace context as it travels in `_meta` (MCP SEP-414) or HTTP headers. */
export interface TraceCarrier {
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}

export interface Tracer {
  readonly enabled: boolean;
  /** Whether tool argument and result values may become span attributes for a capability that opts in (ADR-026). */
  readonly recordContent: boolean;
  /** Starts a SERVER span whose parent is the carrier's context (none: a new trace). */
  server(name: string, attributes: SpanAttributes, parent: TraceCarrier): ServerSpan;
  /** Runs `fn` in a child of the active span; the span ends when `fn` settles, failed if it throws. */
  span<T>(name: string, attributes: SpanAttributes, fn: (span: TraceSpan) => T | Promise<T>, kind?: 'internal' | 'client'): T | Promise<T>;
  /** Adds attributes to the active span, if there is one. */
  annotate(attributes: SpanAttributes): void;
  /** The active span's context, to send on (an upstream's `_meta`); undefined when off or outside a span. */
  current(): TraceCarrier | undefined;
  /** Sends what is buffered and stops (shutdown). */
  close(): Promise<void>;
}

const NOOP_SPAN: ServerSpan = {
  set: () => undefined,
  fail: () => undefined,
  run: (fn) => fn(),
  end: () => undefined,
};

/** Tracing off: nothing is recorded and nothing is loaded. */
export const noopTracer: Tracer = {
  enabled: false,
  recordContent: false,
  server: () => NOOP_SPAN,
  span: (_name, _attributes, fn) => fn(NOOP_SPAN),
  annotate: () => undefined,
  current: () => undefined,
  close: async () => undefined,
};
