import pino, { type Logger } from 'pino';
import { logTraceFields } from './log-fields.js';

export type { Logger };

/**
 * Logs go to stderr: in stdio mode stdout belongs to the protocol. Callers log
 * ids, hashes and reason codes only, never argument values or outputs.
 */
export function createLogger(level: string, destination: pino.DestinationStream = pino.destination({ fd: 2, sync: false })): Logger {
  // With tracing on, each line carries the active span's trace_id and span_id (ADR-026); off, nothing is added.
  return pino({ level, base: { service: 'mandate' }, mixin: logTraceFields }, destination);
}

export const silentLogger: Logger = pino({ level: 'silent' });
