/**
 * Mandate installed the way the README's install section says, outside the
 * repository: `npm pack`, then `npm install -g` of the tarball into a scratch
 * prefix, run by a given Node (npm checks engines against the Node that runs it).
 *
 * Offline and quick: npm takes the dependencies from its cache
 * (--prefer-offline), and install scripts are skipped, so that better-sqlite3
 * neither fetches a prebuilt binary from the network nor compiles one for
 * minutes; a build of the same version of its addon for that Node (the
 * repository's own, or scripts/node-line.ts's ensureSqliteAddon) is copied in.
 */
import { execFile } from 'node:child_process';
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './e2e.js';

const run = promisify(execFile);

export interface PackedInstall {
  /** The global prefix: its bin/ has `mandate`. */
  prefix: string;
  /** The installed package folder. */
  installed: string;
  /** PATH with the Node that installed it first, then the prefix's bin. */
  path: string;
  /** What npm warned about while installing the tarball. */
  warnings: string[];
}

/** `npm pack` of the repository as built (npm test builds first; --ignore-scripts skips `prepack` building it again) into `dir`. */
export async function packMandate(dir: string): Promise<string> {
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: REPO_ROOT, timeout: 60_000 });
  const tarball = readdirSync(dir).find((f) => /^mandate-.*\.tgz$/.test(f));
  if (!tarball) throw new Error(`npm pack wrote no mandate-*.tgz to ${dir}`);
  return join(dir, tarball);
}

/**
 * `npm install -g --prefix <prefix> <tarball>` run from `cwd` by `node` (default: this one), then better-sqlite3's
 * addon taken from `addonBuild` (default: the repository's, built for this Node), which must be of the same version.
 */
export async function installPacked(tarball: string, prefix: string, opts: { cwd: string; node?: string; addonBuild?: string }): Promise<PackedInstall> {
  const nodeBin = opts.node ? `${dirname(opts.node)}${delimiter}` : '';
  const path = `${nodeBin}${join(prefix, 'bin')}${delimiter}${process.env['PATH'] ?? ''}`;
  const install = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball], {
    cwd: opts.cwd,
    env: { ...process.env, PATH: path },
    timeout: 150_000,
  });
  const installed = join(prefix, 'lib', 'node_modules', 'mandate');
  const addon = join(installed, 'node_modules', 'better-sqlite3');
  const build = opts.addonBuild ?? join(REPO_ROOT, 'node_modules', 'better-sqlite3', 'build');
  const version = (p: string) => (JSON.parse(readFileSync(join(p, 'package.json'), 'utf8')) as { version: string }).version;
  if (version(addon) !== version(dirname(build))) throw new Error(`better-sqlite3 ${version(addon)} installed, the addon at ${build} is of ${version(dirname(build))}: run npm ci`);
  cpSync(build, join(addon, 'build'), { recursive: true });
  return { prefix, installed, path, warnings: `${install.stdout}\n${install.stderr}`.split('\n').filter((l) => /^npm warn/i.test(l)) };
}
