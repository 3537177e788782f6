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

/** Scoped, versioned records. Writes here come only from seeding (and, later, memory.write). */
export class Memory {
  private readonly getStmt;
  private readonly seedStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string, string], Row>('SELECT * FROM memory WHERE scope = ? AND key = ?');
    // A seed only creates a record or moves it to a newer seeded value; it never rewinds a version.
    this.seedStmt = db.prepare(
      `INSERT INTO memory (scope, key, version, value, sensitivity, provenance, created_at, updated_at)
       VALUES (@scope, @key, 1, @value, @sensitivity, 'human:workspace-seed', @at, @at)
       ON CONFLICT (scope, key) DO UPDATE SET value = @value, sensitivity = @sensitivity,
         version = memory.version + 1, updated_at = @at, provenance = 'human:workspace-seed'
       WHERE memory.value <> @value OR memory.sensitivity <> @sensitivity`,
    );
  }

  get(scope: string, key: string): MemoryRecord | null {
    const row = this.getStmt.get(scope, key);
    return row ? { ...row, value: JSON.parse(row.value) as unknown } : null;
  }

  seed(records: { scope: string; key: string; sensitivity: Sensitivity; value: unknown }[], at: number): void {
    this.db.transaction(() => {
      for (const r of records) this.seedStmt.run({ ...r, value: JSON.stringify(r.value ?? null), at });
    })();
  }
}
