import type { Sensitivity } from '../../core/types.js';
import { MEMORY_LIST_LIMIT } from '../port/constants.js';
import type { MemoryReads, Sync } from '../port/port.js';
import type { MemoryRecord, MemoryRow } from '../port/rows.js';
import { memory as sql, memoryFromRow } from '../tables/memory.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

/** Scoped, versioned records and named packs of keys. Agents write only through memory.write. */
export class Memory implements Sync<MemoryReads> {
  private readonly s;

  constructor(private readonly db: Db) {
    this.s = {
      get: prepare<MemoryRow>(db, sql.get),
      list: prepare<MemoryRow>(db, sql.list),
      seed: prepare(db, sql.seed),
      create: prepare(db, sql.create),
      update: prepare(db, sql.update),
      pack: prepare<{ keys: string }>(db, sql.pack),
      setPack: prepare(db, sql.setPack),
    };
  }

  get(scope: string, key: string): MemoryRecord | null {
    const row = this.s.get.get(scope, key);
    return row ? memoryFromRow(row) : null;
  }

  list(scope: string): MemoryRecord[] {
    return this.s.list.all(scope, MEMORY_LIST_LIMIT).map(memoryFromRow);
  }

  pack(scope: string, pack: string): string[] | null {
    const row = this.s.pack.get(scope, pack);
    return row ? (JSON.parse(row.keys) as string[]) : null;
  }

  seed(records: { scope: string; key: string; sensitivity: Sensitivity; value: unknown }[], packs: { scope: string; pack: string; keys: string[] }[], at: number): void {
    this.db.transaction(() => {
      for (const r of records) this.s.seed.run(r.scope, r.key, JSON.stringify(r.value ?? null), r.sensitivity, at);
      for (const p of packs) this.s.setPack.run(p.scope, p.pack, JSON.stringify(p.keys));
    })();
  }

  /**
   * Compare-and-set: `expected` 0 creates the record, otherwise the stored
   * version must equal it. Returns the new version, or null if it moved.
   */
  write(w: { scope: string; key: string; value: unknown; sensitivity: Sensitivity; provenance: string; expected: number; at: number }): number | null {
    const value = JSON.stringify(w.value ?? null);
    if (w.expected === 0) return this.s.create.run(w.scope, w.key, value, w.sensitivity, w.provenance, w.at).changes === 1 ? 1 : null;
    return this.s.update.run(w.scope, w.key, value, w.sensitivity, w.provenance, w.at, w.expected).changes === 1 ? w.expected + 1 : null;
  }
}
