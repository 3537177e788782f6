/**
 * Beside scenario 2: the WAL frames a governed no-op writes, by b-tree,
 * counted rather than timed. In a fresh workspace the WAL is checkpointed
 * and truncated before the last untimed call; the counted calls' frames are
 * then read from the file, and each page number is named by `dbstat`. The count
 * is right only while no checkpoint restarts the WAL (the store's
 * checkpoints come every 10,000 pages): the WAL header's salts say whether
 * one did, and then the count is reported as void.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/log.js';
import { systemWorld } from '../../src/core/world.js';
import { openRuntime } from '../../src/runtime.js';
import { benchWorkspace, type Sizes } from '../lib.js';
import { readWal } from '../wal.js';

export interface WalFramesResult {
  calls: number;
  warmup: number;
  /** Mean µs of the counted calls (a short run: scenario 2's mean is the better figure). */
  usPerCall: number;
  /** A checkpoint restarted the WAL during the counted calls: the counts below are void (NaN). */
  restarted: boolean;
  framesPerCall: number;
  commitsPerCall: number;
  /** Frames per call by b-tree (a table or an index), most first. */
  byTree: { tree: string; framesPerCall: number }[];
}

/** Page 1 holds the database header (size in pages, free list) besides sqlite_schema's root. */
const HEADER_PAGE = 'page 1 (database header)';
const FREE_PAGE = '(free page)';

export async function walFramesScenario(sizes: Sizes): Promise<WalFramesResult> {
  const ws = benchWorkspace();
  const rt = await openRuntime(ws, silentLogger, systemWorld, {});
  const path = join(ws, 'mandate.db');
  if (!existsSync(path)) throw new Error(`WAL frames: no store at ${path}`);
  const db = new Database(path);
  try {
    const call = (n: number) => rt.kernel.govern({ agent: 'bench', channel: 'stdio', intent: { capability: 'bench.noop', params: { n }, idempotency_key: `wal-${n}` } });
    db.pragma('busy_timeout = 5000');
    for (let i = 0; i < sizes.walWarmup; i++) {
      // The last untimed call starts the emptied WAL and writes its header, which the counted calls must leave as it is.
      if (i === sizes.walWarmup - 1) db.pragma('wal_checkpoint(TRUNCATE)');
      await call(1_000_000 + i);
    }
    const before = readWal(`${path}-wal`);
    if (!before.generation) throw new Error('WAL frames: the counted calls need an untimed call before them');
    const t0 = performance.now();
    for (let i = 0; i < sizes.walCalls; i++) await call(i);
    const usPerCall = ((performance.now() - t0) / sizes.walCalls) * 1000;
    const after = readWal(`${path}-wal`);
    const restarted = before.generation !== after.generation;
    const frames = after.frames.slice(before.frames.length);
    const base = { calls: sizes.walCalls, warmup: sizes.walWarmup, usPerCall, restarted };
    if (restarted) return { ...base, framesPerCall: Number.NaN, commitsPerCall: Number.NaN, byTree: [] };
    const names = new Map((db.prepare('SELECT name, pageno FROM dbstat').all() as { name: string; pageno: number }[]).map((r) => [r.pageno, r.name]));
    const counts = new Map<string, number>();
    for (const f of frames) {
      const tree = f.page === 1 ? HEADER_PAGE : (names.get(f.page) ?? FREE_PAGE);
      counts.set(tree, (counts.get(tree) ?? 0) + 1);
    }
    return {
      ...base,
      framesPerCall: frames.length / sizes.walCalls,
      commitsPerCall: frames.filter((f) => f.commit).length / sizes.walCalls,
      byTree: [...counts].sort((a, b) => b[1] - a[1]).map(([tree, n]) => ({ tree, framesPerCall: n / sizes.walCalls })),
    };
  } finally {
    db.close();
    await rt.close();
  }
}
