/**
 * Tamper trials: each kind of tamper, many times, on fresh copies of a
 * ledger that a server anchored with signed checkpoints. A tamper counts as
 * detected when `ledger verify --checkpoints` (the same code, in process)
 * fails; the chain-only verdict is counted alongside, to show what the
 * checkpoints add.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPublicKey } from '../../src/anchor/signing-key.js';
import { verifyAnchoredLedger } from '../../src/anchor/verify-ledger.js';
import { systemWorld } from '../../src/core/world.js';
import { sqlitePort } from '../../src/store/sqlite/port.js';
import { openStore } from '../../src/store/sqlite/store.js';
import { tamper, TAMPERS, type TamperKind } from './tamper.js';

export interface TamperFigures {
  kind: TamperKind;
  trials: number;
  detected: number;
  detectedByChainAlone: number;
}

/** Runs `perKind` trials of every tamper against copies of `dir` (its mandate.db, checkpoints and public key). */
export async function tamperTrials(dir: string, perKind: number): Promise<TamperFigures[]> {
  const key = readPublicKey(join(dir, 'keys', 'signing.pub'));
  const scratch = mkdtempSync(join(tmpdir(), 'mandate-tamper-'));
  const out: TamperFigures[] = [];
  try {
    // The untouched copy must verify, or every "detection" below means nothing.
    const clean = copy(dir, join(scratch, 'clean'));
    if (!(await verdict(clean, key)).anchored) throw new Error('the untouched ledger does not verify against its checkpoints');
    for (const kind of TAMPERS) {
      const f: TamperFigures = { kind, trials: 0, detected: 0, detectedByChainAlone: 0 };
      for (let i = 0; i < perKind; i++) {
        const target = copy(dir, join(scratch, `${kind}-${i}`));
        const checkpointFile = join(target, 'checkpoints', readdirSync(join(target, 'checkpoints')).sort().at(-1) as string);
        tamper(kind, join(target, 'mandate.db'), checkpointFile);
        const v = await verdict(target, key);
        f.trials++;
        if (!v.anchored) f.detected++;
        if (!v.chain) f.detectedByChainAlone++;
        rmSync(target, { recursive: true, force: true });
      }
      out.push(f);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return out;
}

function copy(dir: string, to: string): string {
  cpSync(dir, to, { recursive: true, filter: (src) => !src.includes(`${dir}/sandbox`) });
  return to;
}

async function verdict(dir: string, key: ReturnType<typeof readPublicKey>): Promise<{ chain: boolean; anchored: boolean }> {
  const path = join(dir, 'mandate.db');
  const store = sqlitePort(openStore(path, systemWorld), path);
  try {
    const { chain, anchors } = await verifyAnchoredLedger(store.ledger, join(dir, 'checkpoints'), key);
    return { chain: chain.ok, anchored: chain.ok && anchors.ok };
  } finally {
    await store.close();
  }
}
