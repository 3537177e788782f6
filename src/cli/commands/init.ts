import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newKeyPairPem } from '../../core/signed.js';
import { UsageError } from '../common.js';

// dist/src/cli/commands -> package root
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const TEMPLATE_DIR = join(PACKAGE_ROOT, 'templates', 'workspace');
/** The published JSON Schemas (npm run schemas), copied into every new workspace. */
export const SCHEMA_SOURCE = join(PACKAGE_ROOT, 'contracts', 'schema');
/** Where a workspace keeps its copy of the schemas, for editors and fix hints. */
export const WORKSPACE_SCHEMA_DIR = 'schema';

/** The schema of each kind of YAML file, by its first folder (mandate.yaml: the top). */
const SCHEMA_OF: Record<string, string> = {
  '': 'mandate.schema.json',
  contracts: 'contract.schema.json',
  memory: 'memory.schema.json',
  tests: 'test.schema.json',
};

/**
 * What a workspace keeps out of git: the private signing key, the store and
 * the checkpoints (runtime state, which belongs on storage of its own).
 * Written by code, not kept in templates/: npm leaves .gitignore files out of a package.
 */
export const WORKSPACE_GITIGNORE = `# Written by \`mandate init\`.
# The private signing key: it signs checkpoints and receipts. Never commit it;
# keys/signing.pub, its public half, is safe to share with verifiers.
keys/signing.key
# The store (SQLite and its write-ahead log): the ledger, decisions, keys, memory.
mandate.db
mandate.db-wal
mandate.db-shm
# Signed checkpoints of the ledger: keep them on storage the ledger's host cannot rewrite.
checkpoints/
`;

/** `mandate init --help`: what the command writes, and what appears once the workspace is used. */
export const INIT_CREATES = `
Creates in <dir>:
  mandate.yaml       the workspace configuration: store, limits, signing, commented
  contracts/         one responsibility contract per agent (alice, scribe, supervisor)
  policies/          Cedar policies (base.cedar)
  capabilities/      in-process capabilities (payments.mjs, files.mjs)
  memory/            memory records seeded at start
  tests/             contract tests run by \`mandate test\`
  data/, sandbox/    the example capabilities' state and files
  schema/            the JSON Schemas every YAML file points at (editor completion)
  keys/signing.key   the Ed25519 private key that signs checkpoints and receipts (owner-only)
  keys/signing.pub   its public half, for verifiers
  .gitignore         keeps keys/signing.key, the store and checkpoints/ out of git
Created on first use: mandate.db (the store, with -wal and -shm) and checkpoints/.
`;

/** Writes a fresh, working workspace; refuses to touch a non-empty folder. */
export function initWorkspace(target: string): string {
  const dir = resolve(target);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new UsageError(`\`${dir}\` is not empty; choose a new folder`);
  }
  cpSync(TEMPLATE_DIR, dir, { recursive: true });
  cpSync(SCHEMA_SOURCE, join(dir, WORKSPACE_SCHEMA_DIR), { recursive: true });
  linkSchemas(dir, dir);
  writeSigningKeys(join(dir, 'keys'));
  writeFileSync(join(dir, '.gitignore'), WORKSPACE_GITIGNORE, { flag: 'wx' });
  return dir;
}

/**
 * Puts a `yaml-language-server` line at the top of every YAML file, pointing
 * at its schema in the workspace's schema/ folder, so that editors with the
 * YAML language server complete and check as you type.
 */
function linkSchemas(root: string, dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) linkSchemas(root, full);
    if (!entry.isFile() || !/\.ya?ml$/.test(entry.name)) continue;
    const rel = relative(root, full);
    const schema = SCHEMA_OF[rel.includes(sep) ? (rel.split(sep)[0] as string) : ''];
    if (!schema) continue;
    const text = readFileSync(full, 'utf8');
    if (text.includes('yaml-language-server:')) continue;
    const link = relative(dirname(full), join(root, WORKSPACE_SCHEMA_DIR, schema)).split(sep).join('/');
    writeFileSync(full, `# yaml-language-server: $schema=${link}\n${text}`);
  }
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
