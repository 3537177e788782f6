import type { ReasonCode } from '../core/reasons.js';

/** The refusal code for an agent that is not active. */
export function statusCode(status: 'paused' | 'suspended' | 'terminated'): ReasonCode {
  return status === 'paused' ? 'AGENT_PAUSED' : status === 'suspended' ? 'AGENT_SUSPENDED' : 'AGENT_TERMINATED';
}
