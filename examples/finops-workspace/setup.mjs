#!/usr/bin/env node
// Creates a FinOps workspace: `mandate init <dir>`, then copies overlay/ over it
// (two contracts, the cloud.* capabilities, a Cedar policy, an inventory).
//
//   node examples/finops-workspace/setup.mjs /tmp/finops-ws
//
// Uses the `mandate` CLI of this repository (dist/src/cli/main.js, after
// `npm run build`), or the one named by $MANDATE_CLI.
import { execFileSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const MANDATE_CLI = process.env.MANDATE_CLI ?? resolve(HERE, '../../dist/src/cli/main.js');

/** Runs the mandate CLI with node and returns its stdout. */
export function mandate(args, opts = {}) {
  return execFileSync(process.execPath, [MANDATE_CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** `mandate init <dir>` plus the FinOps overlay; returns the absolute folder. */
export function setupFinopsWorkspace(dir) {
  const ws = resolve(dir);
  mandate(['init', ws]);
  cpSync(join(HERE, 'overlay'), ws, { recursive: true });
  mandate(['validate', '-w', ws]);
  return ws;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node examples/finops-workspace/setup.mjs <new-folder>\n');
    process.exit(2);
  }
  const ws = setupFinopsWorkspace(dir);
  process.stdout.write(`FinOps workspace ready: ${ws}\n`);
  process.stdout.write(`  stdio: node ${MANDATE_CLI} serve --stdio --agent finops -w ${ws}\n`);
  process.stdout.write(`  http:  node ${MANDATE_CLI} keys create --agent finops -w ${ws}\n         node ${MANDATE_CLI} serve --http -w ${ws}\n`);
}
