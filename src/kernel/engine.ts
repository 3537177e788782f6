import { CapabilityError, type Capability, type CapabilityContext, type Facts, type Values } from '../capabilities/manifest.js';
import type { ReasonCode } from '../core/reasons.js';
import { followsProgress, NO_PROGRESS, progressReporter } from './progress.js';

export type RunResult =
  | { ok: true; output: unknown; bytes: number }
  | { ok: false; code: Extract<ReasonCode, 'DEADLINE_EXCEEDED' | 'OUTPUT_TOO_LARGE' | 'OUTPUT_INVALID' | 'HANDLER_FAILED' | 'ABORTED_BY_INTERVENTION' | 'CANCELLED' | CapabilityError['code']>; message: string };

/** The abort reason used when a termination stops a running handler. */
export class InterventionAbort extends Error {
  constructor(readonly interventionId: string) {
    super('terminated by intervention');
    this.name = 'InterventionAbort';
  }
}

/**
 * How the in-flight registry stops a running handler (a termination): a
 * switch of our own, since an AbortController, and an AbortSignal.any joining
 * it to the caller's signal, cost tens of microseconds per call on Node 20.
 */
export class StopSwitch {
  private listener: ((reason: unknown) => void) | undefined;
  private state: { reason: unknown } | undefined;

  get stopped(): boolean {
    return this.state !== undefined;
  }

  /** Stops the handler; the first reason counts. */
  stop(reason: unknown): void {
    if (this.state) return;
    this.state = { reason };
    this.listener?.(reason);
  }

  /** Calls `fn` once stopped, at once if it already is. */
  onStop(fn: (reason: unknown) => void): void {
    this.listener = fn;
    if (this.state) fn(this.state.reason);
  }
}

export interface RunLimits {
  deadlineMs: number;
  maxOutputBytes: number;
}

/**
 * Runs one handler under its bounds: an abort signal that fires at the
 * deadline (or when the caller aborts, or `stopper` stops it), a race so a
 * handler that ignores the signal cannot hang the call, an output size cap
 * and the output schema.
 */
export async function runBounded(
  capability: Capability,
  params: Values,
  facts: Facts,
  ctx: Omit<CapabilityContext, 'signal' | 'progress'>,
  limits: RunLimits,
  callerSignal?: AbortSignal,
  stopper?: StopSwitch,
): Promise<RunResult> {
  // The handler's signal is made only when asked for (ctx.signal, a progress reporter): most handlers never read it.
  let controller: AbortController | undefined;
  let aborted: { reason: unknown } | undefined;
  const signal = (): AbortSignal => {
    if (!controller) {
      controller = new AbortController();
      if (aborted) controller.abort(aborted.reason);
    }
    return controller.signal;
  };
  const abort = (reason: unknown): void => {
    aborted ??= { reason };
    controller?.abort(reason);
  };
  let interrupted: RunResult | undefined;
  let interrupt: (r: RunResult) => void = () => undefined;
  const interruption = new Promise<RunResult>((resolve) => {
    interrupt = resolve;
  });
  // A termination ends the call at once, like a deadline; the caller's own cancel too. The first one counts.
  const onInterrupt = (reason: unknown) => {
    if (interrupted) return;
    interrupted =
      reason instanceof InterventionAbort
        ? { ok: false, code: 'ABORTED_BY_INTERVENTION', message: `aborted by intervention ${reason.interventionId}` }
        : { ok: false, code: 'CANCELLED', message: 'the caller cancelled the request after the effect started; it may have happened' };
    abort(reason);
    interrupt(interrupted);
  };
  const onCallerAbort = () => onInterrupt(callerSignal?.reason);
  // Never start a handler whose call is already cancelled or stopped.
  if (callerSignal?.aborted) onCallerAbort();
  stopper?.onStop(onInterrupt);
  if (interrupted) return interrupted;
  callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<RunResult>((resolve) => {
    timer = setTimeout(() => {
      abort(new Error('deadline exceeded'));
      resolve({ ok: false, code: 'DEADLINE_EXCEEDED', message: `handler exceeded its ${limits.deadlineMs} ms deadline` });
    }, limits.deadlineMs);
  });
  // A reporter watches the handler's signal, so the signal is made only for a caller that follows progress.
  const progress = followsProgress(ctx.relay) ? progressReporter(ctx.relay, signal()) : NO_PROGRESS;
  const run = (async (): Promise<RunResult> => {
    try {
      const output = await capability.def.handler(params, {
        ...ctx,
        get signal() {
          return signal();
        },
        facts,
        progress: progress.report,
      });
      if (aborted) return interrupted ?? { ok: false, code: 'DEADLINE_EXCEEDED', message: 'handler finished after it was aborted' };
      return checkOutput(capability, output, limits.maxOutputBytes);
    } catch (err) {
      if (aborted) return interrupted ?? { ok: false, code: 'DEADLINE_EXCEEDED', message: 'handler aborted' };
      // A handler may name its failure (the gateway: an upstream that went away); its message is Mandate's own.
      if (err instanceof CapabilityError) return { ok: false, code: err.code, message: err.message };
      return { ok: false, code: 'HANDLER_FAILED', message: `handler threw ${(err as Error)?.name ?? 'a non-error'}` };
    }
  })();
  try {
    return await Promise.race([run, deadline, interruption]);
  } finally {
    clearTimeout(timer);
    callerSignal?.removeEventListener('abort', onCallerAbort);
    // The handler's last progress report goes on the wire before its result does.
    await progress.stop();
  }
}

function checkOutput(capability: Capability, output: unknown, maxBytes: number): RunResult {
  let text: string | undefined;
  try {
    text = JSON.stringify(output);
  } catch {
    return { ok: false, code: 'OUTPUT_INVALID', message: 'output is not JSON-serialisable' };
  }
  const bytes = Buffer.byteLength(text ?? 'null');
  if (bytes > maxBytes) return { ok: false, code: 'OUTPUT_TOO_LARGE', message: `output is ${bytes} bytes, cap is ${maxBytes}` };
  const parsed = capability.def.output.safeParse(output);
  if (!parsed.success) return { ok: false, code: 'OUTPUT_INVALID', message: 'output does not match the output schema' };
  return { ok: true, output: parsed.data, bytes };
}
