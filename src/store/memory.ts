import type { Sensitivity } from '../core/types.js';
import type { Db } from './db.js';

export interface MemoryRecord {
  scope: string;
  key: string;
  version: number;
  value: unknown;
  sensitivity: Sensitivity;
  provenance: string;
  created_at: number;
  updated_at: number;
}

type Row = Omit<MemoryRecord, 'value'> & { value: string };

const LIST_LIMIT = 500;

/** Scoped, versioned records and named packs of keys. Agents write only through memory.write. */
export class Memory {
  private readonly getStmt;
  private readonly listStmt;
  private readonly seedStmt;
  private readonly insertStmt;
  private readonly casStmt;
  private readonly packStmt;
  private readonly setPackStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string, string], Row>('SELECT * FROM memory WHERE scope = ? AND key = ?');
    this.listStmt = db.prepare<[string, number], Row>('SELECT * FROM memory WHERE scope = ? ORDER BY key LIMIT ?');
    // A seed creates a record, or moves a still-seeded record to a newer seeded
    // value (a new version); it never overwrites what an agent wrote since.
    this.seedStmt = db.prepare(
      `INSERT INTO memory (scope, key, version, value, sensitivity, provenance, created_at, updated_at)
       VALUES (@scope, @key, 1, @value, @sensitivity, 'human:workspace-seed', @at, @at)
       ON CONFLICT (scope, key) DO UPDATE SET value = @value, sensitivity = @sensitivity,
         version = memory.version + 1, updated_at = @at, provenance = 'human:workspace-seed'
       WHERE memory.provenance = 'human:workspace-seed' AND (memory.value <> @value OR memory.sensitivity <> @sensitivity)`,
    );
    this.insertStmt = db.prepare(
      `INSERT INTO memory (scope, key, version, value, sensitivity, provenance, created_at, updated_at)
       VALUES (@scope, @key, 1, @value, @sensitivity, @provenance, @at, @at) ON CONFLICT (scope, key) DO NOTHING`,
    );
    this.casStmt = db.prepare(
      `UPDATE memory SET value = @value, sensitivity = @sensitivity, provenance = @provenance, version = version + 1, updated_at = @at
       WHERE scope = @scope AND key = @key AND version = @expected`,
    );
    this.packStmt = db.prepare<[string, string], { keys: string }>('SELECT keys FROM memory_packs WHERE scope = ? AND pack = ?');
    this.setPackStmt = db.prepare(
      'INSERT INTO memory_packs (scope, pack, keys) VALUES (@scope, @pack, @keys) ON CONFLICT (scope, pack) DO UPDATE SET keys = @keys',
    );
  }

  get(scope: string, key: string): MemoryRecord | null {
    const row = this.getStmt.get(scope, key);
    return row ? fromRow(row) : null;
  }

  /** The scope's records in key order, at most 500. */
  list(scope: string): MemoryRecord[] {
    return this.listStmt.all(scope, LIST_LIMIT).map(fromRow);
  }

  pack(scope: string, pack: string): string[] | null {
    const row = this.packStmt.get(scope, pack);
    return row ? (JSON.parse(row.keys) as string[]) : null;
  }

  seed(
    records: { scope: string; key: string; sensitivity: Sensitivity; value: unknown }[],
    packs: { scope: string; pack: string; keys: string[] }[],
    at: number,
  ): void {
    this.db.transaction(() => {
      for (const r of records) this.seedStmt.run({ ...r, value: JSON.stringify(r.value ?? null), at });
      for (const p of packs) this.setPackStmt.run({ scope: p.scope, pack: p.pack, keys: JSON.stringify(p.keys) });
    })();
  }

  /**
   * Compare-and-set: `expected` 0 creates the record, otherwise the stored
   * version must equal it. Returns the new version, or null if it moved.
   */
  write(w: { scope: string; key: string; value: unknown; sensitivity: Sensitivity; provenance: string; expected: number; at: number }): number | null {
    const value = JSON.stringify(w.value ?? null);
    if (w.expected === 0) {
      return this.insertStmt.run({ scope: w.scope, key: w.key, value, sensitivity: w.sensitivity, provenance: w.provenance, at: w.at }).changes === 1 ? 1 : null;
    }
    const changed = this.casStmt.run({ scope: w.scope, key: w.key, value, sensitivity: w.sensitivity, provenance: w.provenance, at: w.at, expected: w.expected }).changes;
    return changed === 1 ? w.expected + 1 : null;
  }
}

function fromRow(row: Row): MemoryRecord {
  return { ...row, value: JSON.parse(row.value) as unknown };
}
