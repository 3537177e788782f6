// Fixture files for the issue-3 tests (in-process and end-to-end): a
// capability module whose handlers record each run in data/runs.log, and a
// `tester` contract that grants it with a drift monitor. No test hooks here.

/**
 * `test.metric` records a numeric sample `v` (for drift monitors);
 * `test.wait` runs until its abort signal fires (for terminations);
 * `test.peek` is a read. Every handler run appends a line to data/runs.log.
 */
export const OVERSIGHT_CAPABILITIES = `
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

const ran = (ctx, what) => appendFileSync(join(ctx.workspaceDir, 'data', 'runs.log'), what + '\\n');

export default function define({ z }) {
  return [
    {
      id: 'test.metric',
      version: '1.0.0',
      description: 'Records a numeric sample v (tests only).',
      sideEffect: 'write',
      input: z.object({ v: z.number(), n: z.number().int() }),
      output: z.object({ v: z.number() }),
      handler(params, ctx) {
        ran(ctx, 'metric ' + params.n + ' ' + params.v);
        return { v: params.v };
      },
    },
    {
      id: 'test.wait',
      version: '1.0.0',
      description: 'Runs until its abort signal fires (tests only).',
      sideEffect: 'write',
      input: z.object({ n: z.number().int() }),
      output: z.object({ n: z.number().int() }),
      limits: { deadlineMs: 12000 },
      // Calls of it run side by side (the tests abort some and not others), not one at a time.
      concurrency: 'self',
      handler(params, ctx) {
        ran(ctx, 'wait start ' + params.n);
        return new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            ran(ctx, 'wait aborted ' + params.n);
            reject(new Error('aborted'));
          }, { once: true });
        });
      },
    },
    {
      id: 'test.peek',
      version: '1.0.0',
      description: 'A read (tests only).',
      sideEffect: 'read',
      input: z.object({ n: z.number().int() }),
      output: z.object({ n: z.number().int() }),
      handler(params, ctx) {
        ran(ctx, 'peek ' + params.n);
        return { n: params.n };
      },
    },
  ];
}
`;

/** A contract for `tester`: the fixture capabilities and one last-3 average monitor (threshold 10). */
export const TESTER_CONTRACT = `agent: tester
version: 1
owner: qa@example.com
mission: Exercise interventions, drift monitors and steward gates in tests.
role: agent
grants:
  - capability: test.metric
  - capability: test.wait
  - capability: test.peek
monitors:
  - id: avg-v
    capability: test.metric
    over: { last: 3 }
    metric: { avg: v }
    threshold: 10
`;
