import type { Outcome } from '../../core/types.js';
import type { KernelCore } from '../context.js';
import type { ArrivedState, Next, Stage } from './state.js';

/** How each stage is run: the pipeline wraps it in its tracing span; a check runs it as it is. */
export type RunStage = <T>(stage: { readonly name: string }, run: () => T | Promise<T>) => T | Promise<T>;

const asItIs: RunStage = (_stage, run) => run();

/**
 * Stages in order, each given the state the ones before it filled. `then`
 * takes only a stage whose input the stages so far provide, so the compiler
 * checks the order; `run` goes through them until one ends the call.
 */
export class StageChain<S> {
  private constructor(
    /** The stages in order: their names name the tracing spans. */
    readonly stages: readonly { readonly name: string }[],
    private readonly runAll: (k: KernelCore, s: ArrivedState, runStage: RunStage) => Promise<Outcome | Next<S>>,
  ) {}

  /** No stage yet: the call goes on as it arrived. */
  static start(): StageChain<ArrivedState> {
    return new StageChain([], (_k, s) => Promise.resolve({ next: s }));
  }

  /** These stages, then `stage` on the state they leave. */
  then<N>(stage: Stage<S, N>): StageChain<N> {
    return new StageChain<N>([...this.stages, stage], async (k, s, runStage) => {
      const r = await this.runAll(k, s, runStage);
      return 'next' in r ? runStage(stage, () => stage(k, r.next)) : r;
    });
  }

  /** The outcome of the first stage that ends the call, else the state the last one left. */
  run(k: KernelCore, s: ArrivedState, runStage: RunStage = asItIs): Promise<Outcome | Next<S>> {
    return this.runAll(k, s, runStage);
  }
}
