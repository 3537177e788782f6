/**
 * Group commit (ADR-010): units submitted while a commit is pending or running
 * join the next transaction. Each submitter awaits its own unit's result; a
 * batch holds at most `maxBatch` units; chain order is commit order.
 *
 * `runBatch` writes every unit of a batch in one transaction and returns one
 * settlement per unit (a unit may fail alone, rolled back to its savepoint).
 * Nothing is resolved before the transaction has committed.
 */
export type Settlement<R> = { ok: true; value: R } | { ok: false; error: unknown };

interface Waiting<U, R> {
  unit: U;
  resolve(value: R): void;
  reject(err: unknown): void;
}

export class GroupCommitter<U, R> {
  private queue: Waiting<U, R>[] = [];
  private scheduled = false;
  private running: Promise<void> | null = null;
  /** Sizes of the batches committed so far (for the benchmark's figures). */
  readonly stats = { batches: 0, units: 0, largest: 0 };

  constructor(
    private readonly runBatch: (units: U[]) => Settlement<R>[] | Promise<Settlement<R>[]>,
    private readonly maxBatch = 64,
  ) {}

  submit(unit: U): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ unit, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    // One turn of the event loop lets flows that are ready now join this batch.
    setImmediate(() => {
      this.scheduled = false;
      this.running = this.flush().finally(() => {
        this.running = null;
        if (this.queue.length) this.schedule();
      });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue.splice(0, this.maxBatch);
    if (!batch.length) return;
    let settled: Settlement<R>[];
    try {
      settled = await this.runBatch(batch.map((w) => w.unit));
    } catch (err) {
      // The transaction itself failed: nothing of the batch is kept.
      for (const w of batch) w.reject(err);
      return;
    }
    this.stats.batches++;
    this.stats.units += batch.length;
    this.stats.largest = Math.max(this.stats.largest, batch.length);
    batch.forEach((w, i) => {
      const s = settled[i] as Settlement<R>;
      if (s.ok) w.resolve(s.value);
      else w.reject(s.error);
    });
  }

  /** Resolves once every unit submitted so far has been settled. */
  async drain(): Promise<void> {
    while (this.queue.length || this.scheduled || this.running) {
      await (this.running ?? new Promise((r) => setImmediate(r)));
    }
  }
}
