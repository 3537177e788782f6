import type { StorePort } from '../store/port/index.js';
import { InterventionAbort, type StopSwitch } from './engine.js';

interface Run {
  agent: string;
  dfid: string;
  stopper: StopSwitch;
}

/** Handlers running in this process, by decision id, so a termination can abort them. */
export class Inflight {
  private readonly runs = new Map<string, Run>();
  /** Keys this process is taking to an effect, by agent and key: the decision and its request hash. */
  private readonly claims = new Map<string, { decisionId: string; requestHash: string }>();

  /**
   * Claims a key for a call on its way to its effect. A second call with the
   * same key in this process gets the first one's claim back and is answered
   * as a repeat at once, instead of queueing behind it for the same resource.
   * The store's reservation stays the authority across processes.
   */
  claim(agent: string, key: string, decisionId: string, requestHash: string): { decisionId: string; requestHash: string } | null {
    const id = JSON.stringify([agent, key]);
    const held = this.claims.get(id);
    if (held) return held;
    this.claims.set(id, { decisionId, requestHash });
    return null;
  }

  unclaim(agent: string, key: string, decisionId: string): void {
    const id = JSON.stringify([agent, key]);
    if (this.claims.get(id)?.decisionId === decisionId) this.claims.delete(id);
  }

  add(decisionId: string, run: Run): void {
    this.runs.set(decisionId, run);
  }

  delete(decisionId: string): void {
    this.runs.delete(decisionId);
  }

  /** Aborts this process's running handlers of an agent or a flow (`agent: '*'`: every agent's in the flow); returns how many. */
  abort(target: { agent: string } | { dfid: string; agent: string }, interventionId: string): number {
    let n = 0;
    for (const run of this.runs.values()) {
      const hit = 'dfid' in target ? run.dfid === target.dfid && (target.agent === '*' || run.agent === target.agent) : run.agent === target.agent;
      if (hit && !run.stopper.stopped) {
        run.stopper.stop(new InterventionAbort(interventionId));
        n++;
      }
    }
    return n;
  }

  /**
   * Applies terminations that another process (the CLI, another replica)
   * recorded since `since`, to this process's running handlers, while the
   * termination still holds (an operator may have revived the target since).
   */
  async abortTerminated(store: StorePort, since: number): Promise<void> {
    for (const row of await store.agents.terminationsSince(since, 'agent')) {
      if ((await store.agents.status(row.target_agent)) === 'terminated') this.abort({ agent: row.target_agent }, row.id);
    }
    for (const row of await store.agents.terminationsSince(since, 'flow')) {
      if ((await store.agents.flowStatus(row.target, row.target_agent)) === 'terminated') this.abort({ dfid: row.target, agent: row.target_agent }, row.id);
    }
  }
}
