// Effect sections and budget admission across processes sharing one store (ADR-019), for every store.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Op, StorePort } from '../../src/store/port/index.js';

const T = Date.UTC(2030, 0, 1);
const ROOT = join(import.meta.dirname, '../..');

export interface SectionsSuiteOptions {
  /** A second port on the same store (another process or replica sharing it). */
  twin(of: StorePort): Promise<StorePort>;
  /** ES module source for a child process that leaves the same store open as `port` (the built dist/ is importable as `./dist/...`). */
  childOpening(of: StorePort): string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Registers the suite for one store; `open` gives a fresh, empty store each time. */
export function describeSectionsSuite(name: string, open: () => Promise<StorePort>, opts: SectionsSuiteOptions): void {
  describe(`effect sections and budgets across processes: ${name}`, () => {
    it('a section is held by one port at a time across two ports on one store, granted in order, and a waiter out of time gets nothing', async () => {
      const a = await open();
      const b = await opts.twin(a);
      const key = `resource:${randomUUID()}`;
      try {
        const first = await a.sections?.acquire(key, 1000);
        expect(first).toBeTypeOf('function');
        expect(await b.sections?.acquire(key, 50)).toBeNull();
        const order: string[] = [];
        const second = b.sections?.acquire(key, 5000).then((r) => (order.push('b'), r));
        await sleep(30);
        const third = a.sections?.acquire(key, 5000).then((r) => (order.push('a'), r));
        await sleep(30);
        await first?.();
        const r2 = await second;
        expect(order).toEqual(['b']);
        await r2?.();
        const r3 = await third;
        expect(order).toEqual(['b', 'a']);
        await r3?.();
        // Free again: taken at once.
        const again = await b.sections?.acquire(key, 200);
        expect(again).toBeTypeOf('function');
        await again?.();
      } finally {
        await b.close();
        await a.close();
      }
    });

    it('a waiter that is cancelled gives up its place, and distinct resources never wait for each other', async () => {
      const a = await open();
      const b = await opts.twin(a);
      const key = `resource:${randomUUID()}`;
      try {
        const held = await a.sections?.acquire(key, 1000);
        const cancel = new AbortController();
        const waiting = b.sections?.acquire(key, 10_000, cancel.signal);
        await sleep(30);
        cancel.abort();
        expect(await waiting).toBeNull();
        const other = await b.sections?.acquire(`resource:${randomUUID()}`, 200);
        expect(other).toBeTypeOf('function');
        await other?.();
        await held?.();
        const next = await b.sections?.acquire(key, 1000);
        expect(next).toBeTypeOf('function');
        await next?.();
      } finally {
        await b.close();
        await a.close();
      }
    });

    it('a section whose holding process is killed with SIGKILL is freed for the next waiter', async () => {
      const a = await open();
      const key = `resource:${randomUUID()}`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', `${opts.childOpening(a)}\nconst r = await port.sections.acquire(${JSON.stringify(key)}, 5000);\nprocess.stdout.write(r ? 'held\\n' : 'not held\\n');\nsetInterval(() => {}, 1000);`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        let out = '';
        let err = '';
        child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`child did not take the section: ${out} ${err}`)), 20_000);
          child.stdout.on('data', (c: Buffer) => {
            out += c.toString('utf8');
            if (out.includes('held')) {
              clearTimeout(timer);
              resolve();
            }
          });
        });
        expect(out.trim()).toBe('held');
        expect(await a.sections?.acquire(key, 100)).toBeNull();
        const waiting = a.sections?.acquire(key, 10_000);
        child.kill('SIGKILL');
        const from = Date.now();
        const got = await waiting;
        expect(got).toBeTypeOf('function');
        expect(Date.now() - from).toBeLessThan(5_000);
        await got?.();
      } finally {
        child.kill('SIGKILL');
        await a.close();
      }
    }, 30_000);

    it('budgets are admitted inside the commit: admissions racing on two ports never pass the max, and a refusal names the window and the total', async () => {
      const a = await open();
      const b = await opts.twin(a);
      try {
        const admit = (amount: number): Op[] => [
          { op: 'usage.admit', agent: 'alice', capability: 'c', at: T, budgets: [{ window: '1h', windowMs: 3_600_000, field: 'amount', amount, max: 100 }, { window: '1h', windowMs: 3_600_000, field: '_calls', amount: 1, max: 8 }] },
          { op: 'usage.add', agent: 'alice', capability: 'c', field: 'amount', amount, at: T },
          { op: 'usage.add', agent: 'alice', capability: 'c', field: '_calls', amount: 1, at: T },
        ];
        const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).commit(admit(7))));
        const admitted = results.filter((r) => r.ok).length;
        // 8 calls by count; 7 × 8 = 56 stays within 100.
        expect(admitted).toBe(8);
        expect(await a.usage.sum('alice', 'c', 'amount', 3_600_000, T)).toBe(56);
        expect(results.find((r) => !r.ok)).toMatchObject({ ok: false, conflict: { kind: 'budget_exceeded', window: '1h', field: '_calls', used: 8, max: 8 } });
        // An amount that would pass the sum's max is refused with the total so far; a returned amount makes room again.
        expect(await a.commit([{ op: 'usage.admit', agent: 'alice', capability: 'c', at: T, budgets: [{ window: '1h', windowMs: 3_600_000, field: 'amount', amount: 45, max: 100 }] }])).toMatchObject({
          ok: false,
          conflict: { kind: 'budget_exceeded', field: 'amount', used: 56, max: 100 },
        });
        await b.commit([{ op: 'usage.add', agent: 'alice', capability: 'c', field: 'amount', amount: -7, at: T }]);
        expect((await a.commit([{ op: 'usage.admit', agent: 'alice', capability: 'c', at: T, budgets: [{ window: '1h', windowMs: 3_600_000, field: 'amount', amount: 45, max: 100 }] }])).ok).toBe(true);
        // Not a number: never admitted.
        expect((await a.commit([{ op: 'usage.admit', agent: 'alice', capability: 'c', at: T, budgets: [{ window: '1h', windowMs: 3_600_000, field: 'amount', amount: Number.NaN, max: 100 }] }])).ok).toBe(false);
      } finally {
        await b.close();
        await a.close();
      }
    });
  });
}
