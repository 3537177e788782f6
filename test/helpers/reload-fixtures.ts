// The contract the live reload tests tighten: `loader` may transfer up to `max` per call.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const LOADER = `agent: loader
version: 1.0.0
owner: ops@example.com
mission: Pay small supplier invoices.
role: agent
grants:
  - capability: payments.transfer
    limits:
      max:
        amount_minor: 50000
`;

/** Writes `loader`'s contract into the workspace with `max` as its per-transfer cap. */
export const setLoaderMax = (ws: string, max: number): void => writeFileSync(join(ws, 'contracts', 'loader.yaml'), LOADER.replace('amount_minor: 50000', `amount_minor: ${max}`));
