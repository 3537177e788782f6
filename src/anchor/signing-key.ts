import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { SigningConfig } from '../config/workspace-schema.js';
import { ConfigError } from '../config/problems.js';
import { parseKey } from '../core/signed.js';

/** Reads the workspace's Ed25519 private key from its file or environment variable; fails loudly naming the key. */
export function loadSigningKey(signing: SigningConfig, workspaceDir: string, env: NodeJS.ProcessEnv = process.env): KeyObject {
  const where = signing.private_key_file !== undefined ? 'signing.private_key_file' : 'signing.private_key_env';
  let pem: string | undefined;
  if (signing.private_key_file !== undefined) {
    try {
      pem = readFileSync(resolve(workspaceDir, signing.private_key_file), 'utf8');
    } catch {
      throw new ConfigError([{ file: 'mandate.yaml', path: where, message: `cannot read \`${signing.private_key_file}\``, hint: 'create a key pair with `mandate init` (keys/signing.key) or point to an existing PEM file' }]);
    }
  } else {
    pem = env[signing.private_key_env as string];
    if (!pem) throw new ConfigError([{ file: 'mandate.yaml', path: where, message: `environment variable \`${signing.private_key_env}\` is not set`, hint: 'export the PEM private key in it' }]);
  }
  try {
    return parseKey(pem, 'private');
  } catch (err) {
    throw new ConfigError([{ file: 'mandate.yaml', path: where, message: (err as Error).message, hint: 'use a PEM (PKCS#8) Ed25519 private key, e.g. from `mandate init`' }]);
  }
}

/** Reads a PEM public key file for the verify commands; throws a one-line message. */
export function readPublicKey(path: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch {
    throw new Error(`cannot read public key \`${path}\``);
  }
  try {
    return parseKey(pem, 'public');
  } catch (err) {
    throw new Error(`\`${path}\`: ${(err as Error).message}`);
  }
}
