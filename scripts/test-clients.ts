/**
 * The clients some tests and examples run that declare engines node >= 22
 * (`ai` and `@ai-sdk/mcp`, `@openai/agents`, and both lines of the MCP
 * conformance suite). They are not devDependencies: Mandate supports Node 20,
 * and as dependencies of this package they made every `npm ci` on Node 20
 * warn EBADENGINE. Instead their pins live in scripts/clients/ (a package.json
 * of exact versions and its package-lock.json, reviewed like the root lock),
 * and `npm ci` installs exactly that tree into .cache/clients on first use,
 * run by a Node >= 22 (scripts/node22.ts), so no engine check fails there either.
 * The clients then run under that Node, their imports resolved from the cache
 * by scripts/clients/resolve.mjs.
 *
 *   npm run clients        (installs them, prints how to run an example with them)
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNode22, NODE22_PACKAGE } from './node22.js';

// scripts/ when run from source (tests), dist/scripts/ when built.
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = existsSync(join(HERE, '..', 'package.json')) ? resolve(HERE, '..') : resolve(HERE, '..', '..');

/** The pins: package.json (exact versions) and package-lock.json. */
export const CLIENTS_MANIFEST = join(ROOT, 'scripts', 'clients');
/** Where `npm ci` installs them (gitignored). */
export const CLIENTS_PREFIX = join(ROOT, '.cache', 'clients');
/** A module for `node --import`: bare imports that the importer's own node_modules cannot resolve are resolved from CLIENTS_PREFIX. */
export const CLIENTS_RESOLVE = join(CLIENTS_MANIFEST, 'resolve.mjs');
/** Which lockfile the cache was installed from. */
const STAMP = join(CLIENTS_PREFIX, 'installed-from.sha256');

export interface Clients {
  /** The Node >= 22 the clients run under. */
  node: string;
  /** The install prefix: its node_modules holds the clients. */
  prefix: string;
}

/** Why the last ensureClients() returned null. */
export let clientsUnavailable = '';

const lockHash = () => createHash('sha256').update(readFileSync(join(CLIENTS_MANIFEST, 'package-lock.json'))).digest('hex');

/** The clients at the pinned versions, installed once per lockfile; null where no Node >= 22 or no install can be had. */
export function ensureClients(): Clients | null {
  const node = ensureNode22();
  if (!node) {
    clientsUnavailable = `no Node >= 22 to run them: ${NODE22_PACKAGE} could not be fetched from the npm registry into .cache/node22 (linux x64 only)`;
    return null;
  }
  const hash = lockHash();
  const fresh = () => existsSync(STAMP) && readFileSync(STAMP, 'utf8') === hash;
  if (fresh()) return { node, prefix: CLIENTS_PREFIX };
  // Several test files may ask at once on a fresh machine: each installs into its own staging folder, and the
  // first to finish moves it into place, so none reads a half-written or half-deleted tree.
  const staging = `${CLIENTS_PREFIX}.${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(CLIENTS_MANIFEST, f), join(staging, f));
  try {
    // The machine's npm, run by the Node 22 first on the PATH (npm's bin is `#!/usr/bin/env node`), so npm checks engines against Node 22.
    // No client needs an install script.
    execFileSync('npm', ['ci', '--prefix', staging, '--ignore-scripts', '--no-audit', '--no-fund'], {
      env: { ...process.env, PATH: `${dirname(node)}${delimiter}${process.env['PATH'] ?? ''}` },
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 300_000,
    });
    writeFileSync(join(staging, 'installed-from.sha256'), hash);
    if (!fresh()) {
      rmSync(CLIENTS_PREFIX, { recursive: true, force: true });
      renameSync(staging, CLIENTS_PREFIX);
    }
  } catch (err) {
    if (!fresh()) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim().split('\n').slice(-3).join(' ');
      clientsUnavailable = `npm ci of scripts/clients/package-lock.json into .cache/clients failed: ${stderr}`;
      return null;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return { node, prefix: CLIENTS_PREFIX };
}

/** `node <args>` for a client script: the clients' Node, with their imports resolved from the cache. */
export function clientCommand(clients: Clients, script: string, args: string[] = []): { command: string; args: string[] } {
  return { command: clients.node, args: ['--import', CLIENTS_RESOLVE, script, ...args] };
}

/** The path of a file inside an installed client package, e.g. clientFile(c, 'mcp-conformance-next', 'dist/index.js'). */
export function clientFile(clients: Clients, pkg: string, file: string): string {
  return join(clients.prefix, 'node_modules', pkg, file);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const clients = ensureClients();
  if (!clients) {
    process.stderr.write(`${clientsUnavailable}\n`);
    process.exit(1);
  }
  process.stdout.write(`clients installed in ${clients.prefix}\nNODE22=${clients.node}\nrun an example with them from the repository root, Mandate on the node that built its better-sqlite3:\n  MANDATE_NODE=$(command -v node) $NODE22 --import ./scripts/clients/resolve.mjs examples/vercel-ai/agent.mjs --workspace <ws>\n`);
}
