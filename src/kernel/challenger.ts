import type { Capability, Values } from '../capabilities/manifest.js';
import { sha256Hex } from '../core/canonical.js';
import type { ReasonCode } from '../core/reasons.js';
import type { KernelCore } from './context.js';
import { event, type Flow } from './flow.js';
import { forModel, parseReview } from './normalize.js';

/** Longest challenger summary kept with a pending decision. */
const MAX_REVIEW_CHARS = 500;

/**
 * Challenger calls still running (advisory; see settleChallenges()), by the
 * store they write to: each call runs on its own pinned view of the kernel
 * (live reload), so the kernel object itself is not a stable key.
 */
const running = new WeakMap<object, Set<Promise<void>>>();

/**
 * The optional challenger: one more model call writes a short risk summary
 * of a fresh escalation for the human approver. It runs after the escalated
 * outcome is committed and returned, never changes it, and its failure is
 * logged and otherwise ignored.
 */
export function challenge(k: KernelCore, flow: Flow, cap: Capability, params: Values, reasons: string[], text: string | undefined): void {
  const { normalizer, workspace, store, world } = k.deps;
  if (!normalizer || !workspace.config.normalizer?.challenger.enabled) return;
  const run = (async () => {
    try {
      const reply = await normalizer.challenge({ capability: forModel(cap), params, reasons, text });
      const review = reply.ok ? parseReview(reply.content, MAX_REVIEW_CHARS) : null;
      const code: ReasonCode | null = !reply.ok ? 'NORMALIZER_UNAVAILABLE' : review ? null : 'NORMALIZATION_FAILED';
      const r = await store.commit([
        event(flow, 'EscalationChallenged', {
          reasons: code ? [code] : [],
          data: { model: reply.model, route: reply.route, prompt_hash: reply.prompt_hash, output_hash: reply.ok ? sha256Hex(reply.content) : null, latency_ms: reply.latency_ms },
        }),
        ...(review ? [{ op: 'decision.review' as const, id: flow.decisionId, review: { ...review, model: reply.model, route: reply.route, at: world.now() } }] : []),
      ]);
      const attached = r.ok && r.results.get(1) === true;
      flow.log.info({ step: 'challenger', decision_id: flow.decisionId, model: reply.model, latency_ms: reply.latency_ms, reasons: code ? [code] : [], attached }, code ? 'challenger failed; ignored' : 'risk summary attached');
    } catch (err) {
      flow.log.warn({ step: 'challenger', decision_id: flow.decisionId, err: { name: (err as Error)?.name } }, 'challenger failed; ignored');
    }
  })();
  const set = running.get(store) ?? new Set();
  running.set(store, set);
  set.add(run);
  void run.finally(() => set.delete(run));
}

/** Waits for running challenger calls (tests, and a server before it closes its store). */
export async function settleChallenges(k: KernelCore): Promise<void> {
  await Promise.allSettled([...(running.get(k.deps.store) ?? [])]);
}
