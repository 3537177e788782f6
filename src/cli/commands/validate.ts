import { existsSync } from 'node:fs';
import { loadWorkspace } from '../../workspace/load.js';
import type { Workspace } from '../../kernel/loaded-set.js';
import { formatProblems, type Problem } from '../../config/problems.js';
import { systemWorld } from '../../core/world.js';
import { pinnedToolTypes } from '../../gateway/capability.js';
import { collisions } from '../../gateway/exposure.js';
import type { PinRow } from '../../store/port/index.js';
import { resolve } from 'node:path';
import { workspaceSchemas } from '../../policy/typecheck.js';
import { openStore } from '../../store/sqlite/store.js';
import { loadSigningKey } from '../../anchor/signing-key.js';
import { ConfigError } from '../../config/problems.js';
import type { WorkspaceConfig } from '../../config/workspace-schema.js';
import { EXIT, printJson, workspaceDir } from '../common.js';

/** Checks a workspace and reports every problem with file, path and a fix hint. */
export async function validateCommand(opts: { workspace?: string; json?: boolean; cedarSchema?: boolean }): Promise<number> {
  const dir = workspaceDir(opts.workspace);
  // Grants and policies on pinned upstream tools are type-checked against the pins in the store.
  const loaded = await loadWorkspace(dir, { pinnedTools: (config) => pinnedToolTypes(storedPins(config, dir), config) });
  const problems = [...loaded.problems, ...(loaded.workspace ? [...pinnedNameCollisions(loaded.workspace), ...signingProblems(loaded.workspace.config, dir)] : [])];
  const workspace = problems.length ? null : loaded.workspace;
  if (opts.cedarSchema && workspace) {
    printJson(workspaceSchemas([...workspace.contracts.values()], workspace.capabilities));
    return EXIT.ok;
  }
  // Capabilities whose facts or derived values have no declared shape: their policies are not type-checked.
  const notes = (workspace?.untypedCapabilities ?? []).map((why) => `policies are not type-checked for ${why}`);
  if (opts.json) {
    printJson({ ok: problems.length === 0, problems, notes });
  } else if (workspace) {
    const policies = Object.keys(workspace.policySet.policies).length;
    process.stdout.write(
      `workspace ${dir} is valid: ${workspace.contracts.size} contracts, ${workspace.capabilities.size} capabilities, ${policies} policies, type-checked (set ${workspace.policySet.hash.slice(0, 16)}…)\n${notes.map((n) => `note: ${n}\n`).join('')}`,
    );
    const store = workspace.config.store;
    // The URL lives only in the environment, so its absence here is a note, not a problem of the workspace.
    if (store.kind === 'postgres') {
      process.stdout.write(`store: postgres, URL from $${store.url_env}${process.env[store.url_env] ? '' : ' (not set in this environment: serve and the CLI will exit 2 until it is)'}\n`);
    }
  } else {
    process.stderr.write(`workspace ${dir} has ${problems.length} problem(s):\n${formatProblems(problems)}\n`);
  }
  return problems.length ? EXIT.config : EXIT.ok;
}

/**
 * Names two upstreams would both expose (ADR-013), from the pins in the
 * store: which tools, resources and prompts an upstream offers is known only
 * once it is pinned. `mandate upstream pin` refuses to create a collision;
 * this catches one made by changing `expose` or `tools.mandate_tools` later.
 */
function pinnedNameCollisions(workspace: Workspace): Problem[] {
  if (!Object.keys(workspace.config.upstreams).length || !existsSync(workspace.storePath)) return [];
  const store = openStore(workspace.storePath, systemWorld);
  try {
    return collisions(workspace.config, store.pins.list()).map((c) => ({
      file: 'mandate.yaml',
      path: `upstreams.${c.servers.filter((s) => s !== 'mandate').join(', upstreams.')}`,
      message: `the ${c.kind} name \`${c.name}\` would be exposed by ${c.servers.map((s) => (s === 'mandate' ? "Mandate's own tools" : `\`${s}\``)).join(' and ')}: a client could not tell them apart`,
      hint: 'set `expose: prefixed` on one of the upstreams (or `tools.mandate_tools: false`)',
    }));
  } finally {
    store.close();
  }
}

/** The pins of a SQLite store that exists already (validate never creates one, nor connects to PostgreSQL). */
function storedPins(config: WorkspaceConfig, dir: string): PinRow[] {
  if (config.store.kind !== 'sqlite' || !Object.keys(config.upstreams).length) return [];
  const path = resolve(dir, config.store.path);
  if (!existsSync(path)) return [];
  const store = openStore(path, systemWorld);
  try {
    return store.pins.list();
  } finally {
    store.close();
  }
}

/** The signing key must load where `serve` will look for it; a key from the environment is checked only when its variable is set here. */
function signingProblems(config: WorkspaceConfig, dir: string): Problem[] {
  const signing = config.signing;
  if (!signing || (signing.private_key_env !== undefined && !process.env[signing.private_key_env])) return [];
  try {
    loadSigningKey(signing, dir);
    return [];
  } catch (err) {
    return err instanceof ConfigError ? err.problems : [{ file: 'mandate.yaml', path: 'signing', message: (err as Error).message, hint: 'check the signing key' }];
  }
}
