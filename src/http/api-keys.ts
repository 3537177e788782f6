import { createHash, randomBytes } from 'node:crypto';
import type { World } from '../core/world.js';
import type { Op } from '../store/port/index.js';

/** Every Mandate API key starts with this, so leaked keys are easy to scan for. */
export const KEY_PREFIX = 'mdt_';
const KEY_PATTERN = /^mdt_[A-Za-z0-9_-]{43}$/;

/** A new high-entropy key (256 random bits), its SHA-256 hash (what is stored) and a display prefix. */
export function mintKey(): { key: string; hash: string; prefix: string } {
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { key, hash: hashKey(key), prefix: key.slice(0, 12) };
}

/** SHA-256 of the key. A plain hash suffices: the key is random, not a password. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function looksLikeKey(token: string): boolean {
  return KEY_PATTERN.test(token);
}

/** A short credential id, e.g. `key_3f9a0c1b2d4e`. */
export function newCredentialId(): string {
  return `key_${randomBytes(6).toString('hex')}`;
}

/**
 * A new agent key and the unit that records it (the credential, by its hash,
 * and a CredentialCreated event). The key itself is returned once, never stored.
 */
export function agentKeyUnit(world: World, agent: string, by: string, label: string | null): { key: string; id: string; unit: Op[] } {
  const minted = mintKey();
  const id = newCredentialId();
  return {
    key: minted.key,
    id,
    unit: [
      { op: 'credential.add', row: { id, kind: 'agent', principal: agent, role: 'agent', key_hash: minted.hash, key_prefix: minted.prefix, label, created_at: world.now(), created_by: by } },
      { op: 'event', event: { dfid: world.newTraceId(), agent, type: 'CredentialCreated', decision_id: id, data: { credential_id: id, kind: 'agent', role: 'agent', by } } },
    ],
  };
}
