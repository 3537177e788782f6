/**
 * Step 4 of the pipeline, the kernel's side: what a model's proposal must be
 * before it is treated as an intent. Pure and deterministic. The model was
 * constrained to the same schema (src/normalize/prompt.ts), but nothing it
 * writes is trusted, so every part is checked again here.
 */
import { z } from 'zod';
import type { Capability, Values } from '../capabilities/manifest.js';
import type { NormalizerCapability } from '../core/normalizer.js';
import type { ReasonDetail } from '../core/types.js';

/** Exactly a capability id and its params: a model cannot set keys, TTLs, versions or anything else. */
const ProposalOutputSchema = z.object({ capability: z.string().min(1).max(200), params: z.record(z.string(), z.unknown()) }).strict();

export type ParsedProposal = { ok: true; capability: Capability; params: Values } | { ok: false; details: ReasonDetail[] };

const failed = (message: string, path = 'normalized'): ParsedProposal => ({ ok: false, details: [{ code: 'NORMALIZATION_FAILED', message, path }] });

/**
 * Parses the model's raw output into a granted capability and params that
 * match its input schema (closed: unknown params are refused, as the format
 * told the model). Everything else is NORMALIZATION_FAILED.
 */
export function parseProposal(content: string, granted: Capability[], opts: { truncated: boolean; maxBytes: number }): ParsedProposal {
  if (Buffer.byteLength(content) > opts.maxBytes) return failed(`the model's output is larger than limits.max_payload_bytes (${opts.maxBytes})`);
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch {
    return failed(opts.truncated ? "the model's output was cut off at normalizer.max_tokens and is not valid JSON" : "the model's output is not valid JSON");
  }
  const shape = ProposalOutputSchema.safeParse(value);
  if (!shape.success) {
    return {
      ok: false,
      details: shape.error.issues.map((i) => ({ code: 'NORMALIZATION_FAILED' as const, message: `the model's output does not match { capability, params }: ${i.message}`, path: ['normalized', ...i.path.map(String)].join('.') })),
    };
  }
  const capability = granted.find((c) => c.def.id === shape.data.capability);
  if (!capability) {
    return failed(`the model proposed \`${shape.data.capability}\`, which your contract does not grant (granted: ${granted.map((c) => c.def.id).join(', ')})`, 'normalized.capability');
  }
  const params = capability.def.input.strict().safeParse(shape.data.params);
  if (!params.success) {
    return {
      ok: false,
      details: params.error.issues.map((i) => ({
        code: 'NORMALIZATION_FAILED' as const,
        message: `the model's params do not match the input schema of \`${capability.def.id}\`: ${i.message}`,
        path: ['normalized', 'params', ...i.path.map(String)].join('.'),
      })),
    };
  }
  return { ok: true, capability, params: shape.data.params };
}

/** A granted capability as the model is shown it. */
export function forModel(cap: Capability): NormalizerCapability {
  return { id: cap.def.id, title: cap.def.title, description: cap.def.description, inputSchema: cap.inputJsonSchema };
}

/** The challenger's answer, once checked. */
export interface Review {
  risk: 'low' | 'medium' | 'high';
  summary: string;
}

const ReviewSchema = z.object({ risk: z.enum(['low', 'medium', 'high']), summary: z.string().trim().min(1).max(2_000) }).strict();

/** Parses the challenger's output; null if it is not a valid review. The summary is cut to `maxChars`. */
export function parseReview(content: string, maxChars: number): Review | null {
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch {
    return null;
  }
  const r = ReviewSchema.safeParse(value);
  if (!r.success) return null;
  return { risk: r.data.risk, summary: r.data.summary.slice(0, maxChars) };
}
