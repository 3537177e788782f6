import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadCapabilities } from '../../capabilities/load.js';
import { loadConfig } from '../../workspace/load.js';
import { ConfigError, formatProblems, type Problem } from '../../config/problems.js';
import { checkCapability, type CapabilityReport } from '../capability-check.js';
import { EXIT, printJson, UsageError, workspaceDir } from '../common.js';
import { PACKAGE_ROOT } from './init.js';

const CAPABILITY_ID = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$/;
const TEMPLATES = join(PACKAGE_ROOT, 'templates', 'capability');

function capabilitiesDir(dir: string): { capDir: string; relDir: string } {
  const { config, problems } = loadConfig(dir);
  if (!config) throw new ConfigError(problems);
  return { capDir: join(dir, config.paths.capabilities), relDir: config.paths.capabilities };
}

/** `mandate capability new <id>`: a working in-process capability module and its test file. */
export async function capabilityNew(id: string, opts: { workspace?: string; title?: string }): Promise<number> {
  if (!CAPABILITY_ID.test(id)) throw new UsageError(`\`${id}\` is not a capability id: use a dotted lowercase id such as notes.append`);
  const dir = workspaceDir(opts.workspace);
  const { capDir, relDir } = capabilitiesDir(dir);
  const moduleFile = join(capDir, `${id}.mjs`);
  const testFile = join(capDir, `${id}.test.mjs`);
  for (const f of [moduleFile, testFile]) if (existsSync(f)) throw new UsageError(`${relative(dir, f)} already exists; choose another id or remove it`);
  const before: Problem[] = [];
  const existing = existsSync(capDir) ? await loadCapabilities(capDir, dir, before) : new Map();
  if (existing.has(id)) throw new UsageError(`capability \`${id}\` is already defined in ${existing.get(id)?.source}`);

  const words = id.split('.').map((w) => w.replace(/[-_]/g, ' '));
  const title = opts.title ?? `${words[0]?.replace(/^./, (c) => c.toUpperCase())}: ${words.slice(1).join(' ')}`;
  const fill = (text: string) => text.replaceAll('__ID__', id).replaceAll('__TITLE__', title.replaceAll("'", "\\'")).replaceAll('__DATA_FILE__', `data/${id}.json`);
  mkdirSync(capDir, { recursive: true });
  writeFileSync(moduleFile, fill(readFileSync(join(TEMPLATES, 'capability.mjs'), 'utf8')));
  writeFileSync(testFile, fill(readFileSync(join(TEMPLATES, 'capability.test.mjs'), 'utf8')));

  // The new module must load like any other.
  const problems: Problem[] = [];
  const loaded = await loadCapabilities(capDir, dir, problems);
  const own = problems.filter((p) => p.file === join(relDir, `${id}.mjs`));
  if (!loaded.has(id) || own.length) {
    process.stderr.write(`mandate: the scaffold does not load:\n${formatProblems(own)}\n`);
    return EXIT.failed;
  }
  process.stdout.write(
    [
      `capability ${id} written:`,
      `  ${relative(dir, moduleFile)}        manifest, zod schemas, facts resolver, invariant, handler, examples`,
      `  ${relative(dir, testFile)}   tests run by \`mandate capability test\``,
      'next:',
      `  mandate capability test ${id}${opts.workspace ? ` -w ${opts.workspace}` : ''}`,
      `  grant it in a contract:  grants: [{ capability: ${id} }]`,
      '',
    ].join('\n'),
  );
  return EXIT.ok;
}

const MARK = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' } as const;

function printReport(r: CapabilityReport): void {
  const lines = [`capability ${r.capability}${r.source ? ` (${r.source})` : ''}`];
  for (const c of r.checks) {
    lines.push(`  ${MARK[c.status]}  ${c.id.padEnd(11)} ${c.message}`);
    for (const d of c.details ?? []) lines.push(`          ${d}`);
  }
  const count = (s: string) => r.checks.filter((c) => c.status === s).length;
  lines.push(`${r.ok ? 'ok' : 'FAILED'}: ${count('pass')} passed, ${count('fail')} failed, ${count('warn')} warning(s), ${count('skip')} skipped`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `mandate capability test <id>`: the conformance check; exit 0 all pass, 1 a check failed, 2 usage or configuration. */
export async function capabilityTest(id: string, opts: { workspace?: string; json?: boolean }): Promise<number> {
  if (!CAPABILITY_ID.test(id)) throw new UsageError(`\`${id}\` is not a capability id such as notes.append`);
  const report = await checkCapability(workspaceDir(opts.workspace), id);
  if (opts.json) printJson(report);
  else printReport(report);
  return report.ok ? EXIT.ok : EXIT.failed;
}
