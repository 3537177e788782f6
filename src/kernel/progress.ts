import type { ProgressReporter } from '../capabilities/manifest.js';
import type { CallRelay, ProgressUpdate } from '../core/types.js';

/** At most one report per this interval reaches the caller; the latest one in between is sent at its end. */
export const PROGRESS_INTERVAL_MS = 100;
/** Longest a result waits for its last progress notification to be sent. */
const PROGRESS_FLUSH_MAX_MS = 1_000;
/** A progress message is cut to this many characters. */
export const PROGRESS_MESSAGE_MAX = 200;

/** The reporter of a call whose caller follows no progress: reports go nowhere. */
export const NO_PROGRESS: { report: ProgressReporter; stop(): Promise<void> } = { report: () => undefined, stop: async () => undefined };

/** Whether a call's caller follows its progress: a progress token, or a task's status to update. */
export function followsProgress(relay: CallRelay | undefined): relay is CallRelay {
  return !!relay && (relay.progressToken !== undefined || !!relay.onProgress);
}

/**
 * The `ctx.progress` a handler gets. Reports become `notifications/progress`
 * when the caller gave a progress token, and reach `relay.onProgress` (an MCP
 * task's status) when one is set; otherwise they go nowhere. Bad input is
 * ignored, never thrown at the handler. Nothing is logged: a message is the
 * capability's own text and stays between it and its caller.
 */
export function progressReporter(relay: CallRelay | undefined, signal: AbortSignal, clock: () => number = Date.now): { report: ProgressReporter; stop(): Promise<void> } {
  if (!followsProgress(relay)) return NO_PROGRESS;
  let last = Number.NEGATIVE_INFINITY;
  let sentAt = Number.NEGATIVE_INFINITY;
  let pending: ProgressUpdate | null = null;
  let timer: NodeJS.Timeout | undefined;
  // The last notification handed to the transport, so the result can wait until it is on the wire.
  let sending: Promise<void> = Promise.resolve();

  const send = (update: ProgressUpdate) => {
    sentAt = clock();
    if (relay.progressToken !== undefined) {
      sending = relay.notify({ method: 'notifications/progress', params: { progressToken: relay.progressToken, ...update } }).catch(() => undefined);
    }
    try {
      relay.onProgress?.(update);
    } catch {
      // a status update that fails must not fail the handler
    }
  };
  const flush = () => {
    timer = undefined;
    if (pending && !signal.aborted) send(pending);
    pending = null;
  };
  signal.addEventListener('abort', () => clearTimeout(timer), { once: true });

  const report: ProgressReporter = (done, total, message) => {
    if (signal.aborted || typeof done !== 'number' || !Number.isFinite(done) || done < 0 || done <= last) return;
    const update: ProgressUpdate = { progress: done };
    if (typeof total === 'number' && Number.isFinite(total) && total >= done) update.total = total;
    if (typeof message === 'string' && message !== '') update.message = message.slice(0, PROGRESS_MESSAGE_MAX);
    last = done;
    const final = update.total !== undefined && done === update.total;
    const wait = sentAt + PROGRESS_INTERVAL_MS - clock();
    if (final || wait <= 0) {
      clearTimeout(timer);
      timer = undefined;
      pending = null;
      send(update);
      return;
    }
    pending = update;
    if (!timer) {
      timer = setTimeout(flush, wait);
      timer.unref();
    }
  };
  // When the handler is done: its latest report goes out before its result, and none after it.
  const stop = async () => {
    clearTimeout(timer);
    flush();
    last = Number.POSITIVE_INFINITY;
    // Bounded: a transport that never finishes a send must not hold the result.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([sending, new Promise<void>((resolve) => (bound = setTimeout(resolve, PROGRESS_FLUSH_MAX_MS)))]);
    clearTimeout(bound);
  };
  return { report, stop };
}
