import type { Db } from './db.js';

/** An upstream tool's definition as an operator pinned it (ADR-008). */
export interface PinnedDefinition {
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

export interface PinRow {
  server: string;
  tool: string;
  /** sha256 of the canonical JSON of the definition. */
  hash: string;
  definition: PinnedDefinition;
  pinned_at: number;
  pinned_by: string;
}

interface Row {
  server: string;
  tool: string;
  hash: string;
  definition: string;
  pinned_at: number;
  pinned_by: string;
}

/** The gateway's pins: which upstream tools are exposed, and the definition each must keep. */
export class Pins {
  private readonly all;
  private readonly ofServer;
  private readonly del;
  private readonly ins;
  private readonly gen;

  constructor(private readonly db: Db) {
    this.all = db.prepare<[], Row>('SELECT * FROM upstream_pins ORDER BY server, tool');
    this.ofServer = db.prepare<[string], Row>('SELECT * FROM upstream_pins WHERE server = ? ORDER BY tool');
    this.del = db.prepare<[string]>('DELETE FROM upstream_pins WHERE server = ?');
    this.ins = db.prepare<[string, string, string, string, number, string]>('INSERT INTO upstream_pins (server, tool, hash, definition, pinned_at, pinned_by) VALUES (?, ?, ?, ?, ?, ?)');
    this.gen = db.prepare<[], { g: string | null }>("SELECT group_concat(server || '.' || tool || '=' || hash, ';') AS g FROM (SELECT server, tool, hash FROM upstream_pins ORDER BY server, tool)");
  }

  list(server?: string): PinRow[] {
    const rows = server === undefined ? this.all.all() : this.ofServer.all(server);
    return rows.map((r) => ({ ...r, definition: JSON.parse(r.definition) as PinnedDefinition }));
  }

  /** Replaces every pin of one server; call inside the ledger transaction that records it. */
  replace(server: string, rows: Omit<PinRow, 'server'>[]): void {
    this.del.run(server);
    for (const r of rows) this.ins.run(server, r.tool, r.hash, JSON.stringify(r.definition), r.pinned_at, r.pinned_by);
  }

  /** A cheap fingerprint of every pin: it changes whenever any pin does (a serving process polls it). */
  generation(): string {
    return this.gen.get()?.g ?? '';
  }
}
