import { performEffect } from '../effect.js';
import type { DecidedState, Stage } from './state.js';

/** The permitted request goes to the bounded engine, with write-ahead commits around its effect. */
export const execute: Stage<DecidedState, never> = (k, s) => {
  const v = s.validated;
  // Up to the pre-effect commit either cancel stops the call; the handler itself sees only `signal` (ADR-024).
  const { signal, cancelBeforeEffect: before } = s.call;
  const untilEffect = before && signal ? AbortSignal.any([signal, before]) : (before ?? signal);
  return performEffect(
    k,
    s.flow,
    s.capability,
    { params: v.params, facts: v.facts, values: v.values, requestHash: s.keyHash, policies: s.verdict.policies, observedVersion: s.intent.observed_version },
    'fresh',
    untilEffect,
    signal,
  );
};
