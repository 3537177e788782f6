/**
 * How a governance refusal of an upstream primitive looks on the wire
 * (ADR-013): a JSON-RPC error whose message starts with the reason codes and
 * whose data carries them, with the dfid and decision id of the record.
 */
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import type { ReasonDetail } from '../core/types.js';

/** JSON-RPC error code of a refusal by contract or policy (implementation-defined server error range). */
export const REFUSED = -32003;
/** MCP's code for a resource that does not exist. */
export const RESOURCE_NOT_FOUND = -32002;

export function refusal(details: ReasonDetail[], dfid: string, decisionId: string, unknownCode: number = RESOURCE_NOT_FOUND): ProtocolError {
  const reasons = [...new Set(details.map((d) => d.code))];
  const code = reasons.includes('PRIMITIVE_UNKNOWN') ? unknownCode : reasons.includes('UPSTREAM_UNAVAILABLE') ? ProtocolErrorCode.InternalError : REFUSED;
  return new ProtocolError(code, `${reasons.join(',')}: ${details.map((d) => d.message).join('; ')}`, { reasons, dfid, decision_id: decisionId });
}
