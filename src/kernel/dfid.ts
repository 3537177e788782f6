import type { World } from '../core/world.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/**
 * The DecisionFlow ID is the W3C trace-id of the caller's traceparent when it
 * is well-formed (and not all zeros), else a freshly minted one.
 */
export function resolveDfid(traceparent: string | undefined, world: World): { dfid: string; inherited: boolean } {
  const match = traceparent ? TRACEPARENT.exec(traceparent.trim()) : null;
  const traceId = match?.[1];
  if (traceId && !/^0+$/.test(traceId) && !/^0+$/.test(match[2] as string)) return { dfid: traceId, inherited: true };
  return { dfid: world.newTraceId(), inherited: false };
}
