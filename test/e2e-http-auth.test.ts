/**
 * Issue 4, identity and access over HTTP: API keys (stored hashed, revocable
 * at once), JWT bearer tokens (HS256 secret from an env var, or a JWKS file;
 * issuer and audience checked; the claim names the agent), 401 with
 * WWW-Authenticate pointing at the RFC 9728 metadata, and credential kinds
 * kept apart (operators are not agents).
 */
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, runCli } from './helpers/e2e.js';
import { api, configureHttp, createKey, httpAgent, startHttp, type HttpAgent, type HttpServer } from './helpers/http.js';

const e2e = new E2E();
const servers: HttpServer[] = [];
const agents: HttpAgent[] = [];
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
  await Promise.all(servers.map((s) => s.stop()));
  await e2e.cleanup();
});

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long!';
const ISSUER = 'https://id.example.test/';
const AUDIENCE = 'https://mandate.example.test/mcp';

function hs256(claims: Record<string, unknown>, opts: { audience?: string; issuer?: string; expiresIn?: string | number; secret?: string } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(opts.issuer ?? ISSUER)
    .setAudience(opts.audience ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '5m')
    .sign(new TextEncoder().encode(opts.secret ?? SECRET));
}

const mcpInit = (token: string | null, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/mcp`, {
    method: 'POST',
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } }),
    signal: AbortSignal.timeout(10_000),
  });

let ws: string;
let server: HttpServer;

beforeAll(async () => {
  ws = await e2e.workspace();
  configureHttp(ws, { auth: { jwt: { issuer: ISSUER, audience: AUDIENCE, secret_env: 'TEST_MANDATE_JWT_SECRET' } } });
  server = await startHttp(ws, { env: { TEST_MANDATE_JWT_SECRET: SECRET } });
  servers.push(server);
});

describe('401 and the protected resource metadata', () => {
  it('no credential: 401, a JSON-RPC error and WWW-Authenticate naming the metadata', async () => {
    const res = await mcpInit(null);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${server.url}/.well-known/oauth-protected-resource/mcp"`);
    const body = (await res.json()) as { error: { data: { code: string } } };
    expect(body.error.data.code).toBe('UNAUTHENTICATED');
  });

  it('a bad key, a malformed header, a forged token: 401 with error="invalid_token"', async () => {
    for (const headers of [
      { Authorization: 'Bearer mdt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
      { Authorization: 'Basic dXNlcjpwYXNz' },
      { Authorization: `Bearer ${await hs256({ sub: 'alice' }, { secret: 'another-secret-of-at-least-32-bytes-xxxxx' })}` },
      { Authorization: 'Bearer not-a-credential' },
    ]) {
      const res = await mcpInit(null, headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata="[^"]+", error="invalid_token", error_description="[^"]+"$/);
      const body = (await res.json()) as { error: { data: { code: string } } };
      expect(body.error.data.code).toBe('INVALID_CREDENTIAL');
    }
  });

  it('serves RFC 9728 metadata at both well-known paths, naming /mcp and the JWT issuer', async () => {
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
      const r = await api(server.url, null, path);
      expect(r.status).toBe(200);
      expect(r.body).toEqual(expect.objectContaining({ resource: `${server.url}/mcp`, authorization_servers: [ISSUER], bearer_methods_supported: ['header'] }));
    }
  });
});

describe('API keys', () => {
  it('are stored hashed: the key appears neither in the database nor in keys list; revocation applies to the next request', async () => {
    const created = await createKey(ws, { agent: 'alice' });
    expect(created.key).toMatch(/^mdt_[A-Za-z0-9_-]{43}$/);
    const db = readFileSync(join(ws, 'mandate.db'));
    const wal = readFileSync(join(ws, 'mandate.db-wal'));
    expect(db.includes(created.key)).toBe(false);
    expect(wal.includes(created.key)).toBe(false);
    const list = await runCli(['keys', 'list', '--json', '-w', ws]);
    expect(list.stdout).not.toContain(created.key);
    expect(JSON.parse(list.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ id: created.id, kind: 'agent', principal: 'alice', revoked_at: null })]));

    const a = await httpAgent(server.url, created.key);
    agents.push(a);
    expect((await a.call('get_decision', { decision_id: 'nope' })).outcome.reasons).toEqual(['DECISION_NOT_FOUND']);

    const revoked = await runCli(['keys', 'revoke', created.id, '--as', 'test-admin', '-w', ws]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await mcpInit(created.key)).status).toBe(401);
    // The open session too: every request is authenticated.
    await expect(a.client.callTool({ name: 'list_capabilities', arguments: {} })).rejects.toThrow();
    expect((await runCli(['keys', 'revoke', created.id, '-w', ws])).code).toBe(1);
  });

  it('keys create refuses an unknown agent and a bad role', async () => {
    expect((await runCli(['keys', 'create', '--agent', 'nobody', '-w', ws])).code).toBe(2);
    expect((await runCli(['keys', 'create', '--operator', 'x', '--role', 'admin', '-w', ws])).code).toBe(2);
    expect((await runCli(['keys', 'create', '--agent', 'alice', '--operator', 'x', '-w', ws])).code).toBe(2);
  });

  it('credential kinds stay apart: an operator key on /mcp and an agent key on the operator API get 403', async () => {
    const op = await createKey(ws, { operator: 'olga' });
    const ag = await createKey(ws, { agent: 'scribe' });
    const onMcp = await mcpInit(op.key);
    expect(onMcp.status).toBe(403);
    expect(((await onMcp.json()) as { error: { data: { code: string } } }).error.data.code).toBe('WRONG_CREDENTIAL_KIND');
    for (const path of ['/api/v1/approvals', '/events']) {
      const r = await api(server.url, ag.key, path);
      expect(r.status).toBe(403);
      expect(r.body).toEqual({ error: expect.objectContaining({ code: 'WRONG_CREDENTIAL_KIND' }) });
    }
  });
});

describe('JWT bearer tokens', () => {
  it('HS256 (secret from the env var the config names): the sub claim is the agent', async () => {
    const a = await httpAgent(server.url, await hs256({ sub: 'alice' }));
    agents.push(a);
    const caps = await a.client.callTool({ name: 'list_capabilities', arguments: {} });
    expect((caps.structuredContent as { agent: string }).agent).toBe('alice');
  });

  it('a wrong audience or issuer, an expired token, a token without exp: 401; an agent without a contract: 403', async () => {
    for (const token of [
      await hs256({ sub: 'alice' }, { audience: 'https://elsewhere.example/mcp' }),
      await hs256({ sub: 'alice' }, { issuer: 'https://evil.example/' }),
      await hs256({ sub: 'alice' }, { expiresIn: Math.floor(Date.now() / 1000) - 600 }),
      await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience(AUDIENCE).sign(new TextEncoder().encode(SECRET)),
    ]) {
      const res = await mcpInit(token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
    const stranger = await mcpInit(await hs256({ sub: 'mallory' }));
    expect(stranger.status).toBe(403);
    expect(((await stranger.json()) as { error: { data: { code: string } } }).error.data.code).toBe('UNKNOWN_AGENT');
  });

  it('the server refuses to start when the secret env var is missing', async () => {
    await expect(startHttp(ws)).rejects.toThrow(/TEST_MANDATE_JWT_SECRET/);
  });

  it('a JWKS file (RS256): a token signed with its key is accepted, one signed with another key is not', async () => {
    const jwksWs = await e2e.workspace();
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const other = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    writeFileSync(join(jwksWs, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
    configureHttp(jwksWs, { auth: { jwt: { issuer: ISSUER, audience: AUDIENCE, jwks_file: 'jwks.json', agent_claim: 'agent' } } });
    const s = await startHttp(jwksWs);
    servers.push(s);
    const sign = (key: CryptoKey, agent: string) =>
      new SignJWT({ agent }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('ignored').setExpirationTime('5m').sign(key);

    const a = await httpAgent(s.url, await sign(privateKey, 'scribe'));
    agents.push(a);
    const caps = await a.client.callTool({ name: 'list_capabilities', arguments: {} });
    expect((caps.structuredContent as { agent: string }).agent).toBe('scribe');

    const forged = await fetch(`${s.url}/mcp`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${await sign(other.privateKey, 'scribe')}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: '{}',
      signal: AbortSignal.timeout(5_000),
    });
    expect(forged.status).toBe(401);
    await forged.body?.cancel();
  });
});
