/**
 * Mandate installed the way the README's install section says, outside the
 * repository: `npm pack`, then `npm install -g` of the tarball into a
 * scratch prefix, then `mandate` from that prefix's bin on the PATH, run in
 * a scratch folder: --version, init, validate, and a governed call over
 * stdio from a real SDK client. Offline and quick (test/helpers/packed.ts).
 * The same install on Node 22 and 24: test/e2e-node-lines.test.ts.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, CALL_TIMEOUT_MS, cleanEnv, E2E, REPO_ROOT, transfer } from './helpers/e2e.js';
import { installPacked, packMandate } from './helpers/packed.js';

const run = promisify(execFile);
const e2e = new E2E();
const PKG = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
let prefix: string;
let scratch: string;
let installed: string;
let env: Record<string, string>;
/** What npm warned about while installing the tarball. */
let installWarnings: string[] = [];

/** `mandate <args>` as a user runs it: the binary on the PATH, in the scratch folder. */
async function mandate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('mandate', args, { cwd: scratch, env, timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

beforeAll(async () => {
  assertBuilt();
  const dir = e2e.tempDir('mandate-pack-');
  prefix = join(dir, 'global');
  scratch = join(dir, 'elsewhere');
  mkdirSync(scratch);
  const packed = await installPacked(await packMandate(dir), prefix, { cwd: scratch });
  installed = packed.installed;
  installWarnings = packed.warnings;
  env = cleanEnv({ PATH: packed.path });
}, 240_000);

afterAll(() => e2e.cleanup());

describe('a packed install outside the repository', () => {
  it('installs the runtime dependencies only: no development tool comes along', () => {
    const present = (name: string) => existsSync(join(installed, 'node_modules', name)) || existsSync(join(prefix, 'lib', 'node_modules', name));
    for (const name of Object.keys(PKG.dependencies)) expect(present(name), name).toBe(true);
    // A dev dependency that a runtime one also needs (semver, through better-sqlite3's installer) is not marked `dev` in the lockfile.
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.keys(PKG.devDependencies).filter((name) => lock.packages[`node_modules/${name}`]?.dev === true);
    expect(devOnly.length).toBeGreaterThan(10);
    for (const name of devOnly) expect(present(name), name).toBe(false);
    expect(existsSync(join(installed, 'test')), 'no tests in the package').toBe(false);
  });

  it('installs without an unsupported-engine or deprecation warning on this Node', () => {
    expect(installWarnings.filter((l) => /EBADENGINE|deprecated/i.test(l))).toEqual([]);
  });

  it('mandate --version, from the PATH in a folder outside the repository, prints the package version', async () => {
    const r = await mandate('--version');
    expect(r).toMatchObject({ code: 0, stdout: `${PKG.version}\n` });
  });

  it('mandate init writes a workspace that mandate validate accepts', async () => {
    const init = await mandate('init', 'ws');
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('next: mandate validate -w ws');
    const validate = await mandate('validate', '-w', 'ws');
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toMatch(/is valid: 3 contracts/);
  });

  it('a real SDK client calls a governed tool through the installed binary over stdio', async () => {
    const client = new Client({ name: 'packed-install', version: '0.0.0' });
    const transport = new StdioClientTransport({ command: join(prefix, 'bin', 'mandate'), args: ['serve', '--stdio', '--agent', 'alice', '-w', join(scratch, 'ws')], cwd: scratch, env, stderr: 'pipe' });
    await client.connect(transport, { timeout: CALL_TIMEOUT_MS });
    try {
      const r = (await client.callTool({ name: 'invoke_capability', arguments: { capability: 'payments.transfer', params: transfer() } }, undefined, { timeout: CALL_TIMEOUT_MS })) as CallToolResult;
      expect(r.structuredContent).toMatchObject({ verdict: 'accepted', capability: 'payments.transfer' });
    } finally {
      await client.close();
    }
  });
});
