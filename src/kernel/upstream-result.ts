import type { Capability } from '../capabilities/manifest.js';
import type { ReasonDetail } from '../core/types.js';

/**
 * An upstream tool that ran and answered with an error result (`isError`) is
 * passed through as its answer, but its outcome is not a clean success: it
 * carries UPSTREAM_ERROR_RESULT (ADR-013), on the outcome and in ActionOutcome.
 */
export function upstreamErrorDetails(cap: Capability, output: unknown): ReasonDetail[] {
  if (!cap.upstream || (output as { isError?: unknown } | null | undefined)?.isError !== true) return [];
  return [{ code: 'UPSTREAM_ERROR_RESULT', message: `upstream tool \`${cap.upstream.tool}\` of \`${cap.upstream.server}\` answered with an error result` }];
}
