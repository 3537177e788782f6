import type { Pool, PoolClient } from 'pg';
import { DELEGATIONS_DDL } from '../tables/delegations.js';
import { PLANS_DDL } from '../plans.js';
import { GENESIS_HASH } from '../port/events.js';
import { checkout } from './connect.js';

/**
 * The PostgreSQL schema, as versioned migrations (ADR-015). Each runs once, in
 * order, in one transaction, recorded in `mandate_migrations`. The tables
 * mirror src/store/sqlite/db.ts; times are epoch milliseconds (BIGINT), JSON columns
 * are TEXT because the ledger hashes the stored canonical text as it is.
 */
export const PG_MIGRATIONS: { name: string; sql: string }[] = [
  {
    name: 'store',
    sql: `
  CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
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
  CREATE FUNCTION mandate_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'ledger is append-only: % refused', TG_OP; END $$;
  CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION mandate_events_append_only();
  CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION mandate_events_append_only();

  -- The chain head: one row, locked FOR UPDATE by every committing batch, so
  -- appends from every replica are serialised and the chain never forks.
  CREATE TABLE chain_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
  );
  INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '${GENESIS_HASH}');

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
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    resolved_at BIGINT,
    resolved_by TEXT,
    resolution_note TEXT,
    outcome TEXT,
    review TEXT
  );
  CREATE INDEX decisions_status ON decisions(status, expires_at);
  CREATE INDEX decisions_dfid ON decisions(dfid);

  CREATE TABLE idempotency (
    agent TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending_approval', 'in_flight', 'done', 'failed')),
    decision_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (agent, key)
  );

  CREATE TABLE flows (dfid TEXT PRIMARY KEY, invocations INTEGER NOT NULL);

  CREATE TABLE agent_status (
    agent TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('active', 'paused', 'suspended', 'terminated')),
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    reason TEXT
  );

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
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT
  );
  CREATE INDEX interventions_target ON interventions(target_agent, state);
  CREATE INDEX interventions_updated ON interventions(updated_at);

  CREATE TABLE flow_status (
    dfid TEXT NOT NULL,
    agent TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'paused', 'terminated')),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (dfid, agent)
  );

  CREATE TABLE constraints (
    intervention_id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    capability TEXT NOT NULL,
    field TEXT NOT NULL,
    max DOUBLE PRECISION NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX constraints_agent ON constraints(agent, capability, expires_at);

  CREATE TABLE notes (
    intervention_id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    delivered_at BIGINT
  );
  CREATE INDEX notes_agent ON notes(agent, delivered_at);

  CREATE TABLE monitor_samples (
    id BIGSERIAL PRIMARY KEY,
    agent TEXT NOT NULL,
    monitor TEXT NOT NULL,
    at BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL
  );
  CREATE INDEX monitor_samples_window ON monitor_samples(agent, monitor, id);

  CREATE TABLE monitor_state (
    agent TEXT NOT NULL,
    monitor TEXT NOT NULL,
    first_at BIGINT NOT NULL,
    consecutive INTEGER NOT NULL,
    PRIMARY KEY (agent, monitor)
  );

  CREATE TABLE steward_counts (agent TEXT PRIMARY KEY, executed BIGINT NOT NULL);

  CREATE TABLE memory (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    version INTEGER NOT NULL,
    value TEXT NOT NULL,
    sensitivity TEXT NOT NULL CHECK (sensitivity IN ('standard', 'elevated', 'restricted')),
    provenance TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
  );

  CREATE TABLE memory_packs (
    scope TEXT NOT NULL,
    pack TEXT NOT NULL,
    keys TEXT NOT NULL,
    PRIMARY KEY (scope, pack)
  );

  CREATE TABLE usage (
    agent TEXT NOT NULL,
    capability TEXT NOT NULL,
    field TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    total DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (agent, capability, field, bucket)
  );

  CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('agent', 'operator')),
    principal TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('agent', 'operator', 'viewer')),
    key_hash TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    label TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT
  );
  CREATE INDEX credentials_principal ON credentials(kind, principal);

  CREATE TABLE mcp_events (
    seq BIGSERIAL PRIMARY KEY,
    session_id TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE INDEX mcp_events_stream ON mcp_events(session_id, stream_id, seq);
  CREATE INDEX mcp_events_age ON mcp_events(created_at);

  CREATE TABLE upstream_pins (
    server TEXT NOT NULL,
    tool TEXT NOT NULL,
    hash TEXT NOT NULL,
    definition TEXT NOT NULL,
    pinned_at BIGINT NOT NULL,
    pinned_by TEXT NOT NULL,
    PRIMARY KEY (server, tool)
  );
  `,
  },
  {
    // Shared circuit-breaker state and the fleet-wide rate limiter's counters (ADR-015).
    name: 'fleet',
    sql: `
  CREATE TABLE breakers (
    capability TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
    failures INTEGER NOT NULL,
    opened_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE TABLE rate_limits (key VARCHAR(255) PRIMARY KEY, points INTEGER NOT NULL DEFAULT 0, expire BIGINT);
  `,
  },
  {
    // Crash recovery (ADR-017): who runs a started effect, live processes' heartbeats, keys whose outcome is unknown.
    name: 'recovery',
    sql: `
  ALTER TABLE decisions ADD COLUMN runner TEXT;
  CREATE INDEX decisions_running ON decisions(status) WHERE status IN ('running', 'outcome_unknown');
  CREATE TABLE runners (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
  );
  ALTER TABLE idempotency DROP CONSTRAINT idempotency_state_check;
  ALTER TABLE idempotency ADD CONSTRAINT idempotency_state_check CHECK (state IN ('pending_approval', 'in_flight', 'done', 'failed', 'outcome_unknown'));
  `,
  },
  {
    // MCP tasks (ADR-014): a task-augmented tools/call follows one decision; its terminal result is kept until its TTL.
    name: 'tasks',
    sql: `
  CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    result_form TEXT NOT NULL CHECK (result_form IN ('outcome', 'passthrough')),
    status TEXT NOT NULL CHECK (status IN ('working', 'input_required', 'completed', 'failed', 'cancelled')),
    status_message TEXT,
    result TEXT,
    ttl_ms BIGINT NOT NULL,
    poll_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX tasks_agent ON tasks(agent, created_at, id);
  CREATE INDEX tasks_expiry ON tasks(expires_at);
  `,
  },
  // Sub-mandates (ADR-022), self-contained.
  { name: 'delegations', sql: DELEGATIONS_DDL('BIGINT') },
  // Plans (ADR-025), self-contained.
  { name: 'plans', sql: PLANS_DDL('BIGINT') },
  {
    // One ledger row per commit point (ADR-021): rows written from here on are format-2 records; earlier rows stay format 1 and keep verifying.
    name: 'ledger-records',
    sql: `
  ALTER TABLE events ADD COLUMN format SMALLINT NOT NULL DEFAULT 1;
  ALTER TABLE events ADD COLUMN first_seq BIGINT;
  `,
  },
  {
    // What each decision's policy request saw, for policy impact (ADR-023); the ledger keeps its hash.
    name: 'policy_inputs',
    sql: `
  CREATE TABLE policy_inputs (
    decision_id TEXT PRIMARY KEY,
    dfid TEXT NOT NULL,
    agent TEXT NOT NULL,
    capability TEXT NOT NULL,
    at BIGINT NOT NULL,
    verdict TEXT NOT NULL,
    gates TEXT NOT NULL,
    input TEXT NOT NULL,
    input_hash TEXT NOT NULL
  );
  CREATE INDEX policy_inputs_at ON policy_inputs(at, decision_id);
  `,
  },
  {
    // The console's reads by time: the decision rate (created_at) and an agent's recent decisions (agent, created_at), without a scan.
    name: 'decisions_created_at',
    sql: `
  CREATE INDEX decisions_created ON decisions(created_at);
  CREATE INDEX decisions_agent_created ON decisions(agent, created_at);
  `,
  },
  {
    // A guard checked in the database (ADR-028): a commit point whose guards all fail there is sent with its COMMIT in one round trip.
    name: 'commit-guards',
    sql: `
  CREATE FUNCTION mandate_guard(ok BOOLEAN, what TEXT) RETURNS BOOLEAN LANGUAGE plpgsql VOLATILE AS $fn$
  BEGIN
    IF ok IS NOT TRUE THEN RAISE EXCEPTION 'mandate guard: %', what USING ERRCODE = 'MG001'; END IF;
    RETURN TRUE;
  END
  $fn$;
  `,
  },
  {
    // Only pending decisions are read by status (ADR-032); the full index was rewritten at each of a call's status moves.
    name: 'decisions-pending-index',
    sql: `
  DROP INDEX decisions_status;
  CREATE INDEX decisions_pending ON decisions(created_at, id) WHERE status = 'pending';
  `,
  },
  {
    // Each decision's policy input in its own row (ADR-040), read and purged by decisions_created; retention_marks keeps
    // where purges stopped. An input that names no decision (Mandate writes none: a hand edit, a partial restore) stops the
    // migration, for a human to look at, rather than being dropped.
    name: 'policy-inputs-in-decisions',
    sql: `
  DO $do$
  DECLARE n BIGINT; example TEXT;
  BEGIN
    SELECT count(*), min(decision_id) INTO n, example FROM policy_inputs p WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.id = p.decision_id);
    IF n > 0 THEN
      RAISE EXCEPTION 'store migration policy-inputs-in-decisions (ADR-040) refused, nothing changed: % policy input(s) name no decision (first: %). Keep a copy if you need them, delete them (DELETE FROM policy_inputs WHERE decision_id NOT IN (SELECT id FROM decisions)) and migrate again', n, example;
    END IF;
  END
  $do$;
  ALTER TABLE decisions ADD COLUMN policy_verdict TEXT, ADD COLUMN policy_gates TEXT, ADD COLUMN policy_input TEXT, ADD COLUMN policy_input_hash TEXT;
  UPDATE decisions SET capability = COALESCE(decisions.capability, p.capability), policy_verdict = p.verdict, policy_gates = p.gates,
    policy_input = p.input, policy_input_hash = p.input_hash FROM policy_inputs p WHERE p.decision_id = decisions.id;
  DROP TABLE policy_inputs;
  CREATE TABLE retention_marks (what TEXT PRIMARY KEY, cleared_before BIGINT NOT NULL);
  `,
  },
];

/** The advisory lock that makes concurrent starts migrate one at a time. */
const MIGRATION_LOCK = 0x6d616e64; // 'mand'

export interface MigrationStatus {
  current: number;
  latest: number;
  applied: { version: number; name: string; applied_at: string }[];
  pending: { version: number; name: string }[];
}

async function ensureTable(c: PoolClient | Pool): Promise<void> {
  await c.query('CREATE TABLE IF NOT EXISTS mandate_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
}

/** Where the schema stands. */
export async function migrationStatus(pool: Pool): Promise<MigrationStatus> {
  const exists = await pool.query<{ t: string | null }>("SELECT to_regclass('mandate_migrations')::text AS t");
  const rows = exists.rows[0]?.t
    ? (await pool.query<{ version: number; name: string; applied_at: Date }>('SELECT version, name, applied_at FROM mandate_migrations ORDER BY version')).rows
    : [];
  const current = rows.reduce((m, r) => Math.max(m, r.version), 0);
  return {
    current,
    latest: PG_MIGRATIONS.length,
    applied: rows.map((r) => ({ version: r.version, name: r.name, applied_at: r.applied_at.toISOString() })),
    pending: PG_MIGRATIONS.map((m, i) => ({ version: i + 1, name: m.name })).filter((m) => m.version > current),
  };
}

/**
 * Applies the pending migrations, each in its own transaction, under an
 * advisory lock so that replicas starting together migrate once. Returns
 * the versions applied. Refuses a schema newer than this mandate.
 */
export async function migrate(pool: Pool): Promise<number[]> {
  const { client: c, done } = await checkout(pool);
  try {
    await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await ensureTable(c);
      const { rows } = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM mandate_migrations');
      const current = rows[0]?.v ?? 0;
      if (current > PG_MIGRATIONS.length) {
        throw new Error(`store schema version ${current} is newer than this mandate (${PG_MIGRATIONS.length}); upgrade mandate`);
      }
      const applied: number[] = [];
      for (let v = current; v < PG_MIGRATIONS.length; v++) {
        const m = PG_MIGRATIONS[v] as { name: string; sql: string };
        await c.query('BEGIN');
        try {
          await c.query(m.sql);
          await c.query('INSERT INTO mandate_migrations (version, name) VALUES ($1, $2)', [v + 1, m.name]);
          await c.query('COMMIT');
        } catch (err) {
          await c.query('ROLLBACK');
          throw err;
        }
        applied.push(v + 1);
      }
      return applied;
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    done();
  }
}
