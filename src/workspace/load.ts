import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, extname, join, relative, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { MEMORY_WRITE_ID, memoryWriteCapability } from '../capabilities/builtin/memory-write.js';
import { loadCapabilities } from '../capabilities/load.js';
import type { Capability } from '../capabilities/manifest.js';
import { capabilityMatches, ContractSchema, grantFor, isGlob, type Contract } from '../config/contract-schema.js';
import { MemorySeedSchema, type MemorySeed } from '../config/memory-schema.js';
import { ConfigError, zodProblems, type Problem } from '../config/problems.js';
import { WorkspaceConfigSchema, type WorkspaceConfig } from '../config/workspace-schema.js';
import { delegateCapability } from '../kernel/delegation/capability.js';
import { DELEGATE_ID } from '../kernel/delegation/request.js';
import type { Workspace } from '../kernel/loaded-set.js';
import { numericKind } from '../policy/cedar-schema.js';
import { compilePolicySet } from '../policy/compile.js';
import { typecheckPolicies } from '../policy/typecheck.js';

export interface LoadResult {
  workspace: Workspace | null;
  problems: Problem[];
}

/** Where a workspace's JSON Schemas are: `mandate init` writes them to schema/ (the package ships them in contracts/schema/). */
const schemaHint = (name: string) => `see schema/${name} in your workspace (written by \`mandate init\`; your editor checks as you type)`;

function readYaml(path: string, file: string, problems: Problem[], given?: string): unknown {
  let text: string;
  try {
    text = given ?? readFileSync(path, 'utf8');
  } catch {
    problems.push({ file, path: '(file)', message: 'file cannot be read', hint: 'check that it exists and is readable' });
    return undefined;
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    for (const e of doc.errors) problems.push({ file, path: `line ${e.linePos?.[0]?.line ?? '?'}`, message: e.message.split('\n')[0] ?? e.message, hint: 'fix the YAML syntax' });
    return undefined;
  }
  return doc.toJS();
}

function listFiles(dir: string, pattern: RegExp, overlay?: FolderOverlay): string[] {
  const onDisk = existsSync(dir) ? readdirSync(dir).filter((f) => pattern.test(f)) : [];
  if (!overlay) return onDisk.sort();
  return [...new Set([...onDisk, ...Object.keys(overlay.files)])].filter((f) => pattern.test(f) && !overlay.remove.includes(f)).sort();
}

/** One folder's proposed files: texts by file name (added or replacing the file on disk), and file names left out. */
export interface FolderOverlay {
  files: Record<string, string>;
  remove: string[];
}

/** Reads and checks mandate.yaml alone (for commands such as `doctor` that need nothing else). */
export function loadConfig(dirArg: string): { config: WorkspaceConfig | null; problems: Problem[] } {
  const dir = resolve(dirArg);
  const problems: Problem[] = [];
  const configPath = join(dir, 'mandate.yaml');
  if (!existsSync(configPath)) {
    problems.push({ file: 'mandate.yaml', path: '(file)', message: `no mandate.yaml in ${dir}`, hint: 'run `mandate init <dir>` or pass --workspace <dir>' });
    return { config: null, problems };
  }
  const raw = readYaml(configPath, 'mandate.yaml', problems);
  // Unreadable YAML: report only the YAML error, not the schema errors of an empty file.
  if (raw === undefined) return { config: null, problems };
  const parsedConfig = WorkspaceConfigSchema.safeParse(raw ?? {});
  if (!parsedConfig.success) {
    problems.push(...zodProblems('mandate.yaml', parsedConfig.error, schemaHint('mandate.schema.json'), { schema: WorkspaceConfigSchema, input: raw ?? {} }));
    return { config: null, problems };
  }
  return { config: parsedConfig.data, problems };
}

export interface LoadOptions {
  /**
   * The pinned upstream tools, typed from their pinned input schemas: their
   * grants and policies are compiled and type-checked like a module's. They
   * are not added to the workspace's capabilities (the gateway does that).
   */
  pinnedTools?: (config: WorkspaceConfig) => Promise<Capability[]> | Capability[];
  /** A live reload: capability modules are imported anew under this token, not taken from the module cache. */
  fresh?: string;
  /**
   * A proposed change held in memory (the console's policy impact): contract
   * and policy files by name, over those of the workspace folder. Nothing is
   * written, and file names are names within the folder, never paths.
   */
  overlay?: { contracts: FolderOverlay; policies: FolderOverlay };
  /** The capability modules already loaded (built-ins and upstream tools left out): none is imported. */
  modules?: ReadonlyMap<string, Capability>;
}

/** Loads and checks a whole workspace, collecting every problem rather than stopping at the first. */
export async function loadWorkspace(dirArg: string, opts: LoadOptions = {}): Promise<LoadResult> {
  const dir = resolve(dirArg);
  const loaded = loadConfig(dir);
  const problems = loaded.problems;
  if (!loaded.config) return { workspace: null, problems };
  const config = loaded.config;
  const rel = (p: string) => relative(dir, p);

  const capabilityProblems: Problem[] = [];
  const capabilities = opts.modules ? new Map(opts.modules) : await loadCapabilities(join(dir, config.paths.capabilities), dir, capabilityProblems, opts.fresh);
  problems.push(...capabilityProblems);
  if (capabilities.has(DELEGATE_ID)) problems.push({ file: capabilities.get(DELEGATE_ID)?.source ?? '', path: 'id', message: `\`${DELEGATE_ID}\` is built in`, hint: 'choose another id' });
  if (capabilities.has(MEMORY_WRITE_ID)) problems.push({ file: capabilities.get(MEMORY_WRITE_ID)?.source ?? '', path: 'id', message: `\`${MEMORY_WRITE_ID}\` is built in`, hint: 'choose another id' });

  const contracts = new Map<string, Contract>();
  // Built-in capabilities: listed for validation here; the runtime binds them to the store.
  capabilities.set(MEMORY_WRITE_ID, memoryWriteCapability(null, contracts));
  capabilities.set(DELEGATE_ID, delegateCapability(null, () => null, contracts));
  // An upstream's tools are `<name>.<tool>`: its name must not be a namespace of another capability.
  const upstreams = new Set(Object.keys(config.upstreams));
  for (const name of upstreams) {
    const clash = [...capabilities.keys()].find((id) => id.split('.')[0] === name);
    if (clash) problems.push({ file: 'mandate.yaml', path: `upstreams.${name}`, message: `the upstream name \`${name}\` is also the namespace of \`${clash}\``, hint: 'rename the upstream: its tools become <name>.<tool>' });
  }
  const contractsDir = join(dir, config.paths.contracts);
  const contractFiles = listFiles(contractsDir, /\.ya?ml$/, opts.overlay?.contracts);
  if (!contractFiles.length) problems.push({ file: config.paths.contracts, path: '(folder)', message: 'no contracts found', hint: 'add one <agent>.yaml per agent' });
  const contractSource = new Map<string, string>();
  // Agents whose contract exists but is broken: already reported, so never "unknown" elsewhere (no cascades).
  const brokenAgents = new Set<string>();
  for (const name of contractFiles) {
    const file = rel(join(contractsDir, name));
    const stem = basename(name, extname(name));
    const raw = readYaml(join(contractsDir, name), file, problems, opts.overlay?.contracts.files[name]);
    const parsed = raw === undefined ? undefined : ContractSchema.safeParse(raw);
    if (!parsed?.success) {
      const named = (raw as { agent?: unknown } | null | undefined)?.agent;
      brokenAgents.add(typeof named === 'string' ? named : stem);
      brokenAgents.add(stem);
      if (parsed) problems.push(...zodProblems(file, parsed.error, schemaHint('contract.schema.json'), { schema: ContractSchema, input: raw }));
      continue;
    }
    const c = withDelegateGrant(parsed.data);
    if (contracts.has(c.agent)) {
      problems.push({ file, path: 'agent', message: `agent \`${c.agent}\` already has a contract in ${contractSource.get(c.agent)}`, hint: 'one contract per agent' });
      continue;
    }
    if (c.agent !== stem) problems.push({ file, path: 'agent', message: `the file is named \`${name}\` but declares agent \`${c.agent}\``, hint: `rename the file to ${c.agent}${extname(name)}, or set agent: ${stem}` });
    contracts.set(c.agent, c);
    contractSource.set(c.agent, file);
    // A capability module that failed to load is reported once; its grants are not "unknown" on top.
    checkContractRefs(c, file, capabilities, upstreams, capabilityProblems.length ? [] : problems);
  }
  for (const [agent, c] of contracts) {
    const file = contractSource.get(agent) as string;
    for (const field of ['supervises', 'approves'] as const) {
      c[field].forEach((target, i) => {
        if (!contracts.has(target) && !brokenAgents.has(target)) problems.push({ file, path: `${field}.${i}`, message: `unknown agent \`${target}\``, hint: 'name an agent that has a contract' });
        if (target === agent) problems.push({ file, path: `${field}.${i}`, message: `an agent cannot be listed under its own ${field}`, hint: 'only another agent or an operator may act on it' });
      });
      if (c[field].length && c.role !== 'supervisor') problems.push({ file, path: 'role', message: `only a supervisor may list agents under ${field}`, hint: `set role: supervisor or empty ${field}` });
    }
  }

  // What is typed: the modules, and the pinned tools no module's id shadows.
  const typed = new Map(capabilities);
  for (const cap of (await opts.pinnedTools?.(config)) ?? []) if (!typed.has(cap.def.id)) typed.set(cap.def.id, cap);
  const policiesDir = join(dir, config.paths.policies);
  const policyFiles = listFiles(policiesDir, /\.cedar$/, opts.overlay?.policies).map((name) => ({ file: rel(join(policiesDir, name)), text: opts.overlay?.policies.files[name] ?? readFileSync(join(policiesDir, name), 'utf8') }));
  const kindOf = (pattern: string, field: string) => {
    const kinds = new Set([...typed.values()].filter((cap) => capabilityMatches(pattern, cap.def.id)).map((cap) => numericKind(cap, field)));
    // No capability matches (an upstream tool not pinned yet): integers, as before types.
    return kinds.size === 0 ? 'long' : kinds.size === 1 ? ([...kinds][0] as 'long' | 'decimal' | 'other') : 'other';
  };
  const policyProblems: Problem[] = [];
  const policySet = compilePolicySet([...contracts.values()], policyFiles, policyProblems, kindOf);
  problems.push(...policyProblems);
  // Types are checked once every policy parses: a syntax error is reported alone.
  const untypedCapabilities = policyProblems.length ? [] : typecheckPolicies({ set: policySet, files: policyFiles, contracts: [...contracts.values()], contractFiles: contractSource, capabilities: typed }, problems);

  const memorySeeds: MemorySeed[] = [];
  const memoryDir = join(dir, config.paths.memory);
  for (const name of listFiles(memoryDir, /\.ya?ml$/)) {
    const file = rel(join(memoryDir, name));
    const raw = readYaml(join(memoryDir, name), file, problems);
    if (raw === undefined) continue;
    const parsed = MemorySeedSchema.safeParse(raw);
    if (parsed.success) memorySeeds.push(parsed.data);
    else problems.push(...zodProblems(file, parsed.error, `a memory file is { scope, records: [{ key, sensitivity, value }] }; ${schemaHint('memory.schema.json')}`, { schema: MemorySeedSchema, input: raw }));
  }

  if (problems.length) return { workspace: null, problems };
  return {
    workspace: { dir, config, storePath: config.store.kind === 'postgres' ? '' : resolve(dir, config.store.path), contracts, capabilities, policySet, memorySeeds, untypedCapabilities },
    problems,
  };
}

/** Like loadWorkspace, but throws a ConfigError listing every problem. */
export async function requireWorkspace(dir: string, opts: LoadOptions = {}): Promise<Workspace> {
  const { workspace, problems } = await loadWorkspace(dir, opts);
  if (!workspace) throw new ConfigError(problems);
  return workspace;
}

/**
 * A grant names a loaded capability, a glob that matches at least one, or
 * (exact or glob) a tool of a configured upstream. Which tools an upstream
 * offers is known only once they are pinned, so those are checked at call
 * time (CAPABILITY_UNKNOWN for a tool that is not pinned).
 */
function checkContractRefs(c: Contract, file: string, capabilities: Map<string, Capability>, upstreams: Set<string>, problems: Problem[]): void {
  const granted = new Set<string>();
  const ofUpstream = (pattern: string) => upstreams.has(pattern.split('.')[0] as string);
  const covered = (pattern: string) =>
    isGlob(pattern)
      ? c.grants.some((g) => g.capability === pattern || (isGlob(g.capability) && g.capability.split('.')[0] === pattern.split('.')[0]) || (!isGlob(g.capability) && capabilityMatches(pattern, g.capability)))
      : !!grantFor(c, pattern);
  c.grants.forEach((g, i) => {
    if (granted.has(g.capability)) problems.push({ file, path: `grants.${i}`, message: `capability \`${g.capability}\` granted twice`, hint: 'merge the two grants' });
    granted.add(g.capability);
    if (ofUpstream(g.capability)) return;
    if (isGlob(g.capability)) {
      if (![...capabilities.keys()].some((id) => capabilityMatches(g.capability, id))) {
        problems.push({ file, path: `grants.${i}.capability`, message: `\`${g.capability}\` matches no capability`, hint: `loaded: ${[...capabilities.keys()].join(', ') || '(none)'}; upstreams: ${[...upstreams].join(', ') || '(none)'}` });
      }
      return;
    }
    if (!capabilities.get(g.capability)) {
      problems.push({
        file,
        path: `grants.${i}.capability`,
        message: `unknown capability \`${g.capability}\``,
        hint: `use one of: ${[...capabilities.keys()].join(', ') || '(none loaded)'}${upstreams.size ? `, or <upstream>.<tool> of: ${[...upstreams].join(', ')}` : ''}`,
      });
    }
  });
  // Resource, prompt and client-request grants name an upstream (ADR-013); what it offers is known once pinned.
  for (const field of ['resources', 'prompts', 'client_requests'] as const) {
    c[field].forEach((g, i) => {
      if (!upstreams.has(g.upstream)) problems.push({ file, path: `${field}.${i}.upstream`, message: `no upstream \`${g.upstream}\` in mandate.yaml`, hint: `name one of: ${[...upstreams].join(', ') || '(none configured)'}` });
    });
  }
  c.monitors.forEach((m, i) => {
    if (m.capability && !covered(m.capability)) problems.push({ file, path: `monitors.${i}.capability`, message: `\`${m.capability}\` is not granted by this contract`, hint: 'monitor a granted capability, or omit capability to watch all' });
  });
  const ids = new Set<string>();
  c.monitors.forEach((m, i) => {
    if (ids.has(m.id)) problems.push({ file, path: `monitors.${i}.id`, message: `monitor id \`${m.id}\` is used twice`, hint: 'give each monitor a unique id' });
    ids.add(m.id);
  });
  c.escalation.rules.forEach((r, i) => {
    if (!covered(r.capability)) problems.push({ file, path: `escalation.rules.${i}.capability`, message: `\`${r.capability}\` is not granted by this contract`, hint: 'escalation rules apply to granted capabilities only' });
  });
}

/** A `delegation:` section grants the built-in `delegation.create` (the `delegate` tool), so Cedar and DIM govern it like any grant (ADR-022). */
function withDelegateGrant(c: Contract): Contract {
  if (!c.delegation || c.grants.some((g) => g.capability === DELEGATE_ID)) return c;
  return { ...c, grants: [...c.grants, { capability: DELEGATE_ID, limits: {} }] };
}
