/**
 * Helpers for replicas on one PostgreSQL store: a workspace whose store is
 * PostgreSQL, a fixture capability that records each effect by tag in a file
 * every replica shares, contracts for several agents, and a TCP proxy in
 * front of PostgreSQL that a test can cut and restore (the database "going
 * away" without stopping the server other tests use).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { addFixtures } from './e2e.js';

const FLEET_CAPABILITY = `// Test fixture: records each effect by tag, so a test can tell whether one ran twice.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
export default function define({ z }) {
  return [{
    id: 'fleet.work',
    version: '1.0.0',
    description: 'Records its tag, after waiting ms (aborted by an intervention).',
    sideEffect: 'write',
    input: z.object({ tag: z.string().min(1).max(100), n: z.number().int().min(0).max(100000), ms: z.number().int().min(0).max(20000).optional() }),
    output: z.object({ tag: z.string() }),
    limits: { deadlineMs: 20000 },
    async handler(params, ctx) {
      if (params.ms) {
        await new Promise((resolve, reject) => {
          const t = setTimeout(resolve, params.ms);
          ctx.signal.addEventListener('abort', () => { clearTimeout(t); reject(new Error('aborted')); }, { once: true });
        });
      }
      appendFileSync(join(ctx.workspaceDir, 'effects.log'), params.tag + '\\n');
      return { tag: params.tag };
    },
  }];
}
`;

/** A contract granting fleet.work; calls with n above 100 wait for a human; agents named `drift*` are watched by a drift monitor (average n of the last 3 above 50). */
export function fleetContract(agent: string): string {
  const monitor = agent.startsWith('drift')
    ? `monitors:
  - id: big-n
    capability: fleet.work
    over: { last: 3 }
    metric: { avg: n }
    threshold: 50
    consecutive: 1
`
    : '';
  return `${monitor}agent: ${agent}
version: 1
owner: qa@example.com
mission: Fleet tests.
role: agent
grants:
  - capability: fleet.work
escalation:
  expiry_minutes: 15
  rules:
    - capability: fleet.work
      when: context.values.n > 100
      reason: big ones need a human
`;
}

/** Points the workspace's store at PostgreSQL (URL from MANDATE_DATABASE_URL) and adds the fixture and contracts. */
export function fleetWorkspace(ws: string, agents: string[], extra: Record<string, unknown> = {}): void {
  const path = join(ws, 'mandate.yaml');
  const doc = parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  doc['store'] = { kind: 'postgres', url_env: 'MANDATE_DATABASE_URL' };
  Object.assign(doc, extra);
  writeFileSync(path, stringify(doc));
  addFixtures(ws, { capabilities: { 'fleet.mjs': FLEET_CAPABILITY }, contracts: Object.fromEntries(agents.map((a) => [`${a}.yaml`, fleetContract(a)])) });
}

/** The tags of every effect that ran, in order. */
export function effects(ws: string): string[] {
  try {
    return readFileSync(join(ws, 'effects.log'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** A TCP proxy to PostgreSQL on a fixed local port; `cut()` drops every connection and refuses new ones until `restore()`. */
export class PgProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly target = { host: '127.0.0.1', port: 5432 },
  ) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = createConnection(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** The database goes away: open connections are reset, new ones refused. */
  async cut(): Promise<void> {
    const s = this.server;
    this.server = null;
    for (const sock of this.sockets) sock.resetAndDestroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
  }

  /** The database comes back on the same port. */
  restore(): Promise<void> {
    return this.start();
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }
}
