// The bench's workspace (agent `bench`, capability `bench.noop`) on a fresh PostgreSQL database, opened as a runtime for one test.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchWorkspace } from '../../bench/lib.js';
import { silentLogger } from '../../src/core/log.js';
import { systemWorld } from '../../src/core/world.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { freshDatabase } from './postgres.js';

/** Runs `fn` on that runtime, then closes it and drops the database. */
export async function withBenchRuntimeOnPg(label: string, fn: (rt: Runtime) => Promise<void>): Promise<void> {
  const d = await freshDatabase(label);
  const env = `MANDATE_TEST_${label.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_URL`;
  const ws = benchWorkspace();
  appendFileSync(join(ws, 'mandate.yaml'), `store:\n  kind: postgres\n  url_env: ${env}\n`);
  process.env[env] = d.url;
  try {
    const rt = await openRuntime(ws, silentLogger, systemWorld);
    try {
      await fn(rt);
    } finally {
      await rt.close();
    }
  } finally {
    delete process.env[env];
    await d.drop();
  }
}
