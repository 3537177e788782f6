/**
 * An upstream's request for input during a call of a 2026-07-28 agent
 * (ADR-034). The revision has no server-sent requests, so when an upstream
 * (of either revision) asks for sampling, elicitation or roots during a
 * governed call, the call is held in this process, the agent's request is
 * answered `input_required` with the upstream's request embedded, and the
 * agent's retry carries the answer back to the held call. The governed call
 * itself never ends or restarts in between: it is the one decision, recorded
 * once, exactly as on the 2025 wire, where the upstream's request reaches the
 * agent inside the open call.
 */
import { randomUUID } from 'node:crypto';
import type { InputRequest } from '@modelcontextprotocol/server';
import type { ZodType } from 'zod';
import type { SendToClient } from '../proxy-relay.js';

/** One request of the upstream's, waiting for the agent's answer. */
interface Waiting {
  request: InputRequest;
  schema: ZodType;
  resolve(answer: Record<string, unknown>): void;
  reject(err: unknown): void;
}

/** What a held call does next: end with its result, or wait for the agent's answers to these requests. */
export type HeldEvent<R> = { kind: 'done'; result: R } | { kind: 'input'; requests: Record<string, InputRequest> };

/**
 * The requests one call's upstream sent back, in the order they came. The
 * upstream's client may send several at once (a 2026 upstream's round can
 * embed more than one), so they are gathered for one macrotask before the
 * agent is answered.
 */
export class InputInbox {
  private readonly waiting = new Map<string, Waiting>();
  private seq = 0;
  private arrived: (() => void)[] = [];
  private closedWith: string | null = null;

  /** The relay's way to the agent: the request waits here until a retry answers it or the call ends. */
  readonly send: SendToClient = (request, schema, { signal, key: named }) => {
    if (this.closedWith !== null) return Promise.reject(new Error(this.closedWith));
    return new Promise((resolve, reject) => {
      // A 2026 upstream's own key, so that the agent answers what the upstream asked by the name it gave it (a transparent
      // mirror changes nothing there); a 2025 upstream's request has no name, and gets one of ours.
      let key = named !== undefined && !this.waiting.has(named) ? named : `input_${++this.seq}`;
      while (this.waiting.has(key)) key = `input_${++this.seq}`;
      const onAbort = () => {
        this.waiting.delete(key);
        reject(signal.reason ?? new Error('the upstream withdrew its request'));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        signal.removeEventListener('abort', onAbort);
        this.waiting.delete(key);
      };
      this.waiting.set(key, {
        request: { method: request.method, params: request.params ?? {} } as InputRequest,
        schema,
        resolve: (a) => (settle(), resolve(a)),
        reject: (e) => (settle(), reject(e)),
      });
      const wake = this.arrived;
      this.arrived = [];
      if (wake.length) setTimeout(() => wake.forEach((w) => w()), 0);
    });
  };

  /** Resolves once at least one request waits (at once if one already does). */
  whenAsked(): Promise<void> {
    if (this.waiting.size) return Promise.resolve();
    return new Promise((resolve) => this.arrived.push(resolve));
  }

  /** The requests waiting now, by the key the agent answers them under. */
  requests(): Record<string, InputRequest> {
    return Object.fromEntries([...this.waiting].map(([k, w]) => [k, w.request]));
  }

  /** Applies the agent's answers: each valid one goes to its upstream request. Returns how many were applied. */
  answer(responses: Record<string, unknown> | undefined): number {
    let applied = 0;
    for (const [key, w] of [...this.waiting]) {
      const parsed = w.schema.safeParse(responses?.[key]);
      if (!parsed.success) continue;
      w.resolve(parsed.data as Record<string, unknown>);
      applied++;
    }
    return applied;
  }

  /** No agent will answer any more (the call ended): every waiting request, and any later one, fails. */
  close(reason: string): void {
    this.closedWith = reason;
    for (const w of [...this.waiting.values()]) w.reject(new Error(reason));
  }
}

/** A call held between an `input_required` answer and the agent's retry. */
export class HeldCall<R> {
  readonly id = randomUUID();
  /**
   * How many times the agent's answers were applied. Each `input_required` answer's state names the round it asks
   * for, so every round's state differs from the last, and answers sent with an earlier round's state are never
   * applied to a later round's requests (an upstream may reuse its keys from one round to the next).
   */
  round = 0;
  private finished: { result: R } | null = null;

  constructor(
    readonly agent: string,
    readonly requestHash: string,
    readonly decisionId: string,
    private readonly call: Promise<R>,
    readonly inbox: InputInbox,
  ) {
    void call.then(
      (result) => (this.finished = { result }),
      () => undefined,
    );
  }

  /** The call's next event: its end, or requests that wait for the agent. A rejection of the call is thrown. */
  async next(): Promise<HeldEvent<R>> {
    if (this.finished) return { kind: 'done', result: this.finished.result };
    const asked = this.inbox.whenAsked().then(() => ({ kind: 'input' as const }));
    const first = await Promise.race([this.call.then((result) => ({ kind: 'done' as const, result })), asked]);
    if (first.kind === 'done') return first;
    return { kind: 'input', requests: this.inbox.requests() };
  }
}

/**
 * The calls this process holds for their agents' answers. A held call lives
 * here until it ends (its deadline bounds that); `replica` names this process
 * in the sealed state, so a retry that reaches another process is told so.
 */
export class HeldCalls {
  readonly replica = randomUUID();
  private readonly held = new Map<string, HeldCall<unknown>>();

  hold<R>(agent: string, requestHash: string, decisionId: string, call: Promise<R>, inbox: InputInbox): HeldCall<R> {
    const entry = new HeldCall(agent, requestHash, decisionId, call, inbox);
    this.held.set(entry.id, entry as HeldCall<unknown>);
    const release = () => {
      this.held.delete(entry.id);
      inbox.close('the call ended before the agent answered');
    };
    void call.then(release, release);
    return entry;
  }

  /** The held call of this agent with this id, if this process holds it. */
  get(id: string, agent: string): HeldCall<unknown> | undefined {
    const entry = this.held.get(id);
    return entry?.agent === agent ? entry : undefined;
  }

  /** The held call of this agent's decision (a task's), if this process holds it. */
  byDecision(decisionId: string, agent: string): HeldCall<unknown> | undefined {
    for (const entry of this.held.values()) if (entry.decisionId === decisionId && entry.agent === agent) return entry;
    return undefined;
  }

  get size(): number {
    return this.held.size;
  }
}
