/**
 * `mandate validate` reports each real problem once: no cascade from one
 * broken contract, only the YAML error for bad YAML, a contract whose agent
 * differs from its file name, a policy type error with line and column; and
 * `mandate init` links every YAML file to a JSON Schema in the workspace.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { E2E, REPO_ROOT, runCli } from './helpers/e2e.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

interface Problem {
  file: string;
  path: string;
  message: string;
  hint: string;
}

async function problemsOf(ws: string): Promise<Problem[]> {
  const r = await runCli(['validate', '--json', '-w', ws]);
  expect(r.code).toBe(2);
  return (JSON.parse(r.stdout) as { problems: Problem[] }).problems;
}

describe('mandate validate', () => {
  it('one broken contract is reported once, with no cascade into the contracts that name its agent', async () => {
    const ws = await e2e.workspace();
    const alice = join(ws, 'contracts', 'alice.yaml');
    writeFileSync(alice, readFileSync(alice, 'utf8').replace('role: agent ', 'role: banker '));
    const problems = await problemsOf(ws);
    // supervisor.yaml lists alice under supervises and approves: no "unknown agent alice".
    expect(problems.map((p) => `${p.file} ${p.path}`)).toEqual(['contracts/alice.yaml role']);
  });

  it('a capability module that fails to load is reported once, not again as unknown capabilities in every contract', async () => {
    const ws = await e2e.workspace();
    const mod = join(ws, 'capabilities', 'payments.mjs');
    writeFileSync(mod, `throw new Error('half-edited');\n${readFileSync(mod, 'utf8')}`);
    const problems = await problemsOf(ws);
    expect(problems.map((p) => `${p.file} ${p.path}: ${p.message}`)).toEqual(['capabilities/payments.mjs (module): failed to load: half-edited']);
  });

  it('bad YAML reports only the YAML error, in a contract and in mandate.yaml', async () => {
    const ws = await e2e.workspace();
    writeFileSync(join(ws, 'contracts', 'alice.yaml'), 'agent: alice\ngrants: [\n');
    const contract = await problemsOf(ws);
    expect(contract).toHaveLength(1);
    expect(contract[0]).toMatchObject({ file: 'contracts/alice.yaml', hint: 'fix the YAML syntax' });

    const cfg = join(ws, 'mandate.yaml');
    writeFileSync(cfg, `${readFileSync(cfg, 'utf8')}\nextra: [unclosed\n`);
    const config = await problemsOf(ws);
    expect(config).toHaveLength(1);
    expect(config[0]).toMatchObject({ file: 'mandate.yaml', hint: 'fix the YAML syntax' });
    expect(config[0]?.message).not.toMatch(/version/);
  });

  it('a contract whose agent differs from its file name is flagged', async () => {
    const ws = await e2e.workspace();
    const from = join(ws, 'contracts', 'scribe.yaml');
    writeFileSync(join(ws, 'contracts', 'writer.yaml'), readFileSync(from, 'utf8'));
    writeFileSync(from, '');
    const problems = (await problemsOf(ws)).filter((p) => p.file === 'contracts/writer.yaml');
    expect(problems).toEqual([{ file: 'contracts/writer.yaml', path: 'agent', message: 'the file is named `writer.yaml` but declares agent `scribe`', hint: 'rename the file to scribe.yaml, or set agent: writer' }]);
  });

  it('a policy comparing a decimal with `>` fails with file, line, column and a fix hint; the corrected policy passes', async () => {
    const ws = await e2e.workspace();
    const fixtures = join(REPO_ROOT, 'test', 'fixtures', 'workbench');
    copyFileSync(join(fixtures, 'refunds.mjs'), join(ws, 'capabilities', 'refunds.mjs'));
    copyFileSync(join(fixtures, 'refunder.yaml'), join(ws, 'contracts', 'refunder.yaml'));
    const good = readFileSync(join(fixtures, 'refunds.cedar'), 'utf8');
    writeFileSync(join(ws, 'policies', 'refunds.cedar'), good.replace('context.values.amount_eur.greaterThan(decimal("500.00"))', 'context.values.amount_eur > 500'));
    const r = await runCli(['validate', '-w', ws]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('1 problem(s)');
    expect(r.stderr).toContain('policies/refunds.cedar line 5, column 8 (@id escalate-large-refunds): unexpected type: expected Long but saw decimal in `context.values.amount_eur`');
    expect(r.stderr).toContain('fix: this field is a decimal');

    writeFileSync(join(ws, 'policies', 'refunds.cedar'), good);
    const ok = await runCli(['validate', '-w', ws]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('type-checked');
  });

  it('--cedar-schema prints the schema a capability\'s policies are checked against', async () => {
    const ws = await e2e.workspace();
    const r = await runCli(['validate', '--cedar-schema', '-w', ws]);
    expect(r.code, r.stderr).toBe(0);
    const schemas = JSON.parse(r.stdout) as { capability: string; agents: string[]; schema: { Mandate: { actions: { invoke: { appliesTo: { context: { attributes: Record<string, { attributes: Record<string, unknown> }> } } } } } } }[];
    const transfer = schemas.find((s) => s.capability === 'payments.transfer');
    expect(transfer?.agents).toEqual(['alice']);
    const context = transfer?.schema.Mandate.actions.invoke.appliesTo.context.attributes;
    expect(context?.['values']?.attributes['amount_minor']).toEqual({ type: 'Long', required: true });
    expect(context?.['facts']?.attributes['payee_blocked']).toEqual({ type: 'Boolean', required: true });
    expect(Object.keys(context?.['usage']?.attributes ?? {})).toEqual(['amount_minor_1d', 'calls_1d', 'calls_1h']);
  });

  it('init links every YAML file to a JSON Schema that exists in the workspace', async () => {
    const ws = await e2e.workspace();
    const yamls: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else if (/\.ya?ml$/.test(e.name)) yamls.push(join(dir, e.name));
      }
    };
    walk(ws);
    expect(yamls.length).toBeGreaterThanOrEqual(7);
    for (const file of yamls) {
      const first = readFileSync(file, 'utf8').split('\n')[0] ?? '';
      const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
      expect(m, relative(ws, file)).not.toBeNull();
      const schema = resolve(dirname(file), m?.[1] ?? '');
      expect(existsSync(schema), `${relative(ws, file)} → ${m?.[1]}`).toBe(true);
      expect(JSON.parse(readFileSync(schema, 'utf8'))).toHaveProperty('$schema');
    }
  });
});
