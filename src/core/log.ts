import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Logs go to stderr: in stdio mode stdout belongs to the protocol. Callers log
 * ids, hashes and reason codes only, never argument values or outputs.
 */
export function createLogger(level: string, destination: pino.DestinationStream = pino.destination({ fd: 2, sync: false })): Logger {
  return pino({ level, base: { service: 'mandate' } }, destination);
}

export const silentLogger: Logger = pino({ level: 'silent' });
