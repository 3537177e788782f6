/**
 * `mandate upstream pin` and `mandate doctor` start each upstream, and must
 * end all of it before they exit, also when the configured command is a
 * launcher such as `npx -y …` that runs the real server as its own child.
 * The fixture launcher (test/fixtures/upstreams/wrapper.mjs) exits on
 * SIGTERM without passing it on, and its server outlives the end of its
 * stdin by a minute: the commands still exit within seconds of printing
 * their result, and leave no process of the upstream behind.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cleanEnv, E2E } from './helpers/e2e.js';
import { FIXTURES, NODE, appendConfig, starts, y } from './helpers/gateway.js';

const e2e = new E2E();
let ws: string;

interface Timed {
  code: number | null;
  stdout: string;
  /** Milliseconds from the first output on stdout to the exit of the process. */
  afterResultMs: number;
}

/** Runs the built CLI and measures how long it lingers after its result. */
function timed(args: string[]): Promise<Timed> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let firstOutput = 0;
    const guard = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.stdout.on('data', (chunk: Buffer) => {
      if (!firstOutput) firstOutput = Date.now();
      stdout += chunk.toString('utf8');
    });
    child.stderr.resume();
    child.on('error', fail);
    child.on('exit', (code) => {
      clearTimeout(guard);
      done({ code, stdout, afterResultMs: firstOutput ? Date.now() - firstOutput : Number.NaN });
    });
  });
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const state = () => join(ws, 'state.json');

beforeAll(async () => {
  ws = await e2e.workspace();
  writeFileSync(state(), JSON.stringify({}));
  appendConfig(
    ws,
    `upstreams:
  wrapped:
    command: ${y(NODE)}
    args: [${y(join(FIXTURES, 'wrapper.mjs'))}, state.json]`,
  );
});

afterAll(async () => {
  for (const pid of starts(`${state()}.starts`)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await e2e.cleanup();
});

describe('commands that start upstreams end the whole process tree', () => {
  it('upstream pin exits within seconds of printing its result, with the server its launcher started gone', async () => {
    const r = await timed(['upstream', 'pin', '-w', ws, '--as', 'tester']);
    expect(r.stdout).toContain('upstream wrapped: pinned');
    expect(r.code).toBe(0);
    expect(r.afterResultMs).toBeLessThan(6_000);
    const servers = starts(`${state()}.starts`);
    expect(servers).toHaveLength(1);
    expect(servers.filter(running)).toEqual([]);
  });

  it('doctor exits within seconds of printing its report, with the server its launcher started gone', async () => {
    const r = await timed(['doctor', '-w', ws]);
    expect(r.stdout).toContain('upstream wrapped (stdio');
    expect(r.afterResultMs).toBeLessThan(6_000);
    const servers = starts(`${state()}.starts`);
    expect(servers).toHaveLength(2);
    expect(servers.filter(running)).toEqual([]);
  });
});
