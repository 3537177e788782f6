import type { Capability } from '../../capabilities/manifest.js';
import { performEffect } from '../effect.js';
import type { Stage } from './state.js';

/** The permitted request goes to the bounded engine, with write-ahead commits around its effect. */
export const execute: Stage = (k, s) => {
  const v = s.validated as NonNullable<typeof s.validated>;
  return performEffect(
    k,
    s.flow,
    s.capability as Capability,
    { params: v.params, facts: v.facts, values: v.values, requestHash: s.keyHash as string, policies: s.verdict?.policies ?? [], observedVersion: s.intent?.observed_version },
    'fresh',
    s.call.signal,
  );
};
