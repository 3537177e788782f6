import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { Problem } from '../config/problems.js';
import { zodProblems } from '../config/problems.js';
import { CapabilityDefinitionSchema, toCapability, type Capability, type CapabilityDefinition } from './manifest.js';

/** What a capability module's default export receives: the kernel's own zod, so schemas are one instance. */
export interface CapabilityKit {
  z: typeof z;
}

/**
 * Imports every `*.mjs` / `*.js` module in the capabilities folder. Each
 * default-exports `define({ z })` returning one definition or an array of them.
 * `fresh` (a live reload) imports them again rather than from the module cache.
 */
export async function loadCapabilities(dir: string, workspaceDir: string, problems: Problem[], fresh?: string): Promise<Map<string, Capability>> {
  const out = new Map<string, Capability>();
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => /\.(mjs|js)$/.test(f) && !/\.test\./.test(f)).sort();
  } catch {
    problems.push({ file: relative(workspaceDir, dir) || dir, path: '(folder)', message: 'capabilities folder is missing', hint: 'create it, or set paths.capabilities in mandate.yaml' });
    return out;
  }
  for (const name of files) {
    const path = join(dir, name);
    const file = relative(workspaceDir, path);
    let defs: unknown;
    try {
      // A live reload imports each module anew (`fresh` is a query Node's module cache keys on); the old copies stay in memory.
      const mod = (await import(`${pathToFileURL(path).href}${fresh ? `?reload=${fresh}` : ''}`)) as { default?: unknown };
      if (typeof mod.default !== 'function') {
        problems.push({ file, path: 'default export', message: 'module does not default-export a function', hint: 'export default function define({ z }) { return { id, ... } }' });
        continue;
      }
      defs = (mod.default as (kit: CapabilityKit) => unknown)({ z });
    } catch (err) {
      problems.push({ file, path: '(module)', message: `failed to load: ${(err as Error).message}`, hint: 'fix the module so that it imports and runs' });
      continue;
    }
    const list = Array.isArray(defs) ? defs : [defs];
    list.forEach((def, index) => {
      const parsed = CapabilityDefinitionSchema.safeParse(def);
      if (!parsed.success) {
        problems.push(...zodProblems(file, parsed.error, 'see docs/capabilities.md for the definition fields', { schema: CapabilityDefinitionSchema, input: def }).map((p) => ({ ...p, path: list.length > 1 ? `[${index}].${p.path}` : p.path })));
        return;
      }
      const capDef = def as CapabilityDefinition;
      if (out.has(capDef.id)) {
        problems.push({ file, path: 'id', message: `capability \`${capDef.id}\` is defined twice (also in ${out.get(capDef.id)?.source})`, hint: 'give each capability a unique id' });
        return;
      }
      try {
        out.set(capDef.id, toCapability(capDef, file));
      } catch (err) {
        problems.push({ file, path: 'input/output', message: `schema cannot be published as JSON Schema: ${(err as Error).message}`, hint: 'use JSON-representable zod types' });
      }
    });
  }
  return out;
}
