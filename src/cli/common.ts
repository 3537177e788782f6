import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError, formatProblems } from '../config/problems.js';
import { createLogger, type Logger } from '../core/log.js';
import { KernelError } from '../kernel/kernel.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { StoreUnavailableError } from '../store/port/index.js';

/** CLI exit codes: one table, used by every command. */
export const EXIT = { ok: 0, failed: 1, config: 2, unavailable: 3 } as const;

export function workspaceDir(opt: string | undefined): string {
  return resolve(opt ?? process.env['MANDATE_WORKSPACE'] ?? process.cwd());
}

export function operatorName(opt: string | undefined): string {
  const name = opt ?? process.env['MANDATE_OPERATOR'] ?? safeUser();
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) throw new UsageError('operator name must be 1-64 characters of A-Z a-z 0-9 . _ @ -');
  return name;
}

function safeUser(): string {
  try {
    return userInfo().username || 'operator';
  } catch {
    return 'operator';
  }
}

export class UsageError extends Error {}

/** Opens the workspace's runtime for a one-shot command, runs `fn`, and always closes. */
export async function withRuntime<T>(dir: string | undefined, logLevel: string | undefined, fn: (rt: Runtime, log: Logger) => Promise<T> | T): Promise<T> {
  const log = createLogger(logLevel ?? 'warn');
  const rt = await openRuntime(workspaceDir(dir), log);
  try {
    return await fn(rt, log);
  } finally {
    await rt.shutdown();
  }
}

/** Maps any error to a one-line message on stderr and the exit code of its kind. */
export function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`mandate: configuration error\n${formatProblems(err.problems)}\n`);
    process.exit(EXIT.config);
  }
  if (err instanceof UsageError) {
    process.stderr.write(`mandate: ${err.message}\n`);
    process.exit(EXIT.config);
  }
  if (err instanceof StoreUnavailableError) {
    process.stderr.write(`mandate: STORE_UNAVAILABLE: ${err.message}\n`);
    process.exit(EXIT.unavailable);
  }
  if (err instanceof KernelError) {
    process.stderr.write(`mandate: ${err.code}: ${err.message}\n`);
    process.exit(EXIT.failed);
  }
  process.stderr.write(`mandate: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(EXIT.failed);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
