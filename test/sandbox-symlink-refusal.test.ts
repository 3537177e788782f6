/**
 * The template's file writer (templates/workspace/capabilities/files.mjs)
 * never writes or deletes through a symbolic link placed in sandbox/: not a
 * link to a file outside, not a dangling link (whose target it would create),
 * not a linked folder. Proven on the module itself with a real file system,
 * and once through the kernel over a real stdio client.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { E2E, REPO_ROOT } from './helpers/e2e.js';

interface Def {
  id: string;
  facts: (params: Record<string, unknown>, ctx: { workspaceDir: string }) => Promise<{ inside_sandbox: boolean }>;
  handler: (params: Record<string, unknown>, ctx: { workspaceDir: string; signal: AbortSignal }) => Promise<unknown>;
}

let write: Def;
let remove: Def;
let root: string;
let ws: string;
let outside: string;
const signal = new AbortController().signal;

beforeAll(async () => {
  const mod = (await import(pathToFileURL(join(REPO_ROOT, 'templates/workspace/capabilities/files.mjs')).href)) as { default: (deps: { z: typeof z }) => Def[] };
  const defs = mod.default({ z });
  write = defs.find((d) => d.id === 'files.write') as Def;
  remove = defs.find((d) => d.id === 'files.delete') as Def;
  root = mkdtempSync(join(tmpdir(), 'mandate-symlink-'));
  ws = join(root, 'ws');
  outside = join(root, 'outside');
  mkdirSync(join(ws, 'sandbox'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), 'original');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function refused(def: Def, params: Record<string, unknown>): Promise<void> {
  expect((await def.facts(params, { workspaceDir: ws })).inside_sandbox).toBe(false);
  await expect(def.handler(params, { workspaceDir: ws, signal })).rejects.toThrow(/outside sandbox/);
}

describe('files.write and files.delete refuse symbolic links in sandbox/', () => {
  it('a link to a file outside: not written, not deleted', async () => {
    symlinkSync(join(outside, 'secret.txt'), join(ws, 'sandbox', 'escape.txt'));
    await refused(write, { path: 'escape.txt', content: 'pwned', overwrite: true });
    await refused(remove, { path: 'escape.txt' });
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('original');
  });

  it('a dangling link: its target is not created', async () => {
    symlinkSync(join(outside, 'not-yet.txt'), join(ws, 'sandbox', 'dangling.txt'));
    await refused(write, { path: 'dangling.txt', content: 'pwned' });
    expect(existsSync(join(outside, 'not-yet.txt'))).toBe(false);
  });

  it('a linked folder, also when the file inside does not exist yet', async () => {
    symlinkSync(outside, join(ws, 'sandbox', 'linked'));
    await refused(write, { path: 'linked/secret.txt', content: 'pwned', overwrite: true });
    await refused(write, { path: 'linked/deeper/new.txt', content: 'pwned' });
    await refused(remove, { path: 'linked/secret.txt' });
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('original');
    expect(existsSync(join(outside, 'deeper'))).toBe(false);
  });

  it('real files and new folders inside the sandbox are still written and deleted', async () => {
    const params = { path: 'notes/day/one.md', content: 'hello', overwrite: false };
    expect((await write.facts(params, { workspaceDir: ws })).inside_sandbox).toBe(true);
    await write.handler(params, { workspaceDir: ws, signal });
    expect(readFileSync(join(ws, 'sandbox', 'notes', 'day', 'one.md'), 'utf8')).toBe('hello');
    await remove.handler({ path: 'notes/day/one.md' }, { workspaceDir: ws, signal });
    expect(existsSync(join(ws, 'sandbox', 'notes', 'day', 'one.md'))).toBe(false);
  });
});

describe('through the kernel over stdio', () => {
  const e2e = new E2E();
  afterAll(() => e2e.cleanup());

  it('scribe writing through a dangling link gets INVARIANT_VIOLATED (inside_sandbox), nothing is created outside', async () => {
    const workspace = await e2e.workspace();
    const target = join(e2e.tempDir(), 'created-outside.txt');
    symlinkSync(target, join(workspace, 'sandbox', 'link.md'));
    const scribe = await e2e.client(workspace, 'scribe');
    const r = await scribe.call('invoke_capability', { capability: 'files.write', params: { path: 'link.md', content: 'x' } });
    expect(r.outcome.verdict).toBe('rejected');
    expect(r.outcome.reasons).toContain('INVARIANT_VIOLATED');
    expect(r.outcome.details.some((d) => d.invariant === 'inside_sandbox')).toBe(true);
    expect(existsSync(target)).toBe(false);
  });
});
