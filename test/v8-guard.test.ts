/**
 * The V8 abort of ADR-018, reproduced with no dependency on each Node line
 * the README supports, and the guard that Mandate applies before loading
 * Cedar shown to prevent it. The table in src/core/v8-guard.ts (which lines
 * are affected) is checked against what each binary really does.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureNodeLine } from '../scripts/node-line.js';
import { v8LineAffected } from '../src/core/v8-guard.js';
import { nodeLine, requires } from './helpers/requires.js';

const ROOT = join(import.meta.dirname, '..');
const REPRO = join(ROOT, 'test/fixtures/v8-wasm-externref-deopt.mjs');
const GUARD = join(ROOT, 'dist/src/core/v8-guard.js');
const CEDAR = join(ROOT, 'dist/src/policy/cedar.js');

function run(node: string, preload: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(node, [...preload.flatMap((p) => ['--import', p]), REPRO], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { survived: r.status === 0 && r.stdout.startsWith('survived'), signal: r.signal, fatal: /unreachable code/.test(r.stderr) };
}

for (const major of [20, 22, 24]) {
  // Under CI every line must be tested; elsewhere a line that cannot be fetched is skipped loudly.
  const need = await requires(import.meta.url, [nodeLine(major)]);
  describe.skipIf(need.skip)(need.title(`Node ${major}`), () => {
    const node = ensureNodeLine(major);
    const bin = node as string;
    const v8 = () => spawnSync(bin, ['-p', 'process.versions.v8'], { encoding: 'utf8' }).stdout.trim();

    it('aborts on the reproduction without the guard exactly when the guard deems its V8 line affected', () => {
      expect(node, `Node ${major} from the npm registry`).toBeTruthy();
      const affected = v8LineAffected(v8());
      const r = run(bin);
      expect({ v8: v8(), survived: r.survived, signal: r.signal, fatal: r.fatal }).toEqual({ v8: v8(), survived: !affected, signal: affected ? 'SIGTRAP' : null, fatal: affected });
    });

    it('survives the reproduction once the guard, or Cedar through src/policy/cedar.ts, is loaded', () => {
      expect(run(bin, [GUARD]).survived).toBe(true);
      expect(run(bin, [CEDAR]).survived).toBe(true);
    });

    it('MANDATE_V8_GUARD=off turns the guard off, so the soak can prove it catches the abort', () => {
      expect(run(bin, [GUARD], { MANDATE_V8_GUARD: 'off' }).survived).toBe(!v8LineAffected(v8()));
    });
  });
}
