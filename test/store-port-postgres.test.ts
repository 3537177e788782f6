import { afterAll, beforeAll, describe } from 'vitest';
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
});
