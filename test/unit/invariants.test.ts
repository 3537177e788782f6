// The kernel's guarantees, each mapped to the tests that prove it. This file
// fails when a mapped test title no longer exists, so a renamed or deleted
// test cannot silently leave a guarantee unproven.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const HERE = dirname(fileURLToPath(import.meta.url));

type Proofs = Record<string, string[]>; // test file (relative to test/unit; end-to-end ones as ../e2e-*.test.ts) -> test titles

interface Guarantee {
  statement: string;
  proofs: Proofs;
}

export const GUARANTEES: Record<string, Guarantee> = {
  DELEGATION_MONOTONIC: {
    statement: "A delegated call passes its own sub-mandate and every ancestor's current contract, standing and budgets; a child is never allowed what any ancestor would be refused at that moment (ADR-022).",
    proofs: {
      'delegation-monotonic.test.ts': ['a child is never allowed a call any ancestor would refuse at that moment: limits, allowed values, budgets, expiry, interventions mid-sequence'],
      'delegation-call-time.test.ts': ['a parent delegates within its mandate; the child is held to its own limits and its spend counts against the parent too'],
      'delegation-attacks.test.ts': [
        'suspending or pausing the parent stops its whole subtree at the next call',
        'a child never outlives its parent: when the parent expires its child is refused, and the sweep records both expiries',
        'revoking a parent revokes its subtree and their keys; their next calls are refused with DELEGATION_REVOKED',
      ],
    },
  },
  DELEGATION_TOKENS_VERIFIED: {
    statement: 'A delegation token (Biscuit) is verified block by block against the workspace key and authorized on each call it carries; a forged, widened, foreign or revoked-link token is refused, and every other check still applies; as an HTTP credential it is verified (signatures, expiry, live sub-mandate) before any call and still authorized on each call (ADR-022).',
    proofs: {
      'delegation-tokens.test.ts': [
        'a token signed with the workspace key verifies and names its agent and sub-mandate',
        'a holder narrows a token offline; the narrower block binds every later call',
        'forged, widened or expired tokens are refused',
        'a narrowed token binds the calls that carry it; with one as the credential and one in _meta each must hold; a token for another agent, a forged one, or one from a revoked link is refused and recorded',
        'reads the authority block of a narrowed token without a call: checks on capability or values wait for the call',
        'refuses a token past its expiry, one whose block no call could pass, a forged one and junk',
      ],
    },
  },
  DELEGATION_NEVER_BROADER: {
    statement: 'A sub-mandate asking for more than its parent holds, in any dimension, is refused with a reason per dimension and never clipped; nobody in a subtree decides its escalations (ADR-022).',
    proofs: {
      'delegation-attacks.test.ts': [
        'a request for anything the parent lacks is refused per dimension, never clipped, and nothing is created',
        'an agent without a delegation section cannot delegate, and a child without may_delegate cannot either',
        'delegating past the depth the chain allows is refused with DELEGATION_DEPTH_EXCEEDED',
        'an escalation of a child goes to the approvers of the root: neither the child, a sibling, nor the parent can decide it',
      ],
    },
  },
  NO_EFFECT_WITHOUT_RESERVATION: {
    statement: 'A side effect runs only for the call that reserved its idempotency key; anyone else holding the key gets IN_PROGRESS or a replay.',
    proofs: {
      'kernel.test.ts': [
        'a key already held in flight answers IN_PROGRESS and nothing runs',
        'concurrent calls with one key: one runs, the other gets IN_PROGRESS, the side effect runs once',
      ],
    },
  },
  REPLAY_NEVER_RUNS_TWICE: {
    statement: 'A repeat of a key returns the recorded outcome and never runs the handler again; a different request under the key is a conflict.',
    proofs: {
      'kernel.test.ts': [
        'a repeat with the same key returns the recorded outcome and never runs twice',
        'a repeat of a pending request answers IN_PROGRESS and opens no second escalation',
        'the same key with different params is IDEMPOTENCY_CONFLICT',
      ],
    },
  },
  IDEMPOTENCY_WINDOW: {
    statement: 'Keys answer repeats for idempotency_window_hours, then the same key runs afresh.',
    proofs: { 'kernel.test.ts': ['after idempotency_window_hours pass the same key runs afresh'] },
  },
  CHAIN_UNBROKEN: {
    statement:
      'Every ledger row links to its predecessor by the SHA-256 of its canonical logical fields (an event alone, or a commit point\'s record of events: ADR-021), from a genesis of 64 zeros, across processes and across the change of format.',
    proofs: {
      'ledger.test.ts': [
        'format-1 rows (written before ADR-021) chain with prev_hash (the first is 64 zeros) and each hash is eventHash of the logical fields',
        'a commit point is one format-2 row: its events share one hash, SHA-256 of the canonical record, and show one by one',
        'a ledger written before ADR-021 (schema 10, format-1 rows) migrates: its old chain and the records after it verify as one',
        'verify is ok on an intact chain and names its head',
        'two Ledger instances on two connections to the same file, interleaving appends, keep one valid chain',
      ],
      'ledger-verify-in-runs.test.ts': [
        'an intact ledger gives the sequential verdict in any number of runs, head and count included',
        'runs split the sequences up to the head into about equal ranges; the last goes on to the end, for rows appended meanwhile',
      ],
      'kernel.test.ts': ['the chain verifies after a mix of accepted, rejected, escalated, replayed and resolved flows'],
    },
  },
  ONE_CHAIN_ACROSS_REPLICAS: {
    statement: 'Processes sharing one PostgreSQL store extend one chain: appends are serialised on the chain-head row, with no gap and no fork, and every acknowledged receipt is in it, a replica killed mid-load included.',
    proofs: {
      '../store/port-suite.ts': ['two ports on one store (two replicas) extend one chain: no gap, no fork, every receipt unique', 'a unit that fails (before writing, or on a statement the store refuses) never undoes the unit before it in the batch'],
      '../e2e-replicas-postgres.test.ts': ['under load across three replicas with one killed by kill -9: one verified chain, no gap, every acknowledged decision kept, no key run twice'],
      '../e2e-store-cli.test.ts': ['copy --from sqlite --to postgres moves the store, chain included, verifies it, and refuses a target that is not empty'],
    },
  },
  PG_LITERALS_EXACT: {
    statement: 'A value written into a PostgreSQL multi-statement query as a literal is the same text the driver would escape (quotes and backslashes included), and a value that cannot be stored is refused.',
    proofs: {
      'pg-literals.test.ts': [
        'a string is quoted exactly as the driver escapes it, quotes and backslashes included',
        'a statement gets each parameter as a literal, and a value that is not storable is refused',
      ],
    },
  },
  SHARED_STATE_ACROSS_REPLICAS: {
    statement: 'Across replicas: a key goes to one reservation, an approval anywhere resumes the waiting call (pushed), pause, suspension and terminate reach every replica (terminate within a second), /events streams every replica in chain order, breakers and rate limits hold for the fleet, a revocation reaches every replica, and a plan approved and started on one replica is held and finished on another after the first is killed, each step once.',
    proofs: {
      '../store/port-suite.ts': ['an idempotency key reserved on two ports at once goes to exactly one of them', 'a commit on one port is pushed to another port on the same store'],
      '../e2e-replicas-postgres.test.ts': [
        'an escalation raised on replica 1, approved through replica 2, completes the call waiting on replica 3, pushed rather than polled',
        'a pause issued on one replica stops the agent on all of them',
        'a constraint issued on one replica applies to the next call on another',
        'a drift monitor breached by calls spread over replicas suspends the agent on all of them',
        'a terminate issued on one replica aborts the handler running on another within a second',
        "/events on any replica streams every replica's events in chain order, and Last-Event-ID resumes exactly on another",
      ],
      '../shared-breakers-postgres.test.ts': ['failures add up across replicas; an open circuit refuses on every replica, a late starter loads it, one probe closes it everywhere'],
      '../e2e-replicas-rate-limit.test.ts': ['a burst from one agent across three replicas gets 429 past the one shared limit'],
      '../fleet-rate-limit-postgres.test.ts': [
        'a principal over its limit is refused with a wait, and gives the overall counter its point back',
        'the overall limit refuses any principal once the fleet is over it, and gives the principal its point back',
        'counters of windows that ended are swept, and a database that does not answer falls back to in-process buckets',
      ],
      '../credential-cache-postgres.test.ts': [
        'a live key is read once while the listener is up; a revocation through another replica drops it in this one',
        'a revocation in this process applies to the very next lookup, before any notification',
        'the end of a sub-mandate, which revokes its agent keys, drops them from this replica at once and from another by notification',
        'a row is trusted for at most its age, only while listening, and a read overtaken by a revocation is not kept',
        'a lookup is never served from the cache while the listener is down',
      ],
      '../e2e-replicas-haproxy.test.ts': ['a session sticks to its replica; when that replica dies the client gets 404, re-initialises through the same address and carries on'],
      '../e2e-plans-replicas.test.ts': [
        'approved and started on replica A, finished on replica B after A is killed with SIGKILL: each step once, the report exact, calls outside the plan refused on both',
        'replica B killed with SIGKILL in the middle of a step: a new replica finds the step unknown, holds the next one back, and after an operator settles it runs each effect once',
      ],
    },
  },
  STORE_OUTAGE_FAILS_CLOSED: {
    statement: 'A store that does not answer fails closed: exit 3 at start, STORE_UNAVAILABLE (and HTTP 503) while it is gone with nothing of the refused call written, service again once it is back.',
    proofs: {
      '../e2e-store-outage.test.ts': [
        'serve and the CLI exit 3 with STORE_UNAVAILABLE naming the database (never the credentials)',
        'denies with STORE_UNAVAILABLE while it is gone, writes nothing, and serves again once it is back',
      ],
    },
  },
  IDS_UNIQUE_AND_TIME_ORDERED: {
    statement: 'Decision, event and intervention ids from the system world are unique UUIDv7s, and minted dfids unique W3C trace-ids, whose order is their creation order (ADR-047).',
    proofs: {
      'world.test.ts': [
        'uuidv7 is an RFC 9562 version-7 id whose first 48 bits are the time, so ids sort by creation time',
        'a minted dfid is a W3C trace-id whose first 48 bits are the time and whose 80 others are random, so dfids sort by creation time',
        'a span id is 16 random lowercase hex, never all zeros',
      ],
    },
  },
  POLICY_SUBSETS_EQUIVALENT: {
    statement: "Each agent is decided against the policy files plus its own contract, with the same answer as against the whole policy set.",
    proofs: {
      'policy.test.ts': ['each agent is decided against the policy files plus its own contract, exactly as against the whole set'],
    },
  },
  POLICY_ANSWERS_EXACT: {
    statement: 'A policy verdict reused without asking Cedar again is the verdict of an identical request (same set, principal, action, resource, attributes and context); any difference asks Cedar.',
    proofs: {
      'policy.test.ts': ['an identical request gets the same verdict without a second wasm call; any value a policy reads, another agent or a reloaded set is asked afresh'],
    },
  },
  TAMPER_EVIDENT: {
    statement: 'Editing, forging or deleting a stored event makes verify fail and name the first bad sequence.',
    proofs: {
      'ledger.test.ts': [
        'after dropping triggers and editing one row, verify names exactly that seq',
        'a forger who also recomputes the edited row hash is caught at the next seq',
        'after deleting a middle row (triggers dropped) verify reports the gap',
        'non-JSON stored fields are reported, not thrown',
      ],
      // A large SQLite ledger is checked in runs of rows, side by side in worker threads (ADR-048): the verdict must not depend on it.
      'ledger-verify-in-runs.test.ts': [
        'whatever row is edited, forged, unlinked or deleted, and wherever the runs split, the verdict is the sequential one, row for row',
        'the built worker threads give the same verdicts as this thread, intact and broken, on a file of its own',
      ],
    },
  },
  APPEND_ONLY: {
    statement: 'The events table refuses UPDATE and DELETE; an event and the state written with it commit or roll back together.',
    proofs: {
      'ledger.test.ts': ['UPDATE and DELETE on events are refused by triggers'],
      // The one shared suite every store runs (ADR-010): a unit's events and state commit or roll back together.
      '../store/port-suite.ts': ['a guard that fails rolls back its own unit only, and says why; the chain has no gap', 'an op that throws fails its unit with the error and leaves the others committed'],
    },
  },
  CANONICAL_HASHING: {
    statement: 'Hashes are SHA-256 over RFC 8785 canonical JSON of the logical fields only.',
    proofs: {
      'ledger.test.ts': ['canonical JSON is RFC 8785 (sorted keys, no whitespace, ES number form)', 'a change to any logical field changes the hash'],
    },
  },
  PAUSED_REFUSED_FIRST: {
    statement: 'A paused or terminated agent is refused before any other check, on every path.',
    proofs: {
      'kernel.test.ts': [
        'a paused agent is refused with AGENT_PAUSED before any other check',
        'approving the request of an agent paused since it escalated refuses with AGENT_PAUSED and nothing runs',
      ],
      'interventions.test.ts': ['an agent may pause itself but never resume itself; its supervisor may', 'only an operator lifts a termination'],
      'memory.test.ts': ['a missing record is MEMORY_NOT_FOUND; an unknown or paused agent is refused first'],
      'drift-monitors.test.ts': ['a suspended agent\'s next call is refused with AGENT_SUSPENDED before any capability runs'],
    },
  },
  UNKNOWN_AGENT_DENIED: {
    statement: 'A caller without a contract is refused.',
    proofs: { 'kernel.test.ts': ['an unknown agent is refused with UNKNOWN_AGENT'] },
  },
  AGENT_NEVER_RESUMES_ITSELF: {
    statement: 'No agent, supervisor included, can resume or un-terminate itself.',
    proofs: {
      'interventions.test.ts': [
        'an agent never resumes itself',
        'an agent never terminates itself',
        'a supervisor never resumes itself',
        'an agent may pause itself but never resume itself; its supervisor may',
      ],
      'intervention-roles.test.ts': [
        'an agent that paused itself cannot resume itself',
        'an agent may not resume its own flow',
      ],
    },
  },
  ONLY_OPERATOR_LIFTS_TERMINATION: {
    statement: 'A termination is lifted by a human operator only.',
    proofs: {
      'interventions.test.ts': ['a supervisor may not lift a termination', 'only an operator lifts a termination (operator)', 'only an operator lifts a termination'],
      'intervention-roles.test.ts': ['a supervisor cannot resume a terminated agent or a drift-suspended one; an operator can'],
      '../e2e-interventions-stdio.test.ts': ['terminate from the CLI aborts an in-flight call on the running server: ABORTED_BY_INTERVENTION, long before its deadline'],
    },
  },
  SUPERVISION_SCOPED: {
    statement: 'A supervisor intervenes only on agents in its supervises list; a plain agent on nobody but itself.',
    proofs: {
      'interventions.test.ts': [
        'a supervisor may not act on an agent outside supervises',
        'an agent may not pause another agent',
        'a role agent with a supervises list is still not a supervisor',
        'a supervisor acts only over agents in supervises; a plain agent over nobody else',
        'a paused supervisor can still pause itself but nothing else',
      ],
      'intervention-roles.test.ts': [
        'an agent cannot constrain, redirect or pause another agent, or another agent\'s flow',
        'a suspended or paused agent cannot intervene on others; interventions on unknown targets are refused',
      ],
    },
  },
  FAIL_CLOSED_POLICY_ERROR: {
    statement: 'A policy that errors at evaluation denies (Cedar alone would skip it and allow).',
    proofs: {
      'policy.test.ts': ['FAIL CLOSED: a forbid whose condition errors at evaluation yields kind error, never permit'],
      'kernel.test.ts': ['a policy that errors at evaluation rejects with POLICY_ERROR and nothing runs'],
    },
  },
  FORBID_WINS: {
    statement: 'A matching forbid overrides every permit.',
    proofs: {
      'policy.test.ts': ['forbid wins over permit'],
      'kernel.test.ts': ['a forbid wins over the contract permit in the kernel (blocked payee)'],
    },
  },
  NO_PERMIT_DENIES: {
    statement: 'Nothing permitting means deny; an @escalate permit alone permits nothing.',
    proofs: {
      'policy.test.ts': [
        'no matching permit is no_permit (unknown agent, ungranted capability)',
        'contract limits are compiled into the permit: a value above max or outside allowed gets no permit',
      ],
    },
  },
  ESCALATION_EXPRESSIBLE: {
    statement: 'An @escalate permit turns a permitted request into a pending one, with its reason.',
    proofs: { 'policy.test.ts': ['an @escalate permit yields kind escalate with its reason'] },
  },
  POLICY_SET_IDENTIFIED: {
    statement: 'Every policy has a unique @id, and the set has a stable content hash recorded with each decision.',
    proofs: {
      'policy.test.ts': [
        'reports a duplicate @id and a policy without @id as problems',
        'reports Cedar syntax errors and broken escalation conditions as problems',
        'the policy-set hash is stable for the same input and changes when a policy changes',
      ],
      'kernel.test.ts': ['a policy that errors at evaluation rejects with POLICY_ERROR and nothing runs'],
    },
  },
  NO_ENTITY_SMUGGLING: {
    statement: 'Agent data cannot smuggle Cedar entity or extension references into policy context.',
    proofs: { 'policy.test.ts': ['entity-reference smuggling: toCedarValue drops keys starting with __'] },
  },
  APPROVAL_SINGLE_USE: {
    statement: 'An escalation is resolved once: approve runs the stored request once; later approve or deny is DECISION_NOT_FOUND.',
    proofs: {
      'kernel.test.ts': [
        'approve is single-use: a second approve throws DECISION_NOT_FOUND and the transfer runs once',
        'deny closes an escalation with ESCALATION_DENIED and nothing runs',
      ],
      'approvals-single-use.test.ts': ['an approval cannot be used twice: operator then supervisor, and supervisor then operator'],
      '../e2e-approvals-stdio.test.ts': ['an approval cannot be used twice: the CLI then intervene, and intervene then the CLI'],
    },
  },
  ESCALATION_EXPIRES: {
    statement: 'An escalation nobody decides expires on the injected clock and can then never be approved.',
    proofs: {
      'kernel.test.ts': [
        'an escalation expires with the injected clock: getDecision returns expired with ESCALATION_EXPIRED and approve then throws DECISION_NOT_FOUND',
        'approving an overdue escalation expires it instead of running it',
      ],
      'approvals-single-use.test.ts': ['an escalation nobody decides expires at its deadline on the injected clock: ESCALATION_EXPIRED, recorded, never approvable'],
    },
  },
  ESCALATION_DURABLE: {
    statement: 'A pending escalation survives a restart and stays approvable.',
    proofs: {
      'kernel.test.ts': ['a pending escalation survives a restart and is approvable by the new runtime'],
      'approvals-single-use.test.ts': ['a restart in the middle of an escalation keeps it pending, and a supervisor approves it after the restart'],
      '../e2e-approvals-stdio.test.ts': ['an escalation stays pending through kill -9 of the server, and is approved after a restart'],
    },
  },
  DIM_DETERMINISTIC: {
    statement: 'DIM is pure: same input, same result; it reads no clock and mutates nothing.',
    proofs: { 'dim.test.ts': ['is pure and deterministic: same input twice gives deep-equal results and the input is not mutated'] },
  },
  DIM_REPORTS_ALL: {
    statement: 'DIM reports every failed limit, budget and invariant, not only the first.',
    proofs: {
      'dim.test.ts': ['reports every failing limit, budget and invariant together, not only the first'],
      'kernel.test.ts': ['reports every DIM failure of a call together, through the kernel'],
    },
  },
  DIM_FIXED_ORDER: {
    statement: 'DIM checks run in the documented order; capability, grant, schema and facts failures stop the run.',
    proofs: {
      'dim.test.ts': [
        'runs the checks in the documented order (TTL, observed_version, limits, budgets, invariants)',
        'stops at CAPABILITY_UNKNOWN before anything else',
        'stops at CAPABILITY_NOT_GRANTED before schema, TTL and facts',
        'lists each SCHEMA_INVALID issue with its path and stops there',
        'unavailable facts report FACTS_UNAVAILABLE (after TTL) and stop before limits and invariants',
      ],
    },
  },
  TTL_ENFORCED: {
    statement: 'An intent is valid up to and including created_at + ttl; created_at may not lie in the future.',
    proofs: {
      'dim.test.ts': [
        'TTL boundary: now == created_at + ttl passes, one millisecond later is TTL_EXPIRED',
        'TTL falls back to the contract default_ttl_seconds and counts from receipt without created_at',
        'created_at more than 5 minutes in the future is SCHEMA_INVALID; exactly 5 minutes is tolerated',
      ],
    },
  },
  INVARIANTS_FAIL_CLOSED: {
    statement: 'An invariant that throws or returns anything but true is violated; limits apply to kernel-derived values.',
    proofs: {
      'dim.test.ts': ['a throwing invariant counts as violated', 'limits apply to kernel-derived values, not to what the agent claims'],
    },
  },
  BUDGETS_ENFORCED: {
    statement: 'Rolling-window budgets are exact at the boundary and never forget usage still inside the window.',
    proofs: {
      'dim.test.ts': ['budget boundary: usage + amount == max passes, one more is BUDGET_EXCEEDED'],
      'kernel.test.ts': [
        'a 1h max_calls budget refuses call N+1 with BUDGET_EXCEEDED and allows again after the hour',
        'a budget never admits more than max_calls within any rolling window',
      ],
    },
  },
  TOCTOU_CHECKED: {
    statement: 'The state a decision relied on is checked again right before the effect; any move beyond tolerance, or one after which the decision no longer holds (revalidate), is STATE_DRIFT.',
    proofs: {
      'dim.test.ts': ['observed_version that differs from the facts version is STATE_DRIFT; the current one passes'],
      'kernel.test.ts': [
        'facts that move between decision and effect reject with STATE_DRIFT and the handler never runs',
        'observed_version that is no longer current is refused with STATE_DRIFT',
      ],
      'dfid-drift.test.ts': [
        'lets a numeric field move within its tolerance and reports a move beyond it',
        'without a tolerance any numeric change is drift',
        'reports any change in a non-numeric field, even one given a tolerance',
        'reports added and removed fields, sorted',
      ],
    },
  },
  FLOW_BOUNDED: {
    statement: 'A flow (dfid) runs at most max_invocations_per_flow effects.',
    proofs: { 'kernel.test.ts': ['FLOW_LIMIT_EXCEEDED when max_invocations_per_flow is reached within one dfid'] },
  },
  CIRCUIT_BREAKER: {
    statement: 'Repeated handler failures open a per-capability circuit; one probe after the cooldown closes or re-opens it; transitions are recorded.',
    proofs: {
      'breaker.test.ts': [
        'stays closed below the threshold and opens after N consecutive failures, returning the transition',
        'refuses while open, until the cooldown has passed',
        'half-open after the cooldown admits exactly one probe',
        'a successful probe closes the circuit',
        'a failed probe re-opens the circuit and restarts the cooldown',
      ],
      'kernel.test.ts': ['the circuit opens after repeated handler failures, refuses without running, and a successful probe closes it (transitions in the ledger)'],
    },
  },
  HANDLER_BOUNDED: {
    statement: 'A handler that hangs, throws or returns too much or the wrong shape gives a clean rejection.',
    proofs: {
      'engine.test.ts': [
        'a handler that hangs and ignores its signal is cut off at the deadline with DEADLINE_EXCEEDED, and its signal fires',
        'a caller abort aborts the handler and is CANCELLED, not a deadline',
        'too much output is OUTPUT_TOO_LARGE, a wrong shape OUTPUT_INVALID, a throw HANDLER_FAILED',
      ],
    },
  },
  DFID_PROPAGATED: {
    statement: "The dfid is the caller's valid traceparent trace-id, else minted by the World, and is on every event of the flow.",
    proofs: {
      'dfid-drift.test.ts': ['takes the trace-id of a valid traceparent without minting', 'mints a fresh dfid from the World for a %s traceparent'],
      'kernel.test.ts': ['every event of a flow carries its dfid: the trace-id of the caller traceparent'],
    },
  },
  CONTENT_SAFE_LEDGER: {
    statement: 'The ledger and the logs hold hashes and codes, never argument values, rationales, memory values or intervention reasons.',
    proofs: {
      'kernel.test.ts': ['the ledger and the logs hold hashes and codes, never param values, rationale or memo'],
      'memory.test.ts': ['reads a granted record within the sensitivity ceiling; the MemoryRead event holds a value_hash, never the value'],
      'interventions.test.ts': ['records issued and applied interventions with the reason as a hash only'],
      'memory-packs-and-writes.test.ts': ['the ledger and the logs hold the hash of a written value, never the value'],
      'interventions-lifecycle.test.ts': ['redirect: the operator note is delivered exactly once, on the next call, and the ledger holds only its hash'],
      'approvals-single-use.test.ts': ['a denial records who denied it and a hash of why, never the text'],
    },
  },
  MEMORY_GOVERNED: {
    statement: 'Memory reads need a granted scope and a sensitivity within the contract ceiling.',
    proofs: {
      'memory.test.ts': [
        'a record above the contract max_sensitivity is MEMORY_SENSITIVITY_DENIED; a higher ceiling may read it',
        'a scope the contract does not grant is MEMORY_SCOPE_DENIED, even for a record that exists',
        'a missing record is MEMORY_NOT_FOUND; an unknown or paused agent is refused first',
      ],
      'memory-packs-and-writes.test.ts': [
        'read by pack returns the records the contract allows, in pack order, and counts the withheld ones',
        'listing a scope returns the visible records with versions and provenance, counts the withheld, and records hashes only',
      ],
      '../e2e-memory-stdio.test.ts': ['memory records are MCP resources: list shows only readable ones, read returns the value, a denied read is a JSON-RPC error and is recorded'],
    },
  },
  MEMORY_SEED_IDEMPOTENT: {
    statement: 'Re-seeding the same values keeps versions; a changed value or sensitivity bumps only that record.',
    proofs: {
      'memory.test.ts': [
        'seeding is idempotent: the same values keep the version, a changed value or sensitivity bumps it',
        'reopening the workspace re-seeds without bumping versions, and an edited memory file bumps only its record',
      ],
    },
  },

  // ---- Humans in charge ----------------------------------------------------
  NO_SELF_APPROVAL: {
    statement: 'No agent decides its own escalation; a supervisor decides only for agents in its approves list; any other principal is refused and recorded.',
    proofs: {
      'intervention-roles.test.ts': [
        'an agent cannot approve or deny its own escalation through intervene; it stays pending and nothing runs',
        'a supervisor cannot approve an agent missing from its approves list, nor can a plain agent',
        'no agent decides its own escalation, even when listed in its own approves',
        'a supervisor may not approve an agent missing from approves, even one it supervises',
      ],
      '../e2e-approvals-stdio.test.ts': ['an agent cannot approve its own escalation through intervene over stdio'],
    },
  },
  ONLY_OPERATOR_LIFTS_SUSPENSION: {
    statement: 'A drift suspension is lifted by a human operator only, and the resumption is recorded (AgentResumed).',
    proofs: {
      'intervention-roles.test.ts': ['a supervisor may not lift a drift suspension', 'an operator lifts a drift suspension'],
      'drift-monitors.test.ts': ['only an operator resumes a drift-suspended agent; AgentResumed is recorded and calls run again'],
      '../e2e-interventions-stdio.test.ts': ['a drift monitor suspends the agent at its boundary; it is refused before anything runs until an operator resumes it from the CLI'],
    },
  },
  CONSTRAIN_ONLY_TIGHTENS: {
    statement: 'A constrain intervention can only tighten a granted limit, never widen it beyond the contract, and only for an agent (not a flow).',
    proofs: {
      'intervention-roles.test.ts': [
        'a constraint can only tighten: above the contract cap it is refused, for a supervisor and for the agent itself',
        'redirect and constrain target an agent, never a flow',
      ],
      '../e2e-interventions-stdio.test.ts': ['constrain from the CLI tightens a limit on the running server, and can never widen it'],
    },
  },
  INTERVENTIONS_EXPIRE: {
    statement: 'Constraints and redirect notes hold until their expiry on the injected clock, then stop applying and are recorded as InterventionExpired.',
    proofs: {
      'interventions-lifecycle.test.ts': [
        'constrain tightens a limit until it expires; expireInterventions records InterventionExpired',
        'a redirect note not picked up before it expires is never delivered',
      ],
    },
  },
  REDIRECT_ONCE: {
    statement: 'A redirect note is delivered exactly once, with the next call of the agent it targets.',
    proofs: {
      'interventions-lifecycle.test.ts': ['redirect: the operator note is delivered exactly once, on the next call, and the ledger holds only its hash'],
      '../e2e-interventions-stdio.test.ts': ['redirect from the CLI: the running server hands the note to the agent once, on its next call'],
    },
  },
  LEDGER_ANCHORED: {
    statement: 'Against its signed checkpoints, a truncated, forged-onto or re-hashed ledger fails verification naming what is missing or changed; a checkpoint signed by another key is never trusted.',
    proofs: {
      'anchor-check.test.ts': [
        'truncation names the missing events',
        'a rewrite from seq 15 on is named from the last checkpoint that still matches',
        'events after the last checkpoint are not anchored, unless allowed',
        'a checkpoint line that failed its signature check is always a finding',
      ],
      '../anchored-ledger.test.ts': ['a server writes signed checkpoints, and an untouched ledger verifies against them', 'without checkpoints a truncated tail still verifies intact (why they exist)'],
    },
  },
  RECEIPTS_SIGNED: {
    statement: "A signed receipt verifies offline with the workspace's public key, and fails once any field is changed, under another key, or when it is a checkpoint's signature.",
    proofs: {
      'signed-receipts.test.ts': [
        'verify with the public key, and name the key',
        'any changed field breaks the signature',
        'another key, a missing signature or a wrong shape is refused with the reason',
        'a checkpoint signature never passes as a receipt (domain tags differ)',
        'withSignedReceipt signs only an outcome with a ledger receipt, over its own fields',
      ],
    },
  },
  HOSTILE_INPUT_STRUCTURED: {
    statement: 'Non-finite numbers, deep nesting, arguments that are not an object and oversized stdio lines get a structured refusal; the server keeps serving and never answers INTERNAL_ERROR for them.',
    proofs: {
      'json-guard.test.ts': [
        'names a non-finite number by its path',
        'refuses deep nesting, even 100,000 levels, without overflowing the stack; the path is cut short',
      ],
      'bounded-stdio.test.ts': ['refuses an oversized line with an error to its id and keeps reading the next ones', 'answers a line that is not JSON, or not JSON-RPC, and closes at the end of input'],
      '../input-edges.test.ts': [
        'params nested 3,000 deep: SCHEMA_INVALID naming the depth, no INTERNAL_ERROR',
        'arguments that are not an object: SCHEMA_INVALID on every tool, not -32603 with a zod dump',
        'a line over 10 MB is refused with an error to its id, and the server keeps serving',
      ],
    },
  },
  FLOW_INTERVENTIONS_SCOPED: {
    statement: 'Pausing or terminating a flow refuses the calls carrying its dfid and no others.',
    proofs: {
      'interventions-lifecycle.test.ts': [
        'a paused flow refuses only calls carrying its dfid; resuming the flow lets it continue',
        "terminating one flow aborts only that flow's running call and refuses its later calls; other flows go on",
      ],
      '../e2e-interventions-stdio.test.ts': ['pausing one flow from the CLI refuses calls carrying its traceparent, not other flows'],
    },
  },
  TERMINATE_ABORTS_INFLIGHT: {
    statement: "A termination aborts the target's running handlers through their abort signal (ABORTED_BY_INTERVENTION, recorded), in-process or from another process.",
    proofs: {
      'engine.test.ts': [
        'a stop switch stopped by a termination ends a running handler at once as ABORTED_BY_INTERVENTION, and its signal carries the reason',
        'a handler whose switch is already stopped never starts; of a cancel and a stop, the first one counts',
      ],
      'interventions-lifecycle.test.ts': [
        'terminating an agent aborts its running call through the handler signal: ABORTED_BY_INTERVENTION, recorded',
        'the cross-process sweep aborts calls of an agent terminated elsewhere, but never re-applies a termination an operator has lifted',
      ],
      '../e2e-interventions-stdio.test.ts': ['terminate from the CLI aborts an in-flight call on the running server: ABORTED_BY_INTERVENTION, long before its deadline'],
    },
  },
  INTERVENTIONS_DURABLE: {
    statement: 'Interventions (agent and flow status, constraints) survive a restart.',
    proofs: {
      'interventions-lifecycle.test.ts': ['interventions survive a restart: a paused agent, a terminated flow and a live constraint still hold'],
      'approvals-single-use.test.ts': ['a restart in the middle of an escalation keeps it pending, and a supervisor approves it after the restart'],
    },
  },
  INTERVENTION_LIFECYCLE_RECORDED: {
    statement: 'Every intervention is recorded as issued, then acknowledged and applied, or rejected; refusals change nothing.',
    proofs: {
      'interventions.test.ts': ['records issued and applied interventions with the reason as a hash only'],
      'intervention-roles.test.ts': ['an agent that paused itself cannot resume itself'],
    },
  },
  APPROVAL_RECHECKS: {
    statement: 'Approval runs the stored request only if facts, limits, budgets, constraints and policies (with current usage) still allow it at approval time.',
    proofs: {
      'approvals-single-use.test.ts': [
        'approval after a fact judged exact changed is STATE_DRIFT: nothing runs and the key is released for a fresh decision',
        'approve re-checks budgets: three escalations approved against a 1-call budget, only the first runs',
        'approve re-checks policies: a forbid added after the escalation wins',
        'approve re-checks policies with the rolling usage as it stands at approval time',
        'approve re-checks constraints: a constrain issued after the escalation refuses it',
      ],
    },
  },
  DENIAL_ATTRIBUTED: {
    statement: 'A denial records who denied it and a hash of why.',
    proofs: { 'approvals-single-use.test.ts': ['a denial records who denied it and a hash of why, never the text'] },
  },
  LONG_POLL_BOUNDED: {
    statement: 'get_decision wait_seconds returns as soon as the decision is resolved (from any process), else the pending outcome when the wait ends.',
    proofs: {
      '../e2e-approvals-stdio.test.ts': [
        'get_decision wait_seconds returns as soon as an operator approves through the CLI in another process',
        'get_decision wait_seconds returns the pending decision once the wait has passed, when nobody decides',
      ],
    },
  },
  DRIFT_MONITOR_BOUNDARY: {
    statement: 'A drift monitor suspends only when its full window is strictly above the threshold (for consecutive evaluations), recording AgentSuspended with DRIFT_MONITOR_BREACHED.',
    proofs: {
      'drift-monitors.test.ts': [
        'a last-N average exactly at the threshold does not trip; the next value that pushes it above suspends with DRIFT_MONITOR_BREACHED',
        'a window is evaluated only once it is full: large early samples do not trip before N outcomes',
        'consecutive: 2 suspends only on the second breaching evaluation in a row; a good sample resets the streak',
        'a time-window sum counts only samples inside the window and waits until the window has elapsed once',
        'a monitor scoped to one capability ignores the outcomes of others',
      ],
    },
  },
  STEWARD_GATES: {
    statement: 'Steward gates force a human decision every N executed calls, past a cumulative budget, or for listed side-effect classes, even when policies permit.',
    proofs: {
      'steward-gates.test.ts': [
        'every_n_calls: every Nth executed call escalates even though policies permit it, and runs once approved',
        "cumulative: the template gate escalates a transfer once the day's total would pass 150000, not at it, and lets go after the day",
        'side_effects: every call of a listed side-effect class escalates; other classes run',
      ],
    },
  },
  EXECUTED_COUNT_WHERE_READ: {
    statement: "After an effect, an agent's executed-call count and drift windows are written only when its own contract reads them (drift monitors, an every-N steward gate), for the caller and each ancestor alike; a gate added by a reload counts the calls executed while it is in force plus any count kept before (ADR-043).",
    proofs: {
      'executed-count-only-when-read.test.ts': [
        'an agent without drift monitors or an every-N gate leaves no steward_counts row and no window after its calls',
        'an agent with only an every-N gate is counted without windows; an agent with drift monitors is counted and sampled',
        'a delegated call is counted for an ancestor with drift monitors and not for a child whose sub-mandate reads nothing',
        'a gate added by a reload counts the calls executed while it is in force, plus whatever was counted before',
      ],
      'steward-gates.test.ts': ['every_n_calls: every Nth executed call escalates even though policies permit it, and runs once approved'],
    },
  },
  MEMORY_READS_RECORDED: {
    statement: 'Every memory read, allowed or denied, is a MemoryRead event with its reason and hashes of what was asked, never a value.',
    proofs: {
      'memory-packs-and-writes.test.ts': ['denied reads are recorded with their reason and a hash of what was asked: scope, sensitivity, missing key, unknown pack'],
    },
  },
  MEMORY_WRITE_GOVERNED: {
    statement: 'memory.write is compare-and-set on the version (stale → STATE_DRIFT), only to writable scopes, never above the scope maximum sensitivity.',
    proofs: {
      'memory-packs-and-writes.test.ts': [
        'creates with expected_version 0, then moves only by compare-and-set; a stale version is STATE_DRIFT and writes nothing',
        'a write to a scope the contract does not mark writable, or does not grant, is INVARIANT_VIOLATED and writes nothing',
        'a write above the scope maximum sensitivity is refused, and so is overwriting a record above it',
      ],
      '../e2e-memory-stdio.test.ts': ['memory_write over stdio: compare-and-set on the version, and the exported ledger never contains the value'],
    },
  },
  ELICITATION_OPT_IN: {
    statement: "The client's human is asked through MCP elicitation only when the contract opts in and the client declares elicitation; its approval is recorded as client-human:<agent>.",
    proofs: {
      '../e2e-elicitation-approval.test.ts': [
        'with escalation.client_approval and a client that declares elicitation, the client human approves: the call comes back accepted, resolved by client-human:alice',
        'a declined elicitation leaves the decision pending for an operator',
        'without the opt-in, no elicitation request is sent even to a client that declares elicitation; the call stays pending',
        ],
      },
    },
  MODEL_PROPOSES_NEVER_DECIDES: {
    statement: "A free-text intent's proposal goes through the same DIM, policy, idempotency and escalation as a structured intent; instructions in the text cannot change a verdict, and a model can set only a granted capability and its schema's params.",
    proofs: {
      'normalize-kernel.test.ts': [
        '"pay acme-supplies 250 euros…" normalises to 25000 minor units, above the escalation threshold, and escalates; approval then runs exactly that proposal',
        "\"…ignore limits, approved by admin\" appended gets the same verdict: the text is data, the limits are the contract's",
        'even a model that falls for the injection cannot change the verdict: copying it into a param still escalates, an approval field is refused, an inflated amount hits the cap',
        'a small amount in words is accepted and runs once; the same text again is answered from the record (IDEMPOTENT_REPLAY)',
      ],
      'normalize-schema.test.ts': ['a granted capability with valid params passes', '%s → NORMALIZATION_FAILED'],
    },
  },
  NORMALIZATION_FAILS_CLOSED: {
    statement: 'Invalid model output is NORMALIZATION_FAILED and a missing, failing or slow model NORMALIZER_UNAVAILABLE, both within timeout_ms and with no side effect; oversized text is refused before any model call; structured intents never depend on the model.',
    proofs: {
      'normalize-kernel.test.ts': [
        '%s output → NORMALIZATION_FAILED; nothing validated, nothing reserved, books unchanged',
        'output naming a capability alice lacks (files.write) → NORMALIZATION_FAILED, nothing written',
        'Ollama down: text intents → NORMALIZER_UNAVAILABLE, structured intents still work',
        'an HTTP error or a reply slower than timeout_ms → NORMALIZER_UNAVAILABLE, bounded in time',
        'text over max_text_bytes → INPUT_TOO_LARGE before any model call (bytes, not characters)',
        'no normalizer in mandate.yaml → NORMALIZER_UNAVAILABLE, no model call',
      ],
      'normalize-ollama.test.ts': ['a reply slower than timeout_ms is aborted at the deadline', 'a server that never answers is aborted at the deadline too', 'a closed port is "cannot reach" (ECONNREFUSED)'],
    },
  },
  MODEL_CALLS_DETERMINISTIC: {
    statement: 'Every model call uses temperature 0, a fixed seed, bounded tokens and a format built only from the capabilities the contract grants.',
    proofs: {
      'normalize-ollama.test.ts': [
        'sends the routed model, temperature 0, the seed, num_predict, stream false and an anyOf format over the granted capabilities; returns the content verbatim',
        'is deterministic in what it sends: the same input gives the same prompt hash; another text another',
      ],
      'normalize-schema.test.ts': [
        'is an anyOf with one closed branch per granted capability: capability const, params = its input JSON Schema',
        'lists only what it is given: a capability the contract does not grant is never in the prompt or the format',
      ],
    },
  },
  NORMALIZATION_CONTENT_SAFE: {
    statement: "IntentNormalized records model, route, prompt and output hashes and latency; the text and the model's output appear in no ledger event, log line or stdout.",
    proofs: {
      'normalize-kernel.test.ts': ['IntentNormalized carries model, route, prompt hash, output hash and latency; no ledger event and no log line holds the text or the output'],
      'normalize-ollama.test.ts': ['an HTTP 500 with a text body is NORMALIZER_UNAVAILABLE material, and nothing is written to stdout (the client would console.log it)'],
    },
  },
  CHALLENGER_ADVISORY: {
    statement: 'The optional challenger makes at most one call per new escalation, never changes the verdict, and its failure is ignored.',
    proofs: {
      'normalize-kernel.test.ts': [
        'off by default: one model call per text intent, no review',
        'on: one more call per escalation writes a risk summary stored with the pending decision; the verdict is unchanged',
        'on, for a structured escalation too; a failing challenger is logged and ignored',
      ],
    },
  },
  EDGE_RATE_LIMIT_BY_PRINCIPAL: {
    statement: 'HTTP rate limits are token buckets keyed by principal (never by IP) plus one overall bucket; a request refused overall costs its principal nothing (issue 4).',
    proofs: {
      'http.test.ts': [
        'gives each principal its own bucket of one second, refilled continuously, with a whole-second Retry-After',
        'holds everyone to the overall rate, and a request refused overall costs its principal nothing',
      ],
    },
  },
  EDGE_DNS_REBINDING: {
    statement: "The HTTP edge serves only its own Host names and same-site Origins; anything else is refused before the credential is even read (issue 4).",
    proofs: {
      'http.test.ts': [
        'on loopback accepts the loopback names on its own port only',
        'accepts no Origin (non-browser clients) and same-origin ones; refuses foreign, https-downgraded and null origins',
      ],
    },
  },
  EDGE_BODY_BOUNDED: {
    statement: 'A request body is read up to http.max_body_bytes and no further (issue 4).',
    proofs: { 'http.test.ts': ['reads up to the limit; refuses a declared or streamed body over it'] },
  },
  RESUME_OWN_SESSION_ONLY: {
    statement: "An MCP session resumes only its own streams' events from the store; a foreign or unknown event id replays nothing (issue 4).",
    proofs: { 'http.test.ts': ["replays only its own session's stream after the given id, skipping priming events; foreign ids are unknown", 'keeps at most `keep` events per session'] },
  },
  OPERATOR_VIEWS_CONTENT_SAFE: {
    statement: 'The operator API shows request params and outputs only where the capability opts in with audit.recordParams / audit.recordOutput (issue 4).',
    proofs: {
      'http.test.ts': [
        'params are redacted unless the capability opts in with audit.recordParams; outputs unless audit.recordOutput',
        'with the opt-in, the operator sees the params and the output',
      ],
    },
  },
  KERNEL_OBSERVED_ONCE: {
    statement: "The kernel's optional observer is told every pipeline stage and each answered decision exactly once, runs on its own clock, and nothing it does (or throws) changes a decision (issue 4).",
    proofs: { 'http.test.ts': ['the observer is told each stage and each decision, once, for govern and approve', 'an observer that throws changes no decision'] },
  },
  UPSTREAM_SAME_PIPELINE: {
    statement: 'A tool of an upstream MCP server is a capability that goes through the same DIM (its pinned JSON Schema, checked by ajv), Cedar, idempotency, escalation and bounded engine as a module.',
    proofs: {
      'gateway-pins.test.ts': [
        'an upstream tool goes through the same pipeline: validated against the pinned schema, decided by Cedar, run by the engine',
        'a write repeated with the same params is a replay: the upstream is not called again',
        'an escalated upstream call waits for a human; the approval runs it on the upstream',
      ],
      'gateway-schema.test.ts': ['accepts valid params and fills in defaults on a copy, as zod does', 'reports every problem with its path, like zod issues', 'checks structuredContent against the output schema unless the result is an error'],
      '../e2e-gateway-fs.test.ts': ['arguments are checked against the pinned JSON Schema before anything runs'],
    },
  },
  UPSTREAM_PINNED_ONLY: {
    statement: 'Only pinned upstream tools are exposed, with their pinned definition; a tool whose live definition differs from its pin, or that is gone, is refused with UPSTREAM_TOOL_CHANGED before anything runs until an operator re-pins.',
    proofs: {
      'gateway-pins.test.ts': [
        'nothing is exposed before pinning',
        'the hash covers name, title, description, input and output schema, and annotations; key order does not matter',
        'a dry run reports and writes nothing; pin records definitions, hashes and one UpstreamPinned event',
        'refresh picks up pins another process wrote, and tells its listeners',
      ],
      '../e2e-gateway-fixtures.test.ts': [
        'a changed description quarantines the tool: UPSTREAM_TOOL_CHANGED, nothing runs, the agent still sees the pinned text',
        'a re-pin ends the quarantine; the running server picks it up and tells the client the tool list changed',
        'a tool added after pinning is never exposed',
      ],
    },
  },
  GRANTS_AGREE_IN_DIM_AND_CEDAR: {
    statement: "A capability is governed by its exact grant, else the first matching glob, in DIM and in Cedar alike; a grant's `when` limits arguments, and a broader glob never widens a narrower grant.",
    proofs: {
      'gateway-grants.test.ts': [
        'grantFor: the exact grant wins, else the first glob in contract order',
        'a glob grant matches resource.id and excludes what an exact grant or an earlier glob governs',
        'the `when` of a grant limits the arguments: a write outside the prefix, or with .., gets no permit',
        'a broader glob never widens a capability that has its own grant',
        'a constraint on a glob-granted capability tightens a copy of the glob grant for that capability only',
      ],
      '../e2e-gateway-fs.test.ts': ['outside files/allowed/ (%s): refused before the upstream, the disk unchanged, no ActionStarted'],
    },
  },
  UPSTREAM_PASSTHROUGH: {
    statement: 'An upstream result reaches the agent unchanged (every content type, structuredContent, isError, its _meta) with the outcome at _meta["mandate/outcome"], which an upstream cannot forge; progress and log messages reach the caller; a refusal is an error result carrying the outcome.',
    proofs: {
      'gateway-wire.test.ts': [
        'accepted: the upstream result unchanged, the outcome (without output) at _meta["mandate/outcome"], a forged one replaced',
        '%s: an error result whose text and _meta carry the outcome, with no structuredContent',
        'an operator note is added as a last text block, so the model sees it',
      ],
      'gateway-schema.test.ts': ['returns the very result it was given: nothing is stripped or added'],
      '../e2e-gateway-everything.test.ts': ['%s: identical to a direct call', 'progress notifications reach the caller, under its own progress token', 'log messages the upstream sends during the call reach the caller'],
      '../e2e-gateway-fixtures.test.ts': [
        'sends the dfid upstream as traceparent, keeps the upstream _meta, and replaces a forged outcome',
        'every content type, audio included, arrives as the upstream sent it, with its log message and progress',
      ],
    },
  },
  UPSTREAM_PRIMITIVES_GOVERNED: {
    statement:
      "An upstream's resources, prompts, and the sampling and elicitation requests it sends back are denied unless the contract grants them (the first matching grant governs, its Cedar condition applies); a refusal is a JSON-RPC error with reason codes that never reaches the upstream or the agent's client, and every access is recorded without content; in transparent mode a client gets what the upstream itself would give it.",
    proofs: {
      'primitive-grants.test.ts': [
        'the first matching grant governs: its condition cannot be widened by a broader grant after it',
        'a prompt grant by glob, with a condition on its arguments',
        'sampling is permitted within its condition; elicitation without a grant is not; a workspace forbid wins',
      ],
      '../e2e-gateway-governed-primitives.test.ts': [
        'a resource, a subscription and a prompt the contract does not grant are JSON-RPC errors with reason codes',
        'sampling and elicitation without a grant: the agent’s client is never asked, the upstream gets an error, the call is not a clean success',
        'after the upstream changes its descriptions, each is refused with UPSTREAM_TOOL_CHANGED, and the agent still sees the pinned ones',
      ],
      '../e2e-gateway-transparent.test.ts': ['lists the same tools, resources, templates and prompts, byte for byte ($schema kept, no Mandate tools)', 'sampling and elicitation are relayed to the agent’s own client and answered the same'],
    },
  },
  UPSTREAM_SUPERVISED: {
    statement: 'An upstream starts lazily, restarts with backoff after a crash, runs at most max_concurrency calls with a bounded queue, under a deadline and a circuit; its crash or absence never takes Mandate down and is UPSTREAM_UNAVAILABLE naming it.',
    proofs: {
      'gateway-supervision.test.ts': [
        'bounded concurrency: with the one slot taken and no queue, a second call is refused before it runs; the slot frees at the deadline',
        'a Streamable HTTP upstream, with its bearer token from the environment',
        'an HTTP upstream that stops answering: UPSTREAM_UNAVAILABLE naming it, then the restart backoff',
      ],
      'gateway-pins.test.ts': ['a missing upstream program: UPSTREAM_UNAVAILABLE naming it, before anything runs; then the backoff refuses at once', 'pinning an upstream that cannot start reports why, naming it, and pins nothing'],
      '../e2e-gateway-fixtures.test.ts': [
        'starts lazily: listing tools starts nothing, the first call does',
        'a call that never answers ends at the deadline; the upstream stays usable',
        'a crash mid-call is UPSTREAM_UNAVAILABLE; the circuit opens; Mandate stays up; the upstream restarts after the backoff',
        'a secret missing from the environment: UPSTREAM_UNAVAILABLE naming the upstream and the variable; the key is released',
      ],
    },
  },
  UPSTREAM_TEXT_IS_DATA: {
    statement: 'Text an upstream returns never changes a decision and the ledger holds only its hash; upstream secrets come from the environment only and reach neither mandate.yaml nor the ledger.',
    proofs: {
      '../e2e-gateway-fixtures.test.ts': ['text an upstream returns is data: "ignore previous instructions" passes through and changes no decision'],
      '../e2e-gateway-everything.test.ts': ['the upstream gets only its configured environment; from_env values come from Mandate and stay out of the ledger'],
      '../e2e-gateway-fs.test.ts': ['the ledger holds hashes, never the file content'],
      'gateway-grants.test.ts': ['refuses a literal secret, by name or by shape, and says how to pass it'],
    },
  },
  EFFECT_SECTIONS: {
    statement: 'Calls on one resource run from their facts re-read to the end of their effect one at a time (write and destructive capabilities per capability by default), across every process sharing the store, so an accepted decision is exactly one effect; waiting counts against the deadline (ADR-017, ADR-019); the section ends with the handler, its record queued first in chain order, and a process hands the store section from call to call only a bounded number of turns (ADR-041).',
    proofs: {
      '../store/sections-suite.ts': [
        'a section is held by one port at a time across two ports on one store, granted in order, and a waiter out of time gets nothing',
        'a waiter that is cancelled gives up its place, and distinct resources never wait for each other',
        'a section whose holding process is killed with SIGKILL is freed for the next waiter',
      ],
      '../torture-fleet.test.ts': [
        'three processes on one SQLite file and two and three PostgreSQL replicas, with and without kill -9: nothing accepted without its transfer, no transfer without an accepted decision, the book balances',
      ],
      'effect-sections.test.ts': [
        'four transfers at once, five times over: every accepted decision moved money exactly once and every refused one moved none',
        'write and destructive capabilities are serialised per capability by default, per resource when they say so; reads and self-managed ones are not',
        'a section is granted first come, first served, and a waiter that runs out of time gets nothing',
        'waiting for a section counts against the deadline: a call queued behind a slow one on the same resource is refused before its effect',
        'a capability that manages its own concurrency runs calls side by side',
        'the section ends with the effect: the next call on the resource starts before the first call has committed its record, and the record still comes first in the chain',
        'a store section is handed from call to call of one process while they queue, at most maxTurns in a row, and then released so another process gets its turn',
      ],
    },
  },
  BUDGETS_ATOMIC: {
    statement: "A call is admitted against its budgets inside the commit that lets its effect start, so the usage it was admitted on is the usage it adds to, whatever other processes or replicas commit; an effect that fails gives its usage back (ADR-019).",
    proofs: {
      '../store/sections-suite.ts': ['budgets are admitted inside the commit: admissions racing on two ports never pass the max, and a refusal names the window and the total'],
      'kernel.test.ts': ['a budget never admits more than max_calls within any rolling window'],
    },
  },
  DRIFT_JUDGED_PER_FACT: {
    statement: "Each fact's change between decision and effect is judged as its capability declares: exact, within a numeric tolerance, or re-validated inside the effect section (same derived values, every invariant, the same policy verdict), refused STATE_DRIFT naming the fact and the check (ADR-019).",
    proofs: {
      'drift-judgements.test.ts': [
        'exact refuses on any change of the fact, and lets an unchanged one through',
        'a numeric tolerance lets the fact move up to it and refuses beyond, as driftTolerance always did',
        'revalidate accepts while the invariant holds on the fresh facts, and refuses naming the fact and the invariant once it does not',
        'revalidate refuses when the fresh facts change the derived values or the policy verdict, naming the check',
        'a fact that is not judged revalidate still refuses on its own change, whatever the others say',
        'an approval proceeds on a moved balance that still covers the transfer, although the policy would escalate again, and is refused naming the invariant once it does not',
        'four transfers at once from a funded account, twelve rounds: at least 95 % accepted, and the book holds exactly the accepted ones',
      ],
    },
  },
  CRASH_NEVER_RUNS_TWICE: {
    statement: "An effect a crash cut short is settled at restart by its capability's reconcile, else marked outcome-unknown; its key never runs again (not even after the key window) until it is settled, and a retry says so with the decision id (ADR-017).",
    proofs: {
      'crash-recovery.test.ts': [
        'an effect cut short whose capability cannot tell is marked outcome-unknown: a retry gets OUTCOME_UNKNOWN, never IN_PROGRESS, and nothing runs',
        'an operator settles it: applied makes a retry replay it; not applied releases the key and a retry runs',
        'the payments capability reconciles from its book: a transfer that landed is recorded and replayed, one that did not is released',
        'a running effect of a live process is left alone: on this host by its pid, elsewhere by its heartbeat',
      ],
      '../e2e-durability.test.ts': [
        'kill -9 while a handler runs: ActionStarted was committed first, the chain verifies, and a retry with the same key never runs it again',
        'kill -9 after the effect and before its record: the capability reconciles it at restart, and a retry replays it once',
      ],
    },
  },
  POLICY_VALUES_EXACT: {
    statement: "A value reaches Cedar as its schema types it (a number as decimal, so a rule decides 299.99, 500.00 and 500.01 exactly); one Cedar cannot hold exactly is refused with POLICY_VALUE_INVALID, never rounded or dropped.",
    proofs: {
      'decimal-policies.test.ts': [
        'a decimal refund at 299.99, 500.00 and 500.01 is decided by a Cedar rule at its boundary',
        'a contract cap on a decimal field is compiled with decimal methods and holds at 2000.00',
        'a value beyond decimal precision is refused with its own reason and path, never rounded',
      ],
      'policy.test.ts': ['entity-reference smuggling: toCedarValue drops keys starting with __'],
    },
  },
  POLICIES_TYPE_CHECKED: {
    statement: "Every policy is validated by Cedar's validator against the schema generated for each capability it can apply to, in validate and at start; a type error stops the load and names its file, line and column.",
    proofs: {
      'decimal-policies.test.ts': [
        'validate reports a decimal compared with `>` at its file, line and column, with a fix hint',
        'validate reports a field that does not exist, naming the fields that do',
        "a contract's escalation rule is checked against the capability its grant governs",
      ],
      '../e2e-validate-reports.test.ts': ['a policy comparing a decimal with `>` fails with file, line, column and a fix hint; the corrected policy passes'],
    },
  },
  CONTRACT_IN_EFFECT: {
    statement: 'An agent is refused with CONTRACT_NOT_EFFECTIVE before its contract\'s effective_from and from its effective_until on, also when its escalation is approved after the contract ended.',
    proofs: { 'contract-metadata.test.ts': ['effective period: refused before effective_from and from effective_until on, with CONTRACT_NOT_EFFECTIVE'] },
  },
  DECISIONS_NAME_THEIR_CONTRACT: {
    statement: "Every decision records the contract's id, version and hash; a rejection records its failed checks as codes and paths only, while the agent's answer names the value it sent and the bound.",
    proofs: { 'contract-metadata.test.ts': ['every decision records the contract id, version and hash; a rejection records its failed checks as codes and paths only'] },
  },
  CONTRACT_TESTS_RUN_THE_KERNEL: {
    statement: 'mandate test runs each case through Kernel.govern on a temporary store at a fixed time, never runs a handler, and fails with a diff when a verdict differs.',
    proofs: {
      '../e2e-contract-tests.test.ts': [
        'runs the shipped cases through the kernel at their fixed times: a line per case, exit 0',
        'a wrong expectation fails with a diff of expected and actual, exit 1',
      ],
    },
  },
  PROTOCOL_ERA_ROUTING: {
    statement: 'One stdio connection serves both protocol revisions: only the 2026-07-28 envelope claims the new one, every message reaches the server of its revision in order, and an answer goes only to the server that asked (ADR-020).',
    proofs: {
      'era-router.test.ts': [
        'only the 2026 _meta envelope claims the modern era; a bare server/discover stays legacy',
        'messages read in one chunk, before the server listens, all reach it in order',
        'a discover and an initialize sent back to back each reach the server of their era, each started once',
        'an answer goes to the 2025 server, the only one that asks; with none, it is dropped',
        'the end of the connection closes every lane and resolves closed',
      ],
    },
  },
  TASK_FOLLOWS_DECISION: {
    statement: 'An MCP task is input_required while its escalation waits (saying for what and until when), then completed or failed with the governed outcome, whoever decided, in whatever process; it survives a restart.',
    proofs: {
      'task-store.test.ts': [
        'is working, then input_required while the escalation waits, then failed when it expires',
        'is completed with the outcome once a human approves (in any process: it reads the store)',
        'a task whose call repeats a pending escalation follows the original decision to its end',
      ],
      '../e2e-mcp-tasks.test.ts': [
        'an escalated call is input_required until an operator approves through the CLI, then completed with the result',
        'the same call denied ends failed, with the reason',
        'a task survives kill -9 of the server mid-escalation, and completes after an approval',
      ],
      '../e2e-http-tasks.test.ts': ['a task survives a restart of the server, and the same agent sees it from another process'],
      'mcp-tasks.test.ts': ['a task whose escalation was approved runs where it was approved and cannot be cancelled; it completes with that run'],
    },
  },
  TASK_BELONGS_TO_ITS_AGENT: {
    statement: 'Only the agent that started a task can see, list, fetch or cancel it; its TTL is never shorter than its escalation can wait, and bounded above.',
    proofs: {
      'task-store.test.ts': ['one agent never sees the task of another', 'bounds the TTL by the escalation expiry: never shorter, at most an hour longer', 'lists in pages with a cursor, refuses a foreign cursor, and forgets tasks past their TTL'],
      '../e2e-mcp-tasks.test.ts': ['another agent can neither see nor cancel the task'],
      '../e2e-http-tasks.test.ts': ['tasks/cancel of a waiting task withdraws the escalation; another agent can neither see nor cancel it'],
    },
  },
  CANCEL_BEFORE_EFFECT_RELEASES_KEY: {
    statement: 'A call cancelled before its effect (or a waiting escalation withdrawn by tasks/cancel) runs nothing, is recorded CANCELLED, and releases its key: the identical retry runs afresh.',
    proofs: {
      'task-store.test.ts': [
        'a call cancelled before its effect runs nothing and releases its key: the identical retry runs',
        'withdrawing a pending escalation records CANCELLED and releases the key; only a pending one can be withdrawn',
      ],
      '../e2e-progress-cancellation.test.ts': ['cancelled before the effect: nothing ran, the key is released, and the identical retry runs'],
      '../e2e-mcp-tasks.test.ts': ['tasks/cancel of a waiting task withdraws the escalation: recorded, nothing ran, and a retry asks afresh'],
      'mcp-tasks.test.ts': ['a cancelled waiting task is recorded as an applied cancel intervention by the agent, and its decision is withdrawn'],
    },
  },
  CANCEL_DURING_EFFECT_KEEPS_ANSWER: {
    statement: "A call cancelled after its effect started aborts the handler's signal and is recorded CANCELLED; the key keeps that answer, so a retry replays it and never runs again.",
    proofs: {
      '../e2e-progress-cancellation.test.ts': [
        'cancelled during the effect: the handler is aborted, CANCELLED is recorded, and the retry replays it',
        'tasks/cancel of a running task aborts its handler and keeps the CANCELLED outcome as the result',
        'tasks/cancel from another process sharing the store stops the running task there within a sweep',
      ],
    },
  },
  PROGRESS_BOUNDED_AND_CONTENT_SAFE: {
    statement: "A handler's progress reaches only a caller that asked for it (or its task), at most every 100 ms, growing, never after the result, and never in the logs.",
    proofs: {
      'progress.test.ts': [
        'goes nowhere when the caller gave no token and follows no task',
        'is rate-limited: a burst sends the first report, then the latest one at the end of the interval, and the final one at once',
        'ignores bad input and progress that does not grow, and never throws',
        'sends nothing after the handler is done or aborted; a held-back report goes out before the result',
      ],
      '../e2e-progress-cancellation.test.ts': [
        'progress of an in-process capability reaches the client, and its messages stay out of the logs',
        'progress of a task becomes its status message, and reaches a client that gave a progress token',
      ],
      '../e2e-http-tasks.test.ts': ['progress of an in-process capability reaches an HTTP client'],
    },
  },
  POLICY_ERRORS_NAMED_WITHOUT_VALUES: {
    statement: 'Grants and policies on pinned upstream tools are type-checked against the pinned input schemas; a policy that fails to evaluate is named with its error kind in the refusal, the log at warn and the ledger, never with a value.',
    proofs: {
      '../e2e-policy-errors-teach.test.ts': [
        '`< 100` on a number field is refused by validate with the decimal hint; the decimal method passes',
        'in the refusal (kind, no value), in the log at warn and on the ledger',
      ],
    },
  },
  POLICY_IMPACT_MATCHES_REAL_RERUN: {
    statement: "Policy impact replays the policy inputs stored in past decisions' rows, each proven by its ledger hash, against a proposed workspace, and reports exactly the decisions a real re-run in a copy of that workspace decides otherwise; a tampered input is not replayed; inputs stored before ADR-040 are kept by the migration, which refuses to drop one that names no decision.",
    proofs: {
      'policy-impact-replay.test.ts': [
        'a tightened limit reports exactly the decisions above it, as re-running them for real does',
        'a loosened forbid reports exactly the decisions it refused, as re-running them for real does; the CLI exits 1 unless allowed',
        'a stored input changed after the fact no longer matches the ledger hash and is not replayed',
      ],
      '../store-port-sqlite.test.ts': [
        "a store at schema 14 keeps every policy input, now in its decision's row, listed in decision order; the table and its indexes are gone",
        'a policy input whose decision does not exist stops the migration with its id and the way out, and changes nothing',
      ],
    },
  },
  LIVE_RELOAD_WHOLE_OR_NOTHING: {
    statement: 'A live reload applies a new set of contracts, policies and capability modules from the next call, or, if anything in it is broken, none of it; a call in flight finishes under its set; every attempt is on the ledger with who asked.',
    proofs: {
      'live-reload.test.ts': [
        'applies a tightened limit from the next call, with a new set hash and who asked on the ledger',
        'a contract change that compiles to no policy (a steward gate) is a new set, with a new hash',
        'refuses a set with a broken policy whole; the old set keeps serving',
        'a call in flight finishes under the set it started with; the next call is judged by the new one',
      ],
      '../e2e-live-reload.test.ts': [
        'a broken policy is refused and the old set serves; a tightened limit applies from the next call; nothing is dropped',
        '/readyz and /metrics differ after one reloads over the API, and agree after mandate reload reaches the other',
      ],
      '../e2e-live-reload-watch.test.ts': ['a burst of writes is one reload and the new limit applies; a broken policy file is refused and the old set keeps serving'],
    },
  },
  CHECK_WRITES_NOTHING_BUT_ITS_RECORD: {
    statement: 'A check runs the pipeline up to the effect and gives the real call\'s verdict, reasons and policies, with no effect, no decision, no key and no usage written; only its PolicyChecked event.',
    proofs: {
      'check-matches-real-call.test.ts': [
        'accept: a small transfer; values and facts are shown, the real call then runs',
        'reject: over the contract limit (DIM) and to a blocked payee (a forbid policy)',
        'escalate: a transfer above 100.00 names the rule and who would decide',
        'as of a given time: before the contract is in effect the check refuses, as the real call then would',
      ],
      '../e2e-check-cli-http.test.ts': [
        'prints the verdict as JSON; exit 0 would be accepted, 1 escalated; a check is on the ledger, no decision is',
        'answers an operator with the verdict, policies and facts; a viewer may not ask; a bad body is refused',
      ],
    },
  },
  TRACES_OFF_BY_DEFAULT_AND_CONTENT_SAFE: {
    statement: 'Tracing is off unless the standard OTLP endpoint variables or telemetry.traces turn it on (the SDK is not even loaded); on, each MCP request of either era is a SERVER span with its stages, approval wait and upstream CLIENT spans, and no argument value is exported (ADR-026).',
    proofs: {
      'tracing-off.test.ts': [
        'on only when an OTLP endpoint variable or telemetry.traces says so; OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none always win',
        'off, the tracer is the no-op one: a span runs its function as it is, nothing is current, log lines get no trace fields',
        'the SDK and the exporter are imported by one module, and that module only by a dynamic import once tracing is on',
      ],
      '../e2e-tracing.test.ts': [
        'a tools/call is a SERVER span named `tools/call invoke_capability`, a child of the client traceparent in _meta, with the MCP attributes and the DFID',
        'the upstream call is a CLIENT span under the execute stage, and the upstream receives that span as its traceparent in _meta',
        'no argument value was exported, in any span of any test above, and every body was OTLP JSON',
      ],
    },
  },  LAYERS_POINT_DOWN: {
    statement: 'The modules of src/ sit in layers in one order (core, telemetry, config, store, anchor, normalize, capabilities, policy, kernel, workspace, gateway, runtime, mcp, http, cli); none imports from a layer above its own, and none is outside a layer (ADR-033).',
    proofs: {
      'layers.test.ts': [
        'every module of src/ belongs to a layer of the order',
        'no module imports from a layer above its own',
        'the check sees static, type-only, re-exported and dynamic imports upward, and lets downward and same-layer ones pass',
      ],
    },
  },
};

/** Test titles declared in a test file: it('...'), test('...'), it.each(...)('...'), and first cells of it.each tables. */
export function declaredTitles(text: string): string[] {
  const lit = `'((?:[^'\\\\\\n]|\\\\.)*)'`;
  const calls = [...text.matchAll(new RegExp(`(?:\\bit|\\btest|\\))\\(\\s*${lit}\\s*,`, 'g'))].map((m) => m[1] as string);
  const rows = /\bit\.each\(\s*table\s*\)/.test(text) ? [...text.matchAll(new RegExp(`^\\s*\\[\\s*${lit}\\s*,`, 'gm'))].map((m) => m[1] as string) : [];
  return [...calls, ...rows].map((t) => t.replace(/\\(.)/g, '$1'));
}

const titleCache = new Map<string, string[]>();
function titlesOf(file: string): string[] {
  let titles = titleCache.get(file);
  if (!titles) {
    titles = declaredTitles(readFileSync(join(HERE, file), 'utf8'));
    titleCache.set(file, titles);
  }
  return titles;
}

describe('invariant coverage', () => {
  it('the title parser finds plain, each and table titles', () => {
    const sample = ["it('plain one', () => {});", "it.each([1])('each %s', (n) => {});", 'it.each(table)(\'%s\', () => {});', "  ['row title', 1],", "test('it\\'s escaped', () => {});"].join('\n');
    expect(declaredTitles(sample)).toEqual(['plain one', 'each %s', '%s', "it's escaped", 'row title']);
  });

  it.each(Object.entries(GUARANTEES))('%s is proven by tests that exist', (_id, g) => {
    expect(g.statement.length).toBeGreaterThan(10);
    const entries = Object.entries(g.proofs);
    expect(entries.length).toBeGreaterThan(0);
    const missing: string[] = [];
    for (const [file, titles] of entries) {
      expect(existsSync(join(HERE, file)), `${file} exists`).toBe(true);
      expect(titles.length).toBeGreaterThan(0);
      const declared = titlesOf(file);
      for (const t of titles) if (!declared.includes(t)) missing.push(`${file}: ${t}`);
    }
    expect(missing, 'mapped tests that do not exist').toEqual([]);
  });

  it('test titles are unique within each unit test file (a mapping names one test)', () => {
    const files = readdirSync(HERE).filter((f) => f.endsWith('.test.ts'));
    for (const f of files) {
      const titles = titlesOf(f);
      expect([...new Set(titles)].length, f).toBe(titles.length);
    }
  });

  it('every unit test file proves at least one guarantee', () => {
    const files = readdirSync(HERE).filter((f) => f.endsWith('.test.ts') && f !== 'invariants.test.ts');
    const cited = new Set(Object.values(GUARANTEES).flatMap((g) => Object.keys(g.proofs)));
    expect(files.filter((f) => !cited.has(f))).toEqual([]);
  });
});
