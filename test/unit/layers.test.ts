// The layers of src/ and their order (ADR-033): a module imports from its own
// layer or a lower one, never from a layer above it. The order is written
// once, here; a new top-level folder or file must be given its place.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Lowest first. Each name is a folder of src/, or a layer of top-level files (FILES_OF). */
const ORDER = ['core', 'telemetry', 'config', 'store', 'anchor', 'normalize', 'capabilities', 'policy', 'kernel', 'workspace', 'gateway', 'runtime', 'mcp', 'http', 'cli'] as const;

/** The top-level files of src/ and their layer: the composition root and what it wires around itself. */
const FILES_OF: Record<string, (typeof ORDER)[number]> = { 'runtime.ts': 'runtime', 'reload.ts': 'runtime', 'watch.ts': 'runtime' };

/** The layer of a path relative to src/, or undefined if it has none. */
function layerOf(path: string): string | undefined {
  const [first, ...rest] = path.split(sep);
  if (!first) return undefined;
  if (rest.length === 0) return FILES_OF[first] ?? FILES_OF[first.replace(/\.js$/, '.ts')];
  return (ORDER as readonly string[]).includes(first) ? first : undefined;
}

/** Every specifier a source imports: static, type-only, re-exported and dynamic (a literal `import('…')`). */
function specifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** Each import from a module (path relative to src/) into a higher layer, as `from -> specifier (lower -> higher)`. */
function upwardImports(files: ReadonlyMap<string, string>): string[] {
  const found: string[] = [];
  for (const [path, text] of files) {
    const from = layerOf(path);
    if (from === undefined) continue;
    for (const spec of specifiers(text)) {
      if (!spec.startsWith('.')) continue;
      const to = layerOf(relative(SRC, resolve(SRC, dirname(path), spec)));
      if (to === undefined || to === from) continue;
      if (ORDER.indexOf(to as (typeof ORDER)[number]) > ORDER.indexOf(from as (typeof ORDER)[number])) found.push(`${path} -> ${spec} (${from} -> ${to})`);
    }
  }
  return found;
}

function sources(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const full = join(entry.parentPath, entry.name);
    out.set(relative(SRC, full), readFileSync(full, 'utf8'));
  }
  return out;
}

describe('layers of src/', () => {
  const files = sources(SRC);

  it('every module of src/ belongs to a layer of the order', () => {
    expect([...files.keys()].filter((p) => layerOf(p) === undefined)).toEqual([]);
  });

  it('no module imports from a layer above its own', () => {
    expect(upwardImports(files)).toEqual([]);
  });

  it('the check sees static, type-only, re-exported and dynamic imports upward, and lets downward and same-layer ones pass', () => {
    const sample = new Map([
      [join('config', 'a.ts'), "import { x } from '../policy/engine.js';\nimport type { Y } from '../kernel/kernel.js';\nexport { z } from '../store/port/index.js';\nconst m = await import('../cli/main.js');\nimport { c } from '../core/types.js';\nimport { d } from './problems.js';\nimport { z } from 'zod';"],
      [join('core', 'b.ts'), "import { r } from '../runtime.js';"],
      ['reload.ts', "import { l } from './workspace/load.js';\nimport type { H } from './http/app.js';"],
    ]);
    expect(upwardImports(sample)).toEqual([
      `${join('config', 'a.ts')} -> ../policy/engine.js (config -> policy)`,
      `${join('config', 'a.ts')} -> ../kernel/kernel.js (config -> kernel)`,
      `${join('config', 'a.ts')} -> ../store/port/index.js (config -> store)`,
      `${join('config', 'a.ts')} -> ../cli/main.js (config -> cli)`,
      `${join('core', 'b.ts')} -> ../runtime.js (core -> runtime)`,
      'reload.ts -> ./http/app.js (runtime -> http)',
    ]);
  });
});
