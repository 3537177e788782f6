/**
 * The capability author's path: `mandate capability new` scaffolds a module
 * and its test file that load and pass; `mandate capability test` runs each
 * check (schemas, facts read-only and deterministic, output schema, deadline,
 * abort signal, side-effect class, examples through a real kernel, the
 * author's tests) on temporary copies, never touching the workspace; each
 * fault is caught by the check meant for it; exit codes 0/1/2.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCapability } from '../src/cli/capability-check.js';
import { E2E, runCli } from './helpers/e2e.js';
import { finopsWorkspace } from './helpers/examples.js';

interface Report {
  capability: string;
  source: string | null;
  ok: boolean;
  checks: { id: string; status: 'pass' | 'fail' | 'warn' | 'skip'; message: string; details?: string[] }[];
}

const e2e = new E2E();
afterAll(() => e2e.cleanup());

/** Every file of a folder with its hash: the proof that nothing was touched. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out[relative(dir, full)] = createHash('sha256').update(readFileSync(full)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

async function captest(ws: string, id: string): Promise<{ code: number; report: Report }> {
  const r = await runCli(['capability', 'test', id, '--json', '-w', ws]);
  if (r.code === 2) throw new Error(`usage error: ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) as Report };
}

const statusOf = (r: Report) => Object.fromEntries(r.checks.map((c) => [c.id, c.status]));

describe('mandate capability new', () => {
  let ws = '';
  beforeAll(async () => {
    ws = await e2e.workspace();
  });

  it('scaffolds a module and a test file that validate, and pass every check without touching the workspace', async () => {
    const r = await runCli(['capability', 'new', 'notes.append', '-w', ws]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('mandate capability test notes.append');
    const mod = readFileSync(join(ws, 'capabilities', 'notes.append.mjs'), 'utf8');
    for (const part of ["id: 'notes.append'", 'input: z.object(', 'output: z.object(', 'async facts(', 'async handler(', 'examples: [', 'ctx.signal']) expect(mod).toContain(part);
    expect(existsSync(join(ws, 'capabilities', 'notes.append.test.mjs'))).toBe(true);
    const v = await runCli(['validate', '--json', '-w', ws]);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true });

    const before = tree(ws);
    const { code, report } = await captest(ws, 'notes.append');
    expect(code).toBe(0);
    expect(report).toMatchObject({ capability: 'notes.append', source: 'capabilities/notes.append.mjs', ok: true });
    expect(statusOf(report)).toEqual({ load: 'pass', manifest: 'pass', schemas: 'pass', facts: 'pass', output: 'pass', deadline: 'pass', abort: 'pass', side_effect: 'pass', examples: 'pass', tests: 'pass' });
    expect(report.checks.find((c) => c.id === 'tests')?.details).toHaveLength(3);
    // The handler ran (several times) on copies only: no data file, no store, nothing changed here.
    expect(tree(ws)).toEqual(before);
    expect(existsSync(join(ws, 'data', 'notes.append.json'))).toBe(false);
  });

  it('refuses an existing or invalid id (exit 2)', async () => {
    expect((await runCli(['capability', 'new', 'notes.append', '-w', ws])).code).toBe(2);
    expect((await runCli(['capability', 'new', 'payments.transfer', '-w', ws])).code).toBe(2); // defined in payments.mjs
    expect((await runCli(['capability', 'new', 'NotAnId', '-w', ws])).code).toBe(2);
  });
});

describe('mandate capability test', () => {
  it('runs the FinOps examples through a real kernel under the contract each names', async () => {
    const ws = await finopsWorkspace(e2e);
    const before = tree(ws);
    const { code, report } = await captest(ws, 'cloud.stop_instance');
    expect(code).toBe(0);
    const examples = report.checks.find((c) => c.id === 'examples');
    expect(examples?.status).toBe('pass');
    expect(examples?.details).toEqual([
      'ok   #1 as finops: expected accepted, got accepted []',
      'ok   #2 as finops: expected rejected [POLICY_FORBID], got rejected [POLICY_FORBID]',
      'ok   #3 as finops: expected escalated, got escalated [ESCALATION_REQUIRED]',
      'ok   #4 as finops: expected rejected [INVARIANT_VIOLATED], got rejected [INVARIANT_VIOLATED]',
    ]);
    expect(tree(ws)).toEqual(before);
  });

  describe('each fault is caught by its check (exit 1)', () => {
    let ws = '';
    beforeAll(async () => {
      ws = await e2e.workspace();
      // One capability per fault, each otherwise sound.
      writeFileSync(
        join(ws, 'capabilities', 'faults.mjs'),
        `import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
let calls = 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export default function define({ z }) {
  const base = (id, over) => ({
    id, version: '1.0.0', description: 'A capability with one deliberate fault.', sideEffect: 'write',
    input: z.object({ n: z.number().int() }), output: z.object({ n: z.number().int() }),
    limits: { deadlineMs: 200 },
    async handler(params, ctx) { ctx.signal.throwIfAborted(); await writeFile(join(ctx.workspaceDir, 'data', id + '.txt'), String(params.n), { signal: ctx.signal }); return { n: params.n }; },
    examples: [{ params: { n: 1 }, expect: 'accepted' }],
    ...over,
  });
  return [
    base('fault.facts_write', { async facts(p, ctx) { await writeFile(join(ctx.workspaceDir, 'data', 'seen.txt'), 'x'); return { ok: true }; } }),
    base('fault.facts_random', { facts: () => ({ nonce: ++calls }) }),
    base('fault.ignores_abort', { async handler(params, ctx) { await writeFile(join(ctx.workspaceDir, 'data', 'x.txt'), 'x'); return { n: params.n }; } }),
    base('fault.slow', { async handler(params) { await sleep(400); return { n: params.n }; } }),
    base('fault.bad_output', { async handler(params, ctx) { ctx.signal.throwIfAborted(); return { n: 'one' }; } }),
    base('fault.read_writes', { sideEffect: 'read' }),
    base('fault.wrong_example', { examples: [{ params: { n: 1 }, expect: 'accepted' }, { params: { n: 'x' }, expect: 'accepted' }, { params: { n: 2 }, expect: 'rejected', reasons: ['POLICY_FORBID'] }] }),
    base('fault.failing_test', {}),
  ];
}
`,
      );
      writeFileSync(
        join(ws, 'capabilities', 'faults.test.mjs'),
        `export const tests = { 'fault.failing_test': { async 'doubles n'({ cap, ctx, assert }) { const out = await cap.handler({ n: 2 }, { ...ctx(), facts: {} }); assert.equal(out.n, 4); } } };\n`,
      );
    });

    it.each([
      ['fault.facts_write', 'facts', 'wrote to the workspace: added data/seen.txt'],
      ['fault.facts_random', 'facts', 'two calls gave different facts'],
      ['fault.ignores_abort', 'abort', 'it completed although its signal had fired'],
      ['fault.slow', 'deadline', 'ran past its deadline of 200 ms'],
      ['fault.bad_output', 'output', 'n: Invalid input'],
      ['fault.read_writes', 'side_effect', 'declared read, but the handler changed the workspace: added data/fault.read_writes.txt'],
      ['fault.wrong_example', 'schemas', 'example #2 expects accepted, but its params do not parse'],
      ['fault.failing_test', 'tests', 'FAIL doubles n'],
    ])('%s fails the %s check', async (id, check, text) => {
      // In process (the same code the CLI runs), to keep the suite fast; the CLI's exit 1 is checked below.
      const report = (await checkCapability(ws, id)) as Report;
      expect(report.ok).toBe(false);
      const c = report.checks.find((x) => x.id === check);
      expect(c?.status, JSON.stringify(report.checks, null, 1)).toBe('fail');
      expect([c?.message, ...(c?.details ?? [])].join('\n')).toContain(text);
    });

    it('a wrong example verdict is reported with what the kernel answered; the CLI exits 1', async () => {
      const { code, report } = await captest(ws, 'fault.wrong_example');
      expect(code).toBe(1);
      const c = report.checks.find((x) => x.id === 'examples');
      expect(c?.status).toBe('fail');
      expect(c?.details).toContain('FAIL #3 as capability-test: expected rejected [POLICY_FORBID], got accepted []');
    });
  });

  it('never opens the workspace store, even when store.path points outside the workspace', async () => {
    const ws = await e2e.workspace();
    const elsewhere = join(e2e.tempDir('mandate-store-'), 'real.db');
    const cfg = join(ws, 'mandate.yaml');
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(/^ {2}path: mandate\.db.*$/m, `  path: ${elsewhere}`));
    expect(readFileSync(cfg, 'utf8')).toContain(`path: ${elsewhere}`);
    const { code, report } = await captest(ws, 'payments.transfer');
    expect(code).toBe(0);
    expect(report.checks.find((c) => c.id === 'examples')?.status).toBe('pass');
    expect(existsSync(elsewhere)).toBe(false);
    expect(existsSync(join(ws, 'mandate.db'))).toBe(false);
  });

  it('usage and configuration errors exit 2', async () => {
    const ws = await e2e.workspace();
    const unknown = await runCli(['capability', 'test', 'nope.nothing', '-w', ws]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no capability `nope.nothing`');
    expect((await runCli(['capability', 'test', 'Bad Id', '-w', ws])).code).toBe(2);
    expect((await runCli(['capability', 'test', 'a.b', '-w', e2e.tempDir()])).code).toBe(2); // no mandate.yaml
  });

  it('`mandate validate` checks the examples field (reason codes are the known ones)', async () => {
    const ws = await e2e.workspace();
    writeFileSync(
      join(ws, 'capabilities', 'ex.mjs'),
      `export default ({ z }) => ({ id: 'ex.one', version: '1.0.0', description: 'A capability with a bad example.', sideEffect: 'read', input: z.object({}), output: z.object({}), handler: () => ({}), examples: [{ params: {}, expect: 'maybe', reasons: ['NOT_A_CODE'] }] });\n`,
    );
    const v = await runCli(['validate', '--json', '-w', ws]);
    expect(v.code).toBe(2);
    const paths = (JSON.parse(v.stdout) as { problems: { file: string; path: string }[] }).problems.map((p) => `${p.file} ${p.path}`);
    expect(paths).toEqual(expect.arrayContaining(['capabilities/ex.mjs examples.0.expect', 'capabilities/ex.mjs examples.0.reasons.0']));
  });
});
