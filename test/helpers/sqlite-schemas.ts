// Older SQLite schemas, made from a current file, for tests that migrate one (src/store/sqlite/db.ts MIGRATIONS).

/** Takes a file at schema 15 back to schema 14: policy inputs in their own table, not in the decision row (ADR-040). */
export const BACK_TO_14 = `
  ALTER TABLE decisions DROP COLUMN policy_verdict;
  ALTER TABLE decisions DROP COLUMN policy_gates;
  ALTER TABLE decisions DROP COLUMN policy_input;
  ALTER TABLE decisions DROP COLUMN policy_input_hash;
  DROP TABLE retention_marks;
  CREATE TABLE policy_inputs (
    decision_id TEXT PRIMARY KEY, dfid TEXT NOT NULL, agent TEXT NOT NULL, capability TEXT NOT NULL, at INTEGER NOT NULL,
    verdict TEXT NOT NULL, gates TEXT NOT NULL, input TEXT NOT NULL, input_hash TEXT NOT NULL
  );
  CREATE INDEX policy_inputs_at ON policy_inputs(at, decision_id);
`;
