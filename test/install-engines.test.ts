/**
 * A plain `npm ci` or `npm install` of this repository prints no EBADENGINE
 * warning on any Node version that package.json's `engines` claims: every
 * package the lockfile installs (development tools included) declares an
 * engines.node range that contains the whole of ours. npm warns on exactly
 * that condition for the running Node, so this check holds for every supported
 * version at once, offline, and fails on the change to package-lock.json that
 * would bring a warning back (as `ai` and `@openai/agents`, which need Node 22,
 * did as devDependencies; they now live in scripts/clients/, see docs/testing.md).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/e2e.js';

interface LockEntry {
  version?: string;
  optional?: boolean;
  engines?: { node?: string } | string[];
}
interface Lock {
  packages: Record<string, LockEntry>;
}

const readJson = <T>(path: string) => JSON.parse(readFileSync(join(REPO_ROOT, path), 'utf8')) as T;
const pkg = readJson<{ engines: { node: string } }>('package.json');
const clients = readJson<{ engines: { node: string }; dependencies: Record<string, string> }>('scripts/clients/package.json');

/**
 * Installed packages whose engines.node does not contain `supported`: each as `path range`.
 * An optional package whose engines fail is skipped by npm without a warning (it is not installed), so it is left out.
 */
function narrower(lock: Lock, supported: string): string[] {
  return Object.entries(lock.packages)
    .filter(([path, e]) => path !== '' && !e.optional && !Array.isArray(e.engines) && e.engines?.node)
    .filter(([, e]) => !semver.subset(supported, (e.engines as { node: string }).node))
    .map(([path, e]) => `${path}@${e.version ?? '?'} ${(e.engines as { node: string }).node}`);
}

describe('engines: no EBADENGINE on a supported Node', () => {
  it('package.json supports Node 20.19+, 22.13+ and 24, and the README states the same range', () => {
    const range = pkg.engines.node;
    for (const v of ['20.19.0', '22.13.0', '24.0.0']) expect(semver.satisfies(v, range), `${v} in ${range}`).toBe(true);
    for (const v of ['18.20.0', '20.18.0', '21.7.0']) expect(semver.satisfies(v, range), `${v} in ${range}`).toBe(false);
    expect(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')).toContain(`\`${range}\``);
    expect(readJson<Lock>('package-lock.json').packages['']?.engines).toEqual(pkg.engines);
  });

  it('every package package-lock.json installs, development tools included, accepts every Node version package.json supports', () => {
    expect(narrower(readJson<Lock>('package-lock.json'), pkg.engines.node)).toEqual([]);
  });

  it('the clients pinned in scripts/clients/ accept the Node they run under, and are exact versions', () => {
    expect(narrower(readJson<Lock>('scripts/clients/package-lock.json'), clients.engines.node)).toEqual([]);
    const lock = readJson<Lock>('scripts/clients/package-lock.json');
    for (const [name, spec] of Object.entries(clients.dependencies)) {
      const version = spec.replace(/^npm:.+@/, '');
      expect(semver.valid(version), `${name}: an exact version, not ${spec}`).toBe(version);
      expect(lock.packages[`node_modules/${name}`]?.version, `${name} in scripts/clients/package-lock.json`).toBe(version);
    }
  });
});
