/**
 * Names that two upstreams would both expose are refused (ADR-013): in
 * transparent mode two copies of one server would offer the same tools,
 * prompts and resources, and a client could not tell which it calls.
 * `mandate upstream pin` refuses to pin such a name; `mandate validate`
 * reports it when a change of `expose` creates it after pinning.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, runCli } from './helpers/e2e.js';
import { EVERYTHING_SERVER, FIXTURES, NODE, appendConfig, pin, writeContract, y } from './helpers/gateway.js';

const e2e = new E2E();
let ws: string;
/** Two copies of a fixture with tools only: prefixed, they are one_greet and two_greet. */
const upstream = (name: string) => `  ${name}:\n    command: ${y(NODE)}\n    args: [${y(join(FIXTURES, 'drifting.mjs'))}, state.json]\n    expose: prefixed`;

beforeAll(async () => {
  ws = await e2e.workspace();
  writeFileSync(join(ws, 'state.json'), '{}');
  appendConfig(ws, `upstreams:\n${upstream('one')}\n${upstream('two')}\n  three:\n    command: ${y(NODE)}\n    args: [${y(EVERYTHING_SERVER)}, stdio]`);
  writeContract(ws, 'agent', 'grants:\n  - capability: one.*\n');
  await pin(ws, 'one');
  await pin(ws, 'two');
}, 60_000);

afterAll(async () => {
  await e2e.cleanup();
});

describe('colliding names between upstreams', () => {
  it('validate refuses two transparent upstreams that expose the same names', async () => {
    const path = join(ws, 'mandate.yaml');
    writeFileSync(path, readFileSync(path, 'utf8').replaceAll('expose: prefixed', 'expose: transparent'));
    const r = await runCli(['validate', '-w', ws]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the tool name `greet` would be exposed by `one` and `two`/);
  });

  it('pin refuses to pin an upstream whose names another transparent upstream already exposes', async () => {
    const r = await runCli(['upstream', 'pin', '-w', ws, '--as', 'tester', '--server', 'two']);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/would expose names another upstream \(or Mandate\) already uses: .*tool `greet` \(one, two\)/);
  });

  it('resource URIs are the same in every mode: two upstreams may not serve one URI', async () => {
    await pin(ws, 'three');
    const path = join(ws, 'mandate.yaml');
    writeFileSync(path, `${readFileSync(path, 'utf8')}  four:\n    command: ${y(NODE)}\n    args: [${y(EVERYTHING_SERVER)}, stdio]\n`);
    const r = await runCli(['upstream', 'pin', '-w', ws, '--as', 'tester', '--server', 'four']);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/resource `demo:\/\/resource\/static\/document\/architecture\.md` \(four, three\)/);
  });
});
