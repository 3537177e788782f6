/**
 * Keeps Node 20 and 22 from aborting under load (ADR-018).
 *
 * On V8 11.3 (Node 20) and 12.4 (Node 22), when TurboFan has inlined a
 * JS-to-Wasm call to a function that returns a reference (`externref`), and
 * the calling function is deoptimised while that call is on the stack, the
 * deoptimiser reaches UNREACHABLE in `TranslatedValueForWasmReturnKind` and the
 * process dies with SIGTRAP ("Fatal error … unreachable code"). Cedar's
 * wasm-bindgen glue returns `externref`s, so any function of ours or of a
 * dependency that calls into Cedar could trip it. Turning that one inlining off
 * removes the whole class, whichever function is optimised. V8 13 (Node 24)
 * does not have the bug and keeps the inlining.
 *
 * Imported for its effect before Cedar is loaded (see policy/cedar.ts), so it
 * holds for the CLI and for any process that embeds the kernel.
 */
import { setFlagsFromString } from 'node:v8';

const V8_GUARD_FLAG = '--no-turbo-inline-js-wasm-calls';
/** Set to `off` to run without the guard: only to reproduce the crash (the soak does). */
export const V8_GUARD_ENV = 'MANDATE_V8_GUARD';

export type V8GuardState = 'applied' | 'not_needed' | 'disabled';

/** Whether this V8 line aborts on the deopt described above (measured by test/v8-guard.test.ts on Node 20, 22 and 24). */
export function v8LineAffected(v8Version: string = process.versions.v8): boolean {
  return Number(v8Version.split('.')[0]) < 13;
}

function applyV8Guard(env: NodeJS.ProcessEnv = process.env, v8Version: string = process.versions.v8): V8GuardState {
  if (!v8LineAffected(v8Version)) return 'not_needed';
  if (env[V8_GUARD_ENV] === 'off') return 'disabled';
  setFlagsFromString(V8_GUARD_FLAG);
  return 'applied';
}

/** What this process did at start; `mandate serve` warns when it is `disabled`. */
export const v8Guard: V8GuardState = applyV8Guard();
