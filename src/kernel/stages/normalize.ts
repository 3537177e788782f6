import { sha256Hex } from '../../core/canonical.js';
import type { ReasonDetail } from '../../core/types.js';
import { event } from '../flow.js';
import { forModel, parseProposal } from '../normalize.js';
import { reject } from '../record.js';
import { extend, next, type IntentState, type ShapedState, type Stage } from './state.js';

/**
 * Normalisation, for free text only: a local model proposes the capability
 * and params, which become the intent that everything below judges. The model
 * sees only the capabilities this contract grants; the caller's envelope (key,
 * TTL, rationale, observed version) never comes from the model. Every model
 * call is journaled as `IntentNormalized`: model, route, hashes, latency;
 * never text (ADR-006).
 */
export const normalize: Stage<ShapedState, IntentState> = async (k, s) => {
  const { flow, shaped } = s;
  if (!('text' in shaped)) return next(extend(s, { intent: shaped }));
  const { normalizer, workspace } = k.deps;
  const cfg = workspace.config.normalizer;
  const refuse = (details: ReasonDetail[]) => reject(k, flow, details);
  if (!normalizer || !cfg) {
    return refuse([{ code: 'NORMALIZER_UNAVAILABLE', message: 'free-text intents are not enabled here (no `normalizer:` in mandate.yaml); pass capability and params instead' }]);
  }
  const bytes = Buffer.byteLength(shaped.text);
  if (bytes > cfg.max_text_bytes) {
    return refuse([{ code: 'INPUT_TOO_LARGE', message: `text is ${bytes} bytes; normalizer.max_text_bytes is ${cfg.max_text_bytes}`, path: 'text' }]);
  }
  const granted = k.grantedCapabilities(flow.agent);
  if (!granted.length) return refuse([{ code: 'NORMALIZATION_FAILED', message: 'your contract grants no capability to propose', path: 'normalized' }]);

  const reply = await normalizer.normalize({ text: shaped.text, capabilities: granted.map(forModel), signal: s.call.signal });
  const parsed = reply.ok ? parseProposal(reply.content, granted, { truncated: reply.truncated, maxBytes: workspace.config.limits.max_payload_bytes }) : null;
  const details: ReasonDetail[] = !reply.ok ? [{ code: 'NORMALIZER_UNAVAILABLE', message: reply.message }] : parsed && !parsed.ok ? parsed.details : [];
  const reasons = [...new Set(details.map((d) => d.code))];
  const proposed = parsed?.ok ? parsed : null;
  flow.journal.push(
    event(flow, 'IntentNormalized', {
      reasons,
      data: {
        model: reply.model,
        route: reply.route,
        prompt_hash: reply.prompt_hash,
        output_hash: reply.ok ? sha256Hex(reply.content) : null,
        output_bytes: reply.ok ? Buffer.byteLength(reply.content) : null,
        latency_ms: reply.latency_ms,
        capability: proposed?.capability.def.id ?? null,
      },
    }),
  );
  flow.log.info(
    { step: 'normalize', decision_id: flow.decisionId, model: reply.model, route: reply.route, latency_ms: reply.latency_ms, capability: proposed?.capability.def.id ?? null, reasons },
    reasons.length ? 'normalisation failed' : 'text normalised',
  );
  if (!proposed) return refuse(details);

  flow.capability = proposed.capability.def.id;
  flow.normalized = { capability: proposed.capability.def.id, params: proposed.params, model: reply.model, route: reply.route };
  const { text: _text, ...envelope } = shaped;
  return next(extend(s, { intent: { ...envelope, capability: proposed.capability.def.id, params: proposed.params } }));
};
