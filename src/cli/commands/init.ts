import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newKeyPairPem } from '../../core/signed.js';
import { UsageError } from '../common.js';

// dist/src/cli/commands -> package root
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const TEMPLATE_DIR = join(PACKAGE_ROOT, 'templates', 'workspace');

/** Writes a fresh, working workspace; refuses to touch a non-empty folder. */
export function initWorkspace(target: string): string {
  const dir = resolve(target);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new UsageError(`\`${dir}\` is not empty; choose a new folder`);
  }
  cpSync(TEMPLATE_DIR, dir, { recursive: true });
  writeSigningKeys(join(dir, 'keys'));
  return dir;
}

/**
 * A fresh Ed25519 key pair for this workspace (signing: in mandate.yaml):
 * the private key readable by its owner only, the public key for verifiers.
 */
function writeSigningKeys(keysDir: string): void {
  const { privatePem, publicPem } = newKeyPairPem();
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(keysDir, 'signing.key'), privatePem, { mode: 0o600, flag: 'wx' });
  writeFileSync(join(keysDir, 'signing.pub'), publicPem, { mode: 0o644, flag: 'wx' });
}
