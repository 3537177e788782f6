/**
 * What the verify commands check against when not told otherwise: the
 * workspace's own signing key and checkpoint path, as mandate.yaml names
 * them (`signing:`). An auditor holding only the public key and a copy of
 * the checkpoints passes `--pubkey` and `--checkpoints <file|dir>` instead.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import { readPublicKey, loadSigningKey } from '../anchor/signing-key.js';
import { loadConfig } from '../workspace/load.js';
import { ConfigError } from '../config/problems.js';
import type { SigningConfig } from '../config/workspace-schema.js';
import { UsageError, workspaceDir } from './common.js';

function signingOf(workspace: string | undefined, flag: string): { dir: string; signing: SigningConfig } {
  const dir = workspaceDir(workspace);
  const { config, problems } = loadConfig(dir);
  if (!config) throw new ConfigError(problems);
  if (!config.signing) throw new UsageError(`${dir}/mandate.yaml has no \`signing:\` block, so there is nothing signed to check against: add one (see \`mandate init\`), or pass ${flag}`);
  return { dir, signing: config.signing };
}

/** The public key to verify with: the file given, else that of the workspace's signing key (signing.private_key_file or _env). */
export function verifyKey(pubkey: string | undefined, workspace: string | undefined): KeyObject {
  if (pubkey !== undefined) {
    try {
      return readPublicKey(pubkey);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const { dir, signing } = signingOf(workspace, '--pubkey <file>');
  return createPublicKey(loadSigningKey(signing, dir));
}

/** The checkpoints to compare with: the file or folder given, else signing.checkpoints.path of the workspace. */
export function checkpointsPath(given: string | true, workspace: string | undefined): string {
  if (given !== true) return given;
  const { dir, signing } = signingOf(workspace, '--checkpoints <file|dir>');
  return resolve(dir, signing.checkpoints.path);
}
