import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DELEGATIONS_DDL } from '../tables/delegations.js';
import { PLANS_DDL } from '../plans.js';

export type Db = Database.Database;

// Kept equal to MIGRATIONS.length (checked at module load below).
const SCHEMA_VERSION = 15;

// One migration list; each entry runs once, in order, inside a transaction (one that must check data first is a function).
const MIGRATIONS: (string | ((db: Db) => void))[] = [
  `
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    dfid TEXT NOT NULL,
    agent TEXT NOT NULL,
    type TEXT NOT NULL,
    time TEXT NOT NULL,
    decision_id TEXT,
    reasons TEXT NOT NULL,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX events_dfid ON events(dfid);
  CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'ledger is append-only: UPDATE refused'); END;
  CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'ledger is append-only: DELETE refused'); END;

  CREATE TABLE decisions (
    id TEXT PRIMARY KEY,
    dfid TEXT NOT NULL,
    agent TEXT NOT NULL,
    capability TEXT,
    status TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    idempotency_key TEXT,
    intent TEXT,
    facts TEXT,
    facts_hash TEXT,
    policies TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    resolved_at INTEGER,
    resolved_by TEXT,
    resolution_note TEXT,
    outcome TEXT
  );
  CREATE INDEX decisions_status ON decisions(status, expires_at);
  CREATE INDEX decisions_dfid ON decisions(dfid);

  CREATE TABLE idempotency (
    agent TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending_approval', 'in_flight', 'done', 'failed')),
    decision_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (agent, key)
  );

  CREATE TABLE flows (dfid TEXT PRIMARY KEY, invocations INTEGER NOT NULL);

  CREATE TABLE agent_status (
    agent TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('active', 'paused', 'terminated')),
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    reason TEXT
  );

  CREATE TABLE interventions (
    id TEXT PRIMARY KEY,
    target_agent TEXT NOT NULL,
    act TEXT NOT NULL,
    issued_by TEXT NOT NULL,
    issuer_role TEXT NOT NULL,
    state TEXT NOT NULL,
    reason_hash TEXT,
    created_at INTEGER NOT NULL
  );

  CREATE TABLE memory (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    version INTEGER NOT NULL,
    value TEXT NOT NULL,
    sensitivity TEXT NOT NULL CHECK (sensitivity IN ('standard', 'elevated', 'restricted')),
    provenance TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
  );

  CREATE TABLE usage (
    agent TEXT NOT NULL,
    capability TEXT NOT NULL,
    field TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    total REAL NOT NULL,
    PRIMARY KEY (agent, capability, field, bucket)
  );
  `,
  // 2: interventions with a lifecycle and flow targets, suspension, constraints,
  // operator notes, drift monitor windows, steward counters, memory packs.
  `
  CREATE TABLE agent_status_v2 (
    agent TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('active', 'paused', 'suspended', 'terminated')),
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    reason TEXT
  );
  INSERT INTO agent_status_v2 SELECT * FROM agent_status;
  DROP TABLE agent_status;
  ALTER TABLE agent_status_v2 RENAME TO agent_status;

  DROP TABLE interventions;
  CREATE TABLE interventions (
    id TEXT PRIMARY KEY,
    dfid TEXT NOT NULL,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('agent', 'flow', 'decision')),
    target TEXT NOT NULL,
    target_agent TEXT NOT NULL,
    act TEXT NOT NULL,
    args TEXT NOT NULL DEFAULT '{}',
    issued_by TEXT NOT NULL,
    issuer_role TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'acknowledged', 'applied', 'rejected', 'expired')),
    reason_hash TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER
  );
  CREATE INDEX interventions_target ON interventions(target_agent, state);

  -- A flow act concerns one agent's calls in a flow (agent '*': every agent's, operators only).
  CREATE TABLE flow_status (
    dfid TEXT NOT NULL,
    agent TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'paused', 'terminated')),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (dfid, agent)
  );

  CREATE TABLE constraints (
    intervention_id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    capability TEXT NOT NULL,
    field TEXT NOT NULL,
    max REAL NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX constraints_agent ON constraints(agent, capability, expires_at);

  CREATE TABLE notes (
    intervention_id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    delivered_at INTEGER
  );
  CREATE INDEX notes_agent ON notes(agent, delivered_at);

  CREATE TABLE monitor_samples (
    id INTEGER PRIMARY KEY,
    agent TEXT NOT NULL,
    monitor TEXT NOT NULL,
    at INTEGER NOT NULL,
    value REAL NOT NULL
  );
  CREATE INDEX monitor_samples_window ON monitor_samples(agent, monitor, id);

  CREATE TABLE monitor_state (
    agent TEXT NOT NULL,
    monitor TEXT NOT NULL,
    first_at INTEGER NOT NULL,
    consecutive INTEGER NOT NULL,
    PRIMARY KEY (agent, monitor)
  );

  CREATE TABLE steward_counts (agent TEXT PRIMARY KEY, executed INTEGER NOT NULL);

  CREATE TABLE memory_packs (
    scope TEXT NOT NULL,
    pack TEXT NOT NULL,
    keys TEXT NOT NULL,
    PRIMARY KEY (scope, pack)
  );
  `,
  // 3: the challenger's risk summary of a pending escalation, for the human approver (ADR-006).
  `
  ALTER TABLE decisions ADD COLUMN review TEXT;
  `,
  // 4: HTTP service: credentials (API keys, stored as SHA-256 hashes) and the
  // MCP stream events that make a dropped stream resumable (Last-Event-ID).
  `
  CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('agent', 'operator')),
    principal TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('agent', 'operator', 'viewer')),
    key_hash TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    label TEXT,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at INTEGER,
    revoked_by TEXT
  );
  CREATE INDEX credentials_principal ON credentials(kind, principal);

  CREATE TABLE mcp_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX mcp_events_stream ON mcp_events(session_id, stream_id, seq);
  CREATE INDEX mcp_events_age ON mcp_events(created_at);
  `,
  // 5: the gateway's pins: the definition of each upstream tool an operator accepted (ADR-008).
  `
  CREATE TABLE upstream_pins (
    server TEXT NOT NULL,
    tool TEXT NOT NULL,
    hash TEXT NOT NULL,
    definition TEXT NOT NULL,
    pinned_at INTEGER NOT NULL,
    pinned_by TEXT NOT NULL,
    PRIMARY KEY (server, tool)
  );
  `,
  // 6: crash recovery (ADR-017): which process runs a started effect, live processes'
  // heartbeats, and keys whose effect's outcome a crash left unknown.
  `
  ALTER TABLE decisions ADD COLUMN runner TEXT;
  CREATE INDEX decisions_running ON decisions(status) WHERE status IN ('running', 'outcome_unknown');
  CREATE TABLE runners (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
  );
  CREATE TABLE idempotency_v2 (
    agent TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending_approval', 'in_flight', 'done', 'failed', 'outcome_unknown')),
    decision_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (agent, key)
  );
  INSERT INTO idempotency_v2 SELECT * FROM idempotency;
  DROP TABLE idempotency;
  ALTER TABLE idempotency_v2 RENAME TO idempotency;
  `,
  // 7: MCP tasks (ADR-014): a task-augmented tools/call follows one decision; its terminal result is kept until its TTL.
  `
  CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    result_form TEXT NOT NULL CHECK (result_form IN ('outcome', 'passthrough')),
    status TEXT NOT NULL CHECK (status IN ('working', 'input_required', 'completed', 'failed', 'cancelled')),
    status_message TEXT,
    result TEXT,
    ttl_ms INTEGER NOT NULL,
    poll_ms INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX tasks_agent ON tasks(agent, created_at, id);
  CREATE INDEX tasks_expiry ON tasks(expires_at);
  `,
  // 8: effect sections across processes (ADR-019): per key, the lowest live ticket holds the section.
  `
  CREATE TABLE section_tickets (
    ticket INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX section_tickets_key ON section_tickets(key, ticket);
  `,
  // 9: sub-mandates (ADR-022), self-contained.
  DELEGATIONS_DDL('INTEGER'),
  // 10: plans (ADR-025), self-contained.
  PLANS_DDL('INTEGER'),
  // 11: one ledger row per commit point (ADR-021): rows written from here on are format-2 records; earlier rows stay format 1 and keep verifying.
  `
  ALTER TABLE events ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE events ADD COLUMN first_seq INTEGER;
  `,
  // 12: what each decision's policy request saw, for policy impact (ADR-023); the ledger keeps its hash.
  `
  CREATE TABLE policy_inputs (
    decision_id TEXT PRIMARY KEY,
    dfid TEXT NOT NULL,
    agent TEXT NOT NULL,
    capability TEXT NOT NULL,
    at INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    gates TEXT NOT NULL,
    input TEXT NOT NULL,
    input_hash TEXT NOT NULL
  );
  CREATE INDEX policy_inputs_at ON policy_inputs(at, decision_id);
  `,
  // 13: the console's reads by time: the decision rate (created_at) and an agent's recent decisions (agent, created_at), without a scan.
  `
  CREATE INDEX decisions_created ON decisions(created_at);
  CREATE INDEX decisions_agent_created ON decisions(agent, created_at);
  `,
  // 14: fewer pages written per governed call (ADR-032). The status index holds only pending decisions, the only status
  // read through it: a call's decision moves through three statuses, and each move rewrote an entry of the full index.
  // The key and flow tables, small rows looked up by their primary key only, are stored in that key's b-tree
  // (WITHOUT ROWID) instead of a rowid table beside an index of the key: one b-tree written per row instead of two.
  `
  DROP INDEX decisions_status;
  CREATE INDEX decisions_pending ON decisions(created_at, id) WHERE status = 'pending';
  CREATE TABLE idempotency_v3 (
    agent TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending_approval', 'in_flight', 'done', 'failed', 'outcome_unknown')),
    decision_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (agent, key)
  ) WITHOUT ROWID;
  INSERT INTO idempotency_v3 (agent, key, request_hash, state, decision_id, created_at, expires_at)
    SELECT agent, key, request_hash, state, decision_id, created_at, expires_at FROM idempotency;
  DROP TABLE idempotency;
  ALTER TABLE idempotency_v3 RENAME TO idempotency;
  CREATE TABLE flows_v2 (dfid TEXT PRIMARY KEY, invocations INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO flows_v2 (dfid, invocations) SELECT dfid, invocations FROM flows;
  DROP TABLE flows;
  ALTER TABLE flows_v2 RENAME TO flows;
  `,
  // 15: each decision's policy input in its own row (ADR-040): written by the decision's insert, not a second table's
  // b-tree, key index and time index. Read and purged by `decisions_created`; `retention_marks` keeps where purges stopped.
  (db) => {
    refuseOrphanInputs(db);
    db.exec(POLICY_INPUTS_INTO_DECISIONS);
  },
];

/**
 * Refuses to fold `policy_inputs` into `decisions` while a row there names no
 * decision: it would have nowhere to go, and dropping it silently would lose
 * what an operator may have kept on purpose. Mandate never writes one (an
 * input commits in its decision's unit, and decisions are never deleted), so
 * one is a hand edit or a partial restore, for a human to look at.
 */
function refuseOrphanInputs(db: Db): void {
  const orphans = db.prepare<[], string>('SELECT decision_id FROM policy_inputs p WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.id = p.decision_id) ORDER BY decision_id').pluck().all();
  if (!orphans.length) return;
  throw new Error(
    `store migration 15 (policy inputs into their decisions, ADR-040) refused, nothing changed: ${orphans.length} policy input(s) name no decision (${orphans.slice(0, 5).join(', ')}${orphans.length > 5 ? ', …' : ''}). ` +
      'Keep a copy if you need them (sqlite3 <store> ".dump policy_inputs"), delete them (DELETE FROM policy_inputs WHERE decision_id NOT IN (SELECT id FROM decisions)) and open the store again',
  );
}

const POLICY_INPUTS_INTO_DECISIONS = `
  ALTER TABLE decisions ADD COLUMN policy_verdict TEXT;
  ALTER TABLE decisions ADD COLUMN policy_gates TEXT;
  ALTER TABLE decisions ADD COLUMN policy_input TEXT;
  ALTER TABLE decisions ADD COLUMN policy_input_hash TEXT;
  UPDATE decisions SET capability = COALESCE(decisions.capability, p.capability), policy_verdict = p.verdict, policy_gates = p.gates,
    policy_input = p.input, policy_input_hash = p.input_hash FROM policy_inputs p WHERE p.decision_id = decisions.id;
  DROP TABLE policy_inputs;
  CREATE TABLE retention_marks (what TEXT PRIMARY KEY, cleared_before INTEGER NOT NULL) WITHOUT ROWID;
`;

/**
 * WAL pages after which a commit checkpoints (SQLite's default is 1,000).
 * The checkpoint stays in the writer's commit (ADR-002), and with NORMAL it
 * fsyncs the WAL and the database file: two waits on the disk that block the
 * event loop. A governed call writes ~25 pages, so at 1,000 every ~40th call
 * paid them; at 10,000 every ~400th does (ADR-037). The WAL file stays
 * bounded by it (~40 MiB of 4 KiB pages) and is read back on open after a
 * crash, as before.
 */
export const WAL_CHECKPOINT_PAGES = 10_000;

/**
 * Opens the SQLite file in WAL mode. synchronous=NORMAL in WAL keeps every
 * committed transaction across a process crash (kill -9); see ADR-002.
 */
export function openDb(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  applyStorePragmas(db);
  migrate(db);
  return db;
}

/** The store's connection settings, also used by the bench's storage floor so that it measures the same writes. */
export function applyStorePragmas(db: Db): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // A group commit's savepoints journal the pages they change; past 64 KiB SQLite spills that journal to a temp
  // file, opened and written per batch (at 16 calls in flight: ~0.7 opens and ~5 writes per call). Kept in memory.
  db.pragma('temp_store = MEMORY');
  db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(`store schema version ${current} is newer than this mandate (${SCHEMA_VERSION}); upgrade mandate`);
  }
  const run = db.transaction(() => {
    // Re-read inside the write lock: another process may have migrated meanwhile.
    const inside = db.pragma('user_version', { simple: true }) as number;
    for (let v = inside; v < MIGRATIONS.length; v++) {
      const m = MIGRATIONS[v] as string | ((db: Db) => void);
      if (typeof m === 'string') db.exec(m);
      else m(db);
    }
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  });
  if (current < MIGRATIONS.length) run.immediate();
}

if (SCHEMA_VERSION !== MIGRATIONS.length) throw new Error('SCHEMA_VERSION must equal the number of migrations');
