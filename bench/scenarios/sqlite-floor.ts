/**
 * Beside scenario 2: the storage floor on this disk. A bare better-sqlite3
 * loop, with nothing of Mandate around it, in the directory the bench
 * workspaces use (os.tmpdir()) and with the store's own pragmas
 * (`applyStorePragmas`: WAL, synchronous=NORMAL, its checkpoint interval), times transactions that
 * insert one ~200-byte row into each of k tables. Each such row dirties one
 * leaf page, so a transaction writes about k WAL frames (more when a leaf
 * splits); they are counted from the WAL, not assumed. The slope of time
 * over frames is what one page written costs here.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyStorePragmas } from '../../src/store/sqlite/db.js';
import { MAX_LOOP_SECONDS, type Sizes } from '../lib.js';
import { readWal } from '../wal.js';

/** The table counts timed: 0 is a transaction that writes nothing (no commit reaches the WAL). */
export const FLOOR_TABLES = [0, 1, 2, 5, 10, 20] as const;
/** Transactions whose frames are counted per table count: at most ~22 frames each, well under a checkpoint's 10,000. */
const COUNTED = 200;
const ROW = 'x'.repeat(200);

export interface FloorRow {
  tables: number;
  transactions: number;
  usPerTransaction: number;
  framesPerTransaction: number;
}

export interface FloorResult {
  /** Where the loop's database was (removed after): the bench workspaces' directory. */
  dir: string;
  rows: FloorRow[];
  /** Least-squares slope of µs per transaction over frames per transaction, the transactions that write. */
  usPerFrame: number;
  /** The same line's intercept: what a commit costs besides its frames. */
  usPerCommit: number;
}

export function sqliteFloorScenario(sizes: Sizes): FloorResult {
  const scratch = mkdtempSync(join(tmpdir(), 'mandate-bench-floor-'));
  const path = join(scratch, 'floor.db');
  const db = new Database(path);
  try {
    applyStorePragmas(db);
    const most = Math.max(...FLOOR_TABLES);
    for (let t = 0; t < most; t++) db.exec(`CREATE TABLE t${t} (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`);
    const inserts = Array.from({ length: most }, (_, t) => db.prepare(`INSERT INTO t${t} (v) VALUES (?)`));
    const deadline = Date.now() + MAX_LOOP_SECONDS * 1000;
    const rows: FloorRow[] = [];
    for (const k of FLOOR_TABLES) {
      const tx = db.transaction(() => {
        for (let t = 0; t < k; t++) inserts[t]?.run(ROW);
      });
      for (let i = 0; i < sizes.warmup && Date.now() < deadline; i++) tx();
      // Each count starts from an empty WAL, as the store does after a checkpoint restarts it.
      db.pragma('wal_checkpoint(TRUNCATE)');
      let done = 0;
      const t0 = performance.now();
      while (done < sizes.floorTransactions && Date.now() < deadline) {
        tx();
        done++;
      }
      const usPerTransaction = ((performance.now() - t0) / done) * 1000;
      db.pragma('wal_checkpoint(TRUNCATE)');
      const counted = Math.min(COUNTED, sizes.floorTransactions);
      for (let i = 0; i < counted; i++) tx();
      const wal = readWal(`${path}-wal`);
      const commits = wal.frames.filter((f) => f.commit).length;
      if (commits !== (k === 0 ? 0 : counted)) throw new Error(`storage floor: ${commits} commits in the WAL for ${counted} transactions of ${k} tables`);
      rows.push({ tables: k, transactions: done, usPerTransaction, framesPerTransaction: wal.frames.length / counted });
    }
    return { dir: tmpdir(), rows, ...fitLine(rows.filter((r) => r.framesPerTransaction > 0)) };
  } finally {
    db.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

function fitLine(rows: FloorRow[]): { usPerFrame: number; usPerCommit: number } {
  const mx = rows.reduce((s, r) => s + r.framesPerTransaction, 0) / rows.length;
  const my = rows.reduce((s, r) => s + r.usPerTransaction, 0) / rows.length;
  let sxy = 0;
  let sxx = 0;
  for (const r of rows) {
    sxy += (r.framesPerTransaction - mx) * (r.usPerTransaction - my);
    sxx += (r.framesPerTransaction - mx) ** 2;
  }
  const usPerFrame = sxy / sxx;
  return { usPerFrame, usPerCommit: my - usPerFrame * mx };
}
