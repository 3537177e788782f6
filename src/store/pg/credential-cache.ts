import type { CredentialRow } from '../port/rows.js';
import type { PgListener } from './listener.js';

/** How long a live credential is trusted without a read, at most, even with no notification (a revocation written by hand, a silent connection). */
export const CREDENTIAL_CACHE_MS = 10_000;
const MAX_ENTRIES = 1_000;

/**
 * Live API-key rows by key hash, so that an HTTP request on PostgreSQL does
 * not spend a round trip on its credential (ADR-042). Only found rows are
 * kept, and only while the store's listener is connected: every revocation
 * committed through a store (a key's own, or the end of a sub-mandate, which
 * revokes its agent's keys) announces `credential`, which empties the cache
 * in every process, and this process's own revocations empty it before their
 * commit returns. A read that a revocation may have overtaken (one announced
 * while it ran, or a reconnection) is answered but not kept.
 */
export class CredentialCache {
  private readonly rows = new Map<string, { row: CredentialRow; generation: number; at: number }>();
  /** Bumped by every revocation seen: a read begun before one is not kept. */
  private version = 0;
  private subscribed = false;

  constructor(
    private readonly listener: PgListener,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async byHash(keyHash: string, read: () => Promise<CredentialRow | null>): Promise<CredentialRow | null> {
    // Subscribing at the first lookup keeps CLI commands, which never authenticate, off the listening connection.
    if (!this.subscribed) {
      this.subscribed = true;
      this.listener.on('credential', () => this.clear());
    }
    const generation = this.listener.generation();
    const at = this.now();
    const hit = this.rows.get(keyHash);
    if (hit && generation !== null && hit.generation === generation && at - hit.at < CREDENTIAL_CACHE_MS) return hit.row;
    const version = this.version;
    const row = await read();
    this.rows.delete(keyHash);
    if (row && generation !== null && this.version === version && this.listener.generation() === generation) {
      if (this.rows.size >= MAX_ENTRIES) this.rows.delete(this.rows.keys().next().value as string);
      this.rows.set(keyHash, { row, generation, at });
    }
    return row;
  }

  /** Forgets every row: a credential was revoked somewhere. */
  clear(): void {
    this.version++;
    this.rows.clear();
  }
}
