import { z } from 'zod';
import { ReasonCodeSchema } from '../../core/wire.js';
import type { EventType, LedgerEvent } from './rows.js';

/** Every ledger event type, as a runtime list; checked against `EventType` below. */
export const LEDGER_EVENT_TYPES = [
  'IntentReceived',
  'IntentNormalized',
  'IntentReplayed',
  'IntentValidated',
  'IntentRejected',
  'PolicyDecided',
  'EscalationOpened',
  'EscalationChallenged',
  'EscalationResolved',
  'ActionStarted',
  'ActionOutcome',
  'ActionOutcomeUnknown',
  'InterventionIssued',
  'InterventionAcknowledged',
  'InterventionApplied',
  'InterventionRejected',
  'InterventionExpired',
  'AgentSuspended',
  'AgentResumed',
  'CircuitStateChanged',
  'MemoryRead',
  'CredentialCreated',
  'CredentialRevoked',
  'UpstreamPinned',
  'ResourceAccessed',
  'PromptAccessed',
  'ClientRequestRelayed',
  'Delegated',
  'DelegationRevoked',
  'DelegationExpired',
  'PlanDecided',
  'PlanStateChanged',
  'PlanUnplannedCall',
  'PolicyChecked',
  'WorkspaceReloaded',
  'ReloadRequested',
] as const satisfies readonly EventType[];

const HASH = /^[0-9a-f]{64}$/;

/**
 * One line of `mandate ledger export` (and of `ledger tail --json`):
 * a `LedgerEvent` as src/store/sqlite/ledger.ts stores it. Published as
 * contracts/schema/ledger-event.schema.json.
 */
export const LedgerEventSchema = z
  .object({
    seq: z.number().int().positive().describe('Position in the chain, starting at 1, without gaps.'),
    id: z.string().min(1).describe('Unique event id.'),
    dfid: z.string().regex(/^[0-9a-f]{32}$/).describe('DecisionFlow id: the W3C trace-id of the flow this event belongs to.'),
    agent: z.string().min(1).describe('The agent of the flow, or `operator:<name>` for an operator intervention.'),
    type: z.enum(LEDGER_EVENT_TYPES),
    time: z.string().describe('ISO 8601 time from the injected clock.'),
    decision_id: z.string().nullable().describe('The decision (or intervention) this event belongs to.'),
    reasons: z.array(ReasonCodeSchema).describe('Reason codes of this step; empty when there is nothing to explain.'),
    data: z
      .record(z.string(), z.unknown())
      .describe('Content-safe fields of the step: ids, hashes, codes and kernel-derived numbers; values only where a capability opts in via `audit`.'),
    prev_hash: z.string().regex(HASH).describe('`hash` of the event at seq - 1; 64 zeros for the first event.'),
    hash: z
      .string()
      .regex(HASH)
      .describe(
        'SHA-256 (hex) of the RFC 8785 canonical JSON of every other field of this event (ADR-002); for the events of a `record`, the record\'s hash, which they share (ADR-021).',
      ),
    record: z
      .object({ first_seq: z.number().int().positive(), last_seq: z.number().int().positive() })
      .strict()
      .optional()
      .describe(
        'Present on the events of one commit point, stored and hashed as one record (ADR-021): they share `prev_hash` and `hash`, which is SHA-256 of the RFC 8785 JSON of { dfid: the events\' dfid (`*` if they differ), events: [each event without seq, prev_hash, hash and record], first_seq, prev_hash, seq: last_seq, v: 2 }.',
      ),
  })
  .strict();

// Compile-time guards: the schema and the store's types must describe the same thing.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const _typesMatch: Equal<(typeof LEDGER_EVENT_TYPES)[number], EventType> = true;
const _keysMatch: Equal<keyof z.infer<typeof LedgerEventSchema>, keyof LedgerEvent> = true;
