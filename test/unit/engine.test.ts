import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { toCapability, type CapabilityDefinition } from '../../src/capabilities/manifest.js';
import { InterventionAbort, runBounded, StopSwitch } from '../../src/kernel/engine.js';

const ctx = { dfid: 'f'.repeat(32), agent: 'alice', workspaceDir: '/nonexistent', now: 0 };
const LIMITS = { deadlineMs: 1_000, maxOutputBytes: 64 };

function cap(handler: CapabilityDefinition['handler']) {
  return toCapability(
    { id: 'test.bounded', version: '1.0.0', description: 'A handler under test bounds.', sideEffect: 'write', input: z.object({}), output: z.object({ ok: z.boolean() }), handler },
    'test',
  );
}

describe('bounded engine (runBounded)', () => {
  afterEach(() => vi.useRealTimers());

  it('returns a valid output with its size', async () => {
    expect(await runBounded(cap(() => ({ ok: true })), {}, {}, ctx, LIMITS)).toEqual({ ok: true, output: { ok: true }, bytes: 11 });
  });

  it('a handler that hangs and ignores its signal is cut off at the deadline with DEADLINE_EXCEEDED, and its signal fires', async () => {
    vi.useFakeTimers();
    let signal: AbortSignal | undefined;
    const run = runBounded(
      cap((_p, c) => {
        signal = c.signal;
        return new Promise(() => {});
      }),
      {},
      {},
      ctx,
      LIMITS,
    );
    await vi.advanceTimersByTimeAsync(999);
    expect(signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await run).toMatchObject({ ok: false, code: 'DEADLINE_EXCEEDED' });
    expect(signal?.aborted).toBe(true);
  });

  it('a handler that first reads its signal after its deadline finds it aborted, with the deadline as the reason', async () => {
    vi.useFakeTimers();
    let late: AbortSignal | undefined;
    const run = runBounded(
      cap(
        (_p, c) =>
          new Promise((resolve) => {
            setTimeout(() => {
              late = c.signal;
              resolve({ ok: true });
            }, 2_000);
          }),
      ),
      {},
      {},
      ctx,
      LIMITS,
    );
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await run).toMatchObject({ ok: false, code: 'DEADLINE_EXCEEDED' });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(late?.aborted).toBe(true);
    expect((late?.reason as Error).message).toBe('deadline exceeded');
  });

  it('a caller abort aborts the handler and is CANCELLED, not a deadline', async () => {
    const controller = new AbortController();
    const run = runBounded(
      cap(
        (_p, c) =>
          new Promise((_resolve, reject) => {
            c.signal.addEventListener('abort', () => reject(new Error('aborted')));
          }),
      ),
      {},
      {},
      ctx,
      LIMITS,
      controller.signal,
    );
    controller.abort();
    expect(await run).toMatchObject({ ok: false, code: 'CANCELLED' });
  });

  it('a stop switch stopped by a termination ends a running handler at once as ABORTED_BY_INTERVENTION, and its signal carries the reason', async () => {
    const stopper = new StopSwitch();
    let seen: unknown;
    const run = runBounded(
      cap(
        (_p, c) =>
          new Promise(() => {
            c.signal.addEventListener('abort', () => (seen = c.signal.reason));
          }),
      ),
      {},
      {},
      ctx,
      LIMITS,
      undefined,
      stopper,
    );
    await Promise.resolve();
    stopper.stop(new InterventionAbort('i-1'));
    expect(await run).toEqual({ ok: false, code: 'ABORTED_BY_INTERVENTION', message: 'aborted by intervention i-1' });
    expect(seen).toBeInstanceOf(InterventionAbort);
    expect(stopper.stopped).toBe(true);
  });

  it('a handler whose switch is already stopped never starts; of a cancel and a stop, the first one counts', async () => {
    let started = 0;
    const counting = cap(() => {
      started++;
      return { ok: true };
    });
    const stopped = new StopSwitch();
    stopped.stop(new InterventionAbort('i-2'));
    expect(await runBounded(counting, {}, {}, ctx, LIMITS, undefined, stopped)).toMatchObject({ ok: false, code: 'ABORTED_BY_INTERVENTION' });
    expect(started).toBe(0);

    const controller = new AbortController();
    const stopper = new StopSwitch();
    const run = runBounded(cap(() => new Promise(() => undefined)), {}, {}, ctx, LIMITS, controller.signal, stopper);
    await Promise.resolve();
    controller.abort();
    stopper.stop(new InterventionAbort('i-3'));
    expect(await run).toMatchObject({ ok: false, code: 'CANCELLED' });
  });

  it('too much output is OUTPUT_TOO_LARGE, a wrong shape OUTPUT_INVALID, a throw HANDLER_FAILED', async () => {
    expect(await runBounded(cap(() => ({ ok: true, pad: 'x'.repeat(100) })), {}, {}, ctx, LIMITS)).toMatchObject({ ok: false, code: 'OUTPUT_TOO_LARGE' });
    expect(await runBounded(cap(() => ({ ok: 'yes' })), {}, {}, ctx, LIMITS)).toMatchObject({ ok: false, code: 'OUTPUT_INVALID' });
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(await runBounded(cap(() => cyclic), {}, {}, ctx, LIMITS)).toMatchObject({ ok: false, code: 'OUTPUT_INVALID' });
    const failed = await runBounded(
      cap(() => {
        throw new TypeError('secret detail 42');
      }),
      {},
      {},
      ctx,
      LIMITS,
    );
    expect(failed).toEqual({ ok: false, code: 'HANDLER_FAILED', message: 'handler threw TypeError' }); // the error text is not echoed
  });
});
