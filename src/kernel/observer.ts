import type { Outcome } from '../core/types.js';

/** The pipeline stages whose durations an observer is told (in order, ADR-001). */
export const PIPELINE_STAGES = ['received', 'checks', 'facts', 'dim', 'policy', 'escalate', 'reserve', 'pre_effect', 'handler', 'record'] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

/**
 * Optional timing hooks, injected through KernelDeps. The kernel calls them
 * and knows nothing of what they feed (the HTTP edge feeds Prometheus). The
 * clock is the observer's: timings never enter a decision.
 */
export interface KernelObserver {
  /** A monotonic clock in milliseconds. */
  now(): number;
  /** One stage of one flow took `ms`. */
  stage(stage: PipelineStage, ms: number): void;
  /** A decision was answered (govern, approve, deny or expire), `ms` after it started. */
  decision(outcome: Outcome, ms: number): void;
}
