/**
 * The benchmark harness in smoke mode (issue 8): every scenario runs small,
 * so the harness cannot rot. It asserts shape and sanity, never speed.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, assertBuilt } from './helpers/e2e.js';
import { POSTGRES, requires } from './helpers/requires.js';

// The store scenario compares SQLite with PostgreSQL.
const need = await requires(import.meta.url, [POSTGRES]);

describe.skipIf(need.skip)(need.title('npm run bench -- --smoke'), () => {
  it('runs every scenario (throughput stdio+HTTP, stages, the storage floor and WAL frames per call, the grown store, ledger, RSS, policy, approval, store SQLite vs PostgreSQL, PostgreSQL round trips per write) and writes its JSON', async () => {
    assertBuilt();
    // Not execFileSync: a test worker blocked for over 60 s misses vitest's own RPC deadline, and the run fails with every test green.
    const { stdout: out } = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'dist/bench/run.js'), '--smoke'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 240_000, maxBuffer: 16 * 1024 * 1024 });
    const file = /results written to (\S+)/.exec(out)?.[1];
    expect(file).toBeDefined();
    const json = JSON.parse(readFileSync(file as string, 'utf8')) as { smoke: boolean; results: Record<string, unknown> };
    expect(json.smoke).toBe(true);
    expect(Object.keys(json.results).sort()).toEqual(['approval', 'floor', 'grown', 'ledger', 'pgtrips', 'policy', 'rss', 'stages', 'store', 'throughput']);
    const stores = json.results['store'] as { store: string; replicas: number; inFlight: number; calls: number }[];
    for (const [store, replicas] of [['sqlite', 1], ['postgres', 1], ['postgres', 3]] as const) {
      for (const inFlight of [1, 16]) expect(stores.find((r) => r.store === store && r.replicas === replicas && r.inFlight === inFlight)?.calls).toBeGreaterThan(0);
    }
    const rows = json.results['throughput'] as { server: string; transport: string; inFlight: number; calls: number; serverCpuUs?: number }[];
    for (const transport of ['stdio', 'http', 'http 2026-07-28']) {
      for (const inFlight of [1, 16]) {
        for (const server of ['bare SDK', 'mandate']) {
          const row = rows.find((r) => r.server === server && r.transport === transport && r.inFlight === inFlight);
          expect(row?.calls).toBeGreaterThan(0);
          // The server's CPU per call is read from /proc: measured on Linux (a smoke run's few calls may round to 0 ticks).
          if (process.platform === 'linux') expect(row?.serverCpuUs).toBeGreaterThanOrEqual(0);
        }
      }
    }
    const trips = json.results['pgtrips'] as { inFlight: number; accepted: number; roundTripsPerWrite: number }[];
    for (const inFlight of [1, 16]) expect(trips.find((r) => r.inFlight === inFlight)).toMatchObject({ accepted: expect.any(Number), roundTripsPerWrite: expect.any(Number) });
    expect(trips.every((r) => r.accepted > 0 && r.roundTripsPerWrite > 0)).toBe(true);
    const floor = json.results['floor'] as { sqlite: { rows: { tables: number; transactions: number; framesPerTransaction: number }[] }; wal: { restarted: boolean; framesPerCall: number; commitsPerCall: number; byTree: unknown[] } };
    expect(floor.sqlite.rows.map((r) => r.tables)).toEqual([0, 1, 2, 5, 10, 20]);
    expect(floor.sqlite.rows.every((r) => r.transactions > 0 && r.framesPerTransaction >= r.tables)).toBe(true);
    // A permitted write is two commits (before and after its effect); the store's other writes may add some.
    expect(floor.wal).toMatchObject({ restarted: false });
    expect(floor.wal.commitsPerCall).toBeGreaterThanOrEqual(2);
    expect(floor.wal.framesPerCall).toBeGreaterThan(floor.wal.commitsPerCall);
    expect(floor.wal.byTree.length).toBeGreaterThan(0);
    // Scenario 2 splits its timed calls into thirds; their means, weighted by their calls, make the whole mean.
    const stages = json.results['stages'] as { calls: number; perCallUs: number; thirdsUs: number[] };
    expect(stages.thirdsUs).toHaveLength(3);
    const ends = [1, 2, 3].map((k) => Math.round((stages.calls * k) / 3));
    const weighted = stages.thirdsUs.reduce((sum, us, k) => sum + us * ((ends[k] as number) - (ends[k - 1] ?? 0)), 0) / stages.calls;
    expect(weighted).toBeCloseTo(stages.perCallUs, 6);
    // The grown store's calls all went through the kernel (the scenario throws on any refusal) and were timed.
    expect(json.results['grown']).toMatchObject({ grownBy: 200, calls: 50, perCallUs: expect.any(Number), cpuPerCallUs: expect.any(Number) });
    expect((json.results['grown'] as { perCallUs: number }).perCallUs).toBeGreaterThan(0);
    const ledger = json.results['ledger'] as { verify: { intact: boolean; events: number }; verifyOneThread: { intact: boolean; events: number } };
    expect(ledger.verify).toMatchObject({ intact: true, events: 5000 });
    expect(ledger.verifyOneThread).toMatchObject({ intact: true, events: 5000 });
  }, 300_000);
});
