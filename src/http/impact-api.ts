import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { loadWorkspace } from '../workspace/load.js';
import type { Workspace } from '../kernel/loaded-set.js';
import { pinnedToolTypes } from '../gateway/capability.js';
import { DELEGATE_ID } from '../kernel/delegation/request.js';
import { MEMORY_WRITE_ID } from '../capabilities/builtin/memory-write.js';
import { policyImpact } from '../kernel/impact.js';
import { PolicyEngine } from '../policy/engine.js';
import type { HttpContext, RouteRequest } from './context.js';
import { sendError, sendJson } from './errors.js';

/**
 * Policy impact for a change an operator is about to apply (ADR-023, the
 * console's "foresee" page): the proposed contract and policy files come in
 * the body, by name within their folder, and are laid over the workspace's
 * own in memory. Nothing is written; no path is taken from the request; no
 * module is imported (the loaded capabilities type the proposal), so the
 * proposal is data only. A proposal that does not load is refused whole with
 * its problems, as `mandate validate` would list them.
 */

/** A file name within its folder: no separators, no leading dot, so never a path. */
const name = (ext: string) => z.string().max(100).regex(new RegExp(`^[A-Za-z0-9][A-Za-z0-9_-]*(?:\\.[A-Za-z0-9_-]+)*\\.(?:${ext})$`), `a file name ending in .${ext.split('|').join(' or .')}, without folders`);
const MAX_FILE = 256_000;
const Folder = (ext: string) =>
  z
    .object({
      files: z.record(name(ext), z.string().max(MAX_FILE)).default({}).refine((f) => Object.keys(f).length <= 200, 'at most 200 files'),
      remove: z.array(name(ext)).max(200).default([]),
    })
    .strict()
    .default({ files: {}, remove: [] });

const ImpactBody = z
  .object({
    contracts: Folder('yaml|yml'),
    policies: Folder('cedar'),
    /** Replay decisions made since this time (ISO 8601); default: every stored input. */
    since: z.iso.datetime({ offset: true }).optional(),
    agent: z.string().min(1).max(64).optional(),
    capability: z.string().min(1).max(200).optional(),
  })
  .strict()
  .refine((b) => Object.keys(b.contracts.files).length + b.contracts.remove.length + Object.keys(b.policies.files).length + b.policies.remove.length > 0, { message: 'propose at least one file to change or remove' });

type Operator = RouteRequest & { principal: { kind: 'operator'; id: string; role: 'operator' | 'viewer' } };
type BodyReader = <T>(schema: z.ZodType<T>) => Promise<T | null>;

/** The in-process modules the workspace loaded: the built-ins and upstream tools are added by the loader itself. */
function modulesOf(ws: Workspace) {
  return new Map([...ws.capabilities].filter(([id, c]) => id !== DELEGATE_ID && id !== MEMORY_WRITE_ID && !c.upstream));
}

export async function policyImpactHttp(ctx: HttpContext, r: Operator, read: BodyReader): Promise<void> {
  const b = await read(ImpactBody);
  if (!b) return;
  const { kernel, store, workspace } = ctx.rt;
  const pins = (await store.pins.list()).filter((p) => workspace.config.upstreams[p.server]);
  const loaded = await loadWorkspace(workspace.dir, { pinnedTools: (config) => pinnedToolTypes(pins, config), modules: modulesOf(workspace), overlay: { contracts: b.contracts, policies: b.policies } });
  if (!loaded.workspace) {
    ctx.metrics.rejected('PROPOSED_SET_INVALID');
    return sendError(r.res, 'PROPOSED_SET_INVALID', { extra: { problems: loaded.problems } });
  }
  const proposed = loaded.workspace;
  const since = b.since === undefined ? undefined : Date.parse(b.since);
  const report = await policyImpact(store, { contracts: workspace.contracts, engine: kernel.policy }, { contracts: proposed.contracts, engine: new PolicyEngine(proposed.policySet) }, { since, agent: b.agent, capability: b.capability });
  ctx.log.info({ operator: r.principal.id, replayed: report.replayed, changed: report.changed }, 'operator ran a policy impact');
  sendJson(r.res, 200, { impact: { since: b.since ?? null, policy_set_hash: { current: kernel.policy.set.hash, proposed: proposed.policySet.hash }, ...report } });
}

/** The workspace's contract and policy files as they are on disk (operator role): what the console's impact page starts from. */
export function policyFiles(ctx: HttpContext, r: Operator): void {
  if (r.principal.role !== 'operator') {
    ctx.metrics.rejected('READ_ONLY_ROLE');
    return sendError(r.res, 'READ_ONLY_ROLE', { message: 'the workspace files are for operators' });
  }
  const { dir, config } = ctx.rt.workspace;
  const folder = (sub: string, pattern: RegExp) => {
    const path = join(dir, sub);
    const out: Record<string, string> = {};
    let names: string[] = [];
    try {
      names = readdirSync(path).filter((f) => pattern.test(f)).sort();
    } catch {
      // No such folder: nothing in it.
    }
    for (const f of names) out[f] = readFileSync(join(path, f), 'utf8');
    return out;
  };
  sendJson(r.res, 200, { contracts: folder(config.paths.contracts, /\.ya?ml$/), policies: folder(config.paths.policies, /\.cedar$/) });
}
