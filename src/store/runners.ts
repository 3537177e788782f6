import type { Db } from './db.js';

/** A process that may run effects: where it lives and when it last said so. */
export interface RunnerRow {
  id: string;
  host: string;
  pid: number;
  started_at: number;
  heartbeat_at: number;
}

/**
 * The processes sharing this store that can run effects (ADR-017). A started
 * effect names its runner; crash recovery settles only the effects of runners
 * that are gone.
 */
export class Runners {
  private readonly upsertStmt;
  private readonly removeStmt;
  private readonly listStmt;

  constructor(db: Db) {
    this.upsertStmt = db.prepare(
      `INSERT INTO runners (id, host, pid, started_at, heartbeat_at) VALUES (@id, @host, @pid, @started_at, @heartbeat_at)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = @heartbeat_at`,
    );
    this.removeStmt = db.prepare('DELETE FROM runners WHERE id = ?');
    this.listStmt = db.prepare<[], RunnerRow>('SELECT * FROM runners ORDER BY started_at, id');
  }

  beat(row: RunnerRow): void {
    this.upsertStmt.run(row);
  }

  remove(id: string): void {
    this.removeStmt.run(id);
  }

  list(): RunnerRow[] {
    return this.listStmt.all();
  }
}
