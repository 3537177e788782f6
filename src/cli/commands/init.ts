import { cpSync, existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  return dir;
}
