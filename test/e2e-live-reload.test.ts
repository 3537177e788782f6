/**
 * Live reload end to end. A stdio client keeps calling while `mandate reload`
 * first refuses a broken policy (nothing is signalled, the old set serves),
 * then applies a tightened limit over SIGHUP: no call is dropped, and every
 * call that starts after the reload is judged by the new limit. Two HTTP
 * servers on one store report their loaded set's hash in /readyz and
 * /metrics, which differ after one of them reloads and agree again after
 * the other does.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { E2E, exportLedger, runCli, transfer, waitFor } from './helpers/e2e.js';
import { setLoaderMax } from './helpers/reload-fixtures.js';
import { api, createKey, startHttp, type HttpServer } from './helpers/http.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());


describe('live reload over stdio, under load', () => {
  it('a broken policy is refused and the old set serves; a tightened limit applies from the next call; nothing is dropped', async () => {
    const ws = await e2e.workspace();
    setLoaderMax(ws, 50000);
    const client = await e2e.client(ws, 'loader', { logLevel: 'info' });
    const results: { started: number; verdict: string; reasons: string[] }[] = [];
    let stop = false;
    let n = 0;
    const worker = async () => {
      while (!stop && n < 2_000) {
        const amount = 100 + n++;
        const started = Date.now();
        const g = await client.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: amount }) });
        results.push({ started, verdict: g.outcome.verdict, reasons: g.outcome.reasons });
      }
    };
    const workers = [worker(), worker(), worker()];
    await waitFor(() => results.length >= 10, 15_000, 'the first calls');

    writeFileSync(join(ws, 'policies', 'broken.cedar'), '@id("broken")\nforbid (principal, action, resource) when { context.values.amount_minor > };\n');
    const broken = await runCli(['reload', '-w', ws, '--as', 'dana']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('broken.cedar');
    rmSync(join(ws, 'policies', 'broken.cedar'));
    const during = results.length;
    await waitFor(() => results.length >= during + 10, 15_000, 'calls after the refused reload');

    // Calls started before the tightened contract is even written ran under the old set, whatever the machine's speed.
    const tightenedAt = Date.now();
    setLoaderMax(ws, 50);
    const reload = await runCli(['reload', '-w', ws, '--as', 'dana', '--json']);
    expect(reload.code, reload.stderr).toBe(0);
    expect((JSON.parse(reload.stdout) as { signalled: number[] }).signalled).toContain(client.pid);
    await waitFor(() => client.stderr().includes('reloaded a new set'), 10_000, 'the reload');
    const reloadedAt = Date.now();
    await waitFor(() => results.filter((r) => r.started > reloadedAt).length >= 10, 15_000, 'calls after the reload');
    stop = true;
    await Promise.all(workers);

    // Nothing dropped: every call got a governed answer.
    expect(results.length).toBe(n);
    const before = results.filter((r) => r.started < tightenedAt);
    const after = results.filter((r) => r.started > reloadedAt);
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((r) => r.verdict === 'accepted')).toBe(true);
    expect(after.every((r) => r.verdict === 'rejected' && r.reasons.includes('CONTRACT_LIMIT_EXCEEDED'))).toBe(true);
    await client.close();

    const { events } = await exportLedger(ws);
    expect(events.filter((e) => e.type === 'ReloadRequested').map((e) => e.agent)).toEqual(['operator:dana']);
    const reloaded = events.filter((e) => e.type === 'WorkspaceReloaded');
    expect(reloaded.map((e) => [e.agent, e.data['ok']])).toEqual([['signal:SIGHUP', true]]);
  }, 120_000);
});

describe('two replicas report the hash of the set they serve', () => {
  const servers: HttpServer[] = [];
  afterAll(() => Promise.all(servers.map((s) => s.stop())));

  it('/readyz and /metrics differ after one reloads over the API, and agree after mandate reload reaches the other', async () => {
    const ws = await e2e.workspace();
    const key = (await createKey(ws, { operator: 'dana' })).key;
    const a = await startHttp(ws);
    const b = await startHttp(ws);
    servers.push(a, b);
    const hashOf = async (s: HttpServer) => (await api(s.url, null, '/readyz')).body['set_hash'] as string;
    const metricHash = async (s: HttpServer) => /mandate_loaded_set_info\{set_hash="([0-9a-f]{64})"/.exec(await (await fetch(`${s.url}/metrics`)).text())?.[1];
    const first = await hashOf(a);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(await hashOf(b)).toBe(first);
    expect(await metricHash(a)).toBe(first);

    const base = join(ws, 'policies', 'base.cedar');
    writeFileSync(base, `${readFileSync(base, 'utf8')}\n@id("forbid-night-refunds")\nforbid (principal, action, resource == Mandate::Capability::"payments.refund") when { context.now < 0 };\n`);
    const viewer = (await createKey(ws, { operator: 'vic', role: 'viewer' })).key;
    expect((await api(a.url, viewer, '/api/v1/reload', { json: {} })).status).toBe(403);
    const r = await api(a.url, key, '/api/v1/reload', { json: {} });
    expect(r.status).toBe(200);
    const second = (r.body['reload'] as { set_hash: string }).set_hash;
    expect(second).not.toBe(first);
    expect(await hashOf(a)).toBe(second);
    expect(await metricHash(a)).toBe(second);
    expect(await hashOf(b)).toBe(first);

    expect((await runCli(['reload', '-w', ws])).code).toBe(0);
    // The signal is asynchronous: poll the second replica until it serves the new set (bounded).
    let agreed = false;
    for (let i = 0; i < 100 && !agreed; i++) {
      agreed = (await hashOf(b)) === second;
      if (!agreed) await new Promise((res) => setTimeout(res, 100));
    }
    expect(agreed).toBe(true);
    expect(await metricHash(b)).toBe(second);
  }, 120_000);
});
