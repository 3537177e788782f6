import { setTimeout as sleep } from 'node:timers/promises';
import type { AnchorReport } from '../../anchor/anchored-verify.js';
import { verifyAnchoredLedger } from '../../anchor/verify-ledger.js';
import type { LedgerEvent } from '../../store/port/index.js';
import { EXIT, UsageError, withRuntime } from '../common.js';
import { checkpointsPath, verifyKey } from '../verify-keys.js';

const PAGE = 1000;

export interface LedgerVerifyOptions {
  workspace?: string;
  /** true: signing.checkpoints.path of mandate.yaml. */
  checkpoints?: string | true;
  pubkey?: string;
  allowUnanchored?: string;
}

export async function ledgerVerify(opts: LedgerVerifyOptions): Promise<number> {
  if (opts.pubkey !== undefined && opts.checkpoints === undefined) throw new UsageError('--pubkey goes with --checkpoints (the key checks the checkpoints\' signatures)');
  const allow = Number(opts.allowUnanchored ?? 0);
  if (!Number.isInteger(allow) || allow < 0) throw new UsageError(`--allow-unanchored must be a whole number, not \`${opts.allowUnanchored}\``);
  // Resolve the key and the checkpoints first: a wrong path is a usage error, whatever the ledger says.
  const anchors = opts.checkpoints !== undefined ? { key: verifyKey(opts.pubkey, opts.workspace), path: checkpointsPath(opts.checkpoints, opts.workspace) } : undefined;
  return withRuntime(opts.workspace, undefined, async ({ store }) => {
    const started = process.hrtime.bigint();
    let report: AnchorReport | undefined;
    let result;
    if (anchors) ({ chain: result, anchors: report } = await verifyAnchoredLedger(store.ledger, anchors.path, anchors.key, allow));
    else result = await store.ledger.verify();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    let code: number = EXIT.ok;
    if (result.ok) {
      process.stdout.write(`ledger intact: ${result.events} events, head ${result.head} (${Math.round(result.events / Math.max(seconds, 1e-9))} events/s)\n`);
    } else {
      process.stdout.write(`ledger BROKEN at seq ${result.firstBadSeq}: ${result.problem} (${result.events} events verified before it)\n`);
      code = EXIT.failed;
    }
    if (report) {
      if (report.ok) {
        process.stdout.write(`checkpoints match: ${report.checkpoints} signed checkpoints, ledger anchored up to seq ${report.anchoredSeq} of ${await store.ledger.headSeq()}\n`);
      } else {
        process.stdout.write(`checkpoints DO NOT MATCH (${report.checkpoints} valid signed checkpoints):\n${report.findings.map((f) => `  ${f.message}\n`).join('')}`);
        code = EXIT.failed;
      }
    }
    return code;
  });
}

export async function ledgerExport(opts: { workspace?: string; from?: string }): Promise<number> {
  return withRuntime(opts.workspace, undefined, async ({ store }) => {
    let after = Math.max(0, Number(opts.from ?? 1) - 1);
    for (;;) {
      const page = await store.ledger.page(after, PAGE);
      for (const e of page) process.stdout.write(`${JSON.stringify(e)}\n`);
      if (page.length < PAGE) break;
      after = (page[page.length - 1] as LedgerEvent).seq;
    }
    return EXIT.ok;
  });
}

function line(e: LedgerEvent): string {
  const reasons = e.reasons.length ? ` [${e.reasons.join(',')}]` : '';
  return `${String(e.seq).padStart(6)} ${e.time} ${e.type.padEnd(19)} agent=${e.agent} dfid=${e.dfid.slice(0, 12)}… decision=${e.decision_id ?? '-'}${reasons}\n`;
}

export async function ledgerTail(opts: { workspace?: string; lines?: string; follow?: boolean; json?: boolean }): Promise<number> {
  const n = Math.min(Math.max(Number(opts.lines ?? 20), 1), 10_000);
  return withRuntime(opts.workspace, undefined, async ({ store }) => {
    const print = (e: LedgerEvent) => process.stdout.write(opts.json ? `${JSON.stringify(e)}\n` : line(e));
    let after = Math.max(0, (await store.ledger.headSeq()) - n);
    for (const e of await store.ledger.page(after, n)) {
      print(e);
      after = e.seq;
    }
    // --follow polls the file; bounded pages, until interrupted.
    while (opts.follow) {
      await sleep(500);
      for (const e of await store.ledger.page(after, PAGE)) {
        print(e);
        after = e.seq;
      }
    }
    return EXIT.ok;
  });
}
