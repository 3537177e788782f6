import type { RunnerReads, Sync } from '../port/port.js';
import type { RunnerRow } from '../port/rows.js';
import { runners as sql } from '../tables/runners.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

/**
 * The processes sharing this store that can run effects (ADR-017). A started
 * effect names its runner; crash recovery settles only the effects of runners
 * that are gone.
 */
export class Runners implements Sync<RunnerReads> {
  private readonly s;

  constructor(db: Db) {
    this.s = { beat: prepare(db, sql.beat), remove: prepare(db, sql.remove), list: prepare<RunnerRow>(db, sql.list) };
  }

  beat(row: RunnerRow): void {
    this.s.beat.run(row.id, row.host, row.pid, row.started_at, row.heartbeat_at);
  }

  remove(id: string): void {
    this.s.remove.run(id);
  }

  list(): RunnerRow[] {
    return this.s.list.all();
  }
}
