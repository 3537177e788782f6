import { watch, type FSWatcher } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from './core/log.js';
import type { Runtime } from './runtime.js';

/** Quiet time after the last change before a reload: an editor's save or a `git checkout` is several events. */
export const WATCH_DEBOUNCE_MS = 500;

/**
 * `mandate serve --watch`: a change under the contracts, policies or
 * capabilities folder reloads the set, after the changes have stopped for
 * WATCH_DEBOUNCE_MS. It is the same reload as SIGHUP and `mandate reload`
 * (src/reload.ts): a broken set is refused whole and the old one keeps
 * serving; reloads run one at a time. Returns the function that stops
 * watching.
 */
export function watchWorkspace(rt: Runtime, log: Logger, debounceMs = WATCH_DEBOUNCE_MS): () => void {
  const { dir, config } = rt.workspace;
  const folders = [config.paths.contracts, config.paths.policies, config.paths.capabilities].map((p) => resolve(dir, p));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void rt.reload('watch').catch(() => undefined), debounceMs);
    timer.unref();
  };
  const watchers: FSWatcher[] = [];
  for (const folder of folders) {
    try {
      const w = watch(folder, { persistent: false }, changed);
      w.on('error', (err) => log.warn({ err: { name: err.name }, folder }, 'watching a workspace folder failed; `mandate reload` still works'));
      watchers.push(w);
    } catch (err) {
      log.warn({ err: { name: (err as Error).name }, folder }, 'cannot watch a workspace folder; `mandate reload` still works');
    }
  }
  log.info({ folders, debounce_ms: debounceMs }, 'watching the set: a change reloads it');
  return () => {
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
