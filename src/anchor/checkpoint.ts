import type { KeyObject } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { signObject, verifyObject, type SignedObject } from '../core/signed.js';

/** Domain tag of a checkpoint signature (ADR-016). */
export const CHECKPOINT_TAG = 'mandate-checkpoint-v1';

/** A signed statement: at `time`, the ledger's head was event `seq` with hash `hash`. */
export interface CheckpointFields {
  v: 1;
  seq: number;
  hash: string;
  time: string;
}

export type Checkpoint = SignedObject<CheckpointFields>;

/** A checkpoint line as read back, with where it came from. */
export interface ReadCheckpoint {
  checkpoint: Checkpoint;
  source: string;
}

/** A line that is not a valid checkpoint under the given key: a forgery or damage, always reported. */
export interface BadCheckpoint {
  source: string;
  problem: string;
}

export function signCheckpoint(fields: CheckpointFields, privateKey: KeyObject): Checkpoint {
  return signObject(CHECKPOINT_TAG, fields, privateKey);
}

/** A destination ending in .jsonl is one file; anything else is a folder with one file per UTC day. */
export function isFileDestination(path: string): boolean {
  return path.endsWith('.jsonl');
}

function fileFor(path: string, time: string): string {
  return isFileDestination(path) ? path : join(path, `checkpoints-${time.slice(0, 10)}.jsonl`);
}

/**
 * Appends one checkpoint as a JSON line and fsyncs it. O_APPEND only: the
 * writer never reads, rewrites or truncates, so the destination can be an
 * append-only file (chattr +a) or a write-once store.
 */
export function appendCheckpoint(path: string, checkpoint: Checkpoint): void {
  const file = fileFor(path, checkpoint.time);
  mkdirSync(dirname(file), { recursive: true });
  const fd = openSync(file, 'a', 0o644);
  try {
    writeSync(fd, `${JSON.stringify(checkpoint)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The files a destination holds, in name order (a folder's *.jsonl files). */
function filesOf(path: string): string[] {
  if (!existsSync(path)) throw new Error(`no checkpoints at \`${path}\``);
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => join(path, f));
}

/** Reads every checkpoint of a file or folder and checks each signature; sorted by seq. */
export function readCheckpoints(path: string, publicKey: KeyObject): { valid: ReadCheckpoint[]; bad: BadCheckpoint[] } {
  const valid: ReadCheckpoint[] = [];
  const bad: BadCheckpoint[] = [];
  for (const file of filesOf(path)) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      const source = `${file}:${i + 1}`;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        bad.push({ source, problem: 'not JSON (a torn or damaged line)' });
        return;
      }
      const check = verifyObject(CHECKPOINT_TAG, value, publicKey);
      if (!check.ok) return bad.push({ source, problem: check.problem });
      const c = value as Checkpoint;
      if (c.v !== 1 || !Number.isInteger(c.seq) || c.seq < 1 || typeof c.hash !== 'string' || typeof c.time !== 'string') {
        return bad.push({ source, problem: 'signed, but not a version 1 checkpoint' });
      }
      valid.push({ checkpoint: c, source });
    });
  }
  valid.sort((a, b) => a.checkpoint.seq - b.checkpoint.seq);
  return { valid, bad };
}

/** The highest valid checkpoint in the newest file of a destination (null if none): what a starting server compares its ledger with. */
export function lastCheckpoint(path: string, publicKey: KeyObject): Checkpoint | null {
  if (!existsSync(path)) return null;
  const newest = filesOf(path).at(-1);
  if (newest === undefined) return null;
  return readCheckpoints(newest, publicKey).valid.at(-1)?.checkpoint ?? null;
}
