/**
 * The fix hints `mandate validate` gives for names that do not exist: a
 * policy field (the capability's real fields, most alike first, and the
 * `has` guard or the scope that fixes it), a misspelt YAML key, and a key
 * that belongs to another kind of store.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rankBySimilarity } from '../src/config/suggest.js';
import { E2E, runCli } from './helpers/e2e.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

interface Problem {
  file: string;
  path: string;
  message: string;
  hint: string;
}

async function problems(ws: string, env: Record<string, string> = {}): Promise<Problem[]> {
  const r = await runCli(['validate', '--json', '-w', ws], { env });
  expect(r.code, r.stderr).toBe(2);
  return (JSON.parse(r.stdout) as { problems: Problem[] }).problems;
}

function addPolicy(ws: string, scope: string, when: string): void {
  appendFileSync(join(ws, 'policies', 'base.cedar'), `\n@id("big")\nforbid (principal, action, ${scope})\nwhen { ${when} };\n`);
}

describe('validate hints for names that do not exist', () => {
  it('ranks names by likeness, a name containing the word first: amount_minor before memo for amount', () => {
    expect(rankBySimilarity('amount', ['payee', 'memo', 'currency', 'amount_minor'])[0]).toBe('amount_minor');
    expect(rankBySimilarity('capabilty', ['when', 'limits', 'capability'])[0]).toBe('capability');
  });

  it('a policy for one capability naming a field it lacks: its real fields, most alike first, and the has guard', async () => {
    const ws = await e2e.workspace();
    addPolicy(ws, 'resource == Mandate::Capability::"payments.transfer"', 'context.values.amount > 100000');
    const [p, ...rest] = await problems(ws);
    expect(rest).toEqual([]);
    expect(p?.message).toContain('`values.amount`');
    expect(p?.hint).toContain('did you mean `amount_minor`?');
    expect(p?.hint).toMatch(/Its values, most alike first: amount_minor, /);
    expect(p?.hint).not.toContain('did you mean `memo`');
    expect(p?.hint).toContain('`context.values has amount_minor && context.values.amount_minor …`');
  });

  it('a policy for every capability naming a field only one has: that capability, its scope, or a has guard', async () => {
    const ws = await e2e.workspace();
    addPolicy(ws, 'resource', 'context.values.amount_minor > 100000');
    const found = await problems(ws);
    expect(found.length).toBeGreaterThan(0);
    for (const p of found) {
      expect(p.message).toContain('`values.amount_minor`');
      expect(p.hint).toContain('`payments.transfer` has values.amount_minor');
      expect(p.hint).toContain('`resource == Mandate::Capability::"payments.transfer"`');
      expect(p.hint).toContain('context.values has amount_minor &&');
    }
  });

  it('a misspelt key in a contract: did you mean the key allowed there', async () => {
    const ws = await e2e.workspace();
    const alice = join(ws, 'contracts', 'alice.yaml');
    writeFileSync(alice, readFileSync(alice, 'utf8').replace('  - capability: payments.get_balance\n', '  - capabilty: payments.get_balance\n'));
    const p = (await problems(ws)).find((x) => x.message === 'unknown key `capabilty`');
    expect(p?.path).toMatch(/^grants\.\d+\.capabilty$/);
    expect(p?.hint).toMatch(/^did you mean `capability`\? \(allowed here: capability, /);
  });

  it('a postgres store with a leftover path: the key belongs to kind: sqlite, remove it or switch kind', async () => {
    const ws = await e2e.workspace();
    const config = join(ws, 'mandate.yaml');
    writeFileSync(config, readFileSync(config, 'utf8').replace(/^ {2}kind: sqlite$/m, '  kind: postgres'));
    const [p, ...rest] = await problems(ws, { MANDATE_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(rest).toEqual([]);
    expect(p).toMatchObject({ file: 'mandate.yaml', path: 'store.path', message: '`path` belongs to `kind: sqlite`, not to `kind: postgres`' });
    expect(p?.hint).toBe('remove `path` (`kind: postgres` takes kind, url_env, pool_max), or set `kind: sqlite` if that is what you meant');
    expect(p?.hint).not.toContain('spelling');
  });
});
