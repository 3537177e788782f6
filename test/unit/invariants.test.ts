// The kernel's guarantees, each mapped to the tests that prove it. This file
// fails when a mapped test title no longer exists, so a renamed or deleted
// test cannot silently leave a guarantee unproven.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const HERE = dirname(fileURLToPath(import.meta.url));

type Proofs = Record<string, string[]>; // test file (in test/unit) -> test titles

interface Guarantee {
  statement: string;
  proofs: Proofs;
}

export const GUARANTEES: Record<string, Guarantee> = {
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
    statement: 'Every event links to its predecessor by the SHA-256 of its canonical logical fields, from a genesis of 64 zeros, across processes.',
    proofs: {
      'ledger.test.ts': [
        'appends chain with prev_hash (the first is 64 zeros) and each hash is eventHash of the logical fields',
        'verify is ok on an intact chain and names its head',
        'two Ledger instances on two connections to the same file, interleaving appends, keep one valid chain',
      ],
      'kernel.test.ts': ['the chain verifies after a mix of accepted, rejected, escalated, replayed and resolved flows'],
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
    },
  },
  APPEND_ONLY: {
    statement: 'The events table refuses UPDATE and DELETE; an event and the state written with it commit or roll back together.',
    proofs: {
      'ledger.test.ts': ['UPDATE and DELETE on events are refused by triggers', 'a failing alongside write rolls back the event too (one transaction)'],
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
    },
  },
  ONLY_OPERATOR_LIFTS_TERMINATION: {
    statement: 'A termination is lifted by a human operator only.',
    proofs: {
      'interventions.test.ts': ['a supervisor may not lift a termination', 'only an operator lifts a termination (operator)', 'only an operator lifts a termination'],
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
    },
  },
  ESCALATION_EXPIRES: {
    statement: 'An escalation nobody decides expires on the injected clock and can then never be approved.',
    proofs: {
      'kernel.test.ts': [
        'an escalation expires with the injected clock: getDecision returns expired with ESCALATION_EXPIRED and approve then throws DECISION_NOT_FOUND',
        'approving an overdue escalation expires it instead of running it',
      ],
    },
  },
  ESCALATION_DURABLE: {
    statement: 'A pending escalation survives a restart and stays approvable.',
    proofs: { 'kernel.test.ts': ['a pending escalation survives a restart and is approvable by the new runtime'] },
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
    statement: 'The state a decision relied on is checked again right before the effect; any move beyond tolerance is STATE_DRIFT.',
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
      'kernel.test.ts': [
        'the circuit opens after repeated handler failures, refuses without running, and a successful probe closes it (transitions in the ledger)',
      ],
    },
  },
  HANDLER_BOUNDED: {
    statement: 'A handler that hangs, throws or returns too much or the wrong shape gives a clean rejection.',
    proofs: {
      'engine.test.ts': [
        'a handler that hangs and ignores its signal is cut off at the deadline with DEADLINE_EXCEEDED, and its signal fires',
        'a caller abort aborts the handler',
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
