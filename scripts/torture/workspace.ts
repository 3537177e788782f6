/** Workspaces and servers for the torture suite: the `mandate init` template plus an agent without budgets. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The package root, from scripts/torture (vitest runs the sources) or dist/scripts/torture (`npm run torture`). */
export const ROOT = existsSync(resolve(HERE, '../../package.json')) ? resolve(HERE, '../..') : resolve(HERE, '../../..');
export const CLI = join(ROOT, 'dist/src/cli/main.js');
export const AGENT = 'torture';

/** Transfers of 1..9 minor units, no budgets or monitors: the load never trips a limit, only the races and crashes count. */
const CONTRACT = `agent: ${AGENT}
version: 1
owner: qa@example.com
mission: Move small amounts under crashes and fuzzing.
role: agent
grants:
  - capability: payments.get_balance
  - capability: payments.transfer
    limits:
      max:
        amount_minor: 100
memory:
  - scope: suppliers
    max_sensitivity: standard
`;

export function cli(args: string[], env?: NodeJS.ProcessEnv): string {
  return execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
}

/** The variable a PostgreSQL torture workspace reads its database URL from. */
export const PG_URL_ENV = 'MANDATE_TORTURE_DATABASE_URL';

/**
 * `mandate init` plus the torture agent, an API key for it, and HTTP limits
 * high enough for the load; on PostgreSQL when `pgUrl` is given (its
 * processes need `{ [PG_URL_ENV]: pgUrl }` in their environment).
 */
export function tortureWorkspace(pgUrl?: string): { dir: string; key: string } {
  const dir = join(mkdtempSync(join(tmpdir(), 'mandate-torture-')), 'ws');
  cli(['init', dir]);
  writeFileSync(join(dir, 'contracts', `${AGENT}.yaml`), CONTRACT);
  const cfgPath = join(dir, 'mandate.yaml');
  const cfg = parse(readFileSync(cfgPath, 'utf8')) as Record<string, Record<string, unknown>>;
  cfg['http'] = { ...cfg['http'], rate_limit: { per_principal_per_second: 1_000_000, overall_per_second: 10_000_000 }, max_body_bytes: 262_144 };
  // One checkpoint per 20 events, so tamper trials meet many of them.
  (cfg['signing'] as Record<string, unknown>)['checkpoints'] = { path: 'checkpoints', every_events: 20, every_seconds: 1 };
  if (pgUrl) cfg['store'] = { kind: 'postgres', url_env: PG_URL_ENV };
  writeFileSync(cfgPath, stringify(cfg));
  const env = pgUrl ? { [PG_URL_ENV]: pgUrl } : undefined;
  const key = (JSON.parse(cli(['keys', 'create', '--agent', AGENT, '--json', '--as', 'torture', '-w', dir], env)) as { key: string }).key;
  return { dir, key };
}

export interface HttpProc {
  url: string;
  proc: ChildProcess;
  stderr(): string;
}

/** `mandate serve --http --port 0`, resolved once it prints its address. */
export function startHttp(dir: string, extra: string[] = [], env?: NodeJS.ProcessEnv): Promise<HttpProc> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--http', '--port', '0', '-w', dir, '--log-level', 'warn', ...extra], { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
  let out = '';
  let err = '';
  proc.stderr?.on('data', (c: Buffer) => (err = (err + c.toString('utf8')).slice(-1_000_000)));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`http server did not start\n${err}`)), 30_000);
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ url: m[1] as string, proc, stderr: () => err });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`http server exited with ${code}\n${err}`));
    });
  });
}

/** Error and fatal lines (pino level >= 50) in a server's stderr. */
export function errorLogLines(stderr: string): number {
  let n = 0;
  for (const line of stderr.split('\n')) {
    const m = /"level":(\d+)/.exec(line);
    if (m && Number(m[1]) >= 50) n++;
  }
  return n;
}

export function randomTraceparent(): { traceparent: string; dfid: string } {
  const hex = (len: number) => Array.from({ length: len }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  const dfid = `1${hex(31)}`;
  return { traceparent: `00-${dfid}-${hex(15)}1-01`, dfid };
}
