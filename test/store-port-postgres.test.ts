import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_MIGRATIONS } from '../src/store/pg/migrations.js';
import { openPgPort } from '../src/store/pg/port.js';
import type { StorePort } from '../src/store/port/index.js';
import { FakeWorld } from './unit/helpers.js';
import { freshDatabase, freshSchema } from './helpers/postgres.js';
import { POSTGRES, requires } from './helpers/requires.js';
import { describePortSuite } from './store/port-suite.js';
import { describeSectionsSuite } from './store/sections-suite.js';

const need = await requires(import.meta.url, [POSTGRES]);

// One database for this file, a fresh schema for every store the suite opens.
let db: Awaited<ReturnType<typeof freshDatabase>>;
beforeAll(async () => {
  db = await freshDatabase('port');
});
afterAll(async () => {
  await db?.drop();
});

const urls = new WeakMap<StorePort, string>();
/** A port on a fresh schema; its twin opens the same schema as another process would. */
async function freshPort(): Promise<StorePort> {
  const url = await freshSchema(db.url);
  const port = await openPgPort(url, new FakeWorld());
  urls.set(port, url);
  return port;
}
const twin = (of: StorePort) => openPgPort(urls.get(of) as string, new FakeWorld(undefined, 'twin'));

describe.skipIf(need.skip)(need.title('PostgreSQL'), () => {
  describePortSuite('postgres', freshPort, { twin, pushes: true });

  describeSectionsSuite(
    'postgres',
    freshPort,
    {
      twin,
      childOpening: (of) => `import { openPgPort } from './dist/src/store/pg/port.js';\nimport { systemWorld } from './dist/src/core/world.js';\nconst port = await openPgPort(${JSON.stringify(urls.get(of))}, systemWorld);`,
    },
  );

  describe('migration policy-inputs-in-decisions (ADR-040)', () => {
    /** A fresh schema migrated up to the one before, with two decisions and their policy inputs in `policy_inputs`; `extra` runs last. */
    async function beforeFold(extra = ''): Promise<string> {
      const url = await freshSchema(db.url);
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const upTo = PG_MIGRATIONS.findIndex((m) => m.name === 'policy-inputs-in-decisions');
        await c.query('CREATE TABLE mandate_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
        for (const [i, m] of PG_MIGRATIONS.slice(0, upTo).entries()) {
          await c.query(m.sql);
          await c.query('INSERT INTO mandate_migrations (version, name) VALUES ($1, $2)', [i + 1, m.name]);
        }
        await c.query(`
          INSERT INTO decisions (id, dfid, agent, capability, status, request_hash, created_at) VALUES ('d1', 'f1', 'alice', 'pay', 'accepted', 'h1', 10), ('d2', 'f2', 'bob', NULL, 'running', 'h2', 20);
          INSERT INTO policy_inputs VALUES ('d2', 'f2', 'bob', 'pay', 21, 'permit', '["g1"]', '{"context":{"n":2}}', 'x2'), ('d1', 'f1', 'alice', 'pay', 11, 'forbid', '[]', '{"context":{"n":1}}', 'x1');
          ${extra}`);
      } finally {
        await c.end();
      }
      return url;
    }

    it('a store before it keeps every policy input, now in its decision\'s row, listed in decision order; the table is gone', async () => {
      const port = await openPgPort(await beforeFold(), new FakeWorld());
      try {
        expect(await port.policyInputs.list({ limit: 10 })).toEqual([
          { decision_id: 'd1', dfid: 'f1', agent: 'alice', capability: 'pay', at: 10, verdict: 'forbid', gates: [], input: '{"context":{"n":1}}', input_hash: 'x1' },
          { decision_id: 'd2', dfid: 'f2', agent: 'bob', capability: 'pay', at: 20, verdict: 'permit', gates: ['g1'], input: '{"context":{"n":2}}', input_hash: 'x2' },
        ]);
        expect(await port.decisions.get('d2')).toMatchObject({ capability: 'pay', status: 'running' });
        expect((await port.commit([{ op: 'policy_inputs.purge', before: 15 }])).ok).toBe(true);
        expect((await port.policyInputs.list({ limit: 10 })).map((r) => r.decision_id)).toEqual(['d2']);
        expect((await port.pool.query("SELECT to_regclass('policy_inputs')::text AS t")).rows[0]).toEqual({ t: null });
      } finally {
        await port.close();
      }
    });

    it('a policy input whose decision does not exist stops the migration with its id and the way out, and changes nothing', async () => {
      const url = await beforeFold("INSERT INTO policy_inputs VALUES ('gone', 'f3', 'alice', 'pay', 30, 'permit', '[]', '{}', 'x3');");
      await expect(openPgPort(url, new FakeWorld())).rejects.toThrow(/1 policy input\(s\) name no decision \(first: gone\).*DELETE FROM policy_inputs WHERE decision_id NOT IN/);
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        expect((await c.query('SELECT decision_id FROM policy_inputs ORDER BY decision_id')).rows.map((r: { decision_id: string }) => r.decision_id)).toEqual(['d1', 'd2', 'gone']);
        expect((await c.query("SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'decisions' AND column_name = 'policy_input' AND table_schema = current_schema()")).rows[0]).toEqual({ n: 0 });
      } finally {
        await c.end();
      }
    });
  });
});
