import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { ConfigError } from '../config/problems.js';
import type { HttpConfig } from '../config/workspace-schema.js';

export type JwtConfig = NonNullable<HttpConfig['auth']['jwt']>;

export type JwtResult = { ok: true; agent: string } | { ok: false; message: string };

export interface JwtVerifier {
  verify(token: string): Promise<JwtResult>;
}

const MIN_SECRET_BYTES = 32;
const PATH = 'http.auth.jwt';

/**
 * Builds the bearer-token verifier once, at start-up: an HS256 secret read
 * from the environment variable the config names, or the public keys of a
 * JWKS file. Fails loudly, naming the key, when either is unusable.
 */
export function createJwtVerifier(cfg: JwtConfig, workspaceDir: string, env: NodeJS.ProcessEnv = process.env): JwtVerifier {
  let key: Uint8Array | JWTVerifyGetKey;
  let algorithms: string[];
  if (cfg.secret_env) {
    const secret = env[cfg.secret_env];
    if (!secret || Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
      throw new ConfigError([
        { file: 'mandate.yaml', path: `${PATH}.secret_env`, message: `environment variable \`${cfg.secret_env}\` is ${secret ? 'shorter than 32 bytes' : 'not set'}`, hint: 'export a random secret of at least 32 bytes before `mandate serve --http`' },
      ]);
    }
    key = new TextEncoder().encode(secret);
    algorithms = cfg.algorithms ?? ['HS256'];
  } else {
    const file = resolve(workspaceDir, cfg.jwks_file as string);
    let jwks: JSONWebKeySet;
    try {
      jwks = JSON.parse(readFileSync(file, 'utf8')) as JSONWebKeySet;
      if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new Error('no keys');
      key = createLocalJWKSet(jwks);
    } catch (err) {
      throw new ConfigError([{ file: 'mandate.yaml', path: `${PATH}.jwks_file`, message: `\`${cfg.jwks_file}\` is not a usable JWKS (${(err as Error).message})`, hint: 'point it at a JSON file of the form { "keys": [ ... ] }' }]);
    }
    algorithms = cfg.algorithms ?? ['RS256', 'PS256', 'ES256', 'EdDSA'];
  }
  return {
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, key as Uint8Array, {
          issuer: cfg.issuer,
          audience: cfg.audience,
          algorithms,
          clockTolerance: cfg.clock_tolerance_seconds,
          requiredClaims: ['exp'],
        });
        const agent = payload[cfg.agent_claim];
        if (typeof agent !== 'string' || agent === '') return { ok: false, message: `the token has no \`${cfg.agent_claim}\` claim naming an agent` };
        return { ok: true, agent };
      } catch (err) {
        // jose's codes name the failed check (ERR_JWT_CLAIM_VALIDATION_FAILED, ERR_JWT_EXPIRED, ...), never the token.
        return { ok: false, message: `token rejected (${(err as { code?: string }).code ?? 'invalid'})` };
      }
    },
  };
}
