import type { PinReads, Sync } from '../port/port.js';
import type { PinDbRow, PinRow } from '../port/rows.js';
import { pinFromRow, pins as sql } from '../tables/pins.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

/** The gateway's pins: which upstream tools are exposed, and the definition each must keep. */
export class Pins implements Sync<PinReads> {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      all: prepare<PinDbRow>(db, sql.all),
      ofServer: prepare<PinDbRow>(db, sql.ofServer),
      dropServer: prepare(db, sql.dropServer),
      add: prepare(db, sql.add),
      generation: prepare<{ g: string | null }>(db, sql.generation),
    };
  }

  list(server?: string): PinRow[] {
    return (server === undefined ? this.s.all.all() : this.s.ofServer.all(server)).map(pinFromRow);
  }

  /** Replaces every pin of one server; call inside the ledger transaction that records it. */
  replace(server: string, rows: Omit<PinRow, 'server'>[]): void {
    this.s.dropServer.run(server);
    for (const r of rows) this.s.add.run(server, r.tool, r.hash, JSON.stringify(r.definition), r.pinned_at, r.pinned_by);
  }

  generation(): string {
    return this.s.generation.get()?.g ?? '';
  }
}
