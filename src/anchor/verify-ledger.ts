import type { KeyObject } from 'node:crypto';
import type { VerifyResult } from '../store/port/index.js';
import type { StorePort } from '../store/port/index.js';
import { checkAnchors, type AnchorReport } from './anchored-verify.js';
import { readCheckpoints } from './checkpoint.js';

/** The ledger's chain check and its comparison with the signed checkpoints, as `mandate ledger verify --checkpoints` runs them. */
export async function verifyAnchoredLedger(ledger: StorePort['ledger'], checkpointsPath: string, publicKey: KeyObject, allowUnanchored = 0): Promise<{ chain: VerifyResult; anchors: AnchorReport }> {
  const chain = await ledger.verify();
  const { valid, bad } = readCheckpoints(checkpointsPath, publicKey);
  const headSeq = await ledger.headSeq();
  // The hash the ledger holds now at each checkpointed sequence (the comparison itself is pure).
  const hashes = new Map<number, string>();
  for (const seq of new Set(valid.map((v) => v.checkpoint.seq))) {
    if (seq < 1 || seq > headSeq) continue;
    const hash = (await ledger.page(seq - 1, 1)).find((e) => e.seq === seq)?.hash;
    if (hash !== undefined) hashes.set(seq, hash);
  }
  return { chain, anchors: checkAnchors({ headSeq, hashAt: (seq) => hashes.get(seq) }, valid, bad, allowUnanchored) };
}
