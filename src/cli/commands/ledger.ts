import { setTimeout as sleep } from 'node:timers/promises';
import type { LedgerEvent } from '../../store/ledger.js';
import { EXIT, withRuntime } from '../common.js';

const PAGE = 1000;

export async function ledgerVerify(opts: { workspace?: string }): Promise<number> {
  return withRuntime(opts.workspace, undefined, async ({ store }) => {
    const started = process.hrtime.bigint();
    const result = await store.ledger.verify();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (result.ok) {
      process.stdout.write(`ledger intact: ${result.events} events, head ${result.head} (${Math.round(result.events / Math.max(seconds, 1e-9))} events/s)\n`);
      return EXIT.ok;
    }
    process.stdout.write(`ledger BROKEN at seq ${result.firstBadSeq}: ${result.problem} (${result.events} events verified before it)\n`);
    return EXIT.failed;
  });
}

export async function ledgerExport(opts: { workspace?: string; jsonl?: boolean; from?: string }): Promise<number> {
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
