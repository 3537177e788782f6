/**
 * `mandate test`: contract tests, like `opa test` for Rego. Each case in
 * tests/*.yaml runs through the real pipeline (`Kernel.govern`) on a
 * temporary store, at a fixed time, with the facts the case gives and the
 * usage it states. The handler never runs: the capability's handler is
 * replaced by a stub, so "accepted" means the kernel would let it run.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { Capability } from '../capabilities/manifest.js';
import { loadWorkspace } from '../workspace/load.js';
import { ConfigError, zodProblems, type Problem } from '../config/problems.js';
import { ContractTestFileSchema, type ContractTestCase } from '../config/test-schema.js';
import { silentLogger } from '../core/log.js';
import type { Outcome } from '../core/types.js';
import { fixedWorld } from '../core/world.js';
import { openRuntime } from '../runtime.js';
import { CALLS_FIELD } from '../store/port/index.js';

/** A case without `now` runs at this time, so that it is the same on every run. */
export const DEFAULT_NOW = '2030-01-01T00:00:00Z';
const STUB_OUTPUT = { stubbed_by: 'mandate test' };
const ANY_OUTPUT = z.unknown();

export interface CaseResult {
  file: string;
  name: string;
  ok: boolean;
  /** Expected against actual, one `- expected` / `+ actual` pair per field that differs. */
  diff: string[];
  actual: { verdict: string; reasons: string[]; policies: string[]; details: string[] } | null;
  error?: string;
}

interface LoadedCase {
  file: string;
  test: ContractTestCase;
}

/** Reads and checks every test file; a broken file is a configuration problem (exit 2), not a failed case. */
export function loadContractTests(dir: string, testsPath: string, filter?: string): LoadedCase[] {
  const testsDir = join(dir, testsPath);
  const files = existsSync(testsDir) ? readdirSync(testsDir).filter((f) => /\.ya?ml$/.test(f)).sort() : [];
  const problems: Problem[] = [];
  if (!files.length) problems.push({ file: testsPath, path: '(folder)', message: 'no contract tests found', hint: `add ${testsPath}/<name>.yaml with cases (a fresh \`mandate init\` workspace has examples)` });
  const out: LoadedCase[] = [];
  for (const name of files) {
    const file = relative(dir, join(testsDir, name));
    const doc = parseDocument(readFileSync(join(testsDir, name), 'utf8'), { prettyErrors: true });
    if (doc.errors.length) {
      for (const e of doc.errors) problems.push({ file, path: `line ${e.linePos?.[0]?.line ?? '?'}`, message: e.message.split('\n')[0] ?? e.message, hint: 'fix the YAML syntax' });
      continue;
    }
    const input: unknown = doc.toJS();
    const parsed = ContractTestFileSchema.safeParse(input);
    if (!parsed.success) {
      problems.push(...zodProblems(file, parsed.error, 'see schema/test.schema.json in your workspace (written by `mandate init`)', { schema: ContractTestFileSchema, input }));
      continue;
    }
    for (const test of parsed.data.cases) if (!filter || test.name.includes(filter)) out.push({ file, test });
  }
  if (problems.length) throw new ConfigError(problems);
  return out;
}

/** Runs every case of the workspace's contract tests; each on its own temporary store. */
export async function runContractTests(dirArg: string, filter?: string): Promise<CaseResult[]> {
  // A workspace that does not load is a configuration problem (exit 2), not a failure of every case.
  const { workspace, problems } = await loadWorkspace(dirArg);
  if (!workspace) throw new ConfigError(problems);
  const cases = loadContractTests(dirArg, workspace.config.paths.tests, filter);
  const tmp = mkdtempSync(join(tmpdir(), 'mandate-test-'));
  try {
    const results: CaseResult[] = [];
    for (const [i, c] of cases.entries()) results.push(await runCase(dirArg, c, join(tmp, `case-${i + 1}.db`)));
    return results;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function runCase(dir: string, { file, test }: LoadedCase, storePath: string): Promise<CaseResult> {
  const now = Date.parse(test.now ?? DEFAULT_NOW);
  const rt = await openRuntime(dir, silentLogger, fixedWorld(now), { storePath, noNormalizer: true });
  try {
    const id = test.intent.capability;
    const cap = rt.workspace.capabilities.get(id);
    if (cap) rt.workspace.capabilities.set(id, stubbed(cap, test.facts));
    // Usage so far, just before `now`: inside every window, whatever its length.
    const usage = Object.entries(test.usage ?? {}).map(([field, amount]) => ({ op: 'usage.add' as const, agent: test.agent, capability: id, field: field === 'calls' ? CALLS_FIELD : field, amount, at: now - 1 }));
    if (usage.length) await rt.store.commit(usage);
    const outcome = await rt.kernel.govern({ agent: test.agent, intent: test.intent, channel: 'cli' });
    await rt.kernel.settle();
    return compare(file, test, outcome);
  } catch (err) {
    return { file, name: test.name, ok: false, diff: [], actual: null, error: (err as Error)?.message ?? String(err) };
  } finally {
    await rt.shutdown();
  }
}

/** The capability as the case meets it: its facts stubbed if the case gives them, its handler never run. */
function stubbed(cap: Capability, facts: Record<string, unknown> | undefined): Capability {
  return {
    ...cap,
    ready: undefined,
    def: {
      ...cap.def,
      ...(facts ? { facts: () => structuredClone(facts) } : {}),
      handler: () => STUB_OUTPUT,
      output: ANY_OUTPUT,
    },
  };
}

const list = (xs: readonly string[]) => `[${xs.join(', ')}]`;

function compare(file: string, test: ContractTestCase, outcome: Outcome): CaseResult {
  const diff: string[] = [];
  const want = test.expect;
  if (outcome.verdict !== want.verdict) diff.push(`- verdict: ${want.verdict}`, `+ verdict: ${outcome.verdict}`);
  const got = [...outcome.reasons].sort();
  if (want.reasons && list([...want.reasons].sort()) !== list(got)) diff.push(`- reasons: ${list([...want.reasons].sort())}`, `+ reasons: ${list(got)}`);
  const missing = (want.policies ?? []).filter((p) => !outcome.policies.includes(p));
  if (missing.length) diff.push(`- policies include: ${list(missing)}`, `+ policies: ${list(outcome.policies)}`);
  return {
    file,
    name: test.name,
    ok: diff.length === 0,
    diff,
    actual: { verdict: outcome.verdict, reasons: outcome.reasons, policies: outcome.policies, details: outcome.details.map((d) => `${d.code}${d.path ? ` at ${d.path}` : ''}: ${d.message}`) },
  };
}

/** The report, a line per case and a diff under each failure. */
export function formatResults(results: CaseResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.ok ? 'ok  ' : 'FAIL'} ${r.file} › ${r.name}`);
    if (r.ok) continue;
    if (r.error) lines.push(`       error: ${r.error}`);
    for (const d of r.diff) lines.push(`       ${d}`);
    for (const d of r.actual?.details ?? []) lines.push(`         ${d}`);
  }
  const failed = results.filter((r) => !r.ok).length;
  lines.push(`${results.length} case(s): ${results.length - failed} passed, ${failed} failed`);
  return `${lines.join('\n')}\n`;
}
