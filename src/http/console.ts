import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BASE_HEADERS } from './errors.js';

/**
 * The operator console: three static files from the package's console/
 * folder, read once at start-up and served from memory. The CSP allows
 * nothing but this origin, so the page can fetch nothing from outside.
 */
const FILES = {
  '/console': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/console/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
} as const;

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export type ConsoleAssets = Map<string, { body: Buffer; type: string }>;

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('mandate package root not found');
    dir = up;
  }
  return dir;
}

export function loadConsoleAssets(dir = join(packageRoot(), 'console')): ConsoleAssets {
  const assets: ConsoleAssets = new Map();
  for (const [path, { file, type }] of Object.entries(FILES)) assets.set(path, { body: readFileSync(join(dir, file)), type });
  return assets;
}

/** Serves a console asset; false if `path` is not one. */
export function serveConsole(assets: ConsoleAssets, req: IncomingMessage, res: ServerResponse, path: string): boolean {
  const asset = assets.get(path);
  if (!asset) return false;
  res.writeHead(200, {
    ...BASE_HEADERS,
    'Content-Type': asset.type,
    'Content-Length': String(asset.body.length),
    'Content-Security-Policy': CSP,
    'X-Frame-Options': 'DENY',
    'Cache-Control': 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
  return true;
}
