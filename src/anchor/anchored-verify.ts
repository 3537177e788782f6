import type { BadCheckpoint, ReadCheckpoint } from './checkpoint.js';

/** What the ledger looks like to the anchored check: its head and the hash at any sequence. */
export interface LedgerView {
  headSeq: number;
  hashAt(seq: number): string | undefined;
}

export type AnchorFinding =
  | { kind: 'bad_checkpoint'; source: string; message: string }
  | { kind: 'truncated'; fromSeq: number; toSeq: number; message: string }
  | { kind: 'rewritten'; seq: number; lastGoodSeq: number; message: string }
  | { kind: 'unanchored_tail'; fromSeq: number; toSeq: number; message: string };

export interface AnchorReport {
  ok: boolean;
  checkpoints: number;
  /** Highest sequence a valid checkpoint vouches for and the ledger still matches. */
  anchoredSeq: number;
  findings: AnchorFinding[];
}

/**
 * Compares the ledger with its signed checkpoints (ADR-016). Pure: the caller
 * reads the files and the store. Each valid checkpoint says "at time T the
 * head was (seq, hash)"; the ledger must still hold exactly that event. A
 * missing event is a truncation, a different hash a rewrite (a forged append
 * onto a shortened chain, or a full re-hash), and events after the last
 * checkpoint are reported as not anchored unless at most `allowUnanchored`.
 */
export function checkAnchors(ledger: LedgerView, valid: ReadCheckpoint[], bad: BadCheckpoint[], allowUnanchored = 0): AnchorReport {
  const findings: AnchorFinding[] = bad.map((b) => ({ kind: 'bad_checkpoint' as const, source: b.source, message: `checkpoint ${b.source}: ${b.problem}` }));
  let lastGood = 0;
  let lastGoodTime = '';
  let firstRewrite: AnchorFinding | undefined;
  let highest: ReadCheckpoint | undefined;
  for (const read of valid) {
    const c = read.checkpoint;
    if (!highest || c.seq > highest.checkpoint.seq) highest = read;
    if (c.seq > ledger.headSeq) continue; // reported once below, as a truncation
    const hash = ledger.hashAt(c.seq);
    if (hash === c.hash) {
      if (!firstRewrite) {
        lastGood = c.seq;
        lastGoodTime = c.time;
      }
      continue;
    }
    firstRewrite ??= {
      kind: 'rewritten',
      seq: c.seq,
      lastGoodSeq: lastGood,
      message: `event ${c.seq} is not the one the checkpoint signed at ${c.time} vouches for (hash ${c.hash.slice(0, 12)}…, ledger has ${(hash ?? 'none').slice(0, 12)}…): events ${lastGood + 1}..${c.seq} were rewritten or replaced${lastGood ? ` (the checkpoint at ${lastGoodTime} still matches seq ${lastGood})` : ''}`,
    };
  }
  if (firstRewrite) findings.push(firstRewrite);
  if (highest && highest.checkpoint.seq > ledger.headSeq) {
    const c = highest.checkpoint;
    findings.push({
      kind: 'truncated',
      fromSeq: ledger.headSeq + 1,
      toSeq: c.seq,
      message: `ledger truncated: the checkpoint signed at ${c.time} vouches for seq ${c.seq}, but the ledger ends at seq ${ledger.headSeq}: events ${ledger.headSeq + 1}..${c.seq} are missing`,
    });
  }
  const anchoredTo = highest ? highest.checkpoint.seq : 0;
  const unanchored = ledger.headSeq - anchoredTo;
  if (unanchored > allowUnanchored) {
    findings.push({
      kind: 'unanchored_tail',
      fromSeq: anchoredTo + 1,
      toSeq: ledger.headSeq,
      message: `events ${anchoredTo + 1}..${ledger.headSeq} come after the last checkpoint${highest ? ` (seq ${anchoredTo}, signed ${highest.checkpoint.time})` : ' (there is none)'} and are not anchored: written since, or appended by someone else`,
    });
  }
  return { ok: findings.length === 0, checkpoints: valid.length, anchoredSeq: firstRewrite ? lastGood : Math.min(anchoredTo, ledger.headSeq), findings };
}
