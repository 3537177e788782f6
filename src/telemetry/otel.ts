/**
 * The tracing port on the OpenTelemetry SDK (ADR-026). Only `openTracer`
 * (config.ts) imports this module, and only when tracing is on, so a server
 * with tracing off never loads the SDK or the exporter.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, envDetector, detectResources, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, AlwaysOnSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import { ATTR_ERROR_TYPE, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { AsyncLocalContextManager } from './async-context.js';
import { setLogTraceFields } from '../core/log-fields.js';
import { newSpanId, timeOrderedTraceId } from '../core/world.js';
import type { ServerSpan, SpanAttributes, TraceCarrier, TraceSpan, Tracer } from './port.js';

export interface OtelOptions {
  serviceVersion: string;
  recordContent: boolean;
  /** Where spans go when no OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT says (mandate.yaml `telemetry.endpoint`). */
  endpoint?: string | undefined;
}

const propagator = new W3CTraceContextPropagator();
/** How long shutdown waits for the last spans to be sent. */
const SHUTDOWN_MS = 2_000;

function clean(attributes: SpanAttributes): Record<string, string | number | boolean | string[]> {
  const out: Record<string, string | number | boolean | string[]> = {};
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined) out[k] = v;
  return out;
}

function handle(span: Span): TraceSpan & { failed: boolean } {
  const h = {
    failed: false,
    set: (attributes: SpanAttributes) => void span.setAttributes(clean(attributes)),
    fail: (errorType: string, message?: string) => {
      h.failed = true;
      span.setAttribute(ATTR_ERROR_TYPE, errorType);
      span.setStatus({ code: SpanStatusCode.ERROR, ...(message ? { message } : {}) });
    },
  };
  return h;
}

export function createOtelTracer(opts: OtelOptions): Tracer {
  const manager = new AsyncLocalContextManager();
  context.setGlobalContextManager(manager);
  propagation.setGlobalPropagator(propagator);
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'mandate', [ATTR_SERVICE_VERSION]: opts.serviceVersion }))
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win, as everywhere else.
    .merge(detectResources({ detectors: [envDetector] }));
  // The OTLP/HTTP exporter reads OTEL_EXPORTER_OTLP_* itself (endpoint, headers, timeout, compression).
  const envEndpoint = process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] || process.env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  const exporter = new OTLPTraceExporter(!envEndpoint && opts.endpoint ? { url: `${opts.endpoint.replace(/\/$/, '')}/v1/traces` } : {});
  const provider = new TracerProvider({
    resource,
    // A caller that sampled its trace out is followed; otherwise every request is traced.
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    // A new trace's id becomes the DFID, so it is minted as Mandate mints one: time-ordered (ADR-047).
    idGenerator: { generateTraceId: () => timeOrderedTraceId(), generateSpanId: newSpanId },
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: envInt('OTEL_BSP_SCHEDULE_DELAY', 1_000), maxQueueSize: envInt('OTEL_BSP_MAX_QUEUE_SIZE', 2_048) })],
  });
  const tracer = provider.getTracer('mandate', opts.serviceVersion);
  setLogTraceFields(() => {
    const sc = trace.getSpan(context.active())?.spanContext();
    return sc ? { trace_id: sc.traceId, span_id: sc.spanId } : undefined;
  });

  const child = <T>(name: string, attributes: SpanAttributes, fn: (span: TraceSpan) => T | Promise<T>, kind: 'internal' | 'client' = 'internal'): T | Promise<T> =>
    tracer.startActiveSpan(name, { kind: kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL, attributes: clean(attributes) }, (span) => {
      const h = handle(span);
      const ended = (): void => span.end();
      const failed = (err: unknown): never => {
        if (!h.failed) h.fail(errorTypeOf(err));
        span.end();
        throw err;
      };
      try {
        const r = fn(h);
        if (r instanceof Promise) return r.then((v) => (ended(), v), failed);
        ended();
        return r;
      } catch (err) {
        return failed(err);
      }
    });

  return {
    enabled: true,
    recordContent: opts.recordContent,
    server(name, attributes, parent) {
      const parentContext: Context = parent.traceparent ? propagator.extract(ROOT_CONTEXT, parent, { get: (c, k) => (c as Record<string, string | undefined>)[k], keys: (c) => Object.keys(c as object) }) : ROOT_CONTEXT;
      const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes: clean(attributes) }, parentContext);
      const active = trace.setSpan(parentContext, span);
      const { set, fail } = handle(span);
      const s: ServerSpan = { set, fail, run: (fn) => context.with(active, fn), end: () => span.end() };
      return s;
    },
    span: child,
    annotate(attributes) {
      trace.getSpan(context.active())?.setAttributes(clean(attributes));
    },
    current(): TraceCarrier | undefined {
      const carrier: Record<string, string> = {};
      propagator.inject(context.active(), carrier, { set: (c, k, v) => void ((c as Record<string, string>)[k] = v) });
      return carrier['traceparent'] ? { traceparent: carrier['traceparent'], ...(carrier['tracestate'] ? { tracestate: carrier['tracestate'] } : {}) } : undefined;
    },
    async close() {
      setLogTraceFields(null);
      // Bounded: a collector that is down must not hold up the process's exit (the exporter retries with backoff).
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([provider.shutdown().catch(() => undefined), new Promise((done) => (timer = setTimeout(done, SHUTDOWN_MS)))]);
      clearTimeout(timer);
      manager.disable();
    },
  };
}

/** A Mandate error's reason code where it has one (UPSTREAM_UNAVAILABLE), else its class name. */
function errorTypeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : (err as Error | null)?.name || 'Error';
}

function envInt(name: string, fallback: number): number {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}
