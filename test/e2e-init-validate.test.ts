/**
 * Issue 2, requirement 1: `mandate init` writes a working workspace, and
 * `mandate validate` reports every configuration problem with file, path and
 * a fix hint (exit 2). Everything runs through the built CLI.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { E2E, runCli } from './helpers/e2e.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

describe('mandate init + validate', () => {
  let ws: string;
  beforeAll(async () => {
    ws = await e2e.workspace();
  });

  it('init writes mandate.yaml, contracts/, policies/, capabilities/ and memory/ with commented files', () => {
    expect(statSync(join(ws, 'mandate.yaml')).isFile()).toBe(true);
    for (const folder of ['contracts', 'policies', 'capabilities', 'memory']) {
      expect(statSync(join(ws, folder)).isDirectory(), folder).toBe(true);
      expect(readdirSync(join(ws, folder)).length, `${folder} is empty`).toBeGreaterThan(0);
    }
    // At least two example agents with different roles and scopes.
    const contracts = readdirSync(join(ws, 'contracts')).filter((f) => f.endsWith('.yaml'));
    expect(contracts.length).toBeGreaterThanOrEqual(2);
    const roles = new Set(contracts.map((f) => /^role:\s*(\w+)/m.exec(readFileSync(join(ws, 'contracts', f), 'utf8'))?.[1]));
    expect(roles.size).toBeGreaterThanOrEqual(2);
    expect(readdirSync(join(ws, 'policies')).some((f) => f.endsWith('.cedar'))).toBe(true);
    expect(readdirSync(join(ws, 'capabilities')).some((f) => f.endsWith('.mjs'))).toBe(true);
    // Every file is commented.
    const commented = (file: string, marker: string) => expect(readFileSync(file, 'utf8'), file).toContain(marker);
    commented(join(ws, 'mandate.yaml'), '#');
    for (const f of contracts) commented(join(ws, 'contracts', f), '#');
    for (const f of readdirSync(join(ws, 'policies'))) commented(join(ws, 'policies', f), '//');
    for (const f of readdirSync(join(ws, 'capabilities'))) commented(join(ws, 'capabilities', f), '//');
    for (const f of readdirSync(join(ws, 'memory'))) commented(join(ws, 'memory', f), '#');
  });

  it('init writes a .gitignore that keeps the private key, the store and the checkpoints mandate.yaml names out of git, and nothing else', async () => {
    const ws = await e2e.workspace();
    const config = parse(readFileSync(join(ws, 'mandate.yaml'), 'utf8')) as { store: { path: string }; signing: { private_key_file: string; checkpoints: { path: string } } };
    execFileSync('git', ['init', '-q', ws]);
    const ignored = (path: string) => {
      try {
        execFileSync('git', ['-C', ws, 'check-ignore', '-q', path]);
        return true;
      } catch {
        return false;
      }
    };
    const store = config.store.path;
    for (const path of [config.signing.private_key_file, store, `${store}-wal`, `${store}-shm`, `${config.signing.checkpoints.path}/2026-01-01.jsonl`]) expect(ignored(path), path).toBe(true);
    for (const path of ['mandate.yaml', 'keys/signing.pub', 'contracts/alice.yaml', 'policies/base.cedar', '.gitignore']) expect(ignored(path), path).toBe(false);
  });

  it('init --help names everything init writes', async () => {
    const help = await runCli(['init', '--help']);
    expect(help.code).toBe(0);
    const written = readdirSync(ws);
    expect(written).toContain('.gitignore');
    // Each entry starts a line of the list ("  policies/", "  keys/signing.key"), or follows another on it ("data/, sandbox/").
    const listed = (name: string) => new RegExp(`(^  |, )${name.replace(/\./g, '\\.')}(/|[ ,])`, 'm');
    for (const name of written) expect(help.stdout, name).toMatch(listed(name));
    for (const file of readdirSync(join(ws, 'keys'))) expect(help.stdout).toContain(`keys/${file}`);
  });

  it('validate exits 0 on a fresh workspace', async () => {
    const r = await runCli(['validate', '-w', ws]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // 4 template capabilities plus the built-in memory.write.
    expect(r.stdout).toMatch(/is valid: 3 contracts, 7 capabilities/);
    const json = await runCli(['validate', '--json', '-w', ws]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ ok: true, problems: [], notes: [] });
  });

  it('validate of a broken workspace exits 2 and reports EVERY problem with file, path and fix hint', async () => {
    const broken = await e2e.workspace();
    // 1. An unknown key in a contract.
    writeFileSync(
      join(broken, 'contracts', 'bob.yaml'),
      'agent: bob\nversion: 1\nowner: bob@example.com\nmission: Test agent.\nrole: agent\ncolour: blue\n',
    );
    // 2. An unknown capability in a grant.
    const alice = join(broken, 'contracts', 'alice.yaml');
    writeFileSync(alice, readFileSync(alice, 'utf8').replace('  - capability: payments.get_balance\n', '  - capability: payments.get_balance\n  - capability: payments.refund\n'));
    // 3. An unknown agent in supervises.
    const sup = join(broken, 'contracts', 'supervisor.yaml');
    writeFileSync(sup, readFileSync(sup, 'utf8').replace('supervises: [alice, scribe]', 'supervises: [alice, scribe, mallory]'));
    // 4. A Cedar syntax error.
    writeFileSync(join(broken, 'policies', 'broken.cedar'), '@id("broken-syntax")\npermit (principal, action, resource) when { context.values.amount_minor > };\n');
    // 5. A policy without @id.
    writeFileSync(join(broken, 'policies', 'noid.cedar'), 'permit (principal, action, resource);\n');

    const json = await runCli(['validate', '--json', '-w', broken]);
    expect(json.code).toBe(2);
    const { ok, problems } = JSON.parse(json.stdout) as { ok: boolean; problems: { file: string; path: string; message: string; hint: string }[] };
    expect(ok).toBe(false);
    for (const p of problems) {
      expect(p.file, JSON.stringify(p)).toMatch(/\S/);
      expect(p.path, JSON.stringify(p)).toMatch(/\S/);
      expect(p.hint, JSON.stringify(p)).toMatch(/\S/);
    }
    const find = (file: string, pred: (p: (typeof problems)[number]) => boolean) => problems.find((p) => p.file === file && pred(p));
    expect(find('contracts/bob.yaml', (p) => p.message.includes('colour')), 'bad key').toBeDefined();
    expect(find('contracts/alice.yaml', (p) => p.path === 'grants.1.capability' && p.message.includes('payments.refund')), 'unknown capability').toBeDefined();
    expect(find('contracts/alice.yaml', (p) => p.path === 'grants.1.capability')?.hint).toContain('payments.transfer');
    expect(find('contracts/supervisor.yaml', (p) => p.path === 'supervises.2' && p.message.includes('mallory')), 'unknown supervised agent').toBeDefined();
    expect(find('policies/broken.cedar', () => true), 'cedar syntax error').toBeDefined();
    expect(find('policies/noid.cedar', (p) => /@id/.test(p.message)), 'policy without @id').toBeDefined();
    expect(problems).toHaveLength(5);

    // The human form goes to stderr and carries the same five problems, each with a fix line.
    const human = await runCli(['validate', '-w', broken]);
    expect(human.code).toBe(2);
    expect(human.stdout).toBe('');
    expect(human.stderr).toContain('5 problem(s)');
    for (const needle of ['contracts/bob.yaml', 'colour', 'contracts/alice.yaml grants.1.capability', 'contracts/supervisor.yaml supervises.2', 'policies/broken.cedar', 'policies/noid.cedar']) {
      expect(human.stderr).toContain(needle);
    }
    expect(human.stderr.match(/^ {4}fix: /gm)).toHaveLength(5);

    // A server refuses to start on it, with the same report.
    const serve = await runCli(['serve', '--stdio', '--agent', 'alice', '-w', broken]);
    expect(serve.code).toBe(2);
    expect(serve.stdout).toBe('');
    expect(serve.stderr).toContain('configuration error');
    expect(serve.stderr).toContain('policies/noid.cedar');
  });

  it('init into a non-empty folder exits 2 and changes nothing', async () => {
    const dir = join(e2e.tempDir(), 'occupied');
    mkdirSync(dir);
    writeFileSync(join(dir, 'keep.txt'), 'precious\n');
    const r = await runCli(['init', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not empty/);
    expect(readdirSync(dir)).toEqual(['keep.txt']);
    expect(readFileSync(join(dir, 'keep.txt'), 'utf8')).toBe('precious\n');
    expect(existsSync(join(dir, 'mandate.yaml'))).toBe(false);
  });

  it('validate of a folder with no workspace exits 2 with a hint to run init', async () => {
    const r = await runCli(['validate', '-w', e2e.tempDir()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('mandate.yaml');
    expect(r.stderr).toContain('mandate init');
  });
});
