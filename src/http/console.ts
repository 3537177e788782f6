import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BASE_HEADERS } from './errors.js';

/**
 * The operator console: the static files of the package's console/ folder
 * (an HTML page, a stylesheet and ES modules, no build step), read once at
 * start-up and served from memory. The CSP allows nothing but this origin, so
 * the page can fetch nothing from outside.
 */
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

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
  const index = { body: readFileSync(join(dir, 'index.html')), type: TYPES['.html'] as string };
  assets.set('/console', index);
  assets.set('/console/', index);
  const walk = (sub: string): void => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(rel);
      else if (TYPES[extname(entry.name)] && entry.name !== 'index.html') assets.set(`/console/${rel}`, { body: readFileSync(join(dir, rel)), type: TYPES[extname(entry.name)] as string });
    }
  };
  walk('');
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
