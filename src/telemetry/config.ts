/**
 * Whether this process traces, and the tracer it gets (ADR-026). Tracing is
 * off by default. It is on when an OTLP endpoint is named the standard way
 * (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or
 * mandate.yaml says `telemetry.traces: true`; OTEL_SDK_DISABLED=true and
 * OTEL_TRACES_EXPORTER=none turn it off whatever else says so. Off, the
 * OpenTelemetry SDK is never imported.
 */
import type { Logger } from '../core/log.js';
import { noopTracer, type Tracer } from './port.js';

export interface TelemetryConfig {
  traces: boolean;
  endpoint?: string | undefined;
  record_content: boolean;
}

export type Environment = Record<string, string | undefined>;

/** Why tracing is on, or null when it is off. */
export function tracingSource(config: TelemetryConfig | undefined, env: Environment): string | null {
  if (env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') return null;
  const exporters = (env['OTEL_TRACES_EXPORTER'] ?? '').split(',').map((e) => e.trim().toLowerCase()).filter(Boolean);
  if (exporters.includes('none')) return null;
  if (env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) return 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT';
  if (env['OTEL_EXPORTER_OTLP_ENDPOINT']) return 'OTEL_EXPORTER_OTLP_ENDPOINT';
  return config?.traces ? 'telemetry.traces' : null;
}

/** The tracer for a serving process: the no-op one unless tracing is on, the SDK-backed one (loaded now) if it is. */
export async function openTracer(config: TelemetryConfig | undefined, env: Environment, log: Logger, serviceVersion: string): Promise<Tracer> {
  const source = tracingSource(config, env);
  if (!source) return noopTracer;
  const exporters = (env['OTEL_TRACES_EXPORTER'] ?? '').split(',').map((e) => e.trim().toLowerCase()).filter(Boolean);
  if (exporters.some((e) => e !== 'otlp')) log.warn({ exporters }, 'OTEL_TRACES_EXPORTER names an exporter other than otlp; spans go over OTLP/HTTP only');
  const { createOtelTracer } = await import('./otel.js');
  const tracer = createOtelTracer({ serviceVersion, recordContent: config?.record_content ?? false, endpoint: config?.endpoint });
  log.info({ source, record_content: tracer.recordContent }, 'tracing on: spans go over OTLP/HTTP');
  return tracer;
}
