import type { KeyObject } from 'node:crypto';
import type { Ledger } from '../store/ledger.js';
import { checkAnchors, type AnchorReport } from './anchored-verify.js';
import { readCheckpoints } from './checkpoint.js';

/** The ledger's chain check and its comparison with the signed checkpoints, as `mandate ledger verify --checkpoints` runs them. */
export function verifyAnchoredLedger(ledger: Ledger, checkpointsPath: string, publicKey: KeyObject, allowUnanchored = 0): { chain: ReturnType<Ledger['verify']>; anchors: AnchorReport } {
  const chain = ledger.verify();
  const { valid, bad } = readCheckpoints(checkpointsPath, publicKey);
  const view = { headSeq: ledger.headSeq(), hashAt: (seq: number) => ledger.page(seq - 1, 1).find((e) => e.seq === seq)?.hash };
  return { chain, anchors: checkAnchors(view, valid, bad, allowUnanchored) };
}
