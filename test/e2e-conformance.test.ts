/**
 * The MCP conformance suite (@modelcontextprotocol/conformance, server mode)
 * against `mandate serve --http`, through scripts/conformance.ts: every
 * generic scenario passes; every other failure is in conformance/baseline.yml
 * with a reason, and no baseline entry passes (the suite fails a stale one).
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BASELINE, GENERIC, runConformance, type ConformanceRun } from '../scripts/conformance.js';
import { assertBuilt } from './helpers/e2e.js';
import { NODE22_CLIENTS, requires } from './helpers/requires.js';

const need = await requires(import.meta.url, [NODE22_CLIENTS]);

describe.skipIf(need.skip)(need.title('MCP conformance suite, server mode, against serve --http'), () => {
  let run: ConformanceRun;
  beforeAll(async () => {
    assertBuilt();
    run = await runConformance();
  }, 150_000);

  it('exits 0 with the baseline: every failure expected, no stale entry', () => {
    expect(run.code, run.stdout.slice(run.stdout.indexOf('=== SUMMARY ===')) + run.stderr).toBe(0);
    expect(run.stdout).toContain('Baseline check passed: all failures are expected.');
  });

  it.each(GENERIC)('generic scenario %s passes with no failure or warning', (scenario) => {
    const checks = run.scenarios[scenario];
    expect(checks, `${scenario} did not run`).toBeDefined();
    expect(checks?.some((c) => c.status === 'SUCCESS')).toBe(true);
    expect(checks?.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING')).toEqual([]);
  });

  it('DNS rebinding: a foreign Host is refused by Mandate itself although the request carries a valid key', () => {
    const rejected = run.scenarios['dns-rebinding-protection']?.find((c) => c.id === 'localhost-host-rebinding-rejected') as unknown as { details: { statusCode: number; body: { error: { data: { code: string } } } } };
    expect(rejected.details.statusCode).toBe(403);
    expect(rejected.details.body.error.data.code).toBe('FORBIDDEN_HOST');
  });

  it('the baseline lists no generic scenario, only ones that failed, each with a one-line reason', () => {
    for (const g of GENERIC) expect(run.baseline).not.toContain(g);
    for (const s of run.baseline) {
      if (!run.scenarios[s]) continue; // not in this suite version
      expect(run.scenarios[s]?.some((c) => c.status === 'FAILURE' || c.status === 'WARNING'), `${s} passes: remove it from the baseline`).toBe(true);
    }
    const entries = readFileSync(BASELINE, 'utf8').split('\n').filter((l) => /^\s+- /.test(l));
    expect(entries).toHaveLength(run.baseline.length);
    for (const line of entries) expect(line, 'each entry: `- scenario  # reason`').toMatch(/^\s+- [a-z0-9-]+\s+# \S.{10,}$/);
  });

  it('every scenario of the suite ran and is accounted for', () => {
    const ran = Object.keys(run.scenarios);
    expect(ran.length).toBeGreaterThanOrEqual(30);
    for (const s of ran) expect(GENERIC.includes(s) || run.baseline.includes(s), `${s} is neither generic nor baselined`).toBe(true);
  });
});
