import type { Outcome } from '../../core/types.js';
import type { KernelCore } from '../context.js';
import type { ArrivedState, Next, Stage } from './state.js';

/** How each stage is run: the pipeline wraps it in its tracing span; a check runs it as it is. */
export type RunStage = <T>(stage: { readonly name: string }, run: () => T | Promise<T>) => T | Promise<T>;

/** A stage as `run` calls it: `then` checked its input against the stages before it. */
type AnyStage = (k: KernelCore, s: unknown) => Promise<Outcome | Next<unknown>> | Outcome | Next<unknown>;

/**
 * Stages in order, each given the state the ones before it filled. `then`
 * takes only a stage whose input the stages so far provide, so the compiler
 * checks the order; `run` goes through them until one ends the call.
 */
export class StageChain<S> {
  private constructor(
    /** The stages in order: their names name the tracing spans. */
    private readonly list: readonly AnyStage[],
  ) {}

  /** No stage yet: the call goes on as it arrived. */
  static start(): StageChain<ArrivedState> {
    return new StageChain([]);
  }

  /** The stages in order: their names name the tracing spans. */
  get stages(): readonly { readonly name: string }[] {
    return this.list;
  }

  /** These stages, then `stage` on the state they leave. */
  then<N>(stage: Stage<S, N>): StageChain<N> {
    return new StageChain<N>([...this.list, stage as unknown as AnyStage]);
  }

  /**
   * The outcome of the first stage that ends the call, else the state the
   * last one left. One loop, not a closure per stage, and a stage that
   * answers synchronously is not awaited: a call pays for the stages'
   * work, not for a promise around each of them.
   */
  async run(k: KernelCore, s: ArrivedState, runStage?: RunStage): Promise<Outcome | Next<S>> {
    let r: Outcome | Next<unknown> = { next: s };
    for (const stage of this.list) {
      const at: unknown = r.next;
      const ran: ReturnType<AnyStage> = runStage ? runStage(stage, () => stage(k, at)) : stage(k, at);
      r = ran instanceof Promise ? await ran : ran;
      if (!('next' in r)) return r;
    }
    return r as Next<S>;
  }
}
