/**
 * What a 2026-07-28 agent hears on its `subscriptions/listen` stream: that a
 * list changed, when a reload changed the loaded set (grants may differ) or
 * a re-pin changed an upstream's tools, resources or prompts, or an upstream's
 * own list changed while it runs (ADR-035). The SDK's
 * listen routers deliver each change to the streams that asked for it; the
 * notification names no item, so every agent may hear it and re-lists its
 * own list. Resource subscriptions are governed per URI (resource-subscriptions.ts, ADR-039).
 */
import type { Runtime } from '../../runtime.js';

export interface ListChangeSink {
  toolsChanged(): void;
  resourcesChanged(): void;
  promptsChanged(): void;
}

/** Sends the runtime's list changes to `sink` until the returned function is called. */
export function forwardListChanges(rt: Runtime, sink: ListChangeSink): () => void {
  let live = true;
  const tell = (kind: 'tools' | 'resources' | 'prompts') => {
    if (!live) return;
    if (kind === 'tools') sink.toolsChanged();
    else if (kind === 'resources') sink.resourcesChanged();
    else sink.promptsChanged();
  };
  // A re-pin changed what is exposed; or an upstream's own list changed while it runs (as a 2025 session hears it).
  const stopPins = rt.gateway.onChange((changed) => changed.forEach(tell));
  const stopUpstreams = rt.gateway.sessions.watchLists((_upstream, kind) => tell(kind));
  const stopReloads = rt.onReload((r) => {
    if (r.changed) tell('tools');
  });
  return () => {
    live = false;
    stopPins();
    stopUpstreams();
    stopReloads();
  };
}
