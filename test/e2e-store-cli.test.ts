/**
 * `mandate store migrate|status|copy`: a workspace's SQLite store, with real
 * governed calls in it, moved into an empty PostgreSQL database, chain
 * included and verified; the workspace then serves from PostgreSQL and
 * continues the same chain.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { E2E, runCli, transfer } from './helpers/e2e.js';
import { freshDatabase } from './helpers/postgres.js';
import { POSTGRES, requires } from './helpers/requires.js';

const e2e = new E2E();
const need = await requires(import.meta.url, [POSTGRES]);
let db: Awaited<ReturnType<typeof freshDatabase>>;
let ws: string;
let env: Record<string, string>;

beforeAll(async () => {
  db = await freshDatabase('storecli');
  env = { MANDATE_DATABASE_URL: db.url };
  ws = await e2e.workspace();
  const alice = await e2e.client(ws, 'alice');
  for (const amount of [1500, 2500, 3500]) {
    expect((await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: amount }) })).outcome.verdict).toBe('accepted');
  }
  await alice.close();
  expect((await runCli(['intervene', 'pause', '--agent', 'scribe', '--as', 'olga', '-w', ws])).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await e2e.cleanup();
  await db?.drop();
});

const headOf = (verifyOut: string) => /ledger intact: (\d+) events, head ([0-9a-f]{64})/.exec(verifyOut)?.slice(1);

describe.skipIf(need.skip)(need.title('mandate store'), () => {
  it('copy --from sqlite --to postgres moves the store, chain included, verifies it, and refuses a target that is not empty', async () => {
    const source = await runCli(['ledger', 'verify', '-w', ws]);
    expect(source.code).toBe(0);
    const copy = await runCli(['store', 'copy', '--from', 'sqlite', '--to', 'postgres', '--json', '-w', ws], { env });
    expect(copy.code, copy.stderr).toBe(0);
    const report = JSON.parse(copy.stdout) as { ok: boolean; rows: Record<string, number>; copy: { ok: boolean; events: number; head: string } };
    expect(report.ok).toBe(true);
    expect(report.rows['decisions']).toBe(3);
    expect(report.rows['interventions']).toBe(1);
    expect([String(report.copy.events), report.copy.head]).toEqual(headOf(source.stdout));

    const again = await runCli(['store', 'copy', '--from', 'sqlite', '--to', 'postgres', '-w', ws], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('not empty');

    const bad = await runCli(['store', 'copy', '--from', 'postgres', '--to', 'sqlite', '-w', ws], { env });
    expect(bad.code).toBe(2);
  });

  it('the workspace switched to postgres: status up to date, the same chain verifies, serving continues it, the copy keeps state (a pause)', async () => {
    const before = headOf((await runCli(['ledger', 'verify', '-w', ws])).stdout);
    const path = join(ws, 'mandate.yaml');
    const doc = parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    doc['store'] = { kind: 'postgres', url_env: 'MANDATE_DATABASE_URL' };
    writeFileSync(path, stringify(doc));

    const status = await runCli(['store', 'status', '--json', '-w', ws], { env });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ kind: 'postgres', pending: [], chain_head: Number(before?.[0]) });
    expect((await runCli(['store', 'migrate', '-w', ws], { env })).stdout).toMatch(/up to date/);
    expect(headOf((await runCli(['ledger', 'verify', '-w', ws], { env })).stdout)).toEqual(before);

    const alice = await e2e.client(ws, 'alice', { env });
    const g = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 1200 }) });
    expect(g.outcome.verdict).toBe('accepted');
    expect(g.outcome.receipt?.seq).toBeGreaterThan(Number(before?.[0]));
    const scribe = await e2e.client(ws, 'scribe', { env });
    const paused = await scribe.call('invoke_capability', { capability: 'files.write', params: { path: 'notes.md', content: 'x' } });
    expect(paused.outcome.reasons).toContain('AGENT_PAUSED');
    const after = await runCli(['ledger', 'verify', '-w', ws], { env });
    expect(after.code).toBe(0);
  });
});
