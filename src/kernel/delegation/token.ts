// The V8 guard goes first: it must hold before any wasm-bindgen module is instantiated (ADR-018).
import '../../core/v8-guard.js';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Attenuable delegation tokens (ADR-022): Biscuit, signed with the
 * workspace's Ed25519 key. The authority block names the agent and its
 * sub-mandate and carries its expiry; a holder appends narrower blocks
 * (checks on capability, values, time) offline; Mandate verifies the whole
 * chain and authorizes the call's own facts, then applies every server-side
 * check as for any call.
 */

/** The part of @biscuit-auth/biscuit-wasm used here. */
interface BiscuitLib {
  Biscuit: {
    builder(): { addCodeWithParameters(code: string, params: Record<string, unknown>, scope: Map<string, unknown>): void; build(key: unknown): Token };
    block_builder(): { addCodeWithParameters(code: string, params: Record<string, unknown>, scope: Map<string, unknown>): void; addCode(code: string): void };
    fromBase64(data: string, root: unknown): Token;
  };
  Authorizer: new () => {
    addToken(t: Token): void;
    addCodeWithParameters(code: string, params: Record<string, unknown>, scope: Map<string, unknown>): void;
    addCode(code: string): void;
    authorizeWithLimits(limits: Record<string, number>): number;
    queryWithLimits(rule: unknown, limits: Record<string, number>): { toString(): string }[];
  };
  Rule: { fromString(s: string): unknown };
  // Ed25519 keys (the only algorithm of this library line).
  PrivateKey: { fromBytes(data: Uint8Array): unknown };
  PublicKey: { fromBytes(data: Uint8Array): unknown };
}
interface Token {
  appendBlock(b: unknown): Token;
  toBase64(): string;
  getRevocationIdentifiers(): string[];
  countBlocks(): number;
}

const AUTHORIZER_LIMITS = { max_facts: 1_000, max_iterations: 100, max_time_micro: 1_000_000 };

/** A token's prefix, so it is told apart from an API key (`mdt_`) and a JWT. */
export const TOKEN_PREFIX = 'mdb_';

let loading: Promise<BiscuitLib> | null = null;

/**
 * Loads the Biscuit library. Its package is a wasm-bindgen *bundler* build
 * that Node cannot import as is, so its glue module is imported by file URL
 * and its Wasm compiled and wired here.
 */
export function biscuit(): Promise<BiscuitLib> {
  loading ??= (async () => {
    const entry = packageEntry();
    const glue = (await import(new URL('./biscuit_bg.js', entry).href)) as BiscuitLib & { __wbg_set_wasm(w: unknown): void };
    const module = await WebAssembly.compile(readFileSync(new URL('./biscuit_bg.wasm', entry)));
    const imports: Record<string, WebAssembly.ModuleImports> = {};
    for (const i of WebAssembly.Module.imports(module)) imports[i.module] ??= (await import(new URL(i.module, entry).href)) as WebAssembly.ModuleImports;
    const instance = await WebAssembly.instantiate(module, imports);
    glue.__wbg_set_wasm(instance.exports);
    // Its start function greets on console.log; in stdio mode stdout is the protocol, so the greeting is swallowed.
    /* eslint-disable no-console */
    const log = console.log;
    console.log = () => undefined;
    try {
      (instance.exports['__wbindgen_start'] as () => void)();
    } finally {
      console.log = log;
    }
    /* eslint-enable no-console */
    return glue;
  })();
  return loading;
}

/** The package's entry module URL: Node's resolver where it exists (not under vitest's transform), else the nearest node_modules. */
function packageEntry(): string {
  const spec = '@biscuit-auth/biscuit-wasm';
  if (typeof import.meta.resolve === 'function') return import.meta.resolve(spec);
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', spec, 'module', 'biscuit.js');
    if (existsSync(candidate)) return pathToFileURL(candidate).href;
    if (dirname(dir) === dir) throw new Error(`${spec} is not installed`);
  }
}

/** An instant as a Datalog date literal (RFC 3339, whole seconds); made here from a number, never from input. */
function datalogTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function rawKeys(key: KeyObject): { priv: Uint8Array; pub: Uint8Array } {
  const jwk = key.export({ format: 'jwk' }) as { d?: string; x?: string; crv?: string };
  if (jwk.crv !== 'Ed25519' || !jwk.d || !jwk.x) throw new Error('delegation tokens need the workspace Ed25519 signing key');
  return { priv: Buffer.from(jwk.d, 'base64url'), pub: Buffer.from(jwk.x, 'base64url') };
}

function publicRaw(key: KeyObject): Uint8Array {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' }) as { x?: string };
  return Buffer.from(jwk.x as string, 'base64url');
}

/** Mints the token of a sub-mandate: who holds it, which link it derives from, until when. */
export async function mintToken(signingKey: KeyObject, link: { agent: string; delegationId: string; expiresAt: number }): Promise<string> {
  const b = await biscuit();
  const builder = b.Biscuit.builder();
  builder.addCodeWithParameters(`agent({agent}); delegation({delegation}); check if time($t), $t < ${datalogTime(link.expiresAt)};`, { agent: link.agent, delegation: link.delegationId }, new Map());
  const token = builder.build(b.PrivateKey.fromBytes(rawKeys(signingKey).priv));
  return `${TOKEN_PREFIX}${token.toBase64()}`;
}

/**
 * Appends a narrower block, offline: Datalog checks only (a later block's
 * facts are never trusted by the authorizer, so it cannot widen anything),
 * e.g. `check if capability("payments.transfer"); check if value("amount_minor", $a), $a <= 5000;`.
 * The holder needs the workspace's public key only to read the token.
 */
export async function attenuateToken(token: string, publicKey: KeyObject, checks: string): Promise<string> {
  const b = await biscuit();
  const parsed = b.Biscuit.fromBase64(token.slice(TOKEN_PREFIX.length), b.PublicKey.fromBytes(publicRaw(publicKey)));
  const block = b.Biscuit.block_builder();
  block.addCode(checks);
  return `${TOKEN_PREFIX}${parsed.appendBlock(block).toBase64()}`;
}

export type TokenVerdict = { ok: true; agent: string; delegationId: string; revocationIds: string[] } | { ok: false; message: string };

/**
 * Verifies a token's whole chain of signatures from the workspace key, then
 * authorizes this call: its capability, every scalar value and the time are
 * facts; every check of every block must hold. Never throws.
 */
export async function verifyToken(token: string, signingKey: KeyObject, call: { capability: string; values: Record<string, unknown>; now: number }): Promise<TokenVerdict> {
  if (!token.startsWith(TOKEN_PREFIX)) return { ok: false, message: 'not a delegation token' };
  try {
    const { b, parsed, az } = await authorizerOf(token, signingKey);
    az.addCodeWithParameters(`time(${datalogTime(call.now)}); capability({capability});`, { capability: call.capability }, new Map());
    for (const [field, v] of Object.entries(call.values)) {
      // Integers, strings and booleans become facts; other values are not checkable by a block (and so constrain nothing).
      if ((typeof v === 'number' && Number.isSafeInteger(v)) || typeof v === 'string' || typeof v === 'boolean') az.addCodeWithParameters('value({field}, {v});', { field, v }, new Map());
    }
    az.addCode('allow if agent($a), delegation($d);');
    // Bounded: a token's Datalog runs within these limits or the call is refused (the library's default time limit is too tight for a cold start).
    az.authorizeWithLimits(AUTHORIZER_LIMITS);
    return authorityOf(b, az, parsed);
  } catch (err) {
    return { ok: false, message: `the token failed verification (${describe(err)})` };
  }
}

/** The call-time facts a block's check may name; a check naming none of them can only fail the same way on every call. */
const CALL_FACTS = /\b(?:capability|value)\s*\(/;

/**
 * Verifies a token as a credential, before any call: its whole chain of
 * signatures from the workspace key, and, with only the time as a fact, every
 * check that does not depend on a call. The authority block's checks (its
 * expiry) must hold; a later block's check that names no call fact (e.g. a
 * holder's own shorter expiry) must hold too, since it would fail on every
 * call. A check on capability or values waits for the call (verifyToken).
 * Reads the authority block's `agent` and `delegation` (a later block's facts
 * are never trusted, so a block cannot rename either). Never throws.
 */
export async function readToken(token: string, signingKey: KeyObject, now: number): Promise<TokenVerdict> {
  if (!token.startsWith(TOKEN_PREFIX)) return { ok: false, message: 'not a delegation token' };
  try {
    const { b, parsed, az } = await authorizerOf(token, signingKey);
    az.addCode(`time(${datalogTime(now)}); allow if true;`);
    try {
      az.authorizeWithLimits(AUTHORIZER_LIMITS);
    } catch (err) {
      const failed = failedChecks(err);
      // Anything but failed checks (a limit, a malformed token) refuses; so does a failed check that no call could satisfy.
      if (!failed) throw err;
      const blocking = failed.find((c) => c.block_id === 0 || !CALL_FACTS.test(c.rule));
      if (blocking) return { ok: false, message: blocking.block_id === 0 ? `the token has expired or is not valid now (${blocking.rule})` : `a block of the token fails at any call (${blocking.rule})` };
    }
    return authorityOf(b, az, parsed);
  } catch (err) {
    return { ok: false, message: `the token failed verification (${describe(err)})` };
  }
}

/** A token parsed with every signature of its chain verified from the workspace key, in a fresh authorizer (throws on a bad signature). */
async function authorizerOf(token: string, signingKey: KeyObject): Promise<{ b: BiscuitLib; parsed: Token; az: InstanceType<BiscuitLib['Authorizer']> }> {
  const b = await biscuit();
  const parsed = b.Biscuit.fromBase64(token.slice(TOKEN_PREFIX.length), b.PublicKey.fromBytes(publicRaw(signingKey)));
  const az = new b.Authorizer();
  az.addToken(parsed);
  return { b, parsed, az };
}

/** The block checks an authorization failed on, or null if it failed for another reason (only the authorizer's own checks do not count). */
function failedChecks(err: unknown): { block_id: number; rule: string }[] | null {
  const checks = (err as { FailedLogic?: { Unauthorized?: { checks?: unknown } } } | null)?.FailedLogic?.Unauthorized?.checks;
  if (!Array.isArray(checks)) return null;
  return checks.flatMap((c: { Block?: { block_id: number; rule: string } }) => (c.Block ? [c.Block] : []));
}

/** The authority block's agent and sub-mandate, as the authorizer has them (only the authority block's facts are trusted). */
function authorityOf(b: BiscuitLib, az: InstanceType<BiscuitLib['Authorizer']>, parsed: Token): TokenVerdict {
  const agent = az.queryWithLimits(b.Rule.fromString('who($a) <- agent($a)'), AUTHORIZER_LIMITS)[0]?.toString();
  const link = az.queryWithLimits(b.Rule.fromString('link($d) <- delegation($d)'), AUTHORIZER_LIMITS)[0]?.toString();
  const unquote = (fact: string | undefined) => /^\w+\("(.*)"\)$/.exec(fact ?? '')?.[1];
  const a = unquote(agent);
  const d = unquote(link);
  if (!a || !d) return { ok: false, message: 'the token names no agent or sub-mandate' };
  return { ok: true, agent: a, delegationId: d, revocationIds: parsed.getRevocationIdentifiers() };
}

function describe(err: unknown): string {
  const text = typeof err === 'object' && err !== null ? JSON.stringify(err) : String(err);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
