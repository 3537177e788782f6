/**
 * `mandate capability test <id>`: a conformance check of one in-process
 * capability, for its author. Everything runs on temporary copies of the
 * workspace (without its store), so the workspace itself is never touched:
 * not its files, not its ledger. See docs/capabilities.md.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { CapabilityDefinitionSchema, toCapability, type CapabilityContext, type CapabilityDefinition, type CapabilityExample, type ProgressReporter } from '../capabilities/manifest.js';
import { loadConfig, loadWorkspace } from '../workspace/load.js';
import { ConfigError, formatProblems } from '../config/problems.js';
import type { WorkspaceConfig } from '../config/workspace-schema.js';
import { canonicalJson } from '../core/canonical.js';
import { silentLogger } from '../core/log.js';
import { capabilityTool } from '../mcp/tools.js';
import { openRuntime } from '../runtime.js';
import { UsageError } from './common.js';

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface CheckResult {
  id: string;
  status: CheckStatus;
  message: string;
  details?: string[];
}

export interface CapabilityReport {
  capability: string;
  source: string | null;
  ok: boolean;
  checks: CheckResult[];
}

/** The agent an example without `contract` runs as: granted this capability and nothing else. */
export const TEST_AGENT = 'capability-test';
const TEST_DFID = '00000000000000000000000000c0ffee';
/** At most this many sample requests are run through the handler and the facts resolver. */
const MAX_SAMPLES = 3;
const TEST_TIMEOUT_MS = 10_000;
/** The store file of a copy (never the workspace's own, wherever store.path points). */
const COPY_STORE = 'capability-test.db';

type Json = Record<string, unknown>;

/** Temporary copies of a workspace, without its store files; all removed by dispose(). */
class Copies {
  private readonly root = mkdtempSync(join(tmpdir(), 'mandate-captest-'));
  private n = 0;
  constructor(
    private readonly source: string,
    private readonly skip: Set<string>,
  ) {}

  fresh(): string {
    const dir = join(this.root, `ws-${++this.n}`);
    cpSync(this.source, dir, { recursive: true, filter: (src) => !this.skip.has(resolve(src)) });
    // The copy gets a SQLite store of its own, inside it, wherever the workspace's store is (a path outside it, or PostgreSQL).
    const cfgPath = join(dir, 'mandate.yaml');
    const cfg = (parse(readFileSync(cfgPath, 'utf8')) ?? {}) as Record<string, unknown>;
    cfg['store'] = { kind: 'sqlite', path: COPY_STORE };
    writeFileSync(cfgPath, stringify(cfg));
    return dir;
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** sha256 of every file under dir (store files excluded), by relative path. */
function snapshot(dir: string, skip: (rel: string) => boolean): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      const rel = relative(dir, full);
      if (skip(rel)) continue;
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) out.set(rel, createHash('sha256').update(readFileSync(full)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

function diff(a: Map<string, string>, b: Map<string, string>): string[] {
  const changes: string[] = [];
  for (const [k, v] of b) if (!a.has(k)) changes.push(`added ${k}`);
  else if (a.get(k) !== v) changes.push(`changed ${k}`);
  for (const k of a.keys()) if (!b.has(k)) changes.push(`removed ${k}`);
  return changes.sort();
}

const errText = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/** Settles `p` or fails after `ms` (a handler that never returns must not hang the check). */
async function bounded<T>(p: Promise<T> | T, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([Promise.resolve(p), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

interface Found {
  def: CapabilityDefinition;
  file: string; // relative to the workspace
}

/** Imports the workspace's capability modules (from a copy) and finds the definition with this id. */
async function findDefinition(wsCopy: string, capDirRel: string, id: string): Promise<{ found: Found | null; known: string[]; broken: string[] }> {
  const dir = join(wsCopy, capDirRel);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.(mjs|js)$/.test(f) && !/\.test\./.test(f)).sort() : [];
  const known: string[] = [];
  const broken: string[] = [];
  let found: Found | null = null;
  for (const name of files) {
    const file = join(capDirRel, name);
    try {
      const mod = (await import(pathToFileURL(join(dir, name)).href)) as { default?: unknown };
      if (typeof mod.default !== 'function') throw new Error('does not default-export define({ z })');
      const defs = (mod.default as (kit: { z: typeof z }) => unknown)({ z });
      for (const d of Array.isArray(defs) ? defs : [defs]) {
        const did = (d as { id?: unknown } | null)?.id;
        if (typeof did !== 'string') continue;
        known.push(did);
        if (did === id && !found) found = { def: d as CapabilityDefinition, file };
      }
    } catch (err) {
      broken.push(`${file}: ${errText(err)}`);
    }
  }
  return { found, known, broken };
}

/** Loads the definition again from another copy, so that module state never crosses copies. */
async function definitionIn(wsCopy: string, found: Found): Promise<CapabilityDefinition> {
  const mod = (await import(pathToFileURL(join(wsCopy, found.file)).href)) as { default: (kit: { z: typeof z }) => unknown };
  const defs = mod.default({ z });
  const def = (Array.isArray(defs) ? defs : [defs]).find((d) => (d as { id?: string }).id === found.def.id);
  if (!def) throw new Error(`${found.file} no longer defines ${found.def.id}`);
  return def as CapabilityDefinition;
}

export async function checkCapability(workspace: string, id: string): Promise<CapabilityReport> {
  const ws = resolve(workspace);
  const { config, problems } = loadConfig(ws);
  if (!config) throw new ConfigError(problems);
  // A PostgreSQL store has no files in the workspace; a copy always gets a SQLite store of its own.
  const storePath = config.store.kind === 'postgres' ? null : resolve(ws, config.store.path);
  const storeFiles = new Set(storePath ? [storePath, `${storePath}-wal`, `${storePath}-shm`, `${storePath}-journal`].map((p) => resolve(p)) : []);
  const isStore = (rel: string) => storeFiles.has(resolve(ws, rel)) || rel.startsWith(COPY_STORE);
  const copies = new Copies(ws, storeFiles);
  try {
    return await runChecks(ws, id, config, copies, isStore);
  } finally {
    copies.dispose();
  }
}

async function runChecks(ws: string, id: string, config: WorkspaceConfig, copies: Copies, isStore: (rel: string) => boolean): Promise<CapabilityReport> {
  const checks: CheckResult[] = [];
  const add = (c: CheckResult) => checks.push(c);
  const report = (source: string | null): CapabilityReport => ({ capability: id, source, ok: !checks.some((c) => c.status === 'fail'), checks });
  const capDirRel = config.paths.capabilities;

  const base = copies.fresh();
  const { found, known, broken } = await findDefinition(base, capDirRel, id);
  if (!found) {
    if (broken.length) {
      add({ id: 'load', status: 'fail', message: `no module defines \`${id}\`, and some modules failed to load`, details: broken });
      return report(null);
    }
    throw new UsageError(`no capability \`${id}\` in ${capDirRel}/ (known: ${known.join(', ') || 'none'}); scaffold one with \`mandate capability new ${id}\``);
  }
  add({ id: 'load', status: 'pass', message: `defined in ${found.file}${broken.length ? `; other modules failed: ${broken.join('; ')}` : ''}` });
  const def = found.def;

  // 1. The definition's shape, as the loader checks it.
  const manifest = CapabilityDefinitionSchema.safeParse(def);
  if (!manifest.success) {
    add({ id: 'manifest', status: 'fail', message: 'the definition does not fit the capability definition schema', details: manifest.error.issues.map((i) => `${i.path.join('.') || '(definition)'}: ${i.message}`) });
    return report(found.file);
  }
  add({ id: 'manifest', status: 'pass', message: `${def.sideEffect} capability v${def.version}, ${def.examples?.length ?? 0} example(s)` });

  // 2. Schemas compile to the JSON Schema Mandate publishes; example params fit where they must.
  let inputJson: Json;
  try {
    const cap = toCapability(def, found.file);
    inputJson = cap.inputJsonSchema;
    if (inputJson['type'] !== 'object') throw new Error('the input schema is not an object');
  } catch (err) {
    add({ id: 'schemas', status: 'fail', message: `input and output must compile to JSON Schema (draft-07): ${errText(err)}` });
    return report(found.file);
  }
  const examples = def.examples ?? [];
  const parses = examples.map((e) => def.input.safeParse(e.params));
  const badExamples = examples.flatMap((e, i) => (e.expect !== 'rejected' && !parses[i]?.success ? [`example ${label(e, i)} expects ${e.expect}, but its params do not parse: ${parses[i]?.error?.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`] : []));
  add(badExamples.length ? { id: 'schemas', status: 'fail', message: 'an example that should run has params the input schema refuses', details: badExamples } : { id: 'schemas', status: 'pass', message: 'input and output compile to JSON Schema (draft-07); example params fit the input schema' });

  const deadlineMs = def.limits?.deadlineMs ?? config.limits.default_deadline_ms;
  const maxOutputBytes = def.limits?.maxOutputBytes ?? config.limits.default_max_output_bytes;
  const now = Date.now();
  // A check run has no caller to report progress to: ctx.progress goes nowhere.
  const ctxFor = (dir: string, signal: AbortSignal = new AbortController().signal): CheckContext => ({ signal, dfid: TEST_DFID, agent: TEST_AGENT, workspaceDir: dir, now, progress: () => undefined });
  // Requests to run the handler with: examples that must be accepted, else `{}` if the schema takes it.
  const acceptedParams = examples.flatMap((e, i) => (e.expect === 'accepted' && parses[i]?.success ? [parses[i].data as Json] : [])).slice(0, MAX_SAMPLES);
  const empty = def.input.safeParse({});
  const runParams = acceptedParams.length ? acceptedParams : empty.success ? [empty.data as Json] : [];
  const factParams = [...new Map([...runParams, ...examples.flatMap((e, i) => (parses[i]?.success ? [parses[i].data as Json] : []))].map((p) => [canonicalJson(p), p])).values()].slice(0, MAX_SAMPLES);
  const noRun = 'add an example with `expect: accepted` so the handler can be run';

  // 3. Facts: read-only, and deterministic across two calls with the same params and context.
  if (!def.facts) add({ id: 'facts', status: 'skip', message: 'no facts resolver' });
  else if (!factParams.length) add({ id: 'facts', status: 'skip', message: `no example params parse; ${noRun}` });
  else {
    const problems: string[] = [];
    for (const params of factParams) {
      const dir = copies.fresh();
      const cdef = await definitionIn(dir, found);
      const before = snapshot(dir, isStore);
      try {
        const a = await bounded(cdef.facts?.(params, ctxFor(dir)), deadlineMs, 'facts');
        const b = await bounded(cdef.facts?.(params, ctxFor(dir)), deadlineMs, 'facts');
        if (!a || typeof a !== 'object' || Array.isArray(a)) problems.push(`${canonicalJson(params)}: facts must return a plain object`);
        else if (canonicalJson(JSON.parse(JSON.stringify(a))) !== canonicalJson(JSON.parse(JSON.stringify(b)))) problems.push(`${canonicalJson(params)}: two calls gave different facts: ${canonicalJson(a)} then ${canonicalJson(b)}`);
      } catch (err) {
        problems.push(`${canonicalJson(params)}: ${errText(err)}`);
      }
      const changed = diff(before, snapshot(dir, isStore));
      if (changed.length) problems.push(`${canonicalJson(params)}: the facts resolver wrote to the workspace: ${changed.join(', ')}`);
    }
    add(problems.length ? { id: 'facts', status: 'fail', message: 'the facts resolver must be read-only and deterministic', details: problems } : { id: 'facts', status: 'pass', message: `read-only and deterministic over two calls, for ${factParams.length} request(s)` });
  }

  // 4. Output: the handler's result is JSON, within the output cap, and parses with the output schema.
  const runs: { params: Json; ms: number; changed: string[] }[] = [];
  if (!runParams.length) add({ id: 'output', status: 'skip', message: noRun });
  else {
    const problems: string[] = [];
    for (const params of runParams) {
      const dir = copies.fresh();
      const cdef = await definitionIn(dir, found);
      const before = snapshot(dir, isStore);
      const started = performance.now();
      try {
        const facts = cdef.facts ? ((await bounded(cdef.facts(params, ctxFor(dir)), deadlineMs, 'facts')) as Json) : {};
        const out = await bounded(cdef.handler(params, { ...ctxFor(dir), facts: JSON.parse(JSON.stringify(facts ?? {})) as Json }), deadlineMs * 2 + 1_000, 'the handler');
        const ms = Math.round(performance.now() - started);
        runs.push({ params, ms, changed: diff(before, snapshot(dir, isStore)) });
        const text = JSON.stringify(out);
        if (text === undefined) problems.push(`${canonicalJson(params)}: the output is not JSON`);
        else if (Buffer.byteLength(text) > maxOutputBytes) problems.push(`${canonicalJson(params)}: the output is ${Buffer.byteLength(text)} bytes, over the cap of ${maxOutputBytes}`);
        const parsed = def.output.safeParse(out);
        if (!parsed.success) problems.push(`${canonicalJson(params)}: the output does not match the output schema: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(output)'}: ${i.message}`).join('; ')}`);
      } catch (err) {
        problems.push(`${canonicalJson(params)}: the handler failed: ${errText(err)}`);
      }
    }
    add(problems.length ? { id: 'output', status: 'fail', message: 'the output must match the output schema', details: problems } : { id: 'output', status: 'pass', message: `matches the output schema and fits ${maxOutputBytes} bytes, for ${runParams.length} request(s)` });
  }

  // 5. Deadline and abort signal.
  if (!runs.length) add({ id: 'deadline', status: 'skip', message: runParams.length ? 'the handler did not complete' : noRun });
  else {
    const slow = runs.filter((r) => r.ms > deadlineMs);
    add(slow.length ? { id: 'deadline', status: 'fail', message: `the handler ran past its deadline of ${deadlineMs} ms`, details: slow.map((r) => `${canonicalJson(r.params)}: ${r.ms} ms`) } : { id: 'deadline', status: 'pass', message: `completed within its deadline of ${deadlineMs} ms (slowest ${Math.max(...runs.map((r) => r.ms))} ms)` });
  }
  const firstRun = runParams[0];
  if (!firstRun) add({ id: 'abort', status: 'skip', message: noRun });
  else {
    const dir = copies.fresh();
    const cdef = await definitionIn(dir, found);
    const facts = cdef.facts ? ((await bounded(cdef.facts(firstRun, ctxFor(dir)), deadlineMs, 'facts').catch(() => ({}))) as Json) : {};
    const before = snapshot(dir, isStore);
    const aborted = new AbortController();
    aborted.abort(new Error('capability test: aborted'));
    let outcome: 'rejected' | 'resolved' | 'hung' = 'resolved';
    try {
      await bounded(cdef.handler(firstRun, { ...ctxFor(dir, aborted.signal), facts }), deadlineMs, 'the handler');
    } catch (err) {
      outcome = /did not settle/.test(String((err as Error)?.message)) ? 'hung' : 'rejected';
    }
    const changed = diff(before, snapshot(dir, isStore));
    const problems = [
      ...(outcome === 'resolved' ? ['it completed although its signal had fired: check ctx.signal (ctx.signal.throwIfAborted()) and pass it to your I/O'] : []),
      ...(outcome === 'hung' ? [`it did not stop within its deadline of ${deadlineMs} ms after its signal fired`] : []),
      ...(changed.length ? [`it caused its effect although its signal had fired: ${changed.join(', ')}`] : []),
    ];
    add(problems.length ? { id: 'abort', status: 'fail', message: 'the handler must honour its abort signal', details: problems } : { id: 'abort', status: 'pass', message: 'with its signal already fired, the handler throws and changes nothing' });
  }

  // 6. The side-effect class, as clients see it (tool annotations) and as the handler behaves.
  {
    const tool = capabilityTool(toCapability(def, found.file));
    const problems: string[] = [];
    const notes: string[] = [];
    if (!tool) notes.push('the input has a `mandate` property, so the capability is not exposed as its own tool (invoke_capability still works)');
    else {
      if (tool.annotations.readOnlyHint !== (def.sideEffect === 'read')) problems.push(`readOnlyHint is ${tool.annotations.readOnlyHint} for a ${def.sideEffect} capability`);
      if (tool.annotations.destructiveHint !== (def.sideEffect === 'destructive')) problems.push(`destructiveHint is ${tool.annotations.destructiveHint} for a ${def.sideEffect} capability`);
    }
    const wrote = runs.filter((r) => r.changed.length);
    if (def.sideEffect === 'read' && wrote.length) problems.push(`declared read, but the handler changed the workspace: ${wrote.flatMap((r) => r.changed).join(', ')}; declare write (or destructive)`);
    if (def.sideEffect !== 'read' && runs.length && !wrote.length) notes.push(`declared ${def.sideEffect}, but the handler changed no workspace file (fine if its effect is elsewhere; if it only reads, declare read)`);
    const annotations = tool ? `readOnlyHint ${tool.annotations.readOnlyHint}, destructiveHint ${tool.annotations.destructiveHint}` : 'not exposed as a tool';
    add(problems.length ? { id: 'side_effect', status: 'fail', message: `declared ${def.sideEffect}; inconsistent`, details: problems } : { id: 'side_effect', status: notes.length ? 'warn' : 'pass', message: `declared ${def.sideEffect}: ${annotations}${runs.length ? `; the handler ${wrote.length ? 'changed files' : 'changed no file'}` : ''}`, ...(notes.length ? { details: notes } : {}) });
  }

  // 7. Examples: each through a real kernel on its own fresh copy, under its contract.
  if (!examples.length) add({ id: 'examples', status: 'skip', message: 'no examples in the definition; add `examples: [{ params, expect }]`' });
  else add(await checkExamples(id, examples, copies));

  // 8. The author's own tests, if there is a test file next to the module.
  add(await runAuthorTests(found, copies, ctxFor));

  return report(found.file);
}

function label(e: CapabilityExample, i: number): string {
  return `#${i + 1}${e.title ? ` (${e.title})` : ''}`;
}

async function checkExamples(id: string, examples: CapabilityExample[], copies: Copies): Promise<CheckResult> {
  const results: string[] = [];
  let failed = 0;
  for (const [i, e] of examples.entries()) {
    const dir = copies.fresh();
    const agent = e.contract ?? TEST_AGENT;
    try {
      if (!e.contract) {
        const probe = await loadWorkspace(dir);
        if (probe.workspace?.contracts.has(TEST_AGENT)) throw new Error(`the workspace already has an agent \`${TEST_AGENT}\`; name a contract in the example`);
        const contractsDir = join(dir, probe.workspace?.config.paths.contracts ?? 'contracts');
        writeFileSync(
          join(contractsDir, `${TEST_AGENT}.yaml`),
          `# Written by \`mandate capability test\` in a temporary copy: grants ${id} and nothing else.\n${stringify({ agent: TEST_AGENT, version: 1, owner: 'mandate capability test', mission: `Exercise ${id}.`, role: 'agent', grants: [{ capability: id }] })}`,
        );
      }
      const loaded = await loadWorkspace(dir);
      if (!loaded.workspace) throw new Error(`the workspace does not load:\n${formatProblems(loaded.problems)}`);
      if (!loaded.workspace.contracts.has(agent)) throw new Error(`no contract for agent \`${agent}\``);
      const rt = await openRuntime(dir, silentLogger);
      try {
        const outcome = await rt.kernel.govern({ agent, intent: { capability: id, params: e.params, idempotency_key: `capability-test-${i + 1}` }, channel: 'cli' });
        await rt.kernel.settle();
        const missing = (e.reasons ?? []).filter((r) => !outcome.reasons.includes(r));
        const ok = outcome.verdict === e.expect && !missing.length;
        if (!ok) failed++;
        results.push(
          `${ok ? 'ok  ' : 'FAIL'} ${label(e, i)} as ${agent}: expected ${e.expect}${e.reasons?.length ? ` [${e.reasons.join(', ')}]` : ''}, got ${outcome.verdict} [${outcome.reasons.join(', ')}]${ok ? '' : outcome.details.length ? ` (${outcome.details.map((d) => d.message).join('; ')})` : ''}`,
        );
      } finally {
        await rt.close();
      }
    } catch (err) {
      failed++;
      results.push(`FAIL ${label(e, i)}: ${errText(err)}`);
    }
  }
  return failed
    ? { id: 'examples', status: 'fail', message: `${failed} of ${examples.length} example(s) did not get their declared verdict`, details: results }
    : { id: 'examples', status: 'pass', message: `${examples.length} example(s) got their declared verdicts through the kernel`, details: results };
}

/** What a check hands a facts resolver or a handler (a handler also gets its facts). */
type CheckContext = CapabilityContext & { progress: ProgressReporter };

type AuthorTest = (kit: { cap: CapabilityDefinition; ctx: (o?: Partial<CheckContext>) => CheckContext; assert: typeof assert }) => unknown;

async function runAuthorTests(found: Found, copies: Copies, ctxFor: (dir: string, signal?: AbortSignal) => CheckContext): Promise<CheckResult> {
  const testFile = found.file.replace(/\.(mjs|js)$/, '.test.$1');
  const probe = copies.fresh();
  if (!existsSync(join(probe, testFile))) return { id: 'tests', status: 'skip', message: `no test file (${testFile})` };
  let tests: Record<string, AuthorTest>;
  try {
    const mod = (await import(pathToFileURL(join(probe, testFile)).href)) as { tests?: Record<string, unknown> };
    const all = mod.tests ?? {};
    // Either { name: fn } or, for a module with several capabilities, { [capabilityId]: { name: fn } }.
    const own = all[found.def.id];
    tests = (own && typeof own === 'object' ? own : Object.fromEntries(Object.entries(all).filter(([, v]) => typeof v === 'function'))) as Record<string, AuthorTest>;
  } catch (err) {
    return { id: 'tests', status: 'fail', message: `${testFile} failed to load`, details: [errText(err)] };
  }
  const names = Object.keys(tests);
  if (!names.length) return { id: 'tests', status: 'skip', message: `${testFile} exports no tests` };
  const results: string[] = [];
  let failed = 0;
  for (const name of names) {
    const dir = copies.fresh();
    try {
      const cap = await definitionIn(dir, found);
      await bounded(tests[name]?.({ cap, ctx: (o = {}) => ({ ...ctxFor(dir), ...o }), assert }), TEST_TIMEOUT_MS, `test "${name}"`);
      results.push(`ok   ${name}`);
    } catch (err) {
      failed++;
      results.push(`FAIL ${name}: ${errText(err)}`);
    }
  }
  return failed ? { id: 'tests', status: 'fail', message: `${failed} of ${names.length} test(s) in ${testFile} failed`, details: results } : { id: 'tests', status: 'pass', message: `${names.length} test(s) in ${testFile} passed`, details: results };
}
