// Shared helpers for the in-process unit and integration tests.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { z } from 'zod';
import { toCapability, type Capability, type CapabilityDefinition } from '../../src/capabilities/manifest.js';
import { ContractSchema, type Contract } from '../../src/config/contract-schema.js';
import { silentLogger } from '../../src/core/log.js';
import type { GovernedCall, Intent } from '../../src/core/types.js';
import type { World } from '../../src/core/world.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import type { LedgerEvent } from '../../src/store/port/index.js';
import { openDb, type Db } from '../../src/store/sqlite/db.js';
import { Ledger } from '../../src/store/sqlite/ledger.js';
import { openStore, type Store } from '../../src/store/sqlite/store.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TEMPLATE = join(ROOT, 'templates', 'workspace');

/** A fixed epoch the fake clocks start from: 2030-01-01T00:00:00.000Z. */
export const T0 = Date.UTC(2030, 0, 1);

/**
 * A deterministic World: the clock only moves when a test moves it; ids and
 * trace ids come from a counter (with a prefix so two worlds never collide).
 */
export class FakeWorld implements World {
  private t: number;
  private ids = 0;
  private traces = 0;

  constructor(
    start = T0,
    private readonly prefix = 'id',
  ) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  newId(): string {
    this.ids++;
    return `${this.prefix}-${String(this.ids).padStart(6, '0')}`;
  }

  newTraceId(): string {
    this.traces++;
    // 32 lowercase hex characters, never all zeros.
    return `${this.prefix === 'id' ? 'f' : 'e'}${this.traces.toString(16).padStart(31, '0')}`;
  }

  advance(ms: number): void {
    this.t += ms;
  }

  set(ms: number): void {
    this.t = ms;
  }

  /** How many trace ids this world minted. */
  get mintedTraceIds(): number {
    return this.traces;
  }
}

/** A temp directory removed by `cleanup()`. */
export function tempDir(prefix = 'mandate-unit-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A ledger on a SQLite file of its own in a temp dir, with a fake world; `close` removes it all. */
export function ledgerFile(): { dir: string; path: string; db: Db; world: FakeWorld; ledger: Ledger; close(): void } {
  const tmp = tempDir();
  const path = join(tmp.dir, 'ledger.db');
  const db = openDb(path);
  const world = new FakeWorld();
  return {
    dir: tmp.dir,
    path,
    db,
    world,
    ledger: new Ledger(db, world),
    close: () => {
      db.close();
      tmp.cleanup();
    },
  };
}

/** Copies the example workspace into a fresh temp dir; `edit` may patch files (paths relative to the workspace). */
export function copyTemplate(edit?: Record<string, (text: string) => string>): { dir: string; cleanup(): void } {
  const tmp = tempDir('mandate-ws-');
  cpSync(TEMPLATE, tmp.dir, { recursive: true });
  for (const [rel, fn] of Object.entries(edit ?? {})) {
    const path = join(tmp.dir, rel);
    let before = '';
    try {
      before = readFileSync(path, 'utf8');
    } catch {
      before = '';
    }
    const after = fn(before);
    if (after === before && before !== '') throw new Error(`edit of ${rel} changed nothing`);
    writeFileSync(path, after);
  }
  return tmp;
}

/** Replaces exactly one occurrence (fails loudly if the template changed under the test). */
export function replaceOnce(search: string, replacement: string): (text: string) => string {
  return (text) => {
    const at = text.indexOf(search);
    if (at < 0 || text.indexOf(search, at + 1) >= 0) throw new Error(`expected exactly one \`${search}\``);
    return text.slice(0, at) + replacement + text.slice(at + search.length);
  };
}

export function openTest(dir: string, world: World): Promise<Runtime> {
  return openRuntime(dir, silentLogger, world);
}

export function readBook(dir: string): { version: number; accounts: Record<string, { balance_minor: number }>; transfers: unknown[] } {
  return JSON.parse(readFileSync(join(dir, 'data', 'books.json'), 'utf8')) as never;
}

export function call(agent: string, intent: Intent, extra: Partial<GovernedCall> = {}): GovernedCall {
  return { agent, intent, channel: 'cli', ...extra };
}

export function transfer(amount_minor: number, extra: Partial<Intent> = {}, params: Record<string, unknown> = {}): Intent {
  return {
    capability: 'payments.transfer',
    params: { from_account: 'operating', payee: 'acme-supplies', amount_minor, currency: 'EUR', ...params },
    ...extra,
  };
}

/** A W3C traceparent for a trace id (parent id fixed, sampled). */
export function traceparent(traceId: string, parentId = '00f067aa0ba902b7'): string {
  return `00-${traceId}-${parentId}-01`;
}

// ---- Pure fixtures for DIM and policy tests -------------------------------------

export function contract(raw: Record<string, unknown>): Contract {
  return ContractSchema.parse({ version: 1, owner: 'tests@example.com', mission: 'test', role: 'agent', ...raw });
}

/** A payments.transfer capability like the template's, with facts supplied by the test. */
export function transferCapability(extra: Partial<CapabilityDefinition> = {}): Capability {
  const def: CapabilityDefinition = {
    id: 'payments.transfer',
    version: '1.0.0',
    description: 'Transfer money to a payee (test double).',
    sideEffect: 'write',
    input: z.object({
      from_account: z.string(),
      payee: z.string().regex(/^[a-z-]+$/),
      amount_minor: z.number().int().positive(),
      currency: z.enum(['EUR', 'USD']),
    }),
    output: z.object({ ok: z.boolean() }),
    invariants: [
      { id: 'currency_matches_account', message: 'currency differs from the account currency', check: ({ params, facts }) => params['currency'] === facts['account_currency'] },
      { id: 'sufficient_funds', message: 'amount is larger than the balance', check: ({ values, facts }) => (values['amount_minor'] as number) <= (facts['balance_minor'] as number) },
    ],
    handler: () => ({ ok: true }),
    ...extra,
  };
  return toCapability(def, 'test');
}

export const aliceContract = (): Contract =>
  contract({
    agent: 'alice',
    default_ttl_seconds: 300,
    grants: [
      {
        capability: 'payments.transfer',
        limits: {
          max: { amount_minor: 50000 },
          min: { amount_minor: 1 },
          allowed: { currency: ['EUR'] },
          budgets: [
            { window: '1d', sum: 'amount_minor', max: 200000 },
            { window: '1h', max_calls: 30 },
          ],
        },
      },
    ],
    escalation: { rules: [{ capability: 'payments.transfer', when: 'context.values.amount_minor > 10000', reason: 'transfers above 100.00 need a human approval' }] },
  });

// ---- A capability module for kernel tests ----------------------------------------

/**
 * `test.flaky` fails while data/flaky.json says so; `test.drifty` reports a
 * new facts version on every read. Each run of a handler appends a line to
 * data/runs.log so a test can count side effects.
 */
export const TEST_CAPABILITIES = `
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

let reads = 0;
const ran = (ctx, what) => appendFileSync(join(ctx.workspaceDir, 'data', 'runs.log'), what + '\\n');

export default function define({ z }) {
  return [
    {
      id: 'test.flaky',
      version: '1.0.0',
      description: 'Fails while data/flaky.json says fail: true (tests only).',
      sideEffect: 'write',
      input: z.object({ n: z.number().int() }),
      output: z.object({ n: z.number().int() }),
      handler(params, ctx) {
        ran(ctx, 'flaky ' + params.n);
        const path = join(ctx.workspaceDir, 'data', 'flaky.json');
        if (existsSync(path) && JSON.parse(readFileSync(path, 'utf8')).fail) throw new Error('flaky failure');
        return { n: params.n };
      },
    },
    {
      id: 'test.drifty',
      version: '1.0.0',
      description: 'Its facts move on every read (tests only).',
      sideEffect: 'write',
      input: z.object({ n: z.number().int() }),
      output: z.object({ n: z.number().int() }),
      facts: () => ({ version: String(++reads) }),
      handler(params, ctx) {
        ran(ctx, 'drifty ' + params.n);
        return { n: params.n };
      },
    },
  ];
}
`;

/** Lines in data/runs.log: one per handler run of the test capabilities. */
export function runs(dir: string): string[] {
  try {
    return readFileSync(join(dir, 'data', 'runs.log'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** A runtime on a copied template workspace, with a restart that reopens it on the same files. */
export interface Env {
  dir: string;
  world: FakeWorld;
  rt: Runtime;
  /** Closes the runtime and opens a new one on the same files (a restart). */
  restart(): Promise<Runtime>;
  /** Lines in data/runs.log: one per handler run of the counting fixture capabilities. */
  runs(): string[];
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** Runs `fn` after the current test (last registered, first run). */
export function afterTest(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}

/** Copies the template (with `edit` applied) and opens a runtime on it; both are closed after the test. */
export async function setupRuntime(edit?: Record<string, (text: string) => string>, world = new FakeWorld()): Promise<Env> {
  const ws = copyTemplate(edit);
  cleanups.push(ws.cleanup);
  const env: Env = {
    dir: ws.dir,
    world,
    rt: await openTest(ws.dir, world),
    async restart() {
      await env.rt.close();
      env.rt = await openTest(ws.dir, world);
      return env.rt;
    },
    runs: () => runs(ws.dir),
  };
  cleanups.push(() => env.rt.close());
  return env;
}

const raws = new WeakMap<Runtime, Store>();

/**
 * A second, synchronous connection to a runtime's SQLite file, for tests that
 * read (or, to stage a scenario, write) below the store port. It sees what
 * the runtime has committed; closed after the test.
 */
export function raw(rt: Runtime): Store {
  let store = raws.get(rt);
  if (!store) {
    const opened = openStore(rt.workspace.storePath, new FakeWorld(T0, 'raw'));
    cleanups.push(() => opened.close());
    raws.set(rt, opened);
    store = opened;
  }
  return store;
}

export const events = (rt: Runtime): LedgerEvent[] => raw(rt).ledger.page(0, 100_000);
export const eventsOf = (rt: Runtime, decisionId: string): LedgerEvent[] => events(rt).filter((e) => e.decision_id === decisionId);
export const typesOf = (rt: Runtime, decisionId: string): string[] => eventsOf(rt, decisionId).map((e) => e.type);
