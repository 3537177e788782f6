/**
 * The anchored ledger (ADR-016): a server signs checkpoints of the chain head,
 * `mandate ledger verify --checkpoints` finds truncation, forged
 * appends and re-hashes that the chain alone cannot, and every answer carries
 * a signed receipt that `mandate receipt verify` checks offline. Both take
 * the key and the checkpoints from mandate.yaml unless given others.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { tamper, TAMPERS, type TamperKind } from '../scripts/torture/tamper.js';
import { CLI, cleanEnv, E2E, runCli, transfer, type Outcome } from './helpers/e2e.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

let ws: string;
let answer: Outcome & { signed_receipt?: Record<string, unknown> };

const verifyArgs = (dir: string) => ['ledger', 'verify', '-w', dir, '--checkpoints', join(dir, 'checkpoints'), '--pubkey', join(dir, 'keys', 'signing.pub')];

beforeAll(async () => {
  ws = await e2e.workspace();
  const alice = await e2e.client(ws, 'alice');
  for (let i = 0; i < 5; i++) {
    const g = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 100 + i }) });
    answer = g.outcome;
  }
  await alice.close(); // the server signs its last checkpoint on the way out
});

function copy(): string {
  const dir = join(e2e.tempDir('mandate-tamper-'), 'ws');
  cpSync(ws, dir, { recursive: true });
  return dir;
}

describe('signed checkpoints', () => {
  it('a server writes signed checkpoints, and an untouched ledger verifies against them', async () => {
    const files = readdirSync(join(ws, 'checkpoints'));
    expect(files.length).toBeGreaterThan(0);
    const lines = readFileSync(join(ws, 'checkpoints', files[0] as string), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.at(-1)).toEqual(expect.objectContaining({ v: 1, seq: answer.receipt?.seq, hash: answer.receipt?.hash, sig: expect.any(String), key_id: expect.any(String) }));
    const r = await runCli(verifyArgs(copy()));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/checkpoints match: \d+ signed checkpoints, ledger anchored up to seq (\d+) of \1/);
  });

  const expected: Record<TamperKind, RegExp> = {
    truncate: /ledger truncated: .* events \d+\.\.\d+ are missing/,
    forged_append: /events \d+\.\.\d+ come after the last checkpoint .* not anchored/,
    truncate_and_forge: /events \d+\.\.\d+ were rewritten or replaced/,
    rehash_from: /were rewritten or replaced/,
    edit_one: /ledger BROKEN at seq \d+/,
    forged_checkpoint: /signed by another key/,
  };
  for (const kind of TAMPERS) {
    it(`detects ${kind} and names what is missing or changed (exit 1)`, async () => {
      const dir = copy();
      tamper(kind, join(dir, 'mandate.db'), join(dir, 'checkpoints', readdirSync(join(dir, 'checkpoints'))[0] as string));
      const r = await runCli(verifyArgs(dir));
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toMatch(expected[kind]);
    });
  }

  it('a server starting on a ledger that lost its last checkpointed events says so in its log', async () => {
    const dir = copy();
    tamper('truncate', join(dir, 'mandate.db'), '');
    // An empty stdin: the server starts, checks, and stops.
    const r = spawnSync(process.execPath, [CLI, 'serve', '--stdio', '--agent', 'alice', '-w', dir], { input: '', encoding: 'utf8', timeout: 20_000, env: cleanEnv() });
    expect(r.stderr).toMatch(/"level":50.*the ledger does not hold its last signed checkpoint/);
  });

  it('without checkpoints a truncated tail still verifies intact (why they exist)', async () => {
    const dir = copy();
    tamper('truncate', join(dir, 'mandate.db'), '');
    expect((await runCli(['ledger', 'verify', '-w', dir])).code).toBe(0);
  });

  it('--allow-unanchored tolerates a tail still being written', async () => {
    const dir = copy();
    tamper('forged_append', join(dir, 'mandate.db'), '');
    expect((await runCli([...verifyArgs(dir), '--allow-unanchored', '5'])).code).toBe(0);
  });
});

describe('the signing key', () => {
  it('validate names a missing key, and serve refuses to start without it (exit 2)', async () => {
    const dir = copy();
    rmSync(join(dir, 'keys', 'signing.key'));
    const v = await runCli(['validate', '-w', dir]);
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/signing\.private_key_file: cannot read `keys\/signing\.key`/);
    const s = await runCli(['serve', '--stdio', '--agent', 'alice', '-w', dir]);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain('signing.private_key_file');
  });
});

describe('signed receipts', () => {
  it('each answer carries a receipt signed over decision, request hash, verdict and ledger position', () => {
    expect(answer.signed_receipt).toEqual(
      expect.objectContaining({ v: 1, decision_id: answer.decision_id, verdict: 'accepted', seq: answer.receipt?.seq, hash: answer.receipt?.hash, request_hash: expect.stringMatching(/^[0-9a-f]{64}$/) }),
    );
  });

  it('mandate receipt verify: valid as given, INVALID once changed or against another key', async () => {
    const dir = e2e.tempDir();
    const good = join(dir, 'answer.json');
    writeFileSync(good, JSON.stringify(answer));
    const ok = await runCli(['receipt', 'verify', '--pubkey', join(ws, 'keys', 'signing.pub'), good]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`receipt valid: decision ${answer.decision_id} accepted`);

    const forged = join(dir, 'forged.json');
    writeFileSync(forged, JSON.stringify({ ...answer.signed_receipt, verdict: 'rejected' }));
    const bad = await runCli(['receipt', 'verify', '--pubkey', join(ws, 'keys', 'signing.pub'), forged]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('receipt INVALID: signature does not verify');

    const other = await e2e.workspace(); // its own, different key pair
    const wrongKey = await runCli(['receipt', 'verify', '--pubkey', join(other, 'keys', 'signing.pub'), good]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stdout).toContain('signed by another key');
  });
});

describe('verifying with the key and checkpoints mandate.yaml names', () => {
  it('ledger verify --checkpoints with no path and no --pubkey uses signing.checkpoints.path and the signing key, from -w or the current folder', async () => {
    const dir = copy();
    const viaFlag = await runCli(['ledger', 'verify', '--checkpoints', '-w', dir]);
    expect(viaFlag.code, viaFlag.stdout + viaFlag.stderr).toBe(0);
    expect(viaFlag.stdout).toMatch(/checkpoints match: \d+ signed checkpoints/);
    const viaCwd = await runCli(['ledger', 'verify', '--checkpoints'], { cwd: dir });
    expect(viaCwd.code, viaCwd.stdout + viaCwd.stderr).toBe(0);
    tamper('truncate', join(dir, 'mandate.db'), '');
    const truncated = await runCli(['ledger', 'verify', '--checkpoints', '-w', dir]);
    expect(truncated.code).toBe(1);
    expect(truncated.stdout).toMatch(/ledger truncated: .* events \d+\.\.\d+ are missing/);
  });

  it('receipt verify -w checks against the workspace signing key: valid as given, INVALID once changed', async () => {
    const dir = e2e.tempDir();
    const good = join(dir, 'answer.json');
    writeFileSync(good, JSON.stringify(answer));
    const ok = await runCli(['receipt', 'verify', '-w', ws, good]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`receipt valid: decision ${answer.decision_id} accepted`);
    const inWorkspace = await runCli(['receipt', 'verify', good], { cwd: ws });
    expect(inWorkspace.code, inWorkspace.stdout + inWorkspace.stderr).toBe(0);
    const forged = join(dir, 'forged.json');
    writeFileSync(forged, JSON.stringify({ ...answer.signed_receipt, verdict: 'rejected' }));
    const bad = await runCli(['receipt', 'verify', '-w', ws, forged]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('receipt INVALID: signature does not verify');
  });

  it('a workspace without a signing block is a usage error naming the flag to pass (exit 2)', async () => {
    const dir = copy();
    const doc = parse(readFileSync(join(dir, 'mandate.yaml'), 'utf8')) as Record<string, unknown>;
    delete doc['signing'];
    writeFileSync(join(dir, 'mandate.yaml'), stringify(doc));
    const r = await runCli(['receipt', 'verify', '-w', dir, join(dir, 'mandate.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/mandate\.yaml has no `signing:` block.*pass --pubkey <file>/);
    const l = await runCli(['ledger', 'verify', '--checkpoints', '-w', dir]);
    expect(l.code).toBe(2);
    expect(l.stderr).toMatch(/no `signing:` block.*pass --pubkey <file>/);
  });

  it('--pubkey without --checkpoints is a usage error (exit 2)', async () => {
    const r = await runCli(['ledger', 'verify', '-w', ws, '--pubkey', join(ws, 'keys', 'signing.pub')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--pubkey goes with --checkpoints');
  });
});
