import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallRelay, ProgressUpdate, RelayNotification } from '../../src/core/types.js';
import { PROGRESS_INTERVAL_MS, PROGRESS_MESSAGE_MAX, progressReporter } from '../../src/kernel/progress.js';

describe('progressReporter (ctx.progress)', () => {
  let sent: RelayNotification[];
  let updates: ProgressUpdate[];
  const relay = (over: Partial<CallRelay> = {}): CallRelay => ({
    progressToken: 'tok',
    notify: (n) => {
      sent.push(n);
      return Promise.resolve();
    },
    ...over,
  });

  beforeEach(() => {
    vi.useFakeTimers();
    sent = [];
    updates = [];
  });
  afterEach(() => vi.useRealTimers());

  it('becomes notifications/progress with the caller’s token, and cuts long messages', () => {
    const { report } = progressReporter(relay(), new AbortController().signal);
    report(1, 4, 'x'.repeat(PROGRESS_MESSAGE_MAX + 50));
    expect(sent).toEqual([{ method: 'notifications/progress', params: { progressToken: 'tok', progress: 1, total: 4, message: 'x'.repeat(PROGRESS_MESSAGE_MAX) } }]);
  });

  it('goes nowhere when the caller gave no token and follows no task', () => {
    const { report } = progressReporter(relay({ progressToken: undefined }), new AbortController().signal);
    report(1, 2);
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual([]);
  });

  it('is rate-limited: a burst sends the first report, then the latest one at the end of the interval, and the final one at once', () => {
    const { report } = progressReporter(relay({ onProgress: (u) => updates.push(u) }), new AbortController().signal);
    for (let i = 1; i <= 50; i++) report(i, 100);
    expect(sent.map((n) => n.params['progress'])).toEqual([1]);
    vi.advanceTimersByTime(PROGRESS_INTERVAL_MS);
    expect(sent.map((n) => n.params['progress'])).toEqual([1, 50]);
    report(100, 100); // the last one is never held back
    expect(sent.map((n) => n.params['progress'])).toEqual([1, 50, 100]);
    expect(updates.map((u) => u.progress)).toEqual([1, 50, 100]);
  });

  it('ignores bad input and progress that does not grow, and never throws', () => {
    const { report } = progressReporter(relay({ onProgress: () => { throw new Error('store down'); } }), new AbortController().signal);
    expect(() => {
      report(Number.NaN);
      report(-1);
      report('3' as unknown as number);
      report(5, 10);
      vi.advanceTimersByTime(PROGRESS_INTERVAL_MS);
      report(5, 10);
      report(4, 10);
      report(6, 2); // a total below done is dropped, the progress kept
    }).not.toThrow();
    vi.advanceTimersByTime(PROGRESS_INTERVAL_MS);
    expect(sent.map((n) => n.params)).toEqual([
      { progressToken: 'tok', progress: 5, total: 10 },
      { progressToken: 'tok', progress: 6 },
    ]);
  });

  it('sends nothing after the handler is done or aborted; a held-back report goes out before the result', () => {
    const a = progressReporter(relay(), new AbortController().signal);
    a.report(1, 10);
    a.report(2, 10); // held back
    a.stop(); // the handler returned
    expect(sent.map((n) => n.params['progress'])).toEqual([1, 2]);
    a.report(3, 10);
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(2);

    sent = [];
    const abort = new AbortController();
    const b = progressReporter(relay(), abort.signal);
    b.report(1, 10);
    b.report(2, 10);
    abort.abort();
    b.stop();
    vi.advanceTimersByTime(1000);
    expect(sent.map((n) => n.params['progress'])).toEqual([1]);
  });
});
