/**
 * `npm run bench -- --node <major>`: the whole bench on another Node line that
 * Mandate supports (22, 24), with the load generator, the bare SDK servers and
 * Mandate all on that line, so each ratio still compares like with like.
 *
 * That Node, and better-sqlite3's addon compiled for it, come from the npm
 * registry into .cache/, as the tests get them (scripts/node-line.ts). The
 * built project is laid out again in a scratch folder whose better-sqlite3 is
 * that build (every other package is a link to node_modules), and the bench
 * runs there; its results file is written to this checkout's bench/results.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNodeLine, ensureSqliteAddon, nodeLinePackage, OWN_LINE, supportedLines } from '../scripts/node-line.js';
import { ROOT } from './lib.js';

/** Where the re-run bench writes its results file (read by bench/run.ts). */
export const RESULTS_DIR_ENV = 'MANDATE_BENCH_RESULTS_DIR';

const packageJson = () => JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };

/** The other Node line `--node <major>` asks for: null if the flag is absent or names this Node's own; throws on a value that is not a supported line. */
export function otherNodeLine(argv: readonly string[]): number | null {
  const at = argv.indexOf('--node');
  if (at < 0) return null;
  const value = argv[at + 1] ?? '';
  const lines = supportedLines();
  if (!lines.includes(Number(value)) || !/^\d+$/.test(value)) {
    throw new Error(`--node takes a Node major version that Mandate supports (${lines.join(', ')}; package.json's engines), got ${JSON.stringify(value)}`);
  }
  return Number(value) === OWN_LINE ? null : Number(value);
}

/** Lays out in `root` a copy of the built project (package.json's `files`) whose better-sqlite3 is the addon in `addonBuild`. */
function layOut(root: string, addonBuild: string): void {
  cpSync(join(ROOT, 'package.json'), join(root, 'package.json'));
  // Modules are copied, so that they resolve better-sqlite3 from the scratch folder; what the package reads as data is linked.
  cpSync(join(ROOT, 'dist'), join(root, 'dist'), { recursive: true });
  for (const top of new Set(packageJson().files.map((f) => f.split('/')[0] as string))) {
    if (top !== 'dist') symlinkSync(join(ROOT, top), join(root, top));
  }
  mkdirSync(join(root, 'node_modules'));
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry !== 'better-sqlite3') symlinkSync(join(ROOT, 'node_modules', entry), join(root, 'node_modules', entry));
  }
  const sqlite = join(root, 'node_modules', 'better-sqlite3');
  cpSync(join(ROOT, 'node_modules', 'better-sqlite3'), sqlite, { recursive: true, filter: (src) => !src.startsWith(join(ROOT, 'node_modules', 'better-sqlite3', 'build')) });
  cpSync(addonBuild, join(sqlite, 'build'), { recursive: true });
}

/** Runs bench/run.js with `args` on Node `major`; resolves to its exit code. */
export async function benchOnNodeLine(major: number, args: readonly string[]): Promise<number> {
  const node = ensureNodeLine(major);
  if (!node) throw new Error(`no Node ${major}: ${nodeLinePackage(major)} could not be fetched from the npm registry into .cache/node${major} (linux x64 only)`);
  process.stderr.write(`bench: Node ${major} at ${node}; better-sqlite3 for it (built once into .cache/node${major}-sqlite, minutes the first time)\n`);
  const addon = ensureSqliteAddon(major);
  if (!addon) throw new Error(`better-sqlite3 could not be built for Node ${major} in .cache/node${major}-sqlite (needs python3, make and g++)`);
  const root = mkdtempSync(join(tmpdir(), `mandate-bench-node${major}-`));
  try {
    layOut(root, addon);
    const child = spawn(node, [join(root, 'dist/bench/run.js'), ...args], { stdio: 'inherit', env: { ...process.env, [RESULTS_DIR_ENV]: join(ROOT, 'bench/results') } });
    // Ctrl-C or a SIGTERM stops the bench, and this process outlives it to remove the scratch folder.
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward).on('SIGTERM', forward);
    try {
      return await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
      });
    } finally {
      process.off('SIGINT', forward).off('SIGTERM', forward);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
