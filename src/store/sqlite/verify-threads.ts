// The chain check of a large SQLite ledger in worker threads (ADR-048): runs of rows checked side by side, then linked.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { VerifyResult } from '../port/rows.js';
import { chunkBounds, linkChunks, type ChunkCheck } from './ledger-chunks.js';
import type { Ledger } from './ledger.js';

/** Below this many events a worker's start costs more than it saves: the check runs in the calling thread. */
export const THREADED_VERIFY_MIN_EVENTS = 200_000;

/** At most this many workers, so that a server verifying its own ledger keeps a core for its calls on larger machines. */
const MAX_THREADS = 4;

const WORKER = fileURLToPath(new URL('./verify-worker.js', import.meta.url));

export interface VerifyThreadsOptions {
  /** Workers to use; default: the machine's cores, at most 4. 1 checks in the calling thread. */
  threads?: number;
  /** Use workers from this many events on (default `THREADED_VERIFY_MIN_EVENTS`). */
  minEvents?: number;
}

/**
 * Verifies the ledger of the SQLite file at `path`: in worker threads when it
 * is large and the build has its worker (a run from TypeScript sources has
 * none), else in this thread. Either way the verdict is the sequential
 * check's, row for row; a worker that fails leaves the check to this thread.
 */
export async function verifyLedgerFile(ledger: Ledger, path: string, opts: VerifyThreadsOptions = {}): Promise<VerifyResult> {
  const threads = Math.max(1, Math.floor(opts.threads ?? Math.min(MAX_THREADS, availableParallelism())));
  const head = ledger.headSeq();
  if (threads === 1 || path === ':memory:' || head < (opts.minEvents ?? THREADED_VERIFY_MIN_EVENTS) || !existsSync(WORKER)) return ledger.verify();
  try {
    return await verifyInWorkers(path, head, threads);
  } catch {
    return ledger.verify();
  }
}

/** The check of the file's rows up to `headSeq` (and any appended meanwhile) in `threads` workers, linked here; rejects if a worker fails. */
export async function verifyInWorkers(path: string, headSeq: number, threads: number): Promise<VerifyResult> {
  return linkChunks(await Promise.all(chunkBounds(headSeq, threads).map((b) => checkInWorker(path, b.after, b.upTo))));
}

function checkInWorker(path: string, after: number, upTo: number): Promise<ChunkCheck> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: { path, after, upTo } });
    let result: ChunkCheck | undefined;
    worker.once('message', (m: ChunkCheck) => (result = m));
    worker.once('error', reject);
    worker.once('exit', (code) => (result && code === 0 ? resolve(result) : reject(new Error(`ledger check worker exited with ${code} and no result`))));
  });
}
