/**
 * The transport to one upstream, from its configuration: a child process
 * over stdio (in its own process group, with only the configured environment)
 * or Streamable HTTP (with the configured headers). Secrets are resolved here;
 * a missing one is a configuration failure that names the upstream.
 */
import { resolve } from 'node:path';
import { StreamableHTTPClientTransport, type Transport } from '@modelcontextprotocol/client';
import type { UpstreamConfig } from '../config/workspace-schema.js';
import { resolveValues, type Environment } from './secrets.js';
import { GroupStdioTransport } from './stdio-process.js';

export interface TransportSpec {
  name: string;
  config: UpstreamConfig;
  env: Environment;
  workspaceDir: string;
  /** Largest message accepted from a stdio upstream (bounds the read buffer). */
  maxMessageBytes: number;
}

export function upstreamTransport(spec: TransportSpec, onStderr: (chunk: Buffer) => void): { ok: true; transport: Transport } | { ok: false; message: string } {
  const { config, name, env, workspaceDir } = spec;
  if (config.command !== undefined) {
    const vars = resolveValues(name, 'env', config.env, env);
    if (!vars.ok) return vars;
    // In its own process group, ended as a whole: a wrapper such as `npx` leaves no server behind.
    const t = new GroupStdioTransport({
      command: config.command,
      args: config.args,
      // Only these, plus the SDK's short list of safe variables (HOME, PATH, USER, ...): never Mandate's whole environment.
      env: vars.values,
      cwd: resolve(workspaceDir, config.cwd ?? '.'),
      maxBufferSize: spec.maxMessageBytes,
    });
    t.stderr.on('data', onStderr);
    return { ok: true, transport: t };
  }
  const headers = resolveValues(name, 'headers', config.headers, env);
  if (!headers.ok) return headers;
  return { ok: true, transport: new StreamableHTTPClientTransport(new URL(config.url as string), { requestInit: { headers: headers.values } }) };
}
