/**
 * The Node lines and better-sqlite3 builds that tests and `npm run bench -- --node`
 * fetch into .cache/ are made by one process at a time: a test run's files ask
 * for the same line at the same moment, and two npm installs into one prefix
 * would spoil it. Real processes race here on a real folder lock.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { makeOnce } from '../scripts/node-line.js';
import { assertBuilt, E2E, REPO_ROOT } from './helpers/e2e.js';

const run = promisify(execFile);
const e2e = new E2E();
afterAll(() => e2e.cleanup());

/** A process that asks for `cache` with a make that takes `ms`, logging each make to `cache`.log; prints makeOnce's answer. */
function asker(cache: string, ms: number) {
  const script = `
    import { appendFileSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
    const { makeOnce } = await import(${JSON.stringify(join(REPO_ROOT, 'dist/scripts/node-line.js'))});
    const cache = ${JSON.stringify(cache)};
    const made = makeOnce(cache, () => existsSync(cache + '/done'), () => {
      appendFileSync(cache + '.log', process.pid + '\\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${ms});
      mkdirSync(cache, { recursive: true });
      writeFileSync(cache + '/done', '');
    }, 30_000);
    console.log(made);`;
  return run(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 });
}

describe('a cache folder is made once across processes', () => {
  it('four processes asking at once: one makes it, all get it, and the lock is gone', async () => {
    assertBuilt();
    const cache = join(e2e.tempDir('mandate-cache-once-'), 'node99');
    const answers = await Promise.all([1, 2, 3, 4].map(() => asker(cache, 1_500)));
    expect(answers.map((a) => a.stdout.trim())).toEqual(['true', 'true', 'true', 'true']);
    expect(readFileSync(`${cache}.log`, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(existsSync(`${cache}.lock`)).toBe(false);
  });

  it("a dead holder's lock, older than the make may take, is taken over", () => {
    const cache = join(e2e.tempDir('mandate-cache-once-'), 'node98');
    mkdirSync(`${cache}.lock`, { recursive: true });
    const past = (Date.now() - 10_000) / 1000;
    utimesSync(`${cache}.lock`, past, past);
    let makes = 0;
    const made = makeOnce(cache, () => existsSync(join(cache, 'done')), () => {
      makes++;
      mkdirSync(cache, { recursive: true });
      mkdirSync(join(cache, 'done'));
    }, 5_000);
    expect({ made, makes, lock: existsSync(`${cache}.lock`) }).toEqual({ made: true, makes: 1, lock: false });
  });

  it('while another process holds the lock, a cache that looks ready is not trusted until the lock is gone', () => {
    const cache = join(e2e.tempDir('mandate-cache-once-'), 'node96');
    mkdirSync(`${cache}.lock`, { recursive: true });
    // The holder, another process, finishes in about a second.
    spawn('sh', ['-c', `sleep 1 && rmdir '${cache}.lock'`], { stdio: 'ignore' });
    let makes = 0;
    const from = Date.now();
    const made = makeOnce(cache, () => true, () => void makes++, 10_000);
    expect({ made, makes, lock: existsSync(`${cache}.lock`) }).toEqual({ made: true, makes: 0, lock: false });
    expect(Date.now() - from).toBeGreaterThanOrEqual(900);
  });

  it('a make that fails answers false, leaves no lock, and is tried again by the next asker', () => {
    const cache = join(e2e.tempDir('mandate-cache-once-'), 'node97');
    let makes = 0;
    const failing = () => {
      makes++;
      throw new Error('npm install failed');
    };
    expect(makeOnce(cache, () => false, failing, 5_000)).toBe(false);
    expect(existsSync(`${cache}.lock`)).toBe(false);
    expect(makeOnce(cache, () => false, failing, 5_000)).toBe(false);
    expect(makes).toBe(2);
  });
});
