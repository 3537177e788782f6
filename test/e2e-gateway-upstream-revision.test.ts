/**
 * An upstream's `revision:` in mandate.yaml (ADR-027): `auto` negotiates (the
 * default), a date holds Mandate's client to that revision. Checked with
 * `mandate upstream pin` against the fixture that speaks only 2026-07-28 and
 * its 2025-only variant: held to the revision an upstream speaks, it pins and
 * says so; held to one it does not speak, it fails to start, naming it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, runCli } from './helpers/e2e.js';
import { FIXTURES, NODE, appendConfig, killStarted, writeContract, y } from './helpers/gateway.js';

const MODERN = join(FIXTURES, 'modern-only.mjs');
const e2e = new E2E();
let ws: string;
const legacyState = () => join(ws, 'legacy.json');

const upstream = (name: string, legacy: boolean, revision: string) => `  ${name}:
    command: ${y(NODE)}
    args: [${y(MODERN)}, stdio${legacy ? ', legacy.json' : ''}]
    revision: ${revision}
    start_timeout_ms: 5000`;

beforeAll(async () => {
  ws = await e2e.workspace();
  writeFileSync(legacyState(), JSON.stringify({ era: '2025' }));
  appendConfig(
    ws,
    `upstreams:
${upstream('modernheld', false, "'2026-07-28'")}
${upstream('legacyheld', true, "'2025-11-25'")}
${upstream('modernaslegacy', false, "'2025-11-25'")}
${upstream('legacyasmodern', true, "'2026-07-28'")}
${upstream('legacyauto', true, 'auto')}`,
  );
  writeContract(ws, 'any', 'grants:\n  - capability: modernheld.*\n');
}, 60_000);

afterAll(async () => {
  killStarted(`${legacyState()}.starts`);
  await e2e.cleanup();
});

describe("an upstream's revision setting", () => {
  it('held to the revision it speaks, an upstream is pinned speaking it; auto still negotiates', async () => {
    for (const [server, revision] of [
      ['modernheld', '2026-07-28'],
      ['legacyheld', '2025-11-25'],
      ['legacyauto', '2025-11-25'],
    ]) {
      const r = await runCli(['upstream', 'pin', '--server', server as string, '-w', ws, '--as', 'tester']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(`speaks MCP ${revision}`);
    }
  });

  it('held to a revision it does not speak, it fails to start, and the failure names the upstream', async () => {
    for (const server of ['modernaslegacy', 'legacyasmodern']) {
      const r = await runCli(['upstream', 'pin', '--server', server, '-w', ws, '--as', 'tester']);
      expect(r.code, r.stdout).not.toBe(0);
      expect(r.stdout + r.stderr).toContain(`upstream \`${server}\` failed to start`);
    }
  });

  it('an unknown revision is a configuration error naming the field', async () => {
    const bad = await e2e.workspace();
    appendConfig(bad, `upstreams:\n  odd:\n    command: ${y(NODE)}\n    revision: '2024-11-05'`);
    const r = await runCli(['doctor', '-w', bad]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('upstreams.odd.revision');
  });
});
