// The gateway's pins: which upstream tools are exposed, and the definition each must keep (ADR-008).
import type { PinDbRow, PinnedDefinition, PinRow } from '../port/rows.js';
import type { Sql } from './sql.js';

export const pins = {
  all: 'SELECT * FROM upstream_pins ORDER BY server, tool',
  ofServer: 'SELECT * FROM upstream_pins WHERE server = $1 ORDER BY tool',
  dropServer: 'DELETE FROM upstream_pins WHERE server = $1',
  add: 'INSERT INTO upstream_pins (server, tool, hash, definition, pinned_at, pinned_by) VALUES ($1, $2, $3, $4, $5, $6)',
  generation: {
    sqlite: "SELECT group_concat(server || '.' || tool || '=' || hash, ';') AS g FROM (SELECT server, tool, hash FROM upstream_pins ORDER BY server, tool)",
    pg: "SELECT string_agg(server || '.' || tool || '=' || hash, ';' ORDER BY server, tool) AS g FROM upstream_pins",
  },
} satisfies Record<string, Sql>;

export const pinFromRow = (r: PinDbRow): PinRow => ({ ...r, definition: JSON.parse(r.definition) as PinnedDefinition });
