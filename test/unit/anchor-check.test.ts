import { describe, expect, it } from 'vitest';
import { checkAnchors, type LedgerView } from '../../src/anchor/anchored-verify.js';
import type { ReadCheckpoint } from '../../src/anchor/checkpoint.js';

const h = (seq: number, v = '') => `${v}${seq}`.padStart(64, '0');
const view = (head: number, changedFrom = Infinity): LedgerView => ({ headSeq: head, hashAt: (s) => (s <= head ? h(s, s >= changedFrom ? 'f' : '') : undefined) });
const cps = (...seqs: number[]): ReadCheckpoint[] => seqs.map((seq) => ({ source: `cp:${seq}`, checkpoint: { v: 1, seq, hash: h(seq), time: `t${seq}`, key_id: 'k', sig: 's' } }));

describe('checkAnchors', () => {
  it('a ledger that holds every checkpointed event, up to its head, is anchored', () => {
    expect(checkAnchors(view(30), cps(10, 20, 30), [])).toEqual({ ok: true, checkpoints: 3, anchoredSeq: 30, findings: [] });
  });

  it('truncation names the missing events', () => {
    const r = checkAnchors(view(23), cps(10, 20, 30), []);
    expect(r.ok).toBe(false);
    expect(r.findings).toEqual([expect.objectContaining({ kind: 'truncated', fromSeq: 24, toSeq: 30 })]);
    expect(r.findings[0]?.message).toContain('events 24..30 are missing');
  });

  it('a rewrite from seq 15 on is named from the last checkpoint that still matches', () => {
    const r = checkAnchors(view(30, 15), cps(10, 20, 30), []);
    expect(r.findings).toEqual([expect.objectContaining({ kind: 'rewritten', seq: 20, lastGoodSeq: 10 })]);
    expect(r.findings[0]?.message).toContain('events 11..20 were rewritten or replaced');
    expect(r.anchoredSeq).toBe(10);
  });

  it('events after the last checkpoint are not anchored, unless allowed', () => {
    expect(checkAnchors(view(33), cps(10, 30), []).findings).toEqual([expect.objectContaining({ kind: 'unanchored_tail', fromSeq: 31, toSeq: 33 })]);
    expect(checkAnchors(view(33), cps(10, 30), [], 3).ok).toBe(true);
    expect(checkAnchors(view(5), [], []).findings).toEqual([expect.objectContaining({ kind: 'unanchored_tail', fromSeq: 1, toSeq: 5 })]);
  });

  it('a checkpoint line that failed its signature check is always a finding', () => {
    const r = checkAnchors(view(30), cps(30), [{ source: 'cp.jsonl:3', problem: 'signed by another key' }]);
    expect(r.findings).toEqual([expect.objectContaining({ kind: 'bad_checkpoint', message: 'checkpoint cp.jsonl:3: signed by another key' })]);
  });
});
