/**
 * `npm run bench -- --node 24`: the bench re-runs itself on Node 24, load
 * generator and servers alike, with better-sqlite3 compiled for that line,
 * and writes its results into this checkout. Shape only, never speed.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { assertBuilt, REPO_ROOT } from './helpers/e2e.js';
import { nodeLine, requires, sqliteAddon } from './helpers/requires.js';

const run = promisify(execFile);
const BENCH = join(REPO_ROOT, 'dist/bench/run.js');
const need = await requires(import.meta.url, [nodeLine(24), sqliteAddon(24)]);

describe.skipIf(need.skip)(need.title('npm run bench -- --node 24'), () => {
  it('runs the in-process scenario and the storage floor on Node 24 and writes its JSON into bench/results', async () => {
    assertBuilt();
    const { stdout } = await run(process.execPath, [BENCH, '--smoke', '--only', 'stages,floor', '--node', '24'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 240_000 });
    expect(stdout).toMatch(/^machine: .*Node v24\./m);
    const file = /results written to (\S+)/.exec(stdout)?.[1] as string;
    expect(file.startsWith(join(REPO_ROOT, 'bench', 'results'))).toBe(true);
    const json = JSON.parse(readFileSync(file, 'utf8')) as { machine: string; results: Record<string, { perCallUs?: number; calls?: number }> };
    expect(json.machine).toMatch(/Node v24\./);
    expect(Object.keys(json.results).sort()).toEqual(['floor', 'stages']);
    expect(json.results['stages']).toMatchObject({ calls: 50, perCallUs: expect.any(Number) });
  }, 300_000);

  it('a SIGTERM stops the bench on Node 24 and leaves no scratch folder behind', async () => {
    const scratch = () => new Set(readdirSync(tmpdir()).filter((f) => f.startsWith('mandate-bench-node24-')));
    const before = scratch();
    // The grown store at full size runs for minutes: long enough to be stopped midway.
    const bench = spawn(process.execPath, [BENCH, '--only', 'grown', '--node', '24'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    bench.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => bench.once('exit', (code) => resolve(code)));
    for (let i = 0; i < 600 && !/^machine: .*Node v24\./m.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    const made = [...scratch()].filter((f) => !before.has(f));
    expect(made).toHaveLength(1);
    bench.kill('SIGTERM');
    expect(await exited).toBe(1);
    expect(existsSync(join(tmpdir(), made[0] as string))).toBe(false);
    expect(out).not.toContain('results written to');
  }, 120_000);

  it.each(['latest', '18', ''])('refuses --node %j (not a line package.json supports), and runs nothing', async (value) => {
    const failed = await run(process.execPath, [BENCH, '--smoke', '--node', value], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 }).catch((e: { code: number; stderr: string; stdout: string }) => e);
    // One line that says what to pass, no stack trace.
    expect(failed).toMatchObject({ code: 1, stderr: `bench: --node takes a Node major version that Mandate supports (20, 22, 24; package.json's engines), got ${JSON.stringify(value)}\n` });
    expect((failed as { stdout: string }).stdout).not.toContain('Mandate benchmarks');
  });
});
