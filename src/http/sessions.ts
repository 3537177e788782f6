import type { Server, WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/server';
import type { SessionEventStore } from './event-store.js';

/** One MCP session: its own SDK server, bound to the agent the credential named at initialize. */
export interface Session {
  id: string;
  agent: string;
  server: Server;
  transport: WebStandardStreamableHTTPServerTransport;
  events: SessionEventStore | null;
  createdAt: number;
  lastSeen: number;
  /** Requests and streams of this session still open. */
  active: number;
}

export interface SessionLimits {
  maxPerAgent: number;
  maxTotal: number;
  idleMs: number;
}

/**
 * The open sessions of this process, bounded per agent and in total, and
 * closed when idle. Sessions live in memory: behind several replicas, route a
 * session to the replica that opened it (sticky sessions).
 */
export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  private readonly perAgent = new Map<string, number>();

  constructor(private readonly limits: SessionLimits) {}

  get size(): number {
    return this.sessions.size;
  }

  countFor(agent: string): number {
    return this.perAgent.get(agent) ?? 0;
  }

  /** Whether one more session for `agent` fits. */
  admits(agent: string): boolean {
    return this.sessions.size < this.limits.maxTotal && this.countFor(agent) < this.limits.maxPerAgent;
  }

  /** The session with this id if it belongs to `agent`; another agent's session is as good as absent. */
  get(id: string, agent: string): Session | undefined {
    const s = this.sessions.get(id);
    return s && s.agent === agent ? s : undefined;
  }

  add(s: Session): void {
    this.sessions.set(s.id, s);
    this.perAgent.set(s.agent, this.countFor(s.agent) + 1);
  }

  /** Forgets a session (its transport closed); idempotent. */
  remove(id: string): Session | undefined {
    const s = this.sessions.get(id);
    if (!s) return undefined;
    this.sessions.delete(id);
    const n = this.countFor(s.agent) - 1;
    if (n > 0) this.perAgent.set(s.agent, n);
    else this.perAgent.delete(s.agent);
    return s;
  }

  /** Sessions idle for longer than the limit. */
  idle(now: number): Session[] {
    return [...this.sessions.values()].filter((s) => s.active <= 0 && now - s.lastSeen > this.limits.idleMs);
  }

  all(): Session[] {
    return [...this.sessions.values()];
  }
}
