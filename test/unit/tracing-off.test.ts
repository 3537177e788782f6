import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/log.js';
import { openTracer, tracingSource } from '../../src/telemetry/config.js';
import { logTraceFields } from '../../src/core/log-fields.js';
import { noopTracer } from '../../src/telemetry/port.js';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
const config = (traces: boolean) => ({ traces, record_content: false });

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('tracing is off by default', () => {
  it('on only when an OTLP endpoint variable or telemetry.traces says so; OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none always win', () => {
    expect(tracingSource(undefined, {})).toBeNull();
    expect(tracingSource(config(false), { OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_HEADERS: 'a=b' })).toBeNull();
    expect(tracingSource(config(false), { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe('OTEL_EXPORTER_OTLP_ENDPOINT');
    expect(tracingSource(config(false), { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })).toBe('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
    expect(tracingSource(config(true), {})).toBe('telemetry.traces');
    expect(tracingSource(config(true), { OTEL_SDK_DISABLED: 'TRUE' })).toBeNull();
    expect(tracingSource(config(false), { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' })).toBeNull();
    expect(tracingSource(config(true), { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_EXPORTER: 'none' })).toBeNull();
    expect(tracingSource(config(false), { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'false' })).toBe('OTEL_EXPORTER_OTLP_ENDPOINT');
  });

  it('off, the tracer is the no-op one: a span runs its function as it is, nothing is current, log lines get no trace fields', async () => {
    const tracer = await openTracer(config(false), {}, silentLogger, '0.0.0');
    expect(tracer).toBe(noopTracer);
    expect(tracer.enabled).toBe(false);
    let ran = 0;
    const r = tracer.span('x', {}, () => ++ran);
    expect(r).toBe(1); // no promise wrapped around a synchronous function
    expect(tracer.current()).toBeUndefined();
    expect(logTraceFields()).toEqual({});
  });

  it('the SDK and the exporter are imported by one module, and that module only by a dynamic import once tracing is on', () => {
    const files = sources(SRC);
    const sdk = /from '@opentelemetry\/(sdk-trace|exporter-trace-otlp-http|resources|core)'/;
    expect(files.filter((f) => sdk.test(readFileSync(f, 'utf8'))).map((f) => relative(SRC, f))).toEqual(['telemetry/otel.ts']);
    const importers = files.filter((f) => /otel\.js'/.test(readFileSync(f, 'utf8'))).map((f) => relative(SRC, f));
    expect(importers).toEqual(['telemetry/config.ts']);
    const text = readFileSync(join(SRC, 'telemetry', 'config.ts'), 'utf8');
    expect(text).toMatch(/await import\('\.\/otel\.js'\)/);
    expect(text).not.toMatch(/^import .*otel\.js'/m);
  });
});
