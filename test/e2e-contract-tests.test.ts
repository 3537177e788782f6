/**
 * `mandate test` through the built CLI: the cases `mandate init` ships pass
 * at their exact boundaries (exit 0); a wrong expectation fails with a diff
 * (exit 1); a broken test file is a configuration problem (exit 2). The
 * workspace's own store and files are never touched.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, runCli } from './helpers/e2e.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

describe('mandate test', () => {
  let ws: string;
  beforeAll(async () => {
    ws = await e2e.workspace();
  });

  it('runs the shipped cases through the kernel at their fixed times: a line per case, exit 0', async () => {
    const books = readFileSync(join(ws, 'data', 'books.json'), 'utf8');
    const r = await runCli(['test', '-w', ws]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^(\d+) case\(s\): \1 passed, 0 failed$/);
    // The boundaries: exactly at a limit, exactly at an expiry, exactly at the start of a contract.
    for (const name of ['exactly 100.00 runs without a human', 'one cent above 100.00 waits for a human', 'an intent exactly at its TTL is still decided', 'one second past its TTL it is refused', 'before its effective_from alice\'s contract does not apply', 'from its effective_from on, it does']) {
      expect(lines).toContain(`ok   tests/alice.yaml › ${name}`);
    }
    // No handler ran and the workspace's store was never opened.
    expect(readFileSync(join(ws, 'data', 'books.json'), 'utf8')).toBe(books);
    expect(existsSync(join(ws, 'mandate.db'))).toBe(false);

    const json = await runCli(['test', '--json', '--filter', 'TTL', '-w', ws]);
    const report = JSON.parse(json.stdout) as { ok: boolean; results: { name: string; ok: boolean; actual: { reasons: string[] } }[] };
    expect(report.ok).toBe(true);
    expect(report.results.map((c) => [c.name, c.actual.reasons])).toEqual([
      ['an intent exactly at its TTL is still decided', []],
      ['one second past its TTL it is refused', ['TTL_EXPIRED']],
    ]);
  });

  it('a wrong expectation fails with a diff of expected and actual, exit 1', async () => {
    const dir = await e2e.workspace();
    const file = join(dir, 'tests', 'alice.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('    expect: { verdict: accepted, reasons: [] }\n', '    expect: { verdict: escalated, reasons: [ESCALATION_REQUIRED] }\n'));
    const r = await runCli(['test', '-w', dir]);
    expect(r.code).toBe(1);
    const out = r.stdout;
    expect(out).toContain('FAIL tests/alice.yaml › exactly 100.00 runs without a human\n       - verdict: escalated\n       + verdict: accepted\n       - reasons: [ESCALATION_REQUIRED]\n       + reasons: []\n');
    expect(out).toMatch(/\d+ case\(s\): \d+ passed, 1 failed\n$/);
  });

  it('a broken test file exits 2 naming the file and the key', async () => {
    const dir = await e2e.workspace();
    writeFileSync(join(dir, 'tests', 'broken.yaml'), 'cases:\n  - name: no agent\n    intent: { capability: payments.transfer }\n    expect: { verdict: maybe }\n');
    const r = await runCli(['test', '-w', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('tests/broken.yaml cases.0.agent');
    expect(r.stderr).toContain('tests/broken.yaml cases.0.expect.verdict');
  });

  it('a workspace that does not load exits 2 with its problems, running no case', async () => {
    const dir = await e2e.workspace();
    writeFileSync(join(dir, 'policies', 'typo.cedar'), '@id("typo")\nforbid (principal, action, resource == Mandate::Capability::"payments.transfer")\nwhen { context.values.amount > 5 };\n');
    const r = await runCli(['test', '-w', dir]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('policies/typo.cedar line 3, column 8 (@id typo)');
  });
});
