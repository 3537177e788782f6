import { Worker } from 'node:worker_threads';
import type { Db } from './db.js';

const CHECKPOINT_MS = 250;

/**
 * Moves WAL checkpoints off the serving thread (ADR-002): the serving
 * connection stops checkpointing inside commits (whose fsyncs made every
 * ~70th call slow), and a worker thread checkpoints every 250 ms instead.
 * Commits stay as durable as before; only where the checkpoint runs moves.
 * If the worker cannot start, the connection checkpoints itself as before.
 */
export function startCheckpointer(db: Db, path: string, onError: (err: unknown) => void): () => void {
  if (path === ':memory:') return () => undefined;
  let worker: Worker;
  try {
    worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { path, intervalMs: CHECKPOINT_MS } });
  } catch (err) {
    onError(err);
    return () => undefined;
  }
  db.pragma('wal_autocheckpoint = 0');
  worker.on('error', (err) => {
    db.pragma('wal_autocheckpoint = 1000'); // fall back to checkpointing in the commit
    onError(err);
  });
  worker.unref();
  return () => worker.postMessage('stop');
}
