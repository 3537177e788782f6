/**
 * The port through which the kernel asks a local model to turn free text into
 * a proposal (pipeline step 4), and optionally to write a risk summary for a
 * human approver. The kernel depends on this interface only; the Ollama
 * adapter (src/normalize/ollama.ts) is wired in by the composition root.
 *
 * A model's reply is raw text. The kernel parses and validates it: nothing the
 * model writes is trusted (ADR-006).
 */

/** A capability as the model is shown it: the contract grants it to the caller. */
export interface NormalizerCapability {
  id: string;
  title?: string | undefined;
  description: string;
  /** The capability's input JSON Schema (draft-07), as list_capabilities publishes it. */
  inputSchema: Record<string, unknown>;
}

/** Content-safe facts about one model call, for the ledger: no text, no output. */
export interface ModelCall {
  model: string;
  route: string;
  /** SHA-256 of the canonical request sent to the model (messages, format, options). */
  prompt_hash: string;
  latency_ms: number;
}

export type ModelReply =
  | (ModelCall & { ok: true; content: string; truncated: boolean })
  | (ModelCall & { ok: false; message: string });

export interface NormalizeInput {
  text: string;
  /** The capabilities the caller's contract grants; the model must pick one of these. */
  capabilities: NormalizerCapability[];
  signal?: AbortSignal | undefined;
}

export interface ChallengeInput {
  capability: NormalizerCapability;
  params: Record<string, unknown>;
  /** Why the request escalated (the contract's or policy's reasons). */
  reasons: string[];
  /** The free text the proposal came from, if it came from text. */
  text?: string | undefined;
}

export interface Normalizer {
  /** One model call proposing `{ capability, params }` as JSON. Never throws: failures are `ok: false`. */
  normalize(input: NormalizeInput): Promise<ModelReply>;
  /** One model call writing `{ risk, summary }` as JSON about an escalated request. Never throws. */
  challenge(input: ChallengeInput): Promise<ModelReply>;
}
