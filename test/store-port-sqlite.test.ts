import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { sqlitePort } from '../src/store/sqlite/port.js';
import { openStore } from '../src/store/sqlite/store.js';
import { FakeWorld } from './unit/helpers.js';
import { describePortSuite } from './store/port-suite.js';
import { describeSectionsSuite } from './store/sections-suite.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// A real SQLite file per test, as the server opens it.
describePortSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-port-'));
  dirs.push(dir);
  const path = join(dir, 'mandate.db');
  return sqlitePort(openStore(path, new FakeWorld()), path);
}, { twin: async (of) => sqlitePort(openStore(of.location, new FakeWorld(undefined, 'twin')), of.location), pushes: false });

describeSectionsSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-sections-'));
  dirs.push(dir);
  const path = join(dir, 'mandate.db');
  return sqlitePort(openStore(path, new FakeWorld()), path);
}, {
  twin: async (of) => sqlitePort(openStore(of.location, new FakeWorld(undefined, 'twin')), of.location),
  childOpening: (of) => `import { sqlitePort } from './dist/src/store/sqlite/port.js';\nimport { openStore } from './dist/src/store/sqlite/store.js';\nimport { systemWorld } from './dist/src/core/world.js';\nconst port = sqlitePort(openStore(${JSON.stringify(of.location)}, systemWorld), ${JSON.stringify(of.location)});`,
});
