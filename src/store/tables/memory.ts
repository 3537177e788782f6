// Scoped, versioned memory records and named packs of keys.
import type { MemoryRecord, MemoryRow } from '../port/rows.js';
import type { Sql } from './sql.js';

export const memory = {
  get: 'SELECT * FROM memory WHERE scope = $1 AND key = $2',
  list: 'SELECT * FROM memory WHERE scope = $1 ORDER BY key LIMIT $2',
  // A seed creates a record, or moves a still-seeded record to a newer seeded
  // value (a new version); it never overwrites what an agent wrote since.
  seed: `INSERT INTO memory (scope, key, version, value, sensitivity, provenance, created_at, updated_at)
    VALUES ($1, $2, 1, $3, $4, 'human:workspace-seed', $5, $5)
    ON CONFLICT (scope, key) DO UPDATE SET value = EXCLUDED.value, sensitivity = EXCLUDED.sensitivity,
      version = memory.version + 1, updated_at = EXCLUDED.updated_at, provenance = 'human:workspace-seed'
    WHERE memory.provenance = 'human:workspace-seed' AND (memory.value <> EXCLUDED.value OR memory.sensitivity <> EXCLUDED.sensitivity)`,
  /** Compare-and-set with expected version 0: creates the record, or changes nothing. */
  create: `INSERT INTO memory (scope, key, version, value, sensitivity, provenance, created_at, updated_at) VALUES ($1, $2, 1, $3, $4, $5, $6, $6)
    ON CONFLICT (scope, key) DO NOTHING`,
  /** Compare-and-set: the stored version must be $7. */
  update: 'UPDATE memory SET value = $3, sensitivity = $4, provenance = $5, version = version + 1, updated_at = $6 WHERE scope = $1 AND key = $2 AND version = $7',
  pack: 'SELECT keys FROM memory_packs WHERE scope = $1 AND pack = $2',
  setPack: 'INSERT INTO memory_packs (scope, pack, keys) VALUES ($1, $2, $3) ON CONFLICT (scope, pack) DO UPDATE SET keys = EXCLUDED.keys',
} satisfies Record<string, Sql>;

export function memoryFromRow(row: MemoryRow): MemoryRecord {
  return { ...row, value: JSON.parse(row.value) as unknown };
}
