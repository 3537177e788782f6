import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attenuateToken, mintToken, readToken, verifyToken } from '../../src/kernel/delegation/token.js';
import { delegate, DELEGATING_ALICE, workerRequest } from './delegation-fixtures.js';
import { call, events, FakeWorld, setupRuntime, T0, transfer } from './helpers.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const link = { agent: 'worker-a', delegationId: 'dlg-0123456789abcdef', expiresAt: T0 + 3_600_000 };
const pay = (amount: number, payee = 'acme-supplies', now = T0) => ({ capability: 'payments.transfer', values: { amount_minor: amount, payee, currency: 'EUR' }, now });

describe('delegation tokens (Biscuit)', () => {
  it('a token signed with the workspace key verifies and names its agent and sub-mandate', async () => {
    const t = await mintToken(privateKey, link);
    const v = await verifyToken(t, privateKey, pay(100));
    expect(v, JSON.stringify(v)).toMatchObject({ ok: true, agent: 'worker-a', delegationId: 'dlg-0123456789abcdef' });
  });

  it('a holder narrows a token offline; the narrower block binds every later call', async () => {
    const t = await mintToken(privateKey, link);
    const narrow = await attenuateToken(t, publicKey, 'check if capability("payments.transfer"); check if value("amount_minor", $a), $a <= 5000;');
    const ok = await verifyToken(narrow, privateKey, pay(5_000));
    expect(ok.ok, JSON.stringify(ok)).toBe(true);
    expect((await verifyToken(narrow, privateKey, pay(5_001))).ok).toBe(false);
    expect((await verifyToken(narrow, privateKey, { ...pay(10), capability: 'payments.get_balance' })).ok).toBe(false);
  });

  it('forged, widened or expired tokens are refused', async () => {
    const forged = await mintToken(other.privateKey, link);
    expect(await verifyToken(forged, privateKey, pay(1))).toMatchObject({ ok: false });
    const t = await mintToken(privateKey, link);
    // A later block's facts are not trusted: naming another agent there widens nothing.
    const widened = await attenuateToken(t, publicKey, 'agent("alice"); delegation("dlg-other");');
    expect(await verifyToken(widened, privateKey, pay(1))).toMatchObject({ ok: true, agent: 'worker-a', delegationId: 'dlg-0123456789abcdef' });
    // A tampered byte breaks the signature chain.
    const tampered = `${t.slice(0, 40)}${t[40] === 'A' ? 'B' : 'A'}${t.slice(41)}`;
    expect((await verifyToken(tampered, privateKey, pay(1))).ok).toBe(false);
    expect((await verifyToken(t, privateKey, pay(1, 'acme-supplies', link.expiresAt))).ok).toBe(false);
    expect((await verifyToken('mdt_not-a-token', privateKey, pay(1))).ok).toBe(false);
  });
});

describe('delegation tokens as a credential (before any call)', () => {
  it('reads the authority block of a narrowed token without a call: checks on capability or values wait for the call', async () => {
    const narrow = await attenuateToken(await mintToken(privateKey, link), publicKey, 'check if capability("payments.transfer"); check if value("amount_minor", $a), $a <= 5000;');
    expect(await readToken(narrow, privateKey, T0)).toMatchObject({ ok: true, agent: 'worker-a', delegationId: 'dlg-0123456789abcdef' });
    // A later block's facts name nobody: the authority block's agent is the one read.
    const renamed = await attenuateToken(narrow, publicKey, 'agent("alice"); delegation("dlg-other");');
    expect(await readToken(renamed, privateKey, T0)).toMatchObject({ ok: true, agent: 'worker-a', delegationId: 'dlg-0123456789abcdef' });
  });

  it('refuses a token past its expiry, one whose block no call could pass, a forged one and junk', async () => {
    const t = await mintToken(privateKey, link);
    expect(await readToken(t, privateKey, link.expiresAt)).toMatchObject({ ok: false, message: expect.stringContaining('expired') });
    const lapsed = await attenuateToken(t, publicKey, `check if time($t), $t < ${new Date(T0 - 1_000).toISOString().replace('.000Z', 'Z')};`);
    expect(await readToken(lapsed, privateKey, T0)).toMatchObject({ ok: false, message: expect.stringContaining('fails at any call') });
    expect((await readToken(await mintToken(other.privateKey, link), privateKey, T0)).ok).toBe(false);
    expect((await readToken('mdb_AAAA', privateKey, T0)).ok).toBe(false);
  });
});

describe('delegation tokens at call time', () => {

  it('a narrowed token binds the calls that carry it; with one as the credential and one in _meta each must hold; a token for another agent, a forged one, or one from a revoked link is refused and recorded', async () => {
    const env = await setupRuntime(DELEGATING_ALICE, new FakeWorld(T0));
    // The workspace signing key (mandate init writes one): tokens are signed and verified with it.
    mkdirSync(join(env.dir, 'keys'), { recursive: true });
    writeFileSync(join(env.dir, 'keys', 'signing.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    await env.restart();
    const made = await delegate(env, 'alice', workerRequest('worker-1'));
    const id = (made.output as { delegation_id: string }).delegation_id;
    const token = await mintToken(privateKey, { agent: 'worker-1', delegationId: id, expiresAt: T0 + 30 * 60_000 });
    const narrow = await attenuateToken(token, publicKey, 'check if value("amount_minor", $a), $a <= 1000;');
    const withToken = (t: string, amount: number) => env.rt.kernel.govern(call('worker-1', transfer(amount), { delegationToken: t }));

    expect((await withToken(narrow, 900)).verdict).toBe('accepted');
    const over = await withToken(narrow, 1_500);
    expect(over.reasons).toEqual(['DELEGATION_TOKEN_INVALID']);
    expect(events(env.rt).find((e) => e.type === 'IntentRejected' && e.decision_id === over.decision_id)?.reasons).toEqual(['DELEGATION_TOKEN_INVALID']);
    // Without the token the same call is held to the sub-mandate alone (5,000 a transfer).
    expect((await env.rt.kernel.govern(call('worker-1', transfer(1_500)))).verdict).toBe('accepted');

    const forged = await mintToken(other.privateKey, { agent: 'worker-1', delegationId: id, expiresAt: T0 + 30 * 60_000 });
    expect((await withToken(forged, 100)).reasons).toEqual(['DELEGATION_TOKEN_INVALID']);
    await delegate(env, 'alice', workerRequest('worker-2'));
    const theirs = await env.rt.kernel.govern(call('worker-2', transfer(100), { delegationToken: token }));
    expect(theirs.reasons).toEqual(['DELEGATION_TOKEN_INVALID']);

    // Authenticated with one token and carrying another in `_meta`: each must hold (the stricter rule).
    const wide = await attenuateToken(token, publicKey, 'check if value("amount_minor", $a), $a <= 4000;');
    const both = (bearer: string, meta: string, amount: number) => env.rt.kernel.govern(call('worker-1', transfer(amount), { bearerToken: bearer, delegationToken: meta }));
    expect((await both(wide, narrow, 900)).verdict).toBe('accepted');
    const metaRefuses = await both(wide, narrow, 2_000);
    expect(metaRefuses.details.map((d) => [d.code, d.path])).toEqual([['DELEGATION_TOKEN_INVALID', '_meta.mandate/delegation_token']]);
    const bearerRefuses = await both(narrow, wide, 2_000);
    expect(bearerRefuses.details.map((d) => [d.code, d.path])).toEqual([['DELEGATION_TOKEN_INVALID', 'Authorization']]);

    await env.rt.kernel.revokeDelegation('worker-1', { kind: 'operator', id: 'ops' }, null);
    expect((await withToken(narrow, 100)).reasons).toEqual(['DELEGATION_REVOKED']);
  });
});
